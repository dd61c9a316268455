//! A fitted tree as the forest stores it: just what prediction needs, with the checks a loaded
//! model must pass.

use serde::{Deserialize, Serialize};

use crate::ml::error::MlError;

/// One node of a fitted tree. Samples with `x[feature] <= threshold` go
/// left, matching how linfa-trees partitions the training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Node {
    Leaf {
        class: usize,
    },
    Split {
        /// Column index in the full feature matrix.
        feature: usize,
        threshold: f64,
        left: Box<Node>,
        right: Box<Node>,
    },
}

/// A fitted tree and the feature columns it was allowed to use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Tree {
    /// Sorted column indices into the full feature matrix.
    pub(super) features: Vec<usize>,
    pub(super) root: Node,
}

impl Tree {
    pub(super) fn predict_row(&self, row: ndarray::ArrayView1<f64>) -> usize {
        let mut node = &self.root;
        loop {
            match node {
                Node::Leaf { class } => return *class,
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    node = if row[*feature] <= *threshold {
                        left
                    } else {
                        right
                    }
                }
            }
        }
    }

    /// Checks every invariant `predict_row` relies on, so a hand-edited or
    /// corrupted model fails at load time instead of panicking later.
    pub(super) fn validate(
        &self,
        index: usize,
        n_features: usize,
        n_classes: usize,
    ) -> Result<(), MlError> {
        let bad = |reason: String| MlError::MalformedTree {
            tree: index,
            reason,
        };
        if self.features.is_empty() {
            return Err(bad("empty feature subset".to_string()));
        }
        if !self.features.windows(2).all(|w| w[0] < w[1]) {
            return Err(bad("feature subset is not strictly increasing".to_string()));
        }
        if let Some(&f) = self.features.iter().find(|&&f| f >= n_features) {
            return Err(bad(format!(
                "feature subset names column {f} but the model has {n_features} features"
            )));
        }
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            match node {
                Node::Leaf { class } if *class >= n_classes => {
                    return Err(bad(format!(
                        "leaf predicts class {class} but the model has {n_classes} classes"
                    )))
                }
                Node::Leaf { .. } => {}
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    if self.features.binary_search(feature).is_err() {
                        return Err(bad(format!(
                            "split on column {feature}, which is not in the tree's feature subset {:?}",
                            self.features
                        )));
                    }
                    if !threshold.is_finite() {
                        return Err(bad(format!("split threshold {threshold} is not finite")));
                    }
                    stack.push(left);
                    stack.push(right);
                }
            }
        }
        Ok(())
    }
}
