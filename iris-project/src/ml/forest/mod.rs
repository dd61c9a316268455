//! A random forest classifier: Breiman's algorithm, as scikit-learn's
//! `RandomForestClassifier` implements it, grown on pre-binned features.
//!
//! Every tree is grown on its own bootstrap sample and draws `max_features` candidate
//! features at every split; a prediction averages the trees' leaf class distributions. Split
//! finding works on byte codes of at most 255 quantile bins per feature (`bins.rs`), computed
//! once per fit, and on (bin x class) histograms per node (`grow.rs`), so a fit costs a few
//! passes over the rows per tree level instead of a sort per node. Trees grow in parallel on
//! the current rayon pool, and the candidate histograms of large nodes are built in parallel
//! too.
//!
//! Reproducibility is a design goal: a fitted forest, its JSON and its predictions depend only
//! on the data and [`ForestParams`], never on the thread count or the machine. Each tree draws
//! from its own generator seeded from `(random_state, tree index)` (`sample.rs`); histograms
//! count in integers; every floating-point sum runs in a fixed order inside one task; and
//! the entropy's logarithm is computed without the platform's maths library
//! (`criterion.rs`).
//!
//! The parts: [`ForestParams`] (`params.rs`), binning (`bins.rs`), impurities
//! (`criterion.rs`), randomness (`sample.rs`), growing a tree (`grow.rs`), the stored tree
//! (`tree.rs`), the out-of-bag score (`oob.rs`), the JSON model file (`json.rs`) and linfa's
//! `Fit` and `Predict` traits (`linfa_traits.rs`).

mod bins;
mod criterion;
mod grow;
mod json;
mod linfa_traits;
mod oob;
mod params;
mod sample;
mod tree;

#[cfg(test)]
mod tests;

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ml::dataset::{check_finite, Dataset};
use crate::ml::error::MlError;
use tree::Tree;

pub use params::{ClassWeight, Criterion, ForestParams, MaxFeatures, MaxSamples};

/// Rows per parallel prediction task: large enough that a task outweighs its scheduling.
const PREDICT_CHUNK: usize = 256;

/// A fitted random forest classifier.
///
/// Serialises to JSON with [`RandomForest::to_json`]; the parameters, feature and class names
/// are stored alongside the trees so a saved model is self-describing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomForest {
    params: ForestParams,
    feature_names: Vec<String>,
    class_names: Vec<String>,
    feature_importances: Vec<f64>,
    oob_score: Option<f64>,
    trees: Vec<Tree>,
}

impl RandomForest {
    /// Trains a forest on `data`.
    ///
    /// Tree `i` draws, from its own generator (see `sample.rs`), first its bootstrap sample
    /// and then, node by node in depth-first order, its candidate features. Trees are grown in
    /// parallel on the current rayon pool and collected in index order, so the result is
    /// identical for any number of threads.
    ///
    /// Errors: invalid parameters (naming the parameter), an empty or inconsistent data set,
    /// or non-finite features.
    pub fn fit(params: &ForestParams, data: &Dataset) -> Result<RandomForest, MlError> {
        params.validate()?;
        data.validate()?;
        let n = data.n_rows();
        if n == 0 {
            return Err(MlError::Empty { name: "features" });
        }
        if data.n_features() == 0 {
            return Err(MlError::InvalidParameter {
                name: "features",
                reason: "need at least one feature column".to_string(),
            });
        }
        if data.n_classes() == 0 {
            return Err(MlError::Empty {
                name: "class_names",
            });
        }
        check_finite("features", data)?;
        let max_features = params.max_features.resolve(data.n_features())?;
        let draws = match &params.max_samples {
            Some(m) => m.resolve(n)?,
            None => n,
        };
        let labels: Vec<u32> = data.labels.iter().map(|&l| l as u32).collect();
        let class_weights = class_weights(params.class_weight, &data.labels, data.n_classes());
        let binned = bins::Binned::new(data.features.view());
        let setup = grow::Setup {
            binned: &binned,
            labels: &labels,
            n_classes: data.n_classes(),
            class_weights: &class_weights,
            max_depth: params.max_depth.unwrap_or(usize::MAX),
            max_features,
            min_samples_split: params.min_samples_split,
            min_samples_leaf: params.min_samples_leaf,
            criterion: params.criterion,
        };
        let grown: Vec<(grow::Grown, Option<oob::InBag>)> = (0..params.n_estimators)
            .into_par_iter()
            .map(|i| {
                let mut rng = sample::tree_rng(params.random_state, i);
                let counts = if params.bootstrap {
                    sample::bootstrap_counts(&mut rng, n, draws)
                } else {
                    vec![1; n]
                };
                let in_bag = params.oob_score.then(|| oob::InBag::new(&counts));
                (grow::grow(&setup, &counts, &mut rng), in_bag)
            })
            .collect();
        let feature_importances = mean_importances(grown.iter().map(|(g, _)| g), data.n_features());
        let (grown, in_bag): (Vec<grow::Grown>, Vec<Option<oob::InBag>>) =
            grown.into_iter().unzip();
        let trees: Vec<Tree> = grown.into_iter().map(|g| g.tree).collect();
        let oob_score = if params.oob_score {
            let in_bag: Vec<oob::InBag> = in_bag.into_iter().flatten().collect();
            Some(oob::score(&trees, &in_bag, data))
        } else {
            None
        };
        Ok(RandomForest {
            params: params.clone(),
            feature_names: data.feature_names.clone(),
            class_names: data.class_names.clone(),
            feature_importances,
            oob_score,
            trees,
        })
    }

    /// The class probabilities of every row of `features`: the mean over the trees of the
    /// class distribution in the leaf the row reaches (one column per class, in the order of
    /// [`RandomForest::class_names`]). Errors if the column count differs from training or a
    /// value is not finite.
    pub fn predict_proba(&self, features: ArrayView2<f64>) -> Result<Array2<f64>, MlError> {
        self.check_features(features)?;
        Ok(self.proba_unchecked(features))
    }

    /// Predicts a class index for every row of `features`: the class of highest mean
    /// probability, ties to the lowest index. Errors as [`RandomForest::predict_proba`] does.
    pub fn predict(&self, features: ArrayView2<f64>) -> Result<Vec<usize>, MlError> {
        Ok(argmax_rows(&self.predict_proba(features)?))
    }

    /// Probabilities without the input checks. Rows are independent, so each chunk of rows
    /// is a parallel task; a chunk is copied into one contiguous row-major block, and every
    /// tree walks all its rows before the next tree starts, so one tree's nodes stay in cache.
    /// Each row's sum still runs over the trees in order (the same bits whatever the
    /// chunking).
    fn proba_unchecked(&self, features: ArrayView2<f64>) -> Array2<f64> {
        let k = self.class_names.len();
        let n = features.nrows();
        let n_trees = self.trees.len() as f64;
        let chunks: Vec<Vec<f64>> = (0..n.div_ceil(PREDICT_CHUNK))
            .into_par_iter()
            .map(|c| {
                let rows = c * PREDICT_CHUNK..((c + 1) * PREDICT_CHUNK).min(n);
                let block: Vec<f64> = rows
                    .clone()
                    .flat_map(|r| features.row(r).to_vec())
                    .collect();
                let width = features.ncols().max(1);
                let mut out = vec![0.0; rows.len() * k];
                for tree in &self.trees {
                    for (acc, row) in out.chunks_mut(k.max(1)).zip(block.chunks(width)) {
                        acc.iter_mut()
                            .zip(tree.leaf_proba(row))
                            .for_each(|(a, p)| *a += p);
                    }
                }
                out.iter_mut().for_each(|a| *a /= n_trees);
                out
            })
            .collect();
        Array2::from_shape_vec((n, k), chunks.concat()).unwrap_or_else(|_| Array2::zeros((n, k)))
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

    /// Impurity-based importance of every feature (mean decrease in impurity, as
    /// scikit-learn's `feature_importances_`): sums to 1 unless no tree split at all.
    pub fn feature_importances(&self) -> &[f64] {
        &self.feature_importances
    }

    /// Accuracy of the out-of-bag predictions on the training rows (each row predicted by the
    /// trees whose bootstrap sample missed it), when fitted with `oob_score`.
    pub fn oob_score(&self) -> Option<f64> {
        self.oob_score
    }

    /// Number of leaves of every tree, in tree order.
    pub fn leaf_counts(&self) -> Vec<usize> {
        self.trees.iter().map(Tree::n_leaves).collect()
    }
}

/// The index of the largest value of every row, the first one on ties: the class
/// [`RandomForest::predict`] picks from [`RandomForest::predict_proba`].
pub fn argmax_rows(proba: &Array2<f64>) -> Vec<usize> {
    proba
        .rows()
        .into_iter()
        .map(|row| {
            let mut best = 0;
            for (c, &p) in row.iter().enumerate() {
                if p > row[best] {
                    best = c;
                }
            }
            best
        })
        .collect()
}

/// Per-class sample weights: all 1, or scikit-learn's `balanced` weights
/// `n_rows / (n_present_classes * rows_of_class)` (a class without rows weighs 1; it has no
/// rows to weigh).
fn class_weights(weight: Option<ClassWeight>, labels: &[usize], n_classes: usize) -> Vec<f64> {
    let mut counts = vec![0usize; n_classes];
    for &l in labels {
        counts[l] += 1;
    }
    let present = counts.iter().filter(|&&c| c > 0).count();
    counts
        .iter()
        .map(|&c| match weight {
            Some(ClassWeight::Balanced) if c > 0 => {
                labels.len() as f64 / (present as f64 * c as f64)
            }
            _ => 1.0,
        })
        .collect()
}

/// scikit-learn's forest importances: each tree's decreases normalised to sum 1, averaged
/// over the trees that split at least once, normalised again.
fn mean_importances<'a>(
    grown: impl Iterator<Item = &'a grow::Grown>,
    n_features: usize,
) -> Vec<f64> {
    let mut mean = vec![0.0; n_features];
    let mut trees = 0usize;
    for g in grown {
        if g.tree.nodes.len() <= 1 {
            continue;
        }
        trees += 1;
        let sum: f64 = g.importances.iter().sum();
        if sum > 0.0 {
            mean.iter_mut()
                .zip(&g.importances)
                .for_each(|(m, v)| *m += v / sum);
        }
    }
    if trees > 0 {
        mean.iter_mut().for_each(|m| *m /= trees as f64);
    }
    let sum: f64 = mean.iter().sum();
    if sum > 0.0 {
        mean.iter_mut().for_each(|m| *m /= sum);
    }
    mean
}
