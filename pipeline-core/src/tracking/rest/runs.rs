//! Experiments and runs on an MLflow server: creating, logging (params checked for
//! immutability before anything is sent), reading back.

use serde_json::json;

use super::batch::chunk_batch;
use super::wire::{
    has_more, run_from_wire, CreateExperimentResp, Empty, ExperimentResp, HistoryResp, RunResp,
    SearchExperimentsResp,
};
use super::RestStore;
use crate::tracking::error::{Result, TrackingError};
use crate::tracking::model::{
    validate_batch, validate_experiment_name, validate_tag, Experiment, Metric, Param, Run,
    RunInfo, RunStatus, Tag, TAG_PARENT_RUN_ID, TAG_RUN_NAME,
};
use crate::tracking::store::TrackingStore;

pub(super) fn get_or_create_experiment(store: &RestStore, name: &str) -> Result<String> {
    validate_experiment_name(name)?;
    if let Some(e) = store.get_experiment_by_name(name)? {
        return Ok(e.experiment_id);
    }
    match store.post::<CreateExperimentResp>("experiments/create", &json!({ "name": name })) {
        Ok(r) => Ok(r.experiment_id),
        // Someone else created it between our lookup and create.
        Err(TrackingError::Mlflow { error_code, .. })
            if error_code == "RESOURCE_ALREADY_EXISTS" =>
        {
            store
                .get_experiment_by_name(name)?
                .map(|e| e.experiment_id)
                .ok_or_else(|| TrackingError::ExperimentNotFound {
                    experiment: name.to_string(),
                })
        }
        Err(e) => Err(e),
    }
}

pub(super) fn list_experiments(store: &RestStore) -> Result<Vec<Experiment>> {
    search_experiments(store, "ACTIVE_ONLY")
}

pub(super) fn create_experiment(store: &RestStore, name: &str, tags: &[Tag]) -> Result<String> {
    crate::tracking::model::validate_experiment_name(name)?;
    tags.iter().try_for_each(validate_tag)?;
    let resp: serde_json::Value =
        store.post("experiments/create", &json!({ "name": name, "tags": tags }))?;
    resp["experiment_id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| TrackingError::Backend {
            backend: "mlflow server",
            context: "reading the answer of experiments/create".into(),
            message: "no experiment_id".into(),
        })
}

pub(super) fn get_experiment(store: &RestStore, id: &str) -> Result<Experiment> {
    let resp: ExperimentResp = store.get("experiments/get", &[("experiment_id", id)])?;
    Ok(resp.experiment.into())
}

/// Experiments of a view type (`ACTIVE_ONLY`, `ALL`), every page, ordered by id.
pub(super) fn search_experiments(store: &RestStore, view_type: &str) -> Result<Vec<Experiment>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut q = vec![("max_results", "1000"), ("view_type", view_type)];
        if let Some(t) = token.as_deref() {
            q.push(("page_token", t));
        }
        let resp: SearchExperimentsResp = store.get("experiments/search", &q)?;
        out.extend(resp.experiments.into_iter().map(Experiment::from));
        token = has_more(&resp.next_page_token);
        if token.is_none() {
            break;
        }
    }
    out.sort_by_key(|e| {
        (
            e.experiment_id.parse::<i64>().unwrap_or(i64::MAX),
            e.experiment_id.clone(),
        )
    });
    Ok(out)
}

pub(super) fn get_experiment_by_name(store: &RestStore, name: &str) -> Result<Option<Experiment>> {
    match store.get::<ExperimentResp>("experiments/get-by-name", &[("experiment_name", name)]) {
        Ok(r) => Ok(Some(r.experiment.into())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) fn create_run(
    store: &RestStore,
    experiment_id: &str,
    run_name: &str,
    parent_run_id: Option<&str>,
    tags: &[Tag],
    start_time_ms: i64,
) -> Result<RunInfo> {
    tags.iter().try_for_each(validate_tag)?;
    let mut wire_tags: Vec<&Tag> = tags.iter().filter(|t| t.key != TAG_RUN_NAME).collect();
    let parent_tag = parent_run_id.map(|p| Tag::new(TAG_PARENT_RUN_ID, p));
    if let Some(t) = &parent_tag {
        wire_tags.retain(|x| x.key != TAG_PARENT_RUN_ID);
        wire_tags.push(t);
    }
    let mut body = json!({
        "experiment_id": experiment_id,
        "start_time": start_time_ms,
        "tags": wire_tags,
    });
    if !run_name.is_empty() {
        validate_tag(&Tag::new(TAG_RUN_NAME, run_name))?;
        body["run_name"] = json!(run_name);
    }
    // MLflow's run info carries the user apart from the tag; its UI and `user_id` filters
    // read that field.
    if let Some(user) = tags.iter().find(|t| t.key == "mlflow.user") {
        body["user_id"] = json!(user.value);
    }
    let resp: RunResp = store.post("runs/create", &body)?;
    let run = run_from_wire(resp.run, "runs/create")?;
    store.remember_artifact_root(&run.info);
    Ok(run.info)
}

pub(super) fn log_batch(
    store: &RestStore,
    run_id: &str,
    metrics: &[Metric],
    params: &[Param],
    tags: &[Tag],
) -> Result<()> {
    validate_batch(run_id, metrics, params, tags)?;
    // Params are immutable: compare against what the server already has
    // so a conflict is reported as ParamChanged before anything is sent.
    let mut new_params: Vec<Param> = Vec::with_capacity(params.len());
    if !params.is_empty() {
        let existing = store.get_run(run_id)?;
        for p in params {
            match existing.param(&p.key) {
                Some(old) if old == p.value => {}
                Some(old) => {
                    return Err(TrackingError::ParamChanged {
                        run_id: run_id.to_string(),
                        key: p.key.clone(),
                        old_value: old.to_string(),
                        new_value: p.value.clone(),
                    })
                }
                None if new_params.iter().any(|q| q.key == p.key) => {}
                None => new_params.push(p.clone()),
            }
        }
    }
    let chunks = chunk_batch(metrics, &new_params, tags);
    if chunks.is_empty() && params.is_empty() {
        // Nothing to send; still report a missing run like the SQLite store.
        store.get_run(run_id)?;
    }
    for chunk in chunks {
        let body = json!({
            "run_id": run_id,
            "metrics": chunk.metrics,
            "params": chunk.params,
            "tags": chunk.tags,
        });
        let _: Empty = store.post("runs/log-batch", &body)?;
    }
    Ok(())
}

pub(super) fn update_run(
    store: &RestStore,
    run_id: &str,
    status: RunStatus,
    end_time_ms: Option<i64>,
) -> Result<()> {
    let mut body = json!({ "run_id": run_id, "status": status.as_str() });
    if let Some(t) = end_time_ms {
        body["end_time"] = json!(t);
    }
    let _: serde_json::Value = store.post("runs/update", &body)?;
    Ok(())
}

pub(super) fn get_run(store: &RestStore, run_id: &str) -> Result<Run> {
    let resp: RunResp = store.get("runs/get", &[("run_id", run_id)])?;
    let run = run_from_wire(resp.run, "runs/get")?;
    store.remember_artifact_root(&run.info);
    Ok(run)
}

pub(super) fn metric_history(store: &RestStore, run_id: &str, key: &str) -> Result<Vec<Metric>> {
    let mut out: Vec<Metric> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut q = vec![
            ("run_id", run_id),
            ("metric_key", key),
            ("max_results", "25000"),
        ];
        if let Some(t) = token.as_deref() {
            q.push(("page_token", t));
        }
        let resp: HistoryResp = store.get("metrics/get-history", &q)?;
        out.extend(resp.metrics.into_iter().map(Metric::from));
        token = has_more(&resp.next_page_token);
        if token.is_none() {
            break;
        }
    }
    out.sort_by_key(|m| (m.step, m.timestamp));
    Ok(out)
}

pub(super) fn post_empty(store: &RestStore, endpoint: &str, body: serde_json::Value) -> Result<()> {
    let _: Empty = store.post(endpoint, &body)?;
    Ok(())
}
