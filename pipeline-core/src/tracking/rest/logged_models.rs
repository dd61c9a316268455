//! MLflow 3's logged models on a server: `/api/2.0/mlflow/logged-models` (create, finalize,
//! get, search), the run's model outputs, and the model's files through the artifact proxy at
//! its `mlflow-artifacts:/<experiment>/models/<id>/artifacts` root.

use std::fs;
use std::path::Path;

use serde::Deserialize;
use serde_json::json;

use super::artifacts::{encode_path, proxied_artifact_root, put_file};
use super::client::ARTIFACTS_API;
use super::wire::{has_more, ListArtifactsResp, WireMetric};
use super::RestStore;
use crate::tracking::error::{Result, TrackingError};
use crate::tracking::model::{
    artifact_file_path, normalize_artifact_path, validate_batch, validate_model_id, FileInfo,
    LoggedModel, LoggedModelPage, LoggedModelStatus, Metric, NewLoggedModel, Param, Tag,
};
use crate::tracking::query::MAX_PAGE_SIZE;

#[derive(Deserialize)]
struct WireInfo {
    model_id: String,
    experiment_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    creation_timestamp_ms: Option<serde_json::Value>,
    #[serde(default)]
    last_updated_timestamp_ms: Option<serde_json::Value>,
    #[serde(default)]
    artifact_uri: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    model_type: String,
    #[serde(default)]
    source_run_id: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
}

#[derive(Deserialize, Default)]
struct WireData {
    #[serde(default)]
    params: Vec<Param>,
    #[serde(default)]
    metrics: Vec<WireMetric>,
}

#[derive(Deserialize)]
struct WireModel {
    info: WireInfo,
    #[serde(default)]
    data: WireData,
}

#[derive(Deserialize)]
struct ModelResp {
    model: WireModel,
}

#[derive(Deserialize)]
struct SearchResp {
    #[serde(default)]
    models: Vec<WireModel>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// Protobuf's JSON writes 64-bit integers as strings.
fn millis(value: Option<serde_json::Value>) -> i64 {
    match value {
        Some(serde_json::Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(serde_json::Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

impl TryFrom<WireModel> for LoggedModel {
    type Error = TrackingError;

    fn try_from(w: WireModel) -> Result<Self> {
        let mut params = w.data.params;
        params.sort_by(|a, b| a.key.cmp(&b.key));
        let mut tags = w.info.tags;
        tags.sort_by(|a, b| a.key.cmp(&b.key));
        // The latest value of each key, as a run's metrics are reported.
        let mut metrics: Vec<Metric> = Vec::new();
        let mut points: Vec<Metric> = w.data.metrics.into_iter().map(Metric::from).collect();
        points.sort_by(|a, b| a.key.cmp(&b.key));
        for point in points {
            match metrics.last_mut() {
                Some(last) if last.key == point.key => {
                    if point.is_later_than(last) {
                        *last = point;
                    }
                }
                _ => metrics.push(point),
            }
        }
        Ok(LoggedModel {
            status: match w.info.status.as_deref() {
                None | Some("") | Some("LOGGED_MODEL_STATUS_UNSPECIFIED") => {
                    LoggedModelStatus::Pending
                }
                Some(s) => s.parse()?,
            },
            model_id: w.info.model_id,
            experiment_id: w.info.experiment_id,
            name: w.info.name,
            artifact_uri: w.info.artifact_uri,
            creation_time: millis(w.info.creation_timestamp_ms),
            last_updated_time: millis(w.info.last_updated_timestamp_ms),
            source_run_id: w.info.source_run_id.filter(|r| !r.is_empty()),
            model_type: w.info.model_type,
            params,
            tags,
            metrics,
        })
    }
}

pub(super) fn create(store: &RestStore, new: &NewLoggedModel) -> Result<LoggedModel> {
    validate_batch("logged model", &[], &new.params, &new.tags)?;
    let mut body = json!({
        "experiment_id": new.experiment_id,
        "params": new.params,
        "tags": new.tags,
    });
    if !new.name.is_empty() {
        body["name"] = json!(new.name);
    }
    if !new.model_type.is_empty() {
        body["model_type"] = json!(new.model_type);
    }
    if let Some(run) = &new.source_run_id {
        body["source_run_id"] = json!(run);
    }
    let resp: ModelResp = store.post("logged-models", &body)?;
    let model = LoggedModel::try_from(resp.model)?;
    // The run lists the model among its outputs, as `mlflow.<flavor>.log_model` does.
    if let Some(run) = &new.source_run_id {
        let _: serde_json::Value = store.post(
            "runs/outputs",
            &json!({ "run_id": run, "models": [{ "model_id": model.model_id, "step": 0 }] }),
        )?;
    }
    Ok(model)
}

pub(super) fn finalize(
    store: &RestStore,
    model_id: &str,
    status: LoggedModelStatus,
) -> Result<LoggedModel> {
    validate_model_id(model_id)?;
    let resp: ModelResp = store.patch(
        &format!("logged-models/{model_id}"),
        &json!({ "model_id": model_id, "status": status.as_str() }),
    )?;
    LoggedModel::try_from(resp.model)
}

pub(super) fn set_tags(store: &RestStore, model_id: &str, tags: &[Tag]) -> Result<()> {
    validate_model_id(model_id)?;
    validate_batch("logged model", &[], &[], tags)?;
    let _: serde_json::Value = store.patch(
        &format!("logged-models/{model_id}/tags"),
        &json!({ "tags": tags }),
    )?;
    Ok(())
}

pub(super) fn log_params(store: &RestStore, model_id: &str, params: &[Param]) -> Result<()> {
    validate_model_id(model_id)?;
    validate_batch("logged model", &[], params, &[])?;
    let _: serde_json::Value = store.post(
        &format!("logged-models/{model_id}/params"),
        &json!({ "model_id": model_id, "params": params }),
    )?;
    Ok(())
}

pub(super) fn get(store: &RestStore, model_id: &str) -> Result<LoggedModel> {
    validate_model_id(model_id)?;
    let resp: ModelResp = store
        .get(&format!("logged-models/{model_id}"), &[])
        .map_err(|e| match e {
            e if e.is_not_found() => TrackingError::LoggedModelNotFound {
                model_id: model_id.to_string(),
            },
            e => e,
        })?;
    LoggedModel::try_from(resp.model)
}

pub(super) fn search(
    store: &RestStore,
    experiment_ids: &[String],
    max_results: usize,
    page_token: Option<&str>,
) -> Result<LoggedModelPage> {
    let mut body = json!({
        "experiment_ids": experiment_ids,
        "max_results": max_results.min(MAX_PAGE_SIZE),
        "order_by": [{ "field_name": "creation_timestamp", "ascending": false }],
    });
    if let Some(token) = page_token {
        body["page_token"] = json!(token);
    }
    let resp: SearchResp = store.post("logged-models/search", &body)?;
    Ok(LoggedModelPage {
        models: resp
            .models
            .into_iter()
            .map(LoggedModel::try_from)
            .collect::<Result<_>>()?,
        next_page_token: has_more(&resp.next_page_token),
    })
}

pub(super) fn of_run(store: &RestStore, run_id: &str) -> Result<Vec<LoggedModel>> {
    use crate::tracking::store::TrackingStore;
    let experiment = store.get_run(run_id)?.info.experiment_id;
    if !run_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(TrackingError::RunNotFound {
            run_id: run_id.to_string(),
        });
    }
    let mut models = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({
            "experiment_ids": [experiment],
            "filter": format!("source_run_id = '{run_id}'"),
            "max_results": MAX_PAGE_SIZE,
        });
        if let Some(t) = &token {
            body["page_token"] = json!(t);
        }
        let resp: SearchResp = store.post("logged-models/search", &body)?;
        for model in resp.models {
            models.push(LoggedModel::try_from(model)?);
        }
        token = has_more(&resp.next_page_token);
        if token.is_none() {
            break;
        }
    }
    models.sort_by_key(|m| m.creation_time);
    Ok(models)
}

/// The model's files root as an artifact-proxy path (`<exp>/models/<id>/artifacts`).
fn files_root(store: &RestStore, model_id: &str) -> Result<String> {
    let uri = get(store, model_id)?.artifact_uri;
    proxied_artifact_root(&uri).ok_or_else(|| {
        TrackingError::Unsupported(format!(
            "logged model {model_id} has artifact_uri '{uri}', which cannot be reached through \
             the server; start the server with --serve-artifacts"
        ))
    })
}

pub(super) fn log_artifact(
    store: &RestStore,
    model_id: &str,
    local_file: &Path,
    artifact_path: &str,
) -> Result<()> {
    let path = artifact_file_path(artifact_path)?;
    let root = files_root(store, model_id)?;
    let url = format!(
        "{}{ARTIFACTS_API}/{}/{}",
        store.base,
        encode_path(&root),
        encode_path(&path)
    );
    put_file(
        store,
        &url,
        local_file,
        &format!("PUT mlflow-artifacts {path} of logged model {model_id}"),
    )
}

/// The children of `dir` under the proxy path `root`, paths relative to `root`.
fn list_under(store: &RestStore, root: &str, dir: &str) -> Result<Vec<FileInfo>> {
    let full = if dir.is_empty() {
        root.to_string()
    } else {
        format!("{root}/{dir}")
    };
    let endpoint = "GET mlflow-artifacts list";
    let resp = store
        .authorize(store.agent.get(format!("{}{ARTIFACTS_API}", store.base)))
        .query("path", &full)
        .call()
        .map_err(|e| RestStore::transport_error(endpoint, e))?;
    let listed: ListArtifactsResp =
        RestStore::decode(endpoint, resp).map_err(|e| store.explain(e))?;
    let mut out: Vec<FileInfo> = listed
        .files
        .into_iter()
        .filter_map(|f| {
            // The proxy names entries by their base name; anything else is not trusted.
            let name = normalize_artifact_path(&f.path).ok()?;
            let name = name.rsplit('/').next()?.to_string();
            Some(FileInfo {
                path: if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                },
                is_dir: f.is_dir,
                file_size: if f.is_dir {
                    None
                } else {
                    f.file_size.and_then(|s| u64::try_from(s).ok())
                },
            })
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

pub(super) fn list_artifacts(
    store: &RestStore,
    model_id: &str,
    dir: Option<&str>,
) -> Result<Vec<FileInfo>> {
    let dir = normalize_artifact_path(dir.unwrap_or(""))?;
    list_under(store, &files_root(store, model_id)?, &dir)
}

pub(super) fn download_artifact(
    store: &RestStore,
    model_id: &str,
    path: &str,
    dest: &Path,
) -> Result<()> {
    let norm = normalize_artifact_path(path)?;
    let root = files_root(store, model_id)?;
    let base = format!("{}{ARTIFACTS_API}/{}", store.base, encode_path(&root));
    let children = list_under(store, &root, &norm)?;
    if children.is_empty() {
        if norm.is_empty() {
            return Err(TrackingError::ArtifactNotFound {
                run_id: model_id.to_string(),
                path: path.to_string(),
            });
        }
        return store.download_file(model_id, &base, &norm, dest);
    }
    let mut dirs = vec![norm.clone()];
    let skip = if norm.is_empty() { 0 } else { norm.len() + 1 };
    fs::create_dir_all(dest).map_err(|e| TrackingError::io(dest, e))?;
    while let Some(dir) = dirs.pop() {
        for f in list_under(store, &root, &dir)? {
            if f.is_dir {
                dirs.push(f.path);
                continue;
            }
            let rel = f.path.get(skip..).unwrap_or(&f.path);
            let mut target = dest.to_path_buf();
            target.extend(rel.split('/'));
            store.download_file(model_id, &base, &f.path, &target)?;
        }
    }
    Ok(())
}
