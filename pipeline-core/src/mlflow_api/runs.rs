//! `runs/*`, `metrics/get-history` and `artifacts/list`: the run lifecycle and everything logged
//! on a run, with MLflow's limits checked before anything is written.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::request::{int, page_size, required, Fields};
use super::{blocking, wire, Reply, Store};
use crate::tracking::model::{
    now_ms, MAX_ENTITIES_PER_BATCH, MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH,
    TAG_PARENT_RUN_ID, TAG_RUN_NAME,
};
use crate::tracking::{
    Dataset, DatasetInput, Metric, Param, RunStatus, SearchQuery, Tag, TrackingStore,
};

/// A run as `runs/get` answers it: data, dataset inputs and logged-model outputs.
pub(crate) fn run_json(store: &dyn TrackingStore, run_id: &str) -> Result<Value, ApiError> {
    let run = store.get_run(run_id)?;
    let inputs = store.run_inputs(run_id)?;
    let models = store.logged_models_of_run(run_id)?;
    Ok(wire::run(&run, &inputs, &models))
}

#[derive(Deserialize)]
pub(crate) struct Create {
    experiment_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default, deserialize_with = "int")]
    start_time: Option<i64>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    run_name: Option<String>,
}

pub(crate) async fn create(State(store): State<Store>, Fields(req): Fields<Create>) -> Reply {
    let experiment = req
        .experiment_id
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| crate::tracking::model::DEFAULT_EXPERIMENT_ID.to_string());
    let mut tags = req.tags;
    let name = req
        .run_name
        .filter(|n| !n.is_empty())
        .or_else(|| {
            tags.iter()
                .find(|t| t.key == TAG_RUN_NAME)
                .map(|t| t.value.clone())
        })
        .unwrap_or_default();
    tags.retain(|t| t.key != TAG_RUN_NAME);
    let parent = tags
        .iter()
        .find(|t| t.key == TAG_PARENT_RUN_ID)
        .map(|t| t.value.clone());
    tags.retain(|t| t.key != TAG_PARENT_RUN_ID);
    // The store keeps the user as MLflow's `mlflow.user` tag.
    if let Some(user) = req.user_id.filter(|u| !u.is_empty()) {
        if !tags.iter().any(|t| t.key == "mlflow.user") {
            tags.push(Tag::new("mlflow.user", user));
        }
    }
    let start = req.start_time.unwrap_or_else(now_ms);
    let run = blocking(&store, move |s| {
        if s.get_experiment(&experiment)?.lifecycle_stage != "active" {
            return Err(ApiError::invalid(format!(
                "experiment {experiment} is deleted: restore it to log runs in it"
            )));
        }
        if let Some(parent) = &parent {
            s.get_run(parent)?;
        }
        let info = s.create_run(&experiment, &name, parent.as_deref(), &tags, start)?;
        run_json(s, &info.run_id)
    })
    .await?;
    Ok(Json(json!({ "run": run })))
}

#[derive(Deserialize)]
pub(crate) struct ById {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
}

impl ById {
    fn id(self) -> Result<String, ApiError> {
        required(self.run_id.or(self.run_uuid), "run_id")
    }
}

pub(crate) async fn get(State(store): State<Store>, Fields(req): Fields<ById>) -> Reply {
    let id = req.id()?;
    let run = blocking(&store, move |s| run_json(s, &id)).await?;
    Ok(Json(json!({ "run": run })))
}

#[derive(Deserialize)]
pub(crate) struct Update {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "int")]
    end_time: Option<i64>,
    #[serde(default)]
    run_name: Option<String>,
}

pub(crate) async fn update(State(store): State<Store>, Fields(req): Fields<Update>) -> Reply {
    let id = required(req.run_id.or(req.run_uuid), "run_id")?;
    let status: Option<RunStatus> = req.status.map(|s| s.parse()).transpose()?;
    let info = blocking(&store, move |s| {
        let run = s.get_run(&id)?;
        if let Some(name) = req.run_name.filter(|n| !n.is_empty()) {
            s.set_tag(&id, TAG_RUN_NAME, &name)?;
        }
        if status.is_some() || req.end_time.is_some() {
            let status = status.unwrap_or(run.info.status);
            let end = req.end_time.or(run.info.end_time);
            s.update_run(&id, status, end)?;
        }
        let run = s.get_run(&id)?;
        Ok(wire::run_info(
            &run.info,
            run.tag("mlflow.user").unwrap_or_default(),
        ))
    })
    .await?;
    Ok(Json(json!({ "run_info": info })))
}

pub(crate) async fn delete(State(store): State<Store>, Fields(req): Fields<ById>) -> Reply {
    let id = req.id()?;
    blocking(&store, move |s| Ok(s.delete_run(&id)?)).await?;
    Ok(Json(json!({})))
}

pub(crate) async fn restore(State(store): State<Store>, Fields(req): Fields<ById>) -> Reply {
    let id = req.id()?;
    blocking(&store, move |s| Ok(s.restore_run(&id)?)).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub(crate) struct Search {
    #[serde(default, deserialize_with = "super::request::list")]
    experiment_ids: Vec<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    run_view_type: Option<String>,
    #[serde(default, deserialize_with = "int")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "super::request::list")]
    order_by: Vec<String>,
    #[serde(default)]
    page_token: Option<String>,
}

pub(crate) async fn search(State(store): State<Store>, Fields(req): Fields<Search>) -> Reply {
    match req.run_view_type.as_deref() {
        None | Some("ACTIVE_ONLY") | Some("1") => {}
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "run_view_type {other} is not supported: searches return active runs \
                 (a deleted run is still found by runs/get)"
            )))
        }
    }
    let query = SearchQuery {
        experiment_ids: req.experiment_ids,
        filter: req.filter.unwrap_or_default(),
        order_by: req.order_by,
        max_results: page_size(req.max_results, 1000, 50_000)?,
        page_token: req.page_token.filter(|t| !t.is_empty()),
        top_level_only: false,
    };
    let body = blocking(&store, move |s| {
        let page = s.search_runs(&query)?;
        let mut runs = Vec::with_capacity(page.runs.len());
        for run in &page.runs {
            let inputs = s.run_inputs(&run.info.run_id)?;
            runs.push(wire::run(run, &inputs, &[]));
        }
        let mut body = json!({ "runs": runs });
        if let Some(token) = page.next_page_token {
            body["next_page_token"] = json!(token);
        }
        Ok(body)
    })
    .await?;
    Ok(Json(body))
}

#[derive(Deserialize)]
pub(crate) struct WireMetric {
    key: Option<String>,
    #[serde(with = "crate::tracking::model::json_f64")]
    value: f64,
    #[serde(default, deserialize_with = "int")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "int")]
    step: Option<i64>,
    #[serde(default)]
    model_id: Option<String>,
}

impl WireMetric {
    fn into_metric(self) -> Result<Metric, ApiError> {
        let mut metric = Metric::new(
            required(self.key, "key")?,
            self.value,
            self.timestamp.unwrap_or_else(now_ms),
            self.step.unwrap_or(0),
        );
        metric.model_id = self.model_id.filter(|m| !m.is_empty());
        Ok(metric)
    }
}

#[derive(Deserialize)]
pub(crate) struct LogBatch {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    metrics: Vec<WireMetric>,
    #[serde(default)]
    params: Vec<Param>,
    #[serde(default)]
    tags: Vec<Tag>,
}

pub(crate) async fn log_batch(State(store): State<Store>, Fields(req): Fields<LogBatch>) -> Reply {
    let id = required(req.run_id, "run_id")?;
    let (m, p, t) = (req.metrics.len(), req.params.len(), req.tags.len());
    if m > MAX_METRICS_PER_BATCH {
        return Err(ApiError::invalid(format!(
            "a batch logging request can contain at most {MAX_METRICS_PER_BATCH} metrics; got {m}"
        )));
    }
    if p > MAX_PARAMS_TAGS_PER_BATCH || t > MAX_PARAMS_TAGS_PER_BATCH {
        return Err(ApiError::invalid(format!(
            "a batch logging request can contain at most {MAX_PARAMS_TAGS_PER_BATCH} params and \
             {MAX_PARAMS_TAGS_PER_BATCH} tags; got {p} params and {t} tags"
        )));
    }
    if m + p + t > MAX_ENTITIES_PER_BATCH {
        return Err(ApiError::invalid(format!(
            "a batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} metrics, params \
             and tags in total; got {}",
            m + p + t
        )));
    }
    let metrics = req
        .metrics
        .into_iter()
        .map(WireMetric::into_metric)
        .collect::<Result<Vec<_>, _>>()?;
    log(&store, id, metrics, req.params, req.tags).await
}

async fn log(
    store: &Store,
    id: String,
    metrics: Vec<Metric>,
    params: Vec<Param>,
    tags: Vec<Tag>,
) -> Reply {
    blocking(store, move |s| {
        let run = s.get_run(&id)?;
        if run.info.lifecycle_stage != "active" {
            return Err(ApiError::invalid(format!(
                "the run {id} must be in the 'active' state; current state is {}",
                run.info.lifecycle_stage
            )));
        }
        Ok(s.log_batch(&id, &metrics, &params, &tags)?)
    })
    .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub(crate) struct LogMetric {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    #[serde(flatten)]
    metric: WireMetric,
}

pub(crate) async fn log_metric(
    State(store): State<Store>,
    Fields(req): Fields<LogMetric>,
) -> Reply {
    let id = required(req.run_id.or(req.run_uuid), "run_id")?;
    log(
        &store,
        id,
        vec![req.metric.into_metric()?],
        Vec::new(),
        Vec::new(),
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct KeyValue {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    key: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

pub(crate) async fn log_param(State(store): State<Store>, Fields(req): Fields<KeyValue>) -> Reply {
    let id = required(req.run_id.or(req.run_uuid), "run_id")?;
    let param = Param::new(required(req.key, "key")?, req.value.unwrap_or_default());
    log(&store, id, Vec::new(), vec![param], Vec::new()).await
}

pub(crate) async fn set_tag(State(store): State<Store>, Fields(req): Fields<KeyValue>) -> Reply {
    let id = required(req.run_id.or(req.run_uuid), "run_id")?;
    let tag = Tag::new(required(req.key, "key")?, req.value.unwrap_or_default());
    log(&store, id, Vec::new(), Vec::new(), vec![tag]).await
}

pub(crate) async fn delete_tag(State(store): State<Store>, Fields(req): Fields<KeyValue>) -> Reply {
    let id = required(req.run_id.or(req.run_uuid), "run_id")?;
    let key = required(req.key, "key")?;
    blocking(&store, move |s| Ok(s.delete_tag(&id, &key)?)).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct WireDataset {
    name: Option<String>,
    digest: Option<String>,
    #[serde(default)]
    source_type: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    schema: Option<String>,
}

#[derive(Deserialize)]
struct WireDatasetInput {
    #[serde(default)]
    tags: Vec<Tag>,
    dataset: Option<WireDataset>,
}

#[derive(Deserialize)]
pub(crate) struct LogInputs {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    datasets: Vec<WireDatasetInput>,
}

pub(crate) async fn log_inputs(
    State(store): State<Store>,
    Fields(req): Fields<LogInputs>,
) -> Reply {
    let id = required(req.run_id, "run_id")?;
    let mut inputs = Vec::with_capacity(req.datasets.len());
    for input in req.datasets {
        let dataset = input
            .dataset
            .ok_or_else(|| ApiError::invalid("a dataset input has no dataset"))?;
        inputs.push(DatasetInput {
            context: input
                .tags
                .iter()
                .find(|t| t.key == "mlflow.data.context")
                .map(|t| t.value.clone()),
            dataset: Dataset {
                name: required(dataset.name, "dataset.name")?,
                digest: required(dataset.digest, "dataset.digest")?,
                source_type: dataset.source_type,
                source: dataset.source,
                schema: dataset.schema.filter(|s| !s.is_empty()),
            },
        });
    }
    blocking(&store, move |s| Ok(s.log_inputs(&id, &inputs)?)).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct ModelOutput {
    model_id: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct LogOutputs {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    models: Vec<ModelOutput>,
}

/// A run's model outputs are the logged models it produced: an output naming a model of
/// another run is refused rather than dropped.
pub(crate) async fn log_outputs(
    State(store): State<Store>,
    Fields(req): Fields<LogOutputs>,
) -> Reply {
    let id = required(req.run_id, "run_id")?;
    let models = req
        .models
        .into_iter()
        .map(|m| required(m.model_id, "models.model_id"))
        .collect::<Result<Vec<_>, _>>()?;
    blocking(&store, move |s| {
        s.get_run(&id)?;
        for model_id in &models {
            let model = s.get_logged_model(model_id)?;
            if model.source_run_id.as_deref() != Some(id.as_str()) {
                return Err(ApiError::invalid(format!(
                    "logged model {model_id} was created by another run; this server records a \
                     model as the output of the run that created it"
                )));
            }
        }
        Ok(())
    })
    .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub(crate) struct History {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    metric_key: Option<String>,
}

pub(crate) async fn get_history(State(store): State<Store>, Fields(req): Fields<History>) -> Reply {
    let id = required(req.run_id.or(req.run_uuid), "run_id")?;
    let key = required(req.metric_key, "metric_key")?;
    let points = blocking(&store, move |s| Ok(s.metric_history(&id, &key)?)).await?;
    Ok(Json(
        json!({ "metrics": points.iter().map(wire::metric).collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize)]
pub(crate) struct ListArtifacts {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    #[serde(default)]
    path: Option<String>,
}

pub(crate) async fn list_artifacts(
    State(store): State<Store>,
    Fields(req): Fields<ListArtifacts>,
) -> Reply {
    let id = required(req.run_id.or(req.run_uuid), "run_id")?;
    let body = blocking(&store, move |s| {
        let run = s.get_run(&id)?;
        let files = s.list_artifacts(&id, req.path.as_deref().filter(|p| !p.is_empty()))?;
        let files: Vec<Value> = files
            .iter()
            .map(|f| match f.file_size {
                Some(size) => json!({ "path": f.path, "is_dir": f.is_dir, "file_size": size }),
                None => json!({ "path": f.path, "is_dir": f.is_dir }),
            })
            .collect();
        Ok(json!({
            "root_uri": wire::run_artifact_uri(&run.info.experiment_id, &id),
            "files": files,
        }))
    })
    .await?;
    Ok(Json(body))
}
