//! The forest's hyper-parameters, their defaults and their checks.
//!
//! The knobs and their meaning follow scikit-learn's `RandomForestClassifier`, so a user can
//! carry settings across. The enum-valued knobs (`max_features`, `max_samples`, `criterion`,
//! `class_weight`) read from a string or a number the way scikit-learn's keyword arguments do,
//! and a value of the wrong shape is reported as `invalid value: …, expected …`, which the
//! params loader turns into a message naming the key.

use std::fmt;

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::ml::error::MlError;

/// How many features are drawn as split candidates at every node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxFeatures {
    /// `floor(sqrt(n_features))`, at least 1 (scikit-learn's default for classifiers).
    Sqrt,
    /// `floor(log2(n_features))`, at least 1.
    Log2,
    /// `floor(fraction * n_features)`, at least 1; the fraction is in `(0, 1]`.
    Fraction(f64),
    /// A fixed count, from 1 to the number of features.
    Count(usize),
}

impl MaxFeatures {
    /// The number of candidate features per split for `n_features` columns (at least 1).
    /// Errors when a count exceeds the number of features.
    pub(crate) fn resolve(&self, n_features: usize) -> Result<usize, MlError> {
        let k = match *self {
            MaxFeatures::Sqrt => (n_features as f64).sqrt().floor() as usize,
            MaxFeatures::Log2 => n_features.checked_ilog2().unwrap_or(0) as usize,
            // The small epsilon keeps products such as `0.29 * 100 = 28.999999999999996` from
            // losing a feature to rounding.
            MaxFeatures::Fraction(f) => (f * n_features as f64 + 1e-9).floor() as usize,
            MaxFeatures::Count(k) if k > n_features => {
                return Err(MlError::InvalidParameter {
                    name: "max_features",
                    reason: format!("{k} features requested but the data has {n_features}"),
                })
            }
            MaxFeatures::Count(k) => k,
        };
        Ok(k.clamp(1, n_features.max(1)))
    }

    fn check(&self) -> Result<(), String> {
        match *self {
            MaxFeatures::Fraction(f) if !(f > 0.0 && f <= 1.0) => Err(format!(
                "a fraction must be greater than 0 and at most 1, got {f}"
            )),
            MaxFeatures::Count(0) => Err("a count must be at least 1".to_string()),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for MaxFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxFeatures::Sqrt => write!(f, "\"sqrt\""),
            MaxFeatures::Log2 => write!(f, "\"log2\""),
            MaxFeatures::Fraction(x) => write!(f, "{x:?}"),
            MaxFeatures::Count(k) => write!(f, "{k}"),
        }
    }
}

impl Serialize for MaxFeatures {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            MaxFeatures::Sqrt => s.serialize_str("sqrt"),
            MaxFeatures::Log2 => s.serialize_str("log2"),
            MaxFeatures::Fraction(f) => s.serialize_f64(f),
            MaxFeatures::Count(k) => s.serialize_u64(k as u64),
        }
    }
}

impl<'de> Deserialize<'de> for MaxFeatures {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AmountVisitor {
            expected: "\"sqrt\", \"log2\", a fraction in (0, 1] or a whole number of features",
            words: &["sqrt", "log2"],
        })
        .map(|a| match a {
            Amount::Word("sqrt") => MaxFeatures::Sqrt,
            Amount::Word(_) => MaxFeatures::Log2,
            Amount::Fraction(f) => MaxFeatures::Fraction(f),
            Amount::Count(k) => MaxFeatures::Count(k),
        })
    }
}

/// How many rows each tree's bootstrap sample draws (scikit-learn's `max_samples`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxSamples {
    /// `max(1, round(fraction * n_rows))` rows; the fraction is in `(0, 1]`.
    Fraction(f64),
    /// A fixed number of draws, from 1 to the number of rows.
    Count(usize),
}

impl MaxSamples {
    /// Draws per tree for `n_rows` rows; errors when a count exceeds the rows.
    pub(crate) fn resolve(&self, n_rows: usize) -> Result<usize, MlError> {
        match *self {
            MaxSamples::Fraction(f) => Ok(((f * n_rows as f64).round() as usize).max(1)),
            MaxSamples::Count(k) if k > n_rows => Err(MlError::InvalidParameter {
                name: "max_samples",
                reason: format!("{k} rows requested but the data has {n_rows}"),
            }),
            MaxSamples::Count(k) => Ok(k),
        }
    }

    fn check(&self) -> Result<(), String> {
        match *self {
            MaxSamples::Fraction(f) if !(f > 0.0 && f <= 1.0) => Err(format!(
                "a fraction must be greater than 0 and at most 1, got {f}"
            )),
            MaxSamples::Count(0) => Err("a count must be at least 1".to_string()),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for MaxSamples {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxSamples::Fraction(x) => write!(f, "{x:?}"),
            MaxSamples::Count(k) => write!(f, "{k}"),
        }
    }
}

impl Serialize for MaxSamples {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            MaxSamples::Fraction(f) => s.serialize_f64(f),
            MaxSamples::Count(k) => s.serialize_u64(k as u64),
        }
    }
}

impl<'de> Deserialize<'de> for MaxSamples {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match d.deserialize_any(AmountVisitor {
            expected: "a fraction in (0, 1] or a whole number of rows",
            words: &[],
        })? {
            Amount::Fraction(f) => Ok(MaxSamples::Fraction(f)),
            Amount::Count(k) => Ok(MaxSamples::Count(k)),
            Amount::Word(w) => Err(de::Error::invalid_value(
                Unexpected::Str(w),
                &"a fraction in (0, 1] or a whole number of rows",
            )),
        }
    }
}

/// The impurity a split minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Criterion {
    /// Gini impurity, `1 - sum p_c^2`.
    #[default]
    Gini,
    /// Shannon entropy, `-sum p_c ln p_c` (scikit-learn's `"entropy"`; the logarithm's base
    /// does not change which split wins).
    Entropy,
}

impl Serialize for Criterion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            Criterion::Gini => "gini",
            Criterion::Entropy => "entropy",
        })
    }
}

impl<'de> Deserialize<'de> for Criterion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match word(d, &["gini", "entropy"], "\"gini\" or \"entropy\"")? {
            "gini" => Ok(Criterion::Gini),
            _ => Ok(Criterion::Entropy),
        }
    }
}

/// Per-class weights applied to every sample of a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassWeight {
    /// `n_rows / (n_classes * rows_of_class)`, computed on the whole training set, as
    /// scikit-learn's `class_weight="balanced"` does.
    Balanced,
}

impl Serialize for ClassWeight {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("balanced")
    }
}

impl<'de> Deserialize<'de> for ClassWeight {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        word(d, &["balanced"], "\"balanced\"").map(|_| ClassWeight::Balanced)
    }
}

/// A string, a fraction or a count, before the knob gives it its meaning.
enum Amount {
    Word(&'static str),
    Fraction(f64),
    Count(usize),
}

struct AmountVisitor {
    expected: &'static str,
    words: &'static [&'static str],
}

impl<'de> Visitor<'de> for AmountVisitor {
    type Value = Amount;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expected)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount, E> {
        match self.words.iter().find(|w| **w == v) {
            Some(w) => Ok(Amount::Word(w)),
            None => Err(E::invalid_value(Unexpected::Str(v), &self)),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Amount, E> {
        Ok(Amount::Fraction(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
        usize::try_from(v)
            .map(Amount::Count)
            .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Amount, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
        }
    }
}

/// One of `words`, or an `invalid value` error describing them as `expected`.
fn word<'de, D: Deserializer<'de>>(
    d: D,
    words: &'static [&'static str],
    expected: &'static str,
) -> Result<&'static str, D::Error> {
    match d.deserialize_any(AmountVisitor { expected, words })? {
        Amount::Word(w) => Ok(w),
        Amount::Fraction(f) => Err(de::Error::invalid_value(Unexpected::Float(f), &expected)),
        Amount::Count(k) => Err(de::Error::invalid_value(
            Unexpected::Unsigned(k as u64),
            &expected,
        )),
    }
}

/// Hyper-parameters of [`RandomForest::fit`](super::RandomForest::fit), with scikit-learn's
/// names and meanings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForestParams {
    /// Number of trees; at least 1.
    pub n_estimators: usize,
    /// Depth limit for every tree (`None` grows until leaves are pure or too small to split);
    /// `Some(0)` is rejected because a forest of single leaves ignores the features.
    pub max_depth: Option<usize>,
    /// Candidate features drawn, without replacement, at every split.
    pub max_features: MaxFeatures,
    /// A node with fewer (distinct, in-bag) rows than this is a leaf; at least 2.
    pub min_samples_split: usize,
    /// A split must leave at least this many rows on each side; at least 1.
    pub min_samples_leaf: usize,
    /// The impurity splits minimise.
    pub criterion: Criterion,
    /// Per-class sample weights, or `None` for equal weights.
    pub class_weight: Option<ClassWeight>,
    /// Whether each tree sees a bootstrap sample (draws with replacement) or every row once.
    pub bootstrap: bool,
    /// Draws per bootstrap sample (`None`: as many as there are rows); needs `bootstrap`.
    pub max_samples: Option<MaxSamples>,
    /// Whether to score every row with the trees that did not see it; needs `bootstrap`.
    pub oob_score: bool,
    /// Seed from which every tree's random stream is derived.
    pub random_state: u64,
}

impl Default for ForestParams {
    /// scikit-learn's defaults: 100 unlimited-depth trees, `sqrt` features per split, Gini,
    /// bootstrap samples as large as the data.
    fn default() -> Self {
        ForestParams {
            n_estimators: 100,
            max_depth: None,
            max_features: MaxFeatures::Sqrt,
            min_samples_split: 2,
            min_samples_leaf: 1,
            criterion: Criterion::Gini,
            class_weight: None,
            bootstrap: true,
            max_samples: None,
            oob_score: false,
            random_state: 0,
        }
    }
}

impl ForestParams {
    /// Every rule that does not depend on the data; each error names its parameter.
    pub(crate) fn validate(&self) -> Result<(), MlError> {
        let bad =
            |name: &'static str, reason: String| Err(MlError::InvalidParameter { name, reason });
        if self.n_estimators == 0 {
            return bad("n_estimators", "must be at least 1".to_string());
        }
        if self.max_depth == Some(0) {
            return bad(
                "max_depth",
                "must be at least 1 (or None for unlimited)".to_string(),
            );
        }
        if let Err(reason) = self.max_features.check() {
            return bad("max_features", reason);
        }
        if self.min_samples_split < 2 {
            return bad("min_samples_split", "must be at least 2".to_string());
        }
        if self.min_samples_leaf < 1 {
            return bad("min_samples_leaf", "must be at least 1".to_string());
        }
        if let Some(m) = &self.max_samples {
            if let Err(reason) = m.check() {
                return bad("max_samples", reason);
            }
            if !self.bootstrap {
                return bad(
                    "max_samples",
                    "only applies to bootstrap samples (bootstrap = true)".to_string(),
                );
            }
        }
        if self.oob_score && !self.bootstrap {
            return bad(
                "oob_score",
                "needs out-of-bag rows, so bootstrap = true".to_string(),
            );
        }
        Ok(())
    }
}
