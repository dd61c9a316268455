//! A fitted tree as the forest stores it: a flat list of nodes (children after their parent),
//! with the checks a loaded model must pass.

use serde::{Deserialize, Serialize};

use crate::ml::error::MlError;

/// One node of a fitted tree. Samples with `x[feature] <= threshold` go left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Node {
    /// A leaf and the class distribution of its training rows (weighted by bootstrap
    /// multiplicity and class weight), summing to 1.
    Leaf { proba: Vec<f64> },
    Split {
        /// Column index in the feature matrix.
        feature: usize,
        threshold: f64,
        /// Index of the left child in the tree's node list.
        left: usize,
        /// Index of the right child in the tree's node list.
        right: usize,
    },
}

/// A fitted tree; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Tree {
    pub(crate) nodes: Vec<Node>,
}

impl Tree {
    /// The class distribution of the leaf `row` (one value per feature) falls into.
    pub(crate) fn leaf_proba(&self, row: &[f64]) -> &[f64] {
        let mut at = 0;
        loop {
            match &self.nodes[at] {
                Node::Leaf { proba } => return proba,
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    at = if row[*feature] <= *threshold {
                        *left
                    } else {
                        *right
                    }
                }
            }
        }
    }

    /// Number of leaves.
    pub(crate) fn n_leaves(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n, Node::Leaf { .. }))
            .count()
    }

    /// Checks every invariant `leaf_proba` relies on (children after their parent, so walks
    /// end; indices in range; finite values), so a hand-edited or corrupted model fails at
    /// load time instead of panicking or looping later.
    pub(crate) fn validate(
        &self,
        index: usize,
        n_features: usize,
        n_classes: usize,
    ) -> Result<(), MlError> {
        let bad = |reason: String| MlError::MalformedTree {
            tree: index,
            reason,
        };
        if self.nodes.is_empty() {
            return Err(bad("no nodes".to_string()));
        }
        for (at, node) in self.nodes.iter().enumerate() {
            match node {
                Node::Leaf { proba } => {
                    if proba.len() != n_classes {
                        return Err(bad(format!(
                            "leaf {at} has {} class probabilities but the model has {n_classes} classes",
                            proba.len()
                        )));
                    }
                    if proba.iter().any(|p| !(p.is_finite() && *p >= 0.0)) {
                        return Err(bad(format!("leaf {at} has a probability out of range")));
                    }
                }
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    if *feature >= n_features {
                        return Err(bad(format!(
                            "split {at} on column {feature} but the model has {n_features} features"
                        )));
                    }
                    if !threshold.is_finite() {
                        return Err(bad(format!("split threshold {threshold} is not finite")));
                    }
                    for child in [left, right] {
                        if *child <= at || *child >= self.nodes.len() {
                            return Err(bad(format!(
                                "split {at} points to node {child}, not a later node of the {} in the tree",
                                self.nodes.len()
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
