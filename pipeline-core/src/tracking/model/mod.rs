//! MLflow's tracking data model and the validation rules that go with it.
//!
//! The types mirror MLflow's entities closely so that runs recorded by the
//! embedded store and runs read back from an MLflow server look the same to
//! the rest of the engine. Validation (`validate.rs`) is shared because both
//! backends must reject exactly the same inputs, and the REST backend has to
//! do it before sending anything.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{Result, TrackingError};

mod logged;
mod validate;

pub use self::logged::{
    new_model_id, validate_model_id, LoggedModel, LoggedModelPage, LoggedModelStatus,
    NewLoggedModel,
};

pub use self::validate::{
    artifact_file_path, normalize_artifact_path, validate_alias, validate_batch,
    validate_experiment_name, validate_key, validate_metric, validate_model_name, validate_param,
    validate_tag,
};

/// Longest param, metric or tag key MLflow accepts.
pub const MAX_KEY_LEN: usize = 250;
/// Longest param value MLflow accepts.
pub const MAX_PARAM_VALUE_LEN: usize = 6000;
/// Longest tag value MLflow accepts.
pub const MAX_TAG_VALUE_LEN: usize = 8000;
/// Most metrics MLflow accepts in one `log-batch` call.
pub const MAX_METRICS_PER_BATCH: usize = 1000;
/// Most params, and separately most tags, MLflow accepts in one `log-batch` call.
pub const MAX_PARAMS_TAGS_PER_BATCH: usize = 100;
/// Most entities of all kinds together MLflow accepts in one `log-batch` call.
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;

/// Tag holding a run's display name, as MLflow sets it.
pub const TAG_RUN_NAME: &str = "mlflow.runName";
/// Tag linking a nested run to its parent, as MLflow sets it.
pub const TAG_PARENT_RUN_ID: &str = "mlflow.parentRunId";
/// Tag recording the process id of the pipeline process that owns a run.
pub const TAG_PIPELINE_PID: &str = "pipeline.pid";
/// Tag recording the host name of the pipeline process that owns a run.
pub const TAG_PIPELINE_HOST: &str = "pipeline.host";

/// Id of the experiment that always exists, as in MLflow.
pub const DEFAULT_EXPERIMENT_ID: &str = "0";
/// Name of the experiment that always exists, as in MLflow.
pub const DEFAULT_EXPERIMENT_NAME: &str = "Default";

/// A named group of runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Experiment {
    /// MLflow-style id: a decimal integer as a string ("0" is Default).
    pub experiment_id: String,
    /// Unique name.
    pub name: String,
    /// "active" or "deleted".
    pub lifecycle_stage: String,
    /// Milliseconds since the Unix epoch.
    pub creation_time: i64,
    /// Tags, sorted by key.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// Where a run is in its life, with MLflow's wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Still executing (or its owner died without saying so).
    Running,
    /// Queued but not started; only ever produced by an MLflow server.
    Scheduled,
    /// Completed successfully.
    Finished,
    /// Completed with an error.
    Failed,
    /// Stopped from outside, or found abandoned.
    Killed,
}

impl RunStatus {
    /// MLflow's name for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// True once the run can no longer change status on its own.
    pub fn is_terminated(self) -> bool {
        matches!(
            self,
            RunStatus::Finished | RunStatus::Failed | RunStatus::Killed
        )
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = TrackingError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "RUNNING" => Ok(RunStatus::Running),
            "SCHEDULED" => Ok(RunStatus::Scheduled),
            "FINISHED" => Ok(RunStatus::Finished),
            "FAILED" => Ok(RunStatus::Failed),
            "KILLED" => Ok(RunStatus::Killed),
            other => Err(TrackingError::InvalidArgument(format!(
                "unknown run status '{other}' (expected RUNNING, SCHEDULED, FINISHED, FAILED or KILLED)"
            ))),
        }
    }
}

/// The fixed, attribute part of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    /// 32 lowercase hex characters.
    pub run_id: String,
    /// Display name (mirrored in the `mlflow.runName` tag).
    pub run_name: String,
    /// Owning experiment.
    pub experiment_id: String,
    /// Current status.
    pub status: RunStatus,
    /// Milliseconds since the Unix epoch.
    pub start_time: i64,
    /// Milliseconds since the Unix epoch, once the run has ended.
    pub end_time: Option<i64>,
    /// Root of the run's artifacts (`runs:/<id>` locally, `mlflow-artifacts:/...` on a server).
    pub artifact_uri: String,
    /// `active`, or `deleted` (restorable; searches leave it out).
    #[serde(default = "active")]
    pub lifecycle_stage: String,
}

fn active() -> String {
    "active".to_string()
}

/// An immutable input setting of a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Param {
    /// Key, following MLflow's naming rules.
    pub key: String,
    /// Value, at most [`MAX_PARAM_VALUE_LEN`] characters.
    pub value: String,
}

impl Param {
    /// Shorthand constructor.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Param {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A mutable annotation of a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tag {
    /// Key, following MLflow's naming rules.
    pub key: String,
    /// Value, at most [`MAX_TAG_VALUE_LEN`] characters.
    pub value: String,
}

impl Tag {
    /// Shorthand constructor.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// One measurement of a metric.
///
/// Non-finite values are allowed, as in MLflow. In JSON they are written the
/// way protobuf's JSON mapping (and therefore MLflow) writes them: the strings
/// `"NaN"`, `"Infinity"` and `"-Infinity"`, since JSON numbers cannot hold them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Key, following MLflow's naming rules.
    pub key: String,
    /// Measured value; may be NaN or infinite.
    #[serde(with = "json_f64")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// Training step (0 when not meaningful).
    pub step: i64,
    /// The logged model this value measures (MLflow 3), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
}

impl Metric {
    /// Shorthand constructor.
    pub fn new(key: impl Into<String>, value: f64, timestamp: i64, step: i64) -> Self {
        Metric {
            key: key.into(),
            value,
            timestamp,
            step,
            model_id: None,
        }
    }

    /// MLflow's "latest value" order: by step, then timestamp, then value,
    /// with NaN counted as 0 (MLflow stores NaN as 0 plus a flag and compares
    /// the stored value).
    pub fn is_later_than(&self, other: &Metric) -> bool {
        let a = if self.value.is_nan() { 0.0 } else { self.value };
        let b = if other.value.is_nan() {
            0.0
        } else {
            other.value
        };
        (self.step, self.timestamp)
            .cmp(&(other.step, other.timestamp))
            .then(a.total_cmp(&b))
            .is_gt()
    }
}

/// Serde helpers writing non-finite `f64` as protobuf-JSON strings and
/// accepting numbers, those strings, or `null` (read as NaN) back.
pub mod json_f64 {
    use serde::de::{self, Deserializer, Visitor};
    use serde::Serializer;
    use std::fmt;

    /// Writes finite values as numbers and the rest as "NaN"/"Infinity"/"-Infinity".
    pub fn serialize<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
        if value.is_nan() {
            s.serialize_str("NaN")
        } else if *value == f64::INFINITY {
            s.serialize_str("Infinity")
        } else if *value == f64::NEG_INFINITY {
            s.serialize_str("-Infinity")
        } else {
            s.serialize_f64(*value)
        }
    }

    /// Reads a number, one of the strings above (or a numeric string), or null as NaN.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = f64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or one of \"NaN\", \"Infinity\", \"-Infinity\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
                Ok(v)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
                Ok(v as f64)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
                Ok(v as f64)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
                match v {
                    "NaN" | "nan" => Ok(f64::NAN),
                    "Infinity" | "inf" | "+Infinity" => Ok(f64::INFINITY),
                    "-Infinity" | "-inf" => Ok(f64::NEG_INFINITY),
                    other => other
                        .parse::<f64>()
                        .map_err(|_| E::custom(format!("'{other}' is not a number"))),
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<f64, E> {
                Ok(f64::NAN)
            }
            fn visit_none<E: de::Error>(self) -> Result<f64, E> {
                Ok(f64::NAN)
            }
        }
        d.deserialize_any(V)
    }
}

/// A run with its data: params, the latest value of each metric, and tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Attributes.
    pub info: RunInfo,
    /// All params, sorted by key.
    pub params: Vec<Param>,
    /// The latest value of each metric (max step, then max timestamp), sorted by key.
    pub metrics: Vec<Metric>,
    /// All tags, sorted by key.
    pub tags: Vec<Tag>,
}

impl Run {
    /// Whether this run belongs to another one (a pipeline stage's run under its pipeline run).
    pub fn is_child(&self) -> bool {
        self.tags.iter().any(|t| t.key == TAG_PARENT_RUN_ID)
    }

    /// Value of a param, if logged.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.as_str())
    }

    /// Latest value of a metric, if logged.
    pub fn metric(&self, key: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.key == key)
    }

    /// Value of a tag, if set.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }
}

/// A data set a run read, as MLflow's dataset entity: name, digest (of the content), where it
/// came from, and optionally its schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    /// Its name (for pipeline data: the workspace path).
    pub name: String,
    /// A short digest of its content.
    pub digest: String,
    /// The kind of source, e.g. `local`.
    pub source_type: String,
    /// Where it came from, as MLflow's JSON source (`{"uri": "…"}`).
    pub source: String,
    /// Its schema as JSON text, when known.
    pub schema: Option<String>,
}

/// A data set used by a run, with the context of the use (`training`, `evaluation`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInput {
    /// The data set.
    pub dataset: Dataset,
    /// `mlflow.data.context`: how the run used it.
    pub context: Option<String>,
}

/// One version of a registered model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// Registered model name.
    pub name: String,
    /// 1, 2, ... in creation order.
    pub version: u64,
    /// Where the model files live, e.g. `runs:/<run_id>/model`.
    pub source: String,
    /// Run that produced the model, when known.
    pub run_id: Option<String>,
    /// The logged model this version registers (MLflow 3), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub creation_time: i64,
    /// Free text about this version (empty when none).
    #[serde(default)]
    pub description: String,
    /// Tags of this version, sorted by key.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// A named model with its versions and aliases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredModel {
    /// Unique name.
    pub name: String,
    /// Milliseconds since the Unix epoch.
    pub creation_time: i64,
    /// The newest version (MLflow reports the newest per stage; without
    /// stages that is the single newest version). Empty before the first version.
    pub latest_versions: Vec<ModelVersion>,
    /// `(alias, version)` pairs, sorted by alias.
    pub aliases: Vec<(String, u64)>,
    /// Free text about the model (empty when none).
    #[serde(default)]
    pub description: String,
    /// Tags of the model, sorted by key.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// One entry of an artifact listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Path relative to the run's artifact root, using `/`.
    pub path: String,
    /// True for a directory.
    pub is_dir: bool,
    /// Size in bytes; `None` for directories.
    pub file_size: Option<u64>,
}

/// Milliseconds since the Unix epoch, as MLflow timestamps are.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A fresh run id: 32 lowercase hex characters, like MLflow's uuid4 hex.
///
/// The bytes come from SHA-256 over the clock, the process id, a process-wide
/// counter and std's randomly keyed hasher, which makes collisions between
/// threads and processes practically impossible without a `rand` dependency.
pub fn new_run_id() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};

    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(count);
    let keyed = hasher.finish();

    let mut sha = Sha256::new();
    sha.update(nanos.to_le_bytes());
    sha.update(std::process::id().to_le_bytes());
    sha.update(count.to_le_bytes());
    sha.update(keyed.to_le_bytes());
    sha.update(format!("{:?}", std::thread::current().id()).as_bytes());
    crate::hash::hex(&sha.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_json_handles_non_finite() {
        for v in [1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let m = Metric::new("m", v, 1, 2);
            let json = serde_json::to_string(&m).unwrap();
            let back: Metric = serde_json::from_str(&json).unwrap();
            assert!(
                back.value == v || (v.is_nan() && back.value.is_nan()),
                "{json}"
            );
        }
        let m: Metric =
            serde_json::from_str(r#"{"key":"m","value":null,"timestamp":1,"step":0}"#).unwrap();
        assert!(m.value.is_nan());
        assert_eq!(
            serde_json::to_string(&Metric::new("m", f64::NAN, 1, 0)).unwrap(),
            r#"{"key":"m","value":"NaN","timestamp":1,"step":0}"#
        );
    }

    #[test]
    fn metric_json_is_exact() {
        // Metrics read back from a server must equal what was logged, bit for bit.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut values = vec![1.0 / 11.0, 0.1 + 0.2, f64::MIN_POSITIVE, f64::MAX, -1e-300];
        for _ in 0..1000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if v.is_finite() {
                values.push(v);
            }
        }
        for v in values {
            let json = serde_json::to_string(&Metric::new("m", v, 0, 0)).unwrap();
            let back: Metric = serde_json::from_str(&json).unwrap();
            assert_eq!(back.value.to_bits(), v.to_bits(), "{json}");
        }
    }

    #[test]
    fn latest_ordering() {
        let a = Metric::new("m", 1.0, 10, 1);
        let b = Metric::new("m", 0.0, 5, 2);
        assert!(b.is_later_than(&a));
        let c = Metric::new("m", 0.0, 11, 1);
        assert!(c.is_later_than(&a));
        assert!(!a.is_later_than(&a));
    }

    #[test]
    fn run_ids_are_hex_and_unique() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| new_run_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids {
            assert_eq!(id.len(), 32);
            assert!(id
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        }
    }
}
