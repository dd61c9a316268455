//! Batch prediction with a saved Iris forest: the `predict` command of the Iris binary.

use crate::ml::{RandomForest, IRIS_CLASS_NAMES};
use anyhow::{bail, Context as _};
use ndarray::Array2;
use pipeline_core::predict::{load_model, Predictions, Predictor};
use std::path::Path;

/// Loads forests saved by the `train` stage and predicts species.
pub struct IrisPredictor;

impl Predictor for IrisPredictor {
    fn predict(&self, model: &Path, input: &Path) -> anyhow::Result<Predictions> {
        let forest: RandomForest = load_model(model)?;
        let name = input.display().to_string();
        let mut reader =
            csv::Reader::from_path(input).with_context(|| format!("opening {name}"))?;
        let header: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
        let columns: Vec<usize> = forest
            .feature_names()
            .iter()
            .map(|feature| {
                header.iter().position(|h| h == feature).with_context(|| {
                    format!(
                        "{name}: no column `{feature}` (the model's features are {:?})",
                        forest.feature_names()
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?;
        let label_column = header.iter().position(|h| h == "species");
        let mut rows = Vec::new();
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let line = i + 2;
            let record = record.with_context(|| format!("{name}: line {line}"))?;
            for &c in &columns {
                let text = record.get(c).unwrap_or_default();
                let v: f64 = text.trim().parse().with_context(|| {
                    format!(
                        "{name}: line {line}, column `{}`: `{text}` is not a number",
                        header[c]
                    )
                })?;
                values.push(v);
            }
            if let Some(c) = label_column {
                labels.push(record.get(c).unwrap_or_default().to_string());
            }
            rows.push(record.iter().map(str::to_string).collect::<Vec<_>>());
        }
        if rows.is_empty() {
            bail!("{name}: no rows to predict");
        }
        let features = Array2::from_shape_vec((rows.len(), columns.len()), values)?;
        let predicted = forest.predict(features.view())?;
        let classes = forest.class_names();
        let mut correct = 0;
        for (i, (row, class)) in rows.iter_mut().zip(&predicted).enumerate() {
            let species = classes
                .get(*class)
                .cloned()
                .unwrap_or_else(|| IRIS_CLASS_NAMES[0].to_string());
            if labels.get(i) == Some(&species) {
                correct += 1;
            }
            row.push(species);
        }
        let mut out_header = header;
        out_header.push("prediction".to_string());
        Ok(Predictions {
            header: out_header,
            accuracy: (!labels.is_empty()).then(|| correct as f64 / labels.len() as f64),
            rows,
        })
    }
}
