//! MLflow 3's logged model: a model as an entity of its own, with an id (`m-<32 hex>`), its
//! files, the run that produced it, params, tags and the metrics logged against it. MLflow's
//! Models tab, `mlflow.search_logged_models` and `models:/m-<id>` URIs all go through it, and a
//! registered version points at one by `model_id`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Metric, Param, Tag};
use crate::tracking::error::{Result, TrackingError};

/// Where a logged model is in its life, with MLflow's wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LoggedModelStatus {
    /// Created; its files may still be uploading.
    #[serde(rename = "LOGGED_MODEL_PENDING")]
    Pending,
    /// Its files are complete.
    #[serde(rename = "LOGGED_MODEL_READY")]
    Ready,
    /// Logging it failed.
    #[serde(rename = "LOGGED_MODEL_UPLOAD_FAILED")]
    Failed,
}

impl LoggedModelStatus {
    /// MLflow's name for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            LoggedModelStatus::Pending => "LOGGED_MODEL_PENDING",
            LoggedModelStatus::Ready => "LOGGED_MODEL_READY",
            LoggedModelStatus::Failed => "LOGGED_MODEL_UPLOAD_FAILED",
        }
    }
}

impl fmt::Display for LoggedModelStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LoggedModelStatus {
    type Err = TrackingError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "LOGGED_MODEL_PENDING" => Ok(LoggedModelStatus::Pending),
            "LOGGED_MODEL_READY" => Ok(LoggedModelStatus::Ready),
            "LOGGED_MODEL_UPLOAD_FAILED" => Ok(LoggedModelStatus::Failed),
            other => Err(TrackingError::InvalidArgument(format!(
                "unknown logged model status '{other}' (expected LOGGED_MODEL_PENDING, \
                 LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED)"
            ))),
        }
    }
}

/// A logged model as a store returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModel {
    /// `m-` and 32 lowercase hex characters.
    pub model_id: String,
    /// The experiment that owns it.
    pub experiment_id: String,
    /// Its name (for a pipeline's model: the name given to `ctx.log_model`).
    pub name: String,
    /// Where its files live (`models:/m-<id>` in the embedded store, `mlflow-artifacts:/…` on a
    /// server).
    pub artifact_uri: String,
    /// Pending until finalized.
    pub status: LoggedModelStatus,
    /// Milliseconds since the Unix epoch.
    pub creation_time: i64,
    /// Milliseconds since the Unix epoch.
    pub last_updated_time: i64,
    /// The run that produced it, when known.
    pub source_run_id: Option<String>,
    /// What kind of model it is (free text, e.g. the Rust type).
    pub model_type: String,
    /// Params, sorted by key.
    pub params: Vec<Param>,
    /// Tags, sorted by key.
    pub tags: Vec<Tag>,
    /// The latest value of each metric logged against it, sorted by key.
    pub metrics: Vec<Metric>,
}

/// What creating a logged model takes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewLoggedModel {
    /// The owning experiment.
    pub experiment_id: String,
    /// Its name; empty gets a generated one.
    pub name: String,
    /// The run that produced it.
    pub source_run_id: Option<String>,
    /// What kind of model it is.
    pub model_type: String,
    /// Params of the model.
    pub params: Vec<Param>,
    /// Tags of the model.
    pub tags: Vec<Tag>,
    /// The id to give it where the backend lets the caller choose (the embedded store does, so
    /// a stage's model keeps its id across clones); `None` lets the store pick one.
    pub model_id: Option<String>,
}

/// One page of a logged-model search.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModelPage {
    /// Newest first.
    pub models: Vec<LoggedModel>,
    /// Token for the next page; `None` on the last one.
    pub next_page_token: Option<String>,
}

/// Checks that `id` is a logged model id: `m-` and 32 lowercase hex characters.
pub fn validate_model_id(id: &str) -> Result<()> {
    let ok = id.strip_prefix("m-").is_some_and(|hex| {
        hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    if ok {
        Ok(())
    } else {
        Err(TrackingError::InvalidArgument(format!(
            "'{id}' is not a logged model id (expected m- and 32 lowercase hex characters)"
        )))
    }
}

/// A fresh logged model id.
pub fn new_model_id() -> String {
    format!("m-{}", super::new_run_id())
}
