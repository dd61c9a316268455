//! `logged-models`: MLflow 3's logged models (create, get, finalize, search, tags, params).

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::request::{int, missing, offset, page_of, page_size, required, Fields};
use super::{blocking, text_filter, wire, Reply, Store};
use crate::tracking::{LoggedModelStatus, NewLoggedModel, Param, Tag};

#[derive(Deserialize)]
pub(crate) struct Create {
    experiment_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    source_run_id: Option<String>,
    #[serde(default)]
    params: Vec<Param>,
    #[serde(default)]
    tags: Vec<Tag>,
}

pub(crate) async fn create(State(store): State<Store>, Fields(req): Fields<Create>) -> Reply {
    let experiment_id = required(req.experiment_id, "experiment_id")?;
    let new = NewLoggedModel {
        experiment_id,
        name: req.name.unwrap_or_default(),
        source_run_id: req.source_run_id.filter(|r| !r.is_empty()),
        model_type: req.model_type.unwrap_or_default(),
        params: req.params,
        tags: req.tags,
        model_id: None,
    };
    let model = blocking(&store, move |s| Ok(s.create_logged_model(&new)?)).await?;
    Ok(Json(json!({ "model": wire::logged_model(&model) })))
}

pub(crate) async fn get(State(store): State<Store>, Path(id): Path<String>) -> Reply {
    let model = blocking(&store, move |s| Ok(s.get_logged_model(&id)?)).await?;
    Ok(Json(json!({ "model": wire::logged_model(&model) })))
}

#[derive(Deserialize)]
pub(crate) struct Finalize {
    status: Option<String>,
}

pub(crate) async fn finalize(
    State(store): State<Store>,
    Path(id): Path<String>,
    Fields(req): Fields<Finalize>,
) -> Reply {
    let status: LoggedModelStatus = req.status.ok_or_else(|| missing("status"))?.parse()?;
    let model = blocking(&store, move |s| Ok(s.finalize_logged_model(&id, status)?)).await?;
    Ok(Json(json!({ "model": wire::logged_model(&model) })))
}

#[derive(Deserialize)]
pub(crate) struct SetTags {
    #[serde(default)]
    tags: Vec<Tag>,
}

pub(crate) async fn set_tags(
    State(store): State<Store>,
    Path(id): Path<String>,
    Fields(req): Fields<SetTags>,
) -> Reply {
    blocking(
        &store,
        move |s| Ok(s.set_logged_model_tags(&id, &req.tags)?),
    )
    .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub(crate) struct LogParams {
    #[serde(default)]
    params: Vec<Param>,
}

pub(crate) async fn log_params(
    State(store): State<Store>,
    Path(id): Path<String>,
    Fields(req): Fields<LogParams>,
) -> Reply {
    blocking(&store, move |s| {
        Ok(s.log_logged_model_params(&id, &req.params)?)
    })
    .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub(crate) struct Search {
    #[serde(default, deserialize_with = "super::request::list")]
    experiment_ids: Vec<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default, deserialize_with = "int")]
    max_results: Option<i64>,
    #[serde(default)]
    page_token: Option<String>,
}

pub(crate) async fn search(State(store): State<Store>, Fields(req): Fields<Search>) -> Reply {
    let size = page_size(req.max_results, 100, 1000)?;
    let clauses = text_filter::parse(
        req.filter.as_deref().unwrap_or(""),
        &["name", "source_run_id", "model_type", "status", "model_id"],
    )?;
    if clauses.is_empty() {
        let token = req.page_token.filter(|t| !t.is_empty());
        let page = blocking(&store, move |s| {
            Ok(s.search_logged_models(&req.experiment_ids, size, token.as_deref())?)
        })
        .await?;
        let mut body =
            json!({ "models": page.models.iter().map(wire::logged_model).collect::<Vec<_>>() });
        if let Some(token) = page.next_page_token {
            body["next_page_token"] = json!(token);
        }
        return Ok(Json(body));
    }
    // A filter: walk every page of the experiments' models, then page the matches.
    let start = offset(req.page_token.as_deref())?;
    let experiments = req.experiment_ids;
    let matching: Vec<Value> = blocking(&store, move |s| {
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = s.search_logged_models(&experiments, 1000, token.as_deref())?;
            for model in page.models {
                let ok = clauses.iter().all(|c| {
                    c.holds(match c.key.as_str() {
                        "name" => &model.name,
                        "source_run_id" => model.source_run_id.as_deref().unwrap_or(""),
                        "model_type" => &model.model_type,
                        "model_id" => &model.model_id,
                        _ => model.status.as_str(),
                    })
                });
                if ok {
                    found.push(wire::logged_model(&model));
                }
            }
            token = page.next_page_token;
            if token.is_none() {
                return Ok(found);
            }
        }
    })
    .await?;
    Ok(Json(page_of(
        "models",
        &matching,
        start,
        size,
        Value::clone,
    )))
}
