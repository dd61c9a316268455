//! `experiments/*`: create, get, get-by-name, search, update, delete, restore, tags.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::request::{int, missing, offset, page_of, page_size, required, Fields};
use super::{blocking, text_filter, wire, Reply, Store};
use crate::tracking::{Experiment, Tag};

#[derive(Deserialize)]
pub(crate) struct Create {
    name: Option<String>,
    artifact_location: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
}

pub(crate) async fn create(State(store): State<Store>, Fields(req): Fields<Create>) -> Reply {
    let name = required(req.name, "name")?;
    if req.artifact_location.is_some_and(|l| !l.is_empty()) {
        return Err(ApiError::invalid(
            "artifact_location is chosen by this server (its artifacts live in its content store)",
        ));
    }
    let id = blocking(&store, move |s| Ok(s.create_experiment(&name, &req.tags)?)).await?;
    Ok(Json(json!({ "experiment_id": id })))
}

#[derive(Deserialize)]
pub(crate) struct ById {
    experiment_id: Option<String>,
}

fn id(req: ById) -> Result<String, ApiError> {
    required(req.experiment_id, "experiment_id")
}

pub(crate) async fn get(State(store): State<Store>, Fields(req): Fields<ById>) -> Reply {
    let id = id(req)?;
    let experiment = blocking(&store, move |s| Ok(s.get_experiment(&id)?)).await?;
    Ok(Json(json!({ "experiment": wire::experiment(&experiment) })))
}

#[derive(Deserialize)]
pub(crate) struct ByName {
    experiment_name: Option<String>,
}

pub(crate) async fn get_by_name(State(store): State<Store>, Fields(req): Fields<ByName>) -> Reply {
    let name = req
        .experiment_name
        .ok_or_else(|| missing("experiment_name"))?;
    let found = {
        let name = name.clone();
        blocking(&store, move |s| Ok(s.get_experiment_by_name(&name)?)).await?
    };
    let experiment = match found {
        Some(e) => e,
        // A deleted experiment keeps its name, as in MLflow.
        None => {
            blocking(&store, move |s| {
                s.all_experiments()?
                    .into_iter()
                    .find(|e| e.name == name)
                    .ok_or_else(|| {
                        ApiError::not_found(format!("Could not find experiment with name '{name}'"))
                    })
            })
            .await?
        }
    };
    Ok(Json(json!({ "experiment": wire::experiment(&experiment) })))
}

#[derive(Deserialize)]
pub(crate) struct Search {
    #[serde(default, deserialize_with = "int")]
    max_results: Option<i64>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default, deserialize_with = "super::request::list")]
    order_by: Vec<String>,
    #[serde(default)]
    page_token: Option<String>,
    #[serde(default)]
    view_type: Option<String>,
}

pub(crate) async fn search(State(store): State<Store>, Fields(req): Fields<Search>) -> Reply {
    let size = page_size(req.max_results, 1000, 50_000)?;
    let start = offset(req.page_token.as_deref())?;
    let clauses = text_filter::parse(req.filter.as_deref().unwrap_or(""), &["name"])?;
    let view = req.view_type.unwrap_or_else(|| "ACTIVE_ONLY".into());
    let keep: fn(&Experiment) -> bool = match view.as_str() {
        "ACTIVE_ONLY" | "1" => |e| e.lifecycle_stage == "active",
        "DELETED_ONLY" | "2" => |e| e.lifecycle_stage == "deleted",
        "ALL" | "3" => |_| true,
        other => return Err(ApiError::invalid(format!("invalid view_type '{other}'"))),
    };
    let mut order = Vec::new();
    for clause in &req.order_by {
        let mut words = clause.split_whitespace();
        let key = words
            .next()
            .unwrap_or_default()
            .trim_start_matches("attributes.");
        let descending = match words.next().map(str::to_ascii_uppercase).as_deref() {
            None | Some("ASC") => false,
            Some("DESC") => true,
            Some(other) => {
                return Err(ApiError::invalid(format!(
                    "invalid order_by '{clause}': {other}"
                )))
            }
        };
        if !["name", "experiment_id", "creation_time", "last_update_time"].contains(&key) {
            return Err(ApiError::invalid(format!(
                "invalid order_by key in '{clause}'"
            )));
        }
        order.push((key.to_string(), descending));
    }
    let mut experiments: Vec<Experiment> = blocking(&store, |s| Ok(s.all_experiments()?))
        .await?
        .into_iter()
        .filter(|e| keep(e) && clauses.iter().all(|c| c.holds(&e.name)))
        .collect();
    if order.is_empty() {
        order.push(("creation_time".into(), true));
    }
    experiments.sort_by(|a, b| {
        let mut ordering = std::cmp::Ordering::Equal;
        for (key, descending) in &order {
            let o = match key.as_str() {
                "name" => a.name.cmp(&b.name),
                "experiment_id" => id_number(a).cmp(&id_number(b)),
                _ => a.creation_time.cmp(&b.creation_time),
            };
            ordering = ordering.then(if *descending { o.reverse() } else { o });
        }
        ordering.then(id_number(a).cmp(&id_number(b)))
    });
    Ok(Json(page_of(
        "experiments",
        &experiments,
        start,
        size,
        wire::experiment,
    )))
}

fn id_number(e: &Experiment) -> i64 {
    e.experiment_id.parse().unwrap_or(i64::MAX)
}

#[derive(Deserialize)]
pub(crate) struct Update {
    experiment_id: Option<String>,
    new_name: Option<String>,
}

pub(crate) async fn update(State(store): State<Store>, Fields(req): Fields<Update>) -> Reply {
    let id = id(ById {
        experiment_id: req.experiment_id,
    })?;
    let name = req.new_name.ok_or_else(|| missing("new_name"))?;
    blocking(&store, move |s| Ok(s.rename_experiment(&id, &name)?)).await?;
    Ok(Json(json!({})))
}

pub(crate) async fn delete(State(store): State<Store>, Fields(req): Fields<ById>) -> Reply {
    let id = id(req)?;
    blocking(&store, move |s| {
        if id == crate::tracking::model::DEFAULT_EXPERIMENT_ID {
            return Err(ApiError::invalid(
                "the Default experiment cannot be deleted",
            ));
        }
        Ok(s.delete_experiment(&id)?)
    })
    .await?;
    Ok(Json(json!({})))
}

pub(crate) async fn restore(State(store): State<Store>, Fields(req): Fields<ById>) -> Reply {
    let id = id(req)?;
    blocking(&store, move |s| Ok(s.restore_experiment(&id)?)).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub(crate) struct SetTag {
    experiment_id: Option<String>,
    key: Option<String>,
    #[serde(default)]
    value: String,
}

pub(crate) async fn set_tag(State(store): State<Store>, Fields(req): Fields<SetTag>) -> Reply {
    let id = id(ById {
        experiment_id: req.experiment_id,
    })?;
    let key = req.key.ok_or_else(|| missing("key"))?;
    blocking(&store, move |s| {
        Ok(s.set_experiment_tag(&id, &Tag::new(key, req.value))?)
    })
    .await?;
    Ok(Json(json!({})))
}
