//! MLflow's JSON documents as they travel, and their conversion into the tracking model.
//! Lenient where MLflow is (int64 as number or string, fields left out when empty).

use serde::{Deserialize, Deserializer};

use crate::tracking::error::{Result, TrackingError};
use crate::tracking::model::{
    Experiment, Metric, ModelVersion, Param, RegisteredModel, Run, RunInfo, Tag,
};

// ---------------------------------------------------------------------------
// Wire format

/// Accepts an int64 as a JSON number or string (protobuf's JSON mapping
/// allows both; MLflow emits numbers).
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrStr {
        I(i64),
        F(f64),
        S(String),
    }
    Ok(match Option::<NumOrStr>::deserialize(d)? {
        None => None,
        Some(NumOrStr::I(v)) => Some(v),
        Some(NumOrStr::F(v)) => Some(v as i64),
        Some(NumOrStr::S(s)) => Some(
            s.parse::<i64>()
                .map_err(|_| serde::de::Error::custom(format!("'{s}' is not an integer")))?,
        ),
    })
}

#[derive(Deserialize)]
pub(super) struct WireExperiment {
    pub(super) experiment_id: String,
    pub(super) name: String,
    #[serde(default)]
    pub(super) lifecycle_stage: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub(super) creation_time: Option<i64>,
    #[serde(default)]
    pub(super) tags: Vec<Tag>,
}

impl From<WireExperiment> for Experiment {
    fn from(w: WireExperiment) -> Self {
        Experiment {
            experiment_id: w.experiment_id,
            name: w.name,
            lifecycle_stage: w.lifecycle_stage.unwrap_or_else(|| "active".into()),
            creation_time: w.creation_time.unwrap_or(0),
            tags: sorted(w.tags),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct WireRunInfo {
    #[serde(default)]
    pub(super) run_id: Option<String>,
    #[serde(default)]
    pub(super) run_uuid: Option<String>,
    #[serde(default)]
    pub(super) run_name: Option<String>,
    pub(super) experiment_id: String,
    #[serde(default)]
    pub(super) status: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub(super) start_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub(super) end_time: Option<i64>,
    #[serde(default)]
    pub(super) artifact_uri: Option<String>,
    #[serde(default)]
    pub(super) lifecycle_stage: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireMetric {
    pub(super) key: String,
    #[serde(with = "crate::tracking::model::json_f64")]
    pub(super) value: f64,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub(super) timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub(super) step: Option<i64>,
    #[serde(default)]
    pub(super) model_id: Option<String>,
}

impl From<WireMetric> for Metric {
    fn from(w: WireMetric) -> Self {
        Metric {
            key: w.key,
            value: w.value,
            timestamp: w.timestamp.unwrap_or(0),
            step: w.step.unwrap_or(0),
            model_id: w.model_id.filter(|m| !m.is_empty()),
        }
    }
}

#[derive(Deserialize, Default)]
pub(super) struct WireRunData {
    #[serde(default)]
    pub(super) metrics: Vec<WireMetric>,
    #[serde(default)]
    pub(super) params: Vec<Param>,
    #[serde(default)]
    pub(super) tags: Vec<Tag>,
}

#[derive(Deserialize)]
pub(super) struct WireRun {
    pub(super) info: WireRunInfo,
    #[serde(default)]
    pub(super) data: WireRunData,
}

pub(super) fn run_info_from_wire(w: WireRunInfo, endpoint: &str) -> Result<RunInfo> {
    let run_id = w
        .run_id
        .or(w.run_uuid)
        .ok_or_else(|| TrackingError::Backend {
            backend: "mlflow server",
            context: format!("reading the answer of {endpoint}"),
            message: "run info without run_id".into(),
        })?;
    Ok(RunInfo {
        run_name: w.run_name.unwrap_or_default(),
        experiment_id: w.experiment_id,
        status: w.status.as_deref().unwrap_or("RUNNING").parse()?,
        start_time: w.start_time.unwrap_or(0),
        end_time: w.end_time,
        artifact_uri: w.artifact_uri.unwrap_or_default(),
        lifecycle_stage: w.lifecycle_stage.unwrap_or_else(|| "active".into()),
        run_id,
    })
}

pub(super) fn run_from_wire(w: WireRun, endpoint: &str) -> Result<Run> {
    let mut params = w.data.params;
    let mut tags = w.data.tags;
    let mut metrics: Vec<Metric> = w.data.metrics.into_iter().map(Metric::from).collect();
    params.sort_by(|a, b| a.key.cmp(&b.key));
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    metrics.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Run {
        info: run_info_from_wire(w.info, endpoint)?,
        params,
        metrics,
        tags,
    })
}

#[derive(Deserialize)]
pub(super) struct WireModelVersion {
    pub(super) name: String,
    #[serde(deserialize_with = "lenient_i64")]
    pub(super) version: Option<i64>,
    #[serde(default)]
    pub(super) source: Option<String>,
    #[serde(default)]
    pub(super) run_id: Option<String>,
    #[serde(default)]
    pub(super) model_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub(super) creation_timestamp: Option<i64>,
    #[serde(default)]
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) tags: Vec<Tag>,
}

impl From<WireModelVersion> for ModelVersion {
    fn from(w: WireModelVersion) -> Self {
        let source = w.source.unwrap_or_default();
        ModelVersion {
            name: w.name,
            version: w.version.and_then(|v| u64::try_from(v).ok()).unwrap_or(0),
            run_id: w.run_id.filter(|r| !r.is_empty()),
            // A server keeps the id in the source (`models:/m-<id>`) rather than beside it.
            model_id: w
                .model_id
                .filter(|m| !m.is_empty())
                .or_else(|| crate::tracking::logged_model_of_source(&source)),
            source,
            creation_time: w.creation_timestamp.unwrap_or(0),
            description: w.description.unwrap_or_default(),
            tags: sorted(w.tags),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct WireAlias {
    pub(super) alias: String,
    #[serde(deserialize_with = "lenient_i64")]
    pub(super) version: Option<i64>,
}

#[derive(Deserialize)]
pub(super) struct WireRegisteredModel {
    pub(super) name: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub(super) creation_timestamp: Option<i64>,
    #[serde(default)]
    pub(super) latest_versions: Vec<WireModelVersion>,
    #[serde(default)]
    pub(super) aliases: Vec<WireAlias>,
    #[serde(default)]
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) tags: Vec<Tag>,
}

fn sorted(mut tags: Vec<Tag>) -> Vec<Tag> {
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    tags
}

impl From<WireRegisteredModel> for RegisteredModel {
    fn from(w: WireRegisteredModel) -> Self {
        // MLflow reports the newest version per stage; the overall newest is their maximum.
        let latest = w
            .latest_versions
            .into_iter()
            .map(ModelVersion::from)
            .max_by_key(|v| v.version);
        let mut aliases: Vec<(String, u64)> = w
            .aliases
            .into_iter()
            .map(|a| {
                (
                    a.alias,
                    a.version.and_then(|v| u64::try_from(v).ok()).unwrap_or(0),
                )
            })
            .collect();
        aliases.sort();
        RegisteredModel {
            name: w.name,
            creation_time: w.creation_timestamp.unwrap_or(0),
            latest_versions: latest.into_iter().collect(),
            aliases,
            description: w.description.unwrap_or_default(),
            tags: sorted(w.tags),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct WireFileInfo {
    pub(super) path: String,
    #[serde(default)]
    pub(super) is_dir: bool,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub(super) file_size: Option<i64>,
}

#[derive(Deserialize)]
pub(super) struct ErrorDoc {
    #[serde(default)]
    pub(super) error_code: Option<String>,
    #[serde(default)]
    pub(super) message: Option<String>,
}

// ---------------------------------------------------------------------------

#[derive(Deserialize)]
pub(super) struct ExperimentResp {
    pub(super) experiment: WireExperiment,
}
#[derive(Deserialize)]
pub(super) struct CreateExperimentResp {
    pub(super) experiment_id: String,
}
#[derive(Deserialize)]
pub(super) struct SearchExperimentsResp {
    #[serde(default)]
    pub(super) experiments: Vec<WireExperiment>,
    #[serde(default)]
    pub(super) next_page_token: Option<String>,
}
#[derive(Deserialize)]
pub(super) struct RunResp {
    pub(super) run: WireRun,
}
#[derive(Deserialize)]
pub(super) struct SearchRunsResp {
    #[serde(default)]
    pub(super) runs: Vec<WireRun>,
    #[serde(default)]
    pub(super) next_page_token: Option<String>,
}
#[derive(Deserialize)]
pub(super) struct HistoryResp {
    #[serde(default)]
    pub(super) metrics: Vec<WireMetric>,
    #[serde(default)]
    pub(super) next_page_token: Option<String>,
}
#[derive(Deserialize)]
pub(super) struct ListArtifactsResp {
    #[serde(default)]
    pub(super) files: Vec<WireFileInfo>,
    #[serde(default)]
    pub(super) next_page_token: Option<String>,
}
#[derive(Deserialize)]
pub(super) struct RegisteredModelResp {
    pub(super) registered_model: WireRegisteredModel,
}
#[derive(Deserialize)]
pub(super) struct SearchModelsResp {
    #[serde(default)]
    pub(super) registered_models: Vec<WireRegisteredModel>,
    #[serde(default)]
    pub(super) next_page_token: Option<String>,
}
#[derive(Deserialize)]
pub(super) struct SearchModelVersionsResp {
    #[serde(default)]
    pub(super) model_versions: Vec<WireModelVersion>,
    #[serde(default)]
    pub(super) next_page_token: Option<String>,
}
#[derive(Deserialize)]
pub(super) struct ModelVersionResp {
    pub(super) model_version: WireModelVersion,
}
#[derive(Deserialize)]
pub(super) struct Empty {}

pub(super) fn has_more(token: &Option<String>) -> Option<String> {
    token.clone().filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::model::RunStatus;

    #[test]
    fn wire_run_parsing() {
        let body = r#"{"run": {"info": {"run_uuid": "abc", "run_id": "abc", "experiment_id": "1",
            "run_name": "r", "status": "FINISHED", "start_time": "17", "end_time": 20,
            "artifact_uri": "mlflow-artifacts:/1/abc/artifacts", "lifecycle_stage": "active"},
            "data": {"metrics": [{"key": "b", "value": "NaN", "timestamp": 1, "step": 0},
                                 {"key": "a", "value": 1.5, "timestamp": 1, "step": 3}],
                     "params": [{"key": "p", "value": "1"}]}}}"#;
        let resp: RunResp = serde_json::from_str(body).unwrap();
        let run = run_from_wire(resp.run, "t").unwrap();
        assert_eq!(run.info.start_time, 17);
        assert_eq!(run.info.end_time, Some(20));
        assert_eq!(run.info.status, RunStatus::Finished);
        assert_eq!(run.metrics[0].key, "a");
        assert!(run.metrics[1].value.is_nan());
        assert!(run.tags.is_empty());
    }
}
