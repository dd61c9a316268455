//! The typed sections of `params.toml`. Unknown keys are rejected and every range is checked
//! before anything runs, so a typo or a bad `-S` override never trains a wrong model.

use pipeline_core::{Invalid, ParamsSection};
use serde::{Deserialize, Serialize};

/// `[data]`: how the data set is split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataParams {
    /// Fraction of rows held out for evaluation, strictly between 0 and 1.
    pub test_size: f64,
    /// Seed of the stratified split.
    pub random_state: u64,
}

impl ParamsSection for DataParams {
    fn validate(&self) -> Result<(), Invalid> {
        let t = self.test_size;
        Invalid::check(
            "test_size",
            t,
            t > 0.0 && t < 1.0,
            "must be greater than 0 and less than 1",
        )
    }
}

/// `[train]`: the random forest's hyperparameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainParams {
    /// Number of trees, at least 1.
    pub n_estimators: usize,
    /// Maximum depth of each tree, at least 1; absent means unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<usize>,
    /// Fraction of the features each tree sees, in (0, 1].
    #[serde(default = "default_feature_fraction")]
    pub feature_fraction: f64,
    /// Seed of the bootstrap samples and feature draws.
    pub random_state: u64,
}

fn default_feature_fraction() -> f64 {
    crate::ml::DEFAULT_FEATURE_FRACTION
}

impl ParamsSection for TrainParams {
    fn validate(&self) -> Result<(), Invalid> {
        Invalid::check(
            "n_estimators",
            self.n_estimators,
            self.n_estimators >= 1,
            "must be at least 1",
        )?;
        Invalid::check(
            "n_estimators",
            self.n_estimators,
            self.n_estimators <= 10_000,
            "must be at most 10000",
        )?;
        if let Some(depth) = self.max_depth {
            Invalid::check(
                "max_depth",
                depth,
                depth >= 1,
                "must be at least 1 (omit it for no limit)",
            )?;
        }
        let f = self.feature_fraction;
        Invalid::check(
            "feature_fraction",
            f,
            f > 0.0 && f <= 1.0,
            "must be greater than 0 and at most 1",
        )
    }
}

impl TrainParams {
    /// The forest settings these params describe.
    pub fn forest(&self) -> crate::ml::ForestParams {
        crate::ml::ForestParams {
            n_estimators: self.n_estimators,
            max_depth: self.max_depth,
            feature_fraction: self.feature_fraction,
            random_state: self.random_state,
        }
    }
}
