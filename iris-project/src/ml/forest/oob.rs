//! The out-of-bag score: every training row predicted by the trees whose bootstrap sample
//! missed it, an estimate of accuracy on unseen data that costs no held-out rows.

use rayon::prelude::*;

use super::tree::Tree;
use crate::ml::dataset::Dataset;

/// Which rows a tree's bootstrap sample drew, one bit per row.
pub(crate) struct InBag {
    bits: Vec<u64>,
}

impl InBag {
    /// The rows with a positive multiplicity.
    pub(crate) fn new(counts: &[u32]) -> InBag {
        let mut bits = vec![0u64; counts.len().div_ceil(64)];
        for (r, _) in counts.iter().enumerate().filter(|(_, &c)| c > 0) {
            bits[r / 64] |= 1 << (r % 64);
        }
        InBag { bits }
    }

    pub(crate) fn contains(&self, row: usize) -> bool {
        self.bits[row / 64] & (1 << (row % 64)) != 0
    }
}

/// Accuracy of the out-of-bag predictions over the rows that at least one tree left out (with
/// a few dozen trees, that is every row). Each row's class distributions are summed over the
/// trees in tree order and rows are counted in integers, so the score does not depend on how
/// rows are split between threads. `in_bag[t]` belongs to `trees[t]`.
pub(crate) fn score(trees: &[Tree], in_bag: &[InBag], data: &Dataset) -> f64 {
    let k = data.n_classes();
    let (scored, correct) = (0..data.n_rows())
        .into_par_iter()
        .map(|r| {
            let row = data.features.row(r).to_vec();
            let mut acc = vec![0.0; k];
            let mut voters = 0;
            for (tree, bag) in trees.iter().zip(in_bag) {
                if !bag.contains(r) {
                    voters += 1;
                    acc.iter_mut()
                        .zip(tree.leaf_proba(&row))
                        .for_each(|(a, p)| *a += p);
                }
            }
            if voters == 0 {
                return (0usize, 0usize);
            }
            let mut best = 0;
            for (c, &p) in acc.iter().enumerate() {
                if p > acc[best] {
                    best = c;
                }
            }
            (1, usize::from(best == data.labels[r]))
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    if scored == 0 {
        0.0
    } else {
        correct as f64 / scored as f64
    }
}
