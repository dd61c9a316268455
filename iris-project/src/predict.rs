//! The Iris binary's models: a saved forest loaded once, then predicting rows for `predict`
//! (a CSV file) and `serve` (HTTP requests).

use crate::ml::RandomForest;
use anyhow::Context as _;
use ndarray::ArrayView2;
use pipeline_core::predict::{load_model, LoadedModel, Prediction, Predictor};
use std::path::Path;

/// Loads forests saved by the `train` stage.
pub struct IrisPredictor;

impl Predictor for IrisPredictor {
    fn load(&self, model: &Path) -> anyhow::Result<Box<dyn LoadedModel>> {
        let forest: RandomForest = load_model(model)?;
        anyhow::ensure!(
            !forest.feature_names().is_empty() && !forest.class_names().is_empty(),
            "{}: the forest has no features or no classes",
            model.display()
        );
        Ok(Box::new(IrisModel { forest }))
    }
}

/// A loaded forest. Probabilities are the trees' mean leaf class distributions.
pub struct IrisModel {
    forest: RandomForest,
}

impl IrisModel {
    /// Wraps a fitted forest.
    pub fn new(forest: RandomForest) -> Self {
        IrisModel { forest }
    }
}

impl LoadedModel for IrisModel {
    fn features(&self) -> &[String] {
        self.forest.feature_names()
    }

    fn classes(&self) -> &[String] {
        self.forest.class_names()
    }

    fn target(&self) -> Option<&str> {
        Some("species")
    }

    fn predict(&self, values: &[f64]) -> anyhow::Result<Vec<Prediction>> {
        let width = self.forest.feature_names().len();
        anyhow::ensure!(
            values.len().is_multiple_of(width),
            "{} values do not make rows of {width} features",
            values.len()
        );
        let view = ArrayView2::from_shape((values.len() / width, width), values)
            .context("shaping the rows")?;
        let proba = self.forest.predict_proba(view)?;
        Ok(crate::ml::forest::argmax_rows(&proba)
            .into_iter()
            .zip(proba.rows())
            .map(|(class, row)| Prediction {
                class,
                probabilities: row.to_vec(),
            })
            .collect())
    }
}
