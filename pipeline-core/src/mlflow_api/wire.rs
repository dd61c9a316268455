//! The JSON shapes of MLflow's entities, written from the store's types. Artifact locations are
//! the server's own `mlflow-artifacts:/` URIs, whatever the store calls them internally, so the
//! client always goes through this server's artifact proxy.

use serde_json::{json, Value};

use crate::tracking::model::TAG_RUN_NAME;
use crate::tracking::{
    DatasetInput, Experiment, LoggedModel, Metric, ModelVersion, Param, RegisteredModel, Run,
    RunInfo, Tag,
};

/// Where an experiment's artifacts live.
pub(crate) fn experiment_location(experiment_id: &str) -> String {
    format!("mlflow-artifacts:/{experiment_id}")
}

/// A run's artifact root.
pub(crate) fn run_artifact_uri(experiment_id: &str, run_id: &str) -> String {
    format!("mlflow-artifacts:/{experiment_id}/{run_id}/artifacts")
}

/// A logged model's artifact root.
pub(crate) fn model_artifact_uri(experiment_id: &str, model_id: &str) -> String {
    format!("mlflow-artifacts:/{experiment_id}/models/{model_id}/artifacts")
}

pub(crate) fn tags(tags: &[Tag]) -> Value {
    json!(tags
        .iter()
        .map(|t| json!({ "key": t.key, "value": t.value }))
        .collect::<Vec<_>>())
}

fn params(params: &[Param]) -> Value {
    json!(params
        .iter()
        .map(|p| json!({ "key": p.key, "value": p.value }))
        .collect::<Vec<_>>())
}

pub(crate) fn metric(m: &Metric) -> Value {
    serde_json::to_value(m).unwrap_or(Value::Null)
}

pub(crate) fn experiment(e: &Experiment) -> Value {
    json!({
        "experiment_id": e.experiment_id,
        "name": e.name,
        "artifact_location": experiment_location(&e.experiment_id),
        "lifecycle_stage": e.lifecycle_stage,
        "creation_time": e.creation_time,
        "last_update_time": e.creation_time,
        "tags": tags(&e.tags),
    })
}

/// A run's attributes; the user is the `mlflow.user` tag where the store keeps no column.
pub(crate) fn run_info(info: &RunInfo, user: &str) -> Value {
    let mut value = json!({
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "user_id": user,
        "status": info.status.as_str(),
        "start_time": info.start_time,
        "artifact_uri": run_artifact_uri(&info.experiment_id, &info.run_id),
        "lifecycle_stage": info.lifecycle_stage,
    });
    if let Some(end) = info.end_time {
        value["end_time"] = json!(end);
    }
    value
}

/// A run with its data, inputs and outputs.
pub(crate) fn run(run: &Run, inputs: &[DatasetInput], models: &[LoggedModel]) -> Value {
    let user = run.tag("mlflow.user").unwrap_or_default();
    let mut all_tags = run.tags.clone();
    if !all_tags.iter().any(|t| t.key == TAG_RUN_NAME) {
        all_tags.push(Tag::new(TAG_RUN_NAME, run.info.run_name.clone()));
    }
    json!({
        "info": run_info(&run.info, user),
        "data": {
            "metrics": run.metrics.iter().map(metric).collect::<Vec<_>>(),
            "params": params(&run.params),
            "tags": tags(&all_tags),
        },
        "inputs": {
            "dataset_inputs": inputs.iter().map(dataset_input).collect::<Vec<_>>(),
        },
        "outputs": {
            "model_outputs": models
                .iter()
                .map(|m| json!({ "model_id": m.model_id, "step": 0 }))
                .collect::<Vec<_>>(),
        },
    })
}

fn dataset_input(input: &DatasetInput) -> Value {
    let mut dataset = json!({
        "name": input.dataset.name,
        "digest": input.dataset.digest,
        "source_type": input.dataset.source_type,
        "source": input.dataset.source,
    });
    if let Some(schema) = &input.dataset.schema {
        dataset["schema"] = json!(schema);
    }
    let tags: Vec<Value> = input
        .context
        .iter()
        .map(|c| json!({ "key": "mlflow.data.context", "value": c }))
        .collect();
    json!({ "tags": tags, "dataset": dataset })
}

pub(crate) fn model_version(v: &ModelVersion, aliases: &[String]) -> Value {
    let mut value = json!({
        "name": v.name,
        "version": v.version.to_string(),
        "creation_timestamp": v.creation_time,
        "last_updated_timestamp": v.creation_time,
        "current_stage": "None",
        "description": v.description,
        "source": v.source,
        "status": "READY",
        "tags": tags(&v.tags),
        "aliases": aliases,
        "run_link": "",
    });
    if let Some(run_id) = &v.run_id {
        value["run_id"] = json!(run_id);
    }
    if let Some(model_id) = &v.model_id {
        value["model_id"] = json!(model_id);
    }
    value
}

pub(crate) fn registered_model(m: &RegisteredModel) -> Value {
    let aliases_of = |version: u64| -> Vec<String> {
        m.aliases
            .iter()
            .filter(|(_, v)| *v == version)
            .map(|(a, _)| a.clone())
            .collect()
    };
    json!({
        "name": m.name,
        "creation_timestamp": m.creation_time,
        "last_updated_timestamp": m.creation_time,
        "description": m.description,
        "latest_versions": m
            .latest_versions
            .iter()
            .map(|v| model_version(v, &aliases_of(v.version)))
            .collect::<Vec<_>>(),
        "tags": tags(&m.tags),
        "aliases": m
            .aliases
            .iter()
            .map(|(alias, version)| json!({ "alias": alias, "version": version.to_string() }))
            .collect::<Vec<_>>(),
    })
}

pub(crate) fn logged_model(m: &LoggedModel) -> Value {
    let mut info = json!({
        "model_id": m.model_id,
        "experiment_id": m.experiment_id,
        "name": m.name,
        "creation_timestamp_ms": m.creation_time,
        "last_updated_timestamp_ms": m.last_updated_time,
        "artifact_uri": model_artifact_uri(&m.experiment_id, &m.model_id),
        "status": m.status.as_str(),
        "model_type": m.model_type,
        "status_message": "",
        "tags": tags(&m.tags),
        "registrations": [],
    });
    if let Some(run) = &m.source_run_id {
        info["source_run_id"] = json!(run);
    }
    let metrics: Vec<Value> = m
        .metrics
        .iter()
        .map(|point| {
            let mut value = metric(point);
            if let Some(run) = &m.source_run_id {
                value["run_id"] = json!(run);
            }
            value
        })
        .collect();
    json!({ "info": info, "data": { "params": params(&m.params), "metrics": metrics } })
}
