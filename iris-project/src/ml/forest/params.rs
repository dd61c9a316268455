//! The forest's hyper-parameters, their defaults and their checks.

use serde::{Deserialize, Serialize};

use crate::ml::error::MlError;

/// Default share of features each tree sees.
///
/// On Iris (4 features) this gives every tree 2 features, the same number
/// scikit-learn's `max_features="sqrt"` considers per split. With 100 trees,
/// `max_depth = Some(5)`, `random_state = 42` and split seeds 0..10 at
/// `test_size = 0.2`, the mean test accuracy was 0.960 for 0.5, 0.957 for
/// 0.75, 0.953 for 1.0 and 0.950 for 0.25. The gaps are only one to four of
/// 300 test predictions, but 0.5 was best and also decorrelates the trees
/// most without leaving any tree with a single feature.
pub const DEFAULT_FEATURE_FRACTION: f64 = 0.5;

/// Hyper-parameters of [`RandomForest::fit`](super::RandomForest::fit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    /// Number of trees; at least 1.
    pub n_estimators: usize,
    /// Depth limit for every tree (`None` grows until leaves are pure);
    /// `Some(0)` is rejected because a forest of single leaves ignores the
    /// features.
    pub max_depth: Option<usize>,
    /// Fraction of the features, in `(0, 1]`, that each tree is trained on.
    /// The subset is drawn without replacement, once per tree, and has
    /// `max(1, floor(feature_fraction * n_features))` members (scikit-learn's
    /// rounding for a fractional `max_features`).
    pub feature_fraction: f64,
    /// Seed from which every tree's random stream is derived.
    pub random_state: u64,
}

impl Default for ForestParams {
    /// scikit-learn-like defaults: 100 unlimited-depth trees.
    fn default() -> Self {
        ForestParams {
            n_estimators: 100,
            max_depth: None,
            feature_fraction: DEFAULT_FEATURE_FRACTION,
            random_state: 0,
        }
    }
}

impl ForestParams {
    pub(super) fn validate(&self) -> Result<(), MlError> {
        if self.n_estimators == 0 {
            return Err(MlError::InvalidParameter {
                name: "n_estimators",
                reason: "must be at least 1".to_string(),
            });
        }
        if self.max_depth == Some(0) {
            return Err(MlError::InvalidParameter {
                name: "max_depth",
                reason: "must be at least 1 (or None for unlimited)".to_string(),
            });
        }
        if !(self.feature_fraction > 0.0 && self.feature_fraction <= 1.0) {
            return Err(MlError::InvalidParameter {
                name: "feature_fraction",
                reason: format!("must be in (0, 1], got {}", self.feature_fraction),
            });
        }
        Ok(())
    }

    /// Number of features per tree; the small epsilon keeps products such as
    /// `0.29 * 100 = 28.999999999999996` from losing a feature to rounding.
    pub(super) fn features_per_tree(&self, n_features: usize) -> usize {
        let k = (self.feature_fraction * n_features as f64 + 1e-9).floor() as usize;
        k.clamp(1, n_features)
    }
}
