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

/// The `MLmodel` descriptor of a logged model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The Rust type that was serialized.
    pub model_type: String,
    /// How it was serialized.
    pub serialization: String,
    /// The file inside the model directory.
    pub model_file: String,
}

impl ModelInfo {
    /// The descriptor of a serde-JSON model of type `T`.
    pub fn json_of<T>() -> Self {
        ModelInfo {
            model_type: std::any::type_name::<T>().to_string(),
            serialization: "json".to_string(),
            model_file: MODEL_FILE.to_string(),
        }
    }
}

/// Writes `model` as a model directory at `dir` (which must not exist yet or be empty).
pub fn save_model<T: Serialize>(model: &T, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let info = serde_yaml::to_string(&ModelInfo::json_of::<T>())?;
    std::fs::write(dir.join(MLMODEL_FILE), info)?;
    std::fs::write(dir.join(MODEL_FILE), serde_json::to_vec(model)?)?;
    Ok(())
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

/// Loads a pipeline's models and predicts with them.
pub trait Predictor: Send + Sync {
    /// Predicts for every row of the CSV file `input` with the model at `model` (a model
    /// directory, or its model file).
    fn predict(&self, model: &Path, input: &Path) -> anyhow::Result<Predictions>;
}
