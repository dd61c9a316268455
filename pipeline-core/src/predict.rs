//! Models and batch prediction. A stage saves a model with `ctx.log_model`, which writes a
//! directory holding `MLmodel` (what kind of model it is) and `model.json` (the model itself);
//! `predict` loads such a directory through the [`Predictor`] the pipeline binary provides, since
//! only the pipeline knows its model types.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// The file naming a model directory's flavor, as in MLflow.
pub const MLMODEL_FILE: &str = "MLmodel";
/// The serialized model inside a model directory.
pub const MODEL_FILE: &str = "model.json";

/// The flavor name of this engine's models in an `MLmodel` file. There is no
/// `python_function` flavor: these models load in a pipeline binary, not in Python.
pub const FLAVOR: &str = "rust_pipeline";

/// The `MLmodel` descriptor of a logged model, in MLflow's layout: what loads it is said under
/// `flavors`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The model's directory name in its run (`model`).
    pub artifact_path: String,
    /// One flavor: [`FLAVOR`].
    pub flavors: std::collections::BTreeMap<String, Flavor>,
}

/// How a pipeline binary loads the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flavor {
    /// The Rust type that was serialized.
    pub model_type: String,
    /// How it was serialized.
    pub serialization: String,
    /// The file inside the model directory.
    pub model_file: String,
    /// The engine that wrote it.
    pub engine: String,
}

impl ModelInfo {
    /// The descriptor of a serde-JSON model of type `T` logged as `name`.
    pub fn json_of<T>(name: &str) -> Self {
        let flavor = Flavor {
            model_type: std::any::type_name::<T>().to_string(),
            serialization: "json".to_string(),
            model_file: MODEL_FILE.to_string(),
            engine: concat!("pipeline-core ", env!("CARGO_PKG_VERSION")).to_string(),
        };
        ModelInfo {
            artifact_path: name.to_string(),
            flavors: [(FLAVOR.to_string(), flavor)].into(),
        }
    }

    /// The Rust type of the model.
    pub fn model_type(&self) -> &str {
        self.flavors
            .get(FLAVOR)
            .map_or("", |flavor| flavor.model_type.as_str())
    }
}

/// Writes `model` as a model directory at `dir` (which must not exist yet or be empty), logged
/// under `name`.
pub fn save_model<T: Serialize>(model: &T, dir: &Path, name: &str) -> anyhow::Result<ModelInfo> {
    std::fs::create_dir_all(dir)?;
    let info = ModelInfo::json_of::<T>(name);
    std::fs::write(dir.join(MLMODEL_FILE), serde_yaml::to_string(&info)?)?;
    std::fs::write(dir.join(MODEL_FILE), serde_json::to_vec(model)?)?;
    Ok(info)
}

/// Reads the model stored in a model directory (or a bare `model.json`).
pub fn load_model<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let file = if path.is_dir() {
        path.join(MODEL_FILE)
    } else {
        path.to_path_buf()
    };
    let bytes = std::fs::read(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not a model of this pipeline: {e}", file.display()))
}

/// Predictions for a batch of rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Predictions {
    /// The output CSV's header: the input columns plus the prediction column(s).
    pub header: Vec<String>,
    /// The output rows.
    pub rows: Vec<Vec<String>>,
    /// Accuracy against labels found in the input, if it had any.
    pub accuracy: Option<f64>,
}

/// The prediction for one row: a class index, and the probability of each class.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Index into [`LoadedModel::classes`].
    pub class: usize,
    /// One probability per class, in the order of [`LoadedModel::classes`].
    pub probabilities: Vec<f64>,
}

/// A model loaded once and used for many predictions (the `serve` command shares one between
/// all its request threads).
pub trait LoadedModel: Send + Sync {
    /// The feature names, in the column order [`LoadedModel::predict`] expects.
    fn features(&self) -> &[String];
    /// The class names; predictions index into this list.
    fn classes(&self) -> &[String];
    /// The input column holding true labels, if the model knows one (`predict` then reports the
    /// accuracy when the input has that column).
    fn target(&self) -> Option<&str> {
        None
    }
    /// Predicts every row of `values`: `values.len() / features().len()` rows, row after row,
    /// each with its features in the order of [`LoadedModel::features`]. Callers have checked
    /// the length and that every value is finite.
    fn predict(&self, values: &[f64]) -> anyhow::Result<Vec<Prediction>>;
}

/// Loads a pipeline's models and predicts with them.
pub trait Predictor: Send + Sync {
    /// Loads the model at `model` (a model directory, or its model file).
    fn load(&self, model: &Path) -> anyhow::Result<Box<dyn LoadedModel>>;

    /// Predicts for every row of the CSV file `input` with the model at `model`.
    fn predict(&self, model: &Path, input: &Path) -> anyhow::Result<Predictions> {
        predict_csv(self.load(model)?.as_ref(), input)
    }
}

/// Predicts every row of the CSV file `input` (with a header; feature columns are found by name,
/// other columns are passed through) with `model`: the input columns plus a `prediction`
/// column, and the accuracy when the input has the model's target column.
pub fn predict_csv(model: &dyn LoadedModel, input: &Path) -> anyhow::Result<Predictions> {
    use anyhow::Context as _;
    let name = input.display().to_string();
    let mut reader = csv::Reader::from_path(input).with_context(|| format!("opening {name}"))?;
    let header: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
    let features = model.features();
    let columns: Vec<usize> = features
        .iter()
        .map(|feature| {
            header.iter().position(|h| h == feature).with_context(|| {
                format!("{name}: no column `{feature}` (the model's features are {features:?})")
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let label_column = model
        .target()
        .and_then(|target| header.iter().position(|h| h == target));
    let mut rows = Vec::new();
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.with_context(|| format!("{name}: line {line}"))?;
        for &c in &columns {
            let text = record.get(c).unwrap_or_default();
            let v: f64 = text
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .with_context(|| {
                    format!(
                        "{name}: line {line}, column `{}`: `{text}` is not a finite number",
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
        anyhow::bail!("{name}: no rows to predict");
    }
    let predicted = model.predict(&values)?;
    anyhow::ensure!(
        predicted.len() == rows.len(),
        "the model gave {} predictions for {} rows",
        predicted.len(),
        rows.len()
    );
    let classes = model.classes();
    let mut correct = 0;
    for (i, (row, prediction)) in rows.iter_mut().zip(&predicted).enumerate() {
        let label = classes.get(prediction.class).with_context(|| {
            format!(
                "the model predicted class {} of {}",
                prediction.class,
                classes.len()
            )
        })?;
        if labels.get(i) == Some(label) {
            correct += 1;
        }
        row.push(label.clone());
    }
    let mut out_header = header;
    out_header.push("prediction".to_string());
    Ok(Predictions {
        header: out_header,
        accuracy: (!labels.is_empty()).then(|| correct as f64 / labels.len() as f64),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mlmodel_file_names_a_flavor_of_its_own_and_no_python_one() {
        let dir = tempfile::tempdir().unwrap();
        save_model(&vec![1, 2], &dir.path().join("model"), "model").unwrap();
        let text = std::fs::read_to_string(dir.path().join("model").join(MLMODEL_FILE)).unwrap();
        let info: ModelInfo = serde_yaml::from_str(&text).unwrap();
        assert_eq!(info.artifact_path, "model");
        assert_eq!(info.flavors.keys().collect::<Vec<_>>(), vec![FLAVOR]);
        assert_eq!(info.model_type(), std::any::type_name::<Vec<i32>>());
        assert!(!text.contains("python_function"), "{text}");
        let back: Vec<i32> = load_model(&dir.path().join("model")).unwrap();
        assert_eq!(back, vec![1, 2]);
    }
}
