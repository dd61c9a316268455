//! Growing one tree: its seed, feature subset and bootstrap sample, the tie-breaking sample
//! weights, the linfa-trees fit, and the conversion of linfa's tree into a [`Tree`].

use linfa::prelude::*;
use linfa_trees::{DecisionTree, TreeNode};
use ndarray::{Array1, Axis};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::params::ForestParams;
use super::tree::{Node, Tree};
use crate::ml::dataset::Dataset;
use crate::ml::error::MlError;

/// The SplitMix64 output function: a fixed, well-mixing bijection on `u64`,
/// used to turn consecutive tree indices into unrelated seed offsets.
pub(super) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seed of tree `index`: `random_state ^ splitmix64(index)`.
///
/// Each tree owns a `Xoshiro256PlusPlus` stream seeded with this value via
/// `seed_from_u64`, so a tree's randomness depends only on `(random_state,
/// index)`, not on which thread grows it or in which order. Xoshiro256++ and
/// its `seed_from_u64` are fully specified, which keeps forests identical
/// across platforms.
pub(super) fn tree_seed(random_state: u64, index: usize) -> u64 {
    random_state ^ splitmix64(index as u64)
}

/// Per-class sample weights `1 + (K - 1 - c) * 2^-e`, or `None` when the
/// data set is too large for them to work.
///
/// linfa-trees picks a node's majority class by iterating a `HashMap`, whose
/// order is randomised per process, so equal class counts would be resolved
/// differently from run to run; because it also prunes sibling leaves with
/// equal predictions, the tree *shape* would vary too. These weights are so
/// close to 1 that they never outweigh a whole sample (`2^e > n * (K - 1)`),
/// yet they make every tie resolve to the lowest class index, the same rule
/// the forest's vote uses. They are dyadic and every weight sum stays below
/// 2^24 units of 2^-e, so all of linfa's `f32` weight sums are exact and the
/// comparisons cannot be spoiled by rounding.
pub(super) fn tie_break_weights(n_rows: usize, n_classes: usize) -> Option<Vec<f32>> {
    if n_classes <= 1 {
        return Some(vec![1.0; n_classes]);
    }
    let spread = (n_rows as u64).checked_mul(n_classes as u64 - 1)?;
    let e = 64 - spread.leading_zeros();
    let units = (n_rows as u64 + 1).checked_shl(e)?;
    if e >= 24 || units > 1 << 24 {
        return None;
    }
    let eps = 2f32.powi(-(e as i32));
    Some(
        (0..n_classes)
            .map(|c| 1.0 + (n_classes - 1 - c) as f32 * eps)
            .collect(),
    )
}

/// Converts a fitted linfa tree node into a [`Node`], mapping the tree-local
/// column index back to the full feature matrix.
fn convert(node: &TreeNode<f64, usize>, features: &[usize], tree: usize) -> Result<Node, MlError> {
    let bad = |reason: &str| MlError::MalformedTree {
        tree,
        reason: reason.to_string(),
    };
    if let Some(class) = node.prediction() {
        return Ok(Node::Leaf { class });
    }
    let (local, threshold, _) = node.split();
    let feature = *features
        .get(local)
        .ok_or_else(|| bad("linfa split refers to a column outside the tree's subset"))?;
    match node.children().as_slice() {
        [Some(left), Some(right)] => Ok(Node::Split {
            feature,
            threshold,
            left: Box::new(convert(left, features, tree)?),
            right: Box::new(convert(right, features, tree)?),
        }),
        _ => Err(bad("linfa split node is missing a child")),
    }
}

/// Grows tree `index` on its own bootstrap sample and feature subset.
pub(super) fn fit_tree(
    params: &ForestParams,
    data: &Dataset,
    weights: Option<&[f32]>,
    index: usize,
) -> Result<Tree, MlError> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(tree_seed(params.random_state, index));
    let n_features = data.n_features();
    let k = params.features_per_tree(n_features);
    let mut columns: Vec<usize> = (0..n_features).collect();
    let (chosen, _) = columns.partial_shuffle(&mut rng, k);
    let mut features = chosen.to_vec();
    features.sort_unstable();

    let n = data.n_rows();
    let rows: Vec<usize> = (0..n).map(|_| rng.gen_range(0..n)).collect();
    let x = data
        .features
        .select(Axis(0), &rows)
        .select(Axis(1), &features);
    let y: Array1<usize> = rows.iter().map(|&r| data.labels[r]).collect();
    let sample_weights: Array1<f32> = match weights {
        Some(w) => y.iter().map(|&c| w[c]).collect(),
        None => Array1::ones(n),
    };
    let dataset = linfa::Dataset::new(x, y).with_weights(sample_weights);
    let tree = DecisionTree::<f64, usize>::params()
        .max_depth(params.max_depth)
        .fit(&dataset)
        .map_err(|source| MlError::TreeFit {
            tree: index,
            source,
        })?;
    let root = convert(tree.root_node(), &features, index)?;
    Ok(Tree { features, root })
}
