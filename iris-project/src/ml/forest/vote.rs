//! Majority vote of the trees.

use ndarray::ArrayView1;

use super::tree::Tree;

/// The class most `trees` predict for `row`; ties go to the lowest class index, so predictions
/// are deterministic. `votes` is scratch space, one counter per class.
pub(super) fn vote(trees: &[Tree], row: ArrayView1<f64>, votes: &mut [usize]) -> usize {
    votes.iter_mut().for_each(|v| *v = 0);
    for tree in trees {
        votes[tree.predict_row(row)] += 1;
    }
    // `max_by_key` keeps the last maximum, so scan for the first.
    let best = votes.iter().copied().max().unwrap_or(0);
    votes.iter().position(|&v| v == best).unwrap_or(0)
}
