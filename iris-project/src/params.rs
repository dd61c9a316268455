//! The typed sections of `params.toml`. Unknown keys are rejected and every range is checked
//! before anything runs, so a typo or a bad `-S` override never trains a wrong model.

use crate::ml::{ClassWeight, Criterion, ForestParams, MaxFeatures, MaxSamples, MlError};
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
    /// `test_size` in (0, 1), and such that the split of the Iris rows that `prepare` makes
    /// leaves every class at least one test row and one training row. (`prepare` checks the
    /// same at split time, which holds for any data; this check makes a bad value fail before
    /// anything runs.)
    fn validate(&self) -> Result<(), Invalid> {
        let t = self.test_size;
        Invalid::check(
            "test_size",
            t,
            t > 0.0 && t < 1.0,
            "must be greater than 0 and less than 1",
        )?;
        let (counts, names) = iris_classes();
        let (counts, names) = (&counts, &names);
        if crate::ml::split::test_counts(counts, names, t).is_ok() {
            return Ok(());
        }
        let n: usize = counts.iter().sum();
        // Conservative bounds (rounded inwards) that give `lo` to `hi` test rows.
        let range = match crate::ml::split::valid_test_rows(counts) {
            Some((lo, hi)) => format!(
                ": use a test_size from {} to {}",
                decimals((lo as f64 / n as f64 * 1e4 - 1e-9).ceil()),
                decimals((hi as f64 / n as f64 * 1e4 + 1e-9).floor())
            ),
            None => String::new(),
        };
        Err(Invalid {
            key: "test_size".to_string(),
            value: format!("{t:?}"),
            rule: format!(
                "must leave at least one test row and one training row of each class \
                 (the Iris data has {n} rows in {} classes{range})",
                counts.len()
            ),
        })
    }
}

/// Rows per class of the Iris data set, in `IRIS_CLASS_NAMES` order. Constant rather than
/// counted, so that checking params (which every command does) never parses the data set; a
/// test keeps it equal to the data.
const IRIS_CLASS_ROWS: [usize; 3] = [50, 50, 50];

/// Rows per class of the Iris data set and the class names.
fn iris_classes() -> (Vec<usize>, Vec<String>) {
    (
        IRIS_CLASS_ROWS.to_vec(),
        crate::ml::IRIS_CLASS_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect(),
    )
}

/// `ten_thousandths / 10000` written with no trailing zeros, for messages.
fn decimals(ten_thousandths: f64) -> String {
    let text = format!("{:.4}", ten_thousandths / 1e4);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `[train]`: the random forest's hyperparameters, with scikit-learn's names, meanings and
/// defaults (see [`crate::ml::ForestParams`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainParams {
    /// Number of trees, from 1 to 10000.
    pub n_estimators: usize,
    /// Maximum depth of each tree, at least 1; absent means unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<usize>,
    /// Candidate features per split: `"sqrt"`, `"log2"`, a fraction in (0, 1] or a count.
    #[serde(default = "default_max_features")]
    pub max_features: MaxFeatures,
    /// Fewest rows a node needs to be split, at least 2.
    #[serde(default = "default_min_samples_split")]
    pub min_samples_split: usize,
    /// Fewest rows each side of a split keeps, at least 1.
    #[serde(default = "default_min_samples_leaf")]
    pub min_samples_leaf: usize,
    /// `"gini"` or `"entropy"`.
    #[serde(default)]
    pub criterion: Criterion,
    /// `"balanced"` to weigh classes inversely to their frequency; absent means equal weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_weight: Option<ClassWeight>,
    /// Whether each tree is grown on a bootstrap sample.
    #[serde(default = "default_bootstrap")]
    pub bootstrap: bool,
    /// Rows drawn per bootstrap sample: a fraction in (0, 1] or a count; absent means as many
    /// as there are rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_samples: Option<MaxSamples>,
    /// Whether to compute the out-of-bag score (logged as a metric of the `train` stage).
    #[serde(default)]
    pub oob_score: bool,
    /// Seed of the bootstrap samples and feature draws.
    pub random_state: u64,
}

fn default_max_features() -> MaxFeatures {
    ForestParams::default().max_features
}

fn default_min_samples_split() -> usize {
    ForestParams::default().min_samples_split
}

fn default_min_samples_leaf() -> usize {
    ForestParams::default().min_samples_leaf
}

fn default_bootstrap() -> bool {
    ForestParams::default().bootstrap
}

impl ParamsSection for TrainParams {
    /// Every range rule of [`ForestParams`], reported with the key it concerns, plus a cap on
    /// `n_estimators`. (Rules that depend on the data, such as a `max_features` count above
    /// the number of columns, are checked when `train` runs.)
    fn validate(&self) -> Result<(), Invalid> {
        Invalid::check(
            "n_estimators",
            self.n_estimators,
            self.n_estimators <= 10_000,
            "must be at most 10000",
        )?;
        self.forest().validate().map_err(|e| match e {
            MlError::InvalidParameter { name, reason } => Invalid {
                key: name.to_string(),
                value: self.value_of(name),
                rule: reason,
            },
            other => Invalid {
                key: "train".to_string(),
                value: String::new(),
                rule: other.to_string(),
            },
        })
    }
}

impl TrainParams {
    /// The forest settings these params describe.
    pub fn forest(&self) -> ForestParams {
        ForestParams {
            n_estimators: self.n_estimators,
            max_depth: self.max_depth,
            max_features: self.max_features,
            min_samples_split: self.min_samples_split,
            min_samples_leaf: self.min_samples_leaf,
            criterion: self.criterion,
            class_weight: self.class_weight,
            bootstrap: self.bootstrap,
            max_samples: self.max_samples,
            oob_score: self.oob_score,
            random_state: self.random_state,
        }
    }

    /// The value of `key` as `params.toml` would show it, for messages.
    fn value_of(&self, key: &str) -> String {
        let json = serde_json::to_value(self).unwrap_or_default();
        match json.get(key) {
            Some(serde_json::Value::String(s)) => format!("{s:?}"),
            Some(v) => v.to_string(),
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_class_rows_are_those_of_the_data_set() {
        let data = crate::ml::iris();
        let mut counts = vec![0; data.class_names.len()];
        for &label in &data.labels {
            counts[label] += 1;
        }
        assert_eq!(counts, super::IRIS_CLASS_ROWS);
        assert_eq!(data.class_names, crate::ml::IRIS_CLASS_NAMES);
    }
    use super::*;

    fn data(test_size: f64) -> Result<(), String> {
        DataParams {
            test_size,
            random_state: 0,
        }
        .validate()
        .map_err(|e| format!("{} = {}: {}", e.key, e.value, e.rule))
    }

    #[test]
    fn test_size_leaves_every_class_a_test_and_a_training_row() {
        let rule = "must leave at least one test row and one training row of each class \
                    (the Iris data has 150 rows in 3 classes: use a test_size from 0.02 to 0.98)";
        for bad in [1e-320, 0.01, 0.0133, 0.985, 0.99, 0.999_999] {
            assert_eq!(data(bad), Err(format!("test_size = {bad:?}: {rule}")));
        }
        // The bounds the message gives are themselves accepted.
        for good in [0.0134, 0.02, 0.2, 0.5, 0.98] {
            assert_eq!(data(good), Ok(()), "{good}");
        }
        assert_eq!(
            data(1.5),
            Err("test_size = 1.5: must be greater than 0 and less than 1".into())
        );
    }

    /// `[train]` read from TOML text (with the two required keys) and validated.
    fn train(extra: &str) -> Result<TrainParams, String> {
        let text = format!("n_estimators = 10\nrandom_state = 1\n{extra}");
        let params: TrainParams = toml::from_str(&text).map_err(|e| e.to_string())?;
        params
            .validate()
            .map(|()| params.clone())
            .map_err(|e| format!("{} = {}: {}", e.key, e.value, e.rule))
    }

    #[test]
    fn train_knobs_default_like_scikit_learn_and_their_rules_name_the_key() {
        let defaults = train("").expect("defaults");
        assert_eq!(
            defaults.forest(),
            ForestParams {
                n_estimators: 10,
                random_state: 1,
                ..ForestParams::default()
            }
        );
        let all = train(
            "max_depth = 4\nmax_features = 0.5\nmin_samples_split = 4\nmin_samples_leaf = 2\n\
             criterion = \"entropy\"\nclass_weight = \"balanced\"\nmax_samples = 100\n\
             oob_score = true",
        )
        .expect("all");
        let forest = all.forest();
        assert_eq!(forest.max_features, MaxFeatures::Fraction(0.5));
        assert_eq!(forest.criterion, Criterion::Entropy);
        assert_eq!(forest.class_weight, Some(ClassWeight::Balanced));
        assert_eq!(forest.max_samples, Some(MaxSamples::Count(100)));
        assert!(forest.oob_score && forest.bootstrap);
        for (extra, message) in [
            ("n_estimators_extra = 1", None),
            (
                "min_samples_split = 1",
                Some("min_samples_split = 1: must be at least 2"),
            ),
            (
                "min_samples_leaf = 0",
                Some("min_samples_leaf = 0: must be at least 1"),
            ),
            (
                "max_features = 0",
                Some("max_features = 0: a count must be at least 1"),
            ),
            (
                "max_samples = 1.5",
                Some("max_samples = 1.5: a fraction must be greater than 0 and at most 1, got 1.5"),
            ),
            (
                "bootstrap = false\noob_score = true",
                Some("oob_score = true: needs out-of-bag rows, so bootstrap = true"),
            ),
            (
                "bootstrap = false\nmax_samples = 0.5",
                Some("max_samples = 0.5: only applies to bootstrap samples (bootstrap = true)"),
            ),
        ] {
            match (train(extra), message) {
                (Err(got), Some(want)) => assert_eq!(got, want),
                (Err(got), None) => assert!(got.contains("unknown field"), "{got}"),
                (Ok(p), _) => panic!("{extra}: accepted as {p:?}"),
            }
        }
    }
}
