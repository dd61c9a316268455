//! `registered-models/*` and `model-versions/*`: the model registry, versions numbered with
//! gaps where some were deleted, aliases, tags, descriptions.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::request::{int, offset, page_of, page_size, required, Fields};
use super::{blocking, text_filter, wire, Reply, Store};
use crate::tracking::{
    logged_model_of_source, run_artifact_of_source, ModelVersion, Tag, TrackingStore,
};

fn version_number(value: Option<String>) -> Result<u64, ApiError> {
    let text = required(value, "version")?;
    text.parse()
        .map_err(|_| ApiError::invalid(format!("version must be a positive integer, got '{text}'")))
}

/// A version with the aliases pointing at it.
fn version_json(store: &dyn TrackingStore, version: &ModelVersion) -> Result<Value, ApiError> {
    let model = store.get_registered_model(&version.name)?;
    let aliases: Vec<String> = model
        .aliases
        .iter()
        .filter(|(_, v)| *v == version.version)
        .map(|(a, _)| a.clone())
        .collect();
    Ok(wire::model_version(version, &aliases))
}

#[derive(Deserialize)]
pub(crate) struct Create {
    name: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    description: Option<String>,
}

pub(crate) async fn create_model(State(store): State<Store>, Fields(req): Fields<Create>) -> Reply {
    let name = required(req.name, "name")?;
    let model = blocking(&store, move |s| {
        s.create_registered_model(&name)?;
        for tag in &req.tags {
            s.set_model_tag(&name, None, tag)?;
        }
        if let Some(text) = req.description.filter(|d| !d.is_empty()) {
            s.set_model_description(&name, None, &text)?;
        }
        Ok(s.get_registered_model(&name)?)
    })
    .await?;
    Ok(Json(
        json!({ "registered_model": wire::registered_model(&model) }),
    ))
}

#[derive(Deserialize)]
pub(crate) struct ByName {
    name: Option<String>,
}

pub(crate) async fn get_model(State(store): State<Store>, Fields(req): Fields<ByName>) -> Reply {
    let name = required(req.name, "name")?;
    let model = blocking(&store, move |s| Ok(s.get_registered_model(&name)?)).await?;
    Ok(Json(
        json!({ "registered_model": wire::registered_model(&model) }),
    ))
}

#[derive(Deserialize)]
pub(crate) struct Search {
    #[serde(default)]
    filter: Option<String>,
    #[serde(default, deserialize_with = "int")]
    max_results: Option<i64>,
    #[serde(default)]
    page_token: Option<String>,
}

pub(crate) async fn search_models(
    State(store): State<Store>,
    Fields(req): Fields<Search>,
) -> Reply {
    let size = page_size(req.max_results, 100, 1000)?;
    let start = offset(req.page_token.as_deref())?;
    let clauses = text_filter::parse(req.filter.as_deref().unwrap_or(""), &["name"])?;
    let models = blocking(&store, |s| Ok(s.list_registered_models()?)).await?;
    let matching: Vec<_> = models
        .iter()
        .filter(|m| clauses.iter().all(|c| c.holds(&m.name)))
        .collect();
    Ok(Json(page_of(
        "registered_models",
        &matching,
        start,
        size,
        |m| wire::registered_model(m),
    )))
}

#[derive(Deserialize)]
pub(crate) struct Describe {
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

pub(crate) async fn update_model(
    State(store): State<Store>,
    Fields(req): Fields<Describe>,
) -> Reply {
    let name = required(req.name, "name")?;
    let model = blocking(&store, move |s| {
        s.set_model_description(&name, None, &req.description.unwrap_or_default())?;
        Ok(s.get_registered_model(&name)?)
    })
    .await?;
    Ok(Json(
        json!({ "registered_model": wire::registered_model(&model) }),
    ))
}

pub(crate) async fn delete_model(State(store): State<Store>, Fields(req): Fields<ByName>) -> Reply {
    let name = required(req.name, "name")?;
    blocking(&store, move |s| Ok(s.delete_registered_model(&name)?)).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub(crate) struct TagReq {
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
    key: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

async fn tag(store: Store, req: TagReq, with_version: bool, set: bool) -> Reply {
    let name = required(req.name, "name")?;
    let version = if with_version {
        Some(version_number(req.version)?)
    } else {
        None
    };
    let key = required(req.key, "key")?;
    blocking(&store, move |s| {
        if set {
            s.set_model_tag(
                &name,
                version,
                &Tag::new(key, req.value.unwrap_or_default()),
            )?;
        } else {
            s.delete_model_tag(&name, version, &key)?;
        }
        Ok(())
    })
    .await?;
    Ok(Json(json!({})))
}

pub(crate) async fn set_model_tag(
    State(store): State<Store>,
    Fields(req): Fields<TagReq>,
) -> Reply {
    tag(store, req, false, true).await
}

pub(crate) async fn delete_model_tag(
    State(store): State<Store>,
    Fields(req): Fields<TagReq>,
) -> Reply {
    tag(store, req, false, false).await
}

pub(crate) async fn set_version_tag(
    State(store): State<Store>,
    Fields(req): Fields<TagReq>,
) -> Reply {
    tag(store, req, true, true).await
}

pub(crate) async fn delete_version_tag(
    State(store): State<Store>,
    Fields(req): Fields<TagReq>,
) -> Reply {
    tag(store, req, true, false).await
}

#[derive(Deserialize)]
pub(crate) struct Alias {
    name: Option<String>,
    alias: Option<String>,
    #[serde(default)]
    version: Option<String>,
}

pub(crate) async fn set_alias(State(store): State<Store>, Fields(req): Fields<Alias>) -> Reply {
    let name = required(req.name, "name")?;
    let alias = required(req.alias, "alias")?;
    let version = version_number(req.version)?;
    blocking(&store, move |s| {
        Ok(s.set_model_alias(&name, &alias, version)?)
    })
    .await?;
    Ok(Json(json!({})))
}

pub(crate) async fn delete_alias(State(store): State<Store>, Fields(req): Fields<Alias>) -> Reply {
    let name = required(req.name, "name")?;
    let alias = required(req.alias, "alias")?;
    blocking(&store, move |s| Ok(s.delete_model_alias(&name, &alias)?)).await?;
    Ok(Json(json!({})))
}

pub(crate) async fn get_by_alias(State(store): State<Store>, Fields(req): Fields<Alias>) -> Reply {
    let name = required(req.name, "name")?;
    let alias = required(req.alias, "alias")?;
    let version = blocking(&store, move |s| {
        let version = s.get_model_version_by_alias(&name, &alias)?;
        version_json(s, &version)
    })
    .await?;
    Ok(Json(json!({ "model_version": version })))
}

pub(crate) async fn latest_versions(
    State(store): State<Store>,
    Fields(req): Fields<ByName>,
) -> Reply {
    let name = required(req.name, "name")?;
    let versions = blocking(&store, move |s| {
        let model = s.get_registered_model(&name)?;
        model
            .latest_versions
            .iter()
            .map(|v| version_json(s, v))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(Json(json!({ "model_versions": versions })))
}

#[derive(Deserialize)]
pub(crate) struct CreateVersion {
    name: Option<String>,
    source: Option<String>,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    model_id: Option<String>,
}

pub(crate) async fn create_version(
    State(store): State<Store>,
    Fields(req): Fields<CreateVersion>,
) -> Reply {
    let name = required(req.name, "name")?;
    let source = required(req.source, "source")?;
    let version = blocking(&store, move |s| {
        // MLflow 3 keeps the logged model in the source (`models:/m-<id>`); either way the
        // version carries its id, and the run defaults to the model's.
        let model_id = req
            .model_id
            .filter(|m| !m.is_empty())
            .or_else(|| logged_model_of_source(&source));
        let mut run_id = req.run_id.filter(|r| !r.is_empty());
        if let Some(id) = &model_id {
            let model = s.get_logged_model(id)?;
            run_id = run_id.or(model.source_run_id);
        } else if let Some((run, _)) = run_artifact_of_source(&source) {
            run_id = run_id.or(Some(run));
        }
        let version =
            s.create_model_version_linked(&name, &source, run_id.as_deref(), model_id.as_deref())?;
        for tag in &req.tags {
            s.set_model_tag(&name, Some(version.version), tag)?;
        }
        if let Some(text) = req.description.filter(|d| !d.is_empty()) {
            s.set_model_description(&name, Some(version.version), &text)?;
        }
        let version = s.get_model_version(&name, version.version)?;
        version_json(s, &version)
    })
    .await?;
    Ok(Json(json!({ "model_version": version })))
}

#[derive(Deserialize)]
pub(crate) struct VersionRef {
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
}

pub(crate) async fn get_version(
    State(store): State<Store>,
    Fields(req): Fields<VersionRef>,
) -> Reply {
    let name = required(req.name, "name")?;
    let number = version_number(req.version)?;
    let version = blocking(&store, move |s| {
        let version = s.get_model_version(&name, number)?;
        version_json(s, &version)
    })
    .await?;
    Ok(Json(json!({ "model_version": version })))
}

pub(crate) async fn update_version(
    State(store): State<Store>,
    Fields(req): Fields<Describe>,
) -> Reply {
    let name = required(req.name, "name")?;
    let number = version_number(req.version)?;
    let version = blocking(&store, move |s| {
        s.set_model_description(&name, Some(number), &req.description.unwrap_or_default())?;
        let version = s.get_model_version(&name, number)?;
        version_json(s, &version)
    })
    .await?;
    Ok(Json(json!({ "model_version": version })))
}

pub(crate) async fn delete_version(
    State(store): State<Store>,
    Fields(req): Fields<VersionRef>,
) -> Reply {
    let name = required(req.name, "name")?;
    let number = version_number(req.version)?;
    blocking(&store, move |s| Ok(s.delete_model_version(&name, number)?)).await?;
    Ok(Json(json!({})))
}

/// Where a version's files can be downloaded through this server's artifact proxy.
pub(crate) async fn download_uri(
    State(store): State<Store>,
    Fields(req): Fields<VersionRef>,
) -> Reply {
    let name = required(req.name, "name")?;
    let number = version_number(req.version)?;
    let uri = blocking(&store, move |s| {
        let version = s.get_model_version(&name, number)?;
        if let Some(id) = logged_model_of_source(&version.source).or(version.model_id.clone()) {
            let model = s.get_logged_model(&id)?;
            return Ok(wire::model_artifact_uri(&model.experiment_id, &id));
        }
        if let Some((run, path)) = run_artifact_of_source(&version.source) {
            let info = s.get_run(&run)?.info;
            let root = wire::run_artifact_uri(&info.experiment_id, &run);
            return Ok(if path.is_empty() {
                root
            } else {
                format!("{root}/{path}")
            });
        }
        Ok(version.source)
    })
    .await?;
    Ok(Json(json!({ "artifact_uri": uri })))
}

pub(crate) async fn search_versions(
    State(store): State<Store>,
    Fields(req): Fields<Search>,
) -> Reply {
    let size = page_size(req.max_results, 10_000, 200_000)?;
    let start = offset(req.page_token.as_deref())?;
    let clauses = text_filter::parse(
        req.filter.as_deref().unwrap_or(""),
        &["name", "run_id", "source", "source_path"],
    )?;
    let body = blocking(&store, move |s| {
        let mut matching = Vec::new();
        for model in s.list_registered_models()? {
            let names_ok = clauses
                .iter()
                .filter(|c| c.key == "name")
                .all(|c| c.holds(&model.name));
            if !names_ok {
                continue;
            }
            for version in s.model_versions(&model.name)? {
                let ok = clauses.iter().all(|c| match c.key.as_str() {
                    "name" => true,
                    "run_id" => c.holds(version.run_id.as_deref().unwrap_or("")),
                    _ => c.holds(&version.source),
                });
                if ok {
                    let aliases: Vec<String> = model
                        .aliases
                        .iter()
                        .filter(|(_, v)| *v == version.version)
                        .map(|(a, _)| a.clone())
                        .collect();
                    matching.push(wire::model_version(&version, &aliases));
                }
            }
        }
        Ok(page_of(
            "model_versions",
            &matching,
            start,
            size,
            Value::clone,
        ))
    })
    .await?;
    Ok(Json(body))
}
