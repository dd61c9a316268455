//! A random forest classifier assembled from linfa-trees decision trees.
//!
//! linfa-trees 0.8 only grows single CART trees and has no per-split feature
//! sampling, so the forest adds the ensemble parts itself: a bootstrap sample
//! and a random feature subset per tree (the "random subspace" variant of
//! feature bagging), parallel training with rayon, and majority voting.
//!
//! Reproducibility is a design goal: a fitted forest, its JSON and its
//! predictions depend only on the data and [`ForestParams`], never on the
//! rayon thread count or the process. Fitted trees are therefore converted
//! into this module's own node type, which stores just what prediction needs
//! (linfa's serialised trees also carry floating-point impurity statistics
//! whose last bits vary from run to run).
//!
//! The parts: [`ForestParams`] (`params.rs`), the stored tree and its checks (`tree.rs`), growing
//! one tree with linfa-trees (`fit.rs`), the majority vote (`vote.rs`) and the JSON model file
//! (`json.rs`).

mod fit;
mod json;
mod params;
mod tree;
mod vote;

#[cfg(test)]
mod tests;

use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ml::dataset::{check_finite, Dataset};
use crate::ml::error::MlError;
use tree::Tree;

pub use params::{ForestParams, DEFAULT_FEATURE_FRACTION};

/// A fitted random forest classifier.
///
/// Serialises to JSON with [`RandomForest::to_json`]; the parameters, feature
/// and class names are stored alongside the trees so a saved model is
/// self-describing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomForest {
    params: ForestParams,
    feature_names: Vec<String>,
    class_names: Vec<String>,
    trees: Vec<Tree>,
}

impl RandomForest {
    /// Trains a forest on `data`.
    ///
    /// Tree `i` draws, from its own generator (see `tree_seed` in `fit.rs`),
    /// first its feature subset (without replacement, stored sorted) and then
    /// `n` bootstrap row indices with replacement, and is grown by linfa-trees
    /// with Gini impurity and `max_depth`. Trees are trained in parallel on
    /// the current rayon pool and collected in index order, so the result is
    /// identical for any number of threads.
    ///
    /// Ties between class counts inside linfa are resolved deterministically
    /// for data sets of up to roughly 2,000 rows with 3 classes (see
    /// `tie_break_weights`); beyond that the trees are still valid but equal
    /// counts may be resolved differently between runs.
    ///
    /// Errors: invalid parameters, an empty or inconsistent data set,
    /// non-finite features, or a linfa fitting error (with the tree index).
    pub fn fit(params: &ForestParams, data: &Dataset) -> Result<RandomForest, MlError> {
        params.validate()?;
        data.validate()?;
        if data.n_rows() == 0 {
            return Err(MlError::Empty { name: "features" });
        }
        if data.n_features() == 0 {
            return Err(MlError::InvalidParameter {
                name: "features",
                reason: "need at least one feature column".to_string(),
            });
        }
        check_finite("features", data)?;
        let weights = fit::tie_break_weights(data.n_rows(), data.n_classes());
        let trees = (0..params.n_estimators)
            .into_par_iter()
            .map(|i| fit::fit_tree(params, data, weights.as_deref(), i))
            .collect::<Result<Vec<Tree>, MlError>>()?;
        Ok(RandomForest {
            params: params.clone(),
            feature_names: data.feature_names.clone(),
            class_names: data.class_names.clone(),
            trees,
        })
    }

    /// Predicts a class index for every row of `features`.
    ///
    /// Each tree votes; the class with most votes wins and ties go to the
    /// lowest class index, so predictions are deterministic. Errors if the
    /// column count differs from training or a value is not finite.
    pub fn predict(&self, features: ArrayView2<f64>) -> Result<Vec<usize>, MlError> {
        self.check_features(features)?;
        let mut votes = vec![0usize; self.class_names.len()];
        let predictions = features
            .axis_iter(Axis(0))
            .map(|row| vote::vote(&self.trees, row, &mut votes))
            .collect();
        Ok(predictions)
    }

    /// Predicts every row of `features` as [`RandomForest::predict`] does, with the fraction
    /// of trees voting for each class (in the order of [`RandomForest::class_names`]) as the
    /// class probabilities. The predicted class is the one with most votes (ties to the lowest
    /// index), so it always has the highest fraction.
    pub fn predict_proba(
        &self,
        features: ArrayView2<f64>,
    ) -> Result<Vec<(usize, Vec<f64>)>, MlError> {
        self.check_features(features)?;
        let n_trees = self.trees.len().max(1) as f64;
        let mut votes = vec![0usize; self.class_names.len()];
        let predictions = features
            .axis_iter(Axis(0))
            .map(|row| {
                let class = vote::vote(&self.trees, row, &mut votes);
                let fractions = votes.iter().map(|&v| v as f64 / n_trees).collect();
                (class, fractions)
            })
            .collect();
        Ok(predictions)
    }

    /// The column count matches training and every value is finite.
    fn check_features(&self, features: ArrayView2<f64>) -> Result<(), MlError> {
        if features.ncols() != self.feature_names.len() {
            return Err(MlError::FeatureCountMismatch {
                expected: self.feature_names.len(),
                found: features.ncols(),
            });
        }
        if let Some(((row, column), &value)) = features.indexed_iter().find(|(_, v)| !v.is_finite())
        {
            return Err(MlError::NonFiniteFeature {
                name: "features",
                row,
                column,
                column_name: self.feature_names[column].clone(),
                value,
            });
        }
        Ok(())
    }

    /// The parameters the forest was trained with.
    pub fn params(&self) -> &ForestParams {
        &self.params
    }

    /// Names of the features, in the column order `predict` expects.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// Names of the classes; predictions index into this list.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// The feature columns each tree was trained on, in tree order.
    pub fn tree_feature_subsets(&self) -> Vec<&[usize]> {
        self.trees.iter().map(|t| t.features.as_slice()).collect()
    }
}
