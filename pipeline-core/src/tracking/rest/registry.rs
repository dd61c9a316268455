//! The model registry on an MLflow server.

use serde_json::json;

use super::wire::{
    has_more, Empty, ModelVersionResp, RegisteredModelResp, SearchModelVersionsResp,
    SearchModelsResp,
};
use super::RestStore;
use crate::tracking::error::{Result, TrackingError};
use crate::tracking::model::{validate_alias, validate_model_name, ModelVersion, RegisteredModel};
use crate::tracking::store::TrackingStore;

pub(super) fn create_registered_model(store: &RestStore, name: &str) -> Result<RegisteredModel> {
    validate_model_name(name)?;
    let resp: RegisteredModelResp =
        store.post("registered-models/create", &json!({ "name": name }))?;
    Ok(resp.registered_model.into())
}

pub(super) fn create_model_version(
    store: &RestStore,
    name: &str,
    source: &str,
    run_id: Option<&str>,
    model_id: Option<&str>,
) -> Result<ModelVersion> {
    if source.is_empty() {
        return Err(TrackingError::InvalidArgument(format!(
            "model version source for '{name}' must not be empty"
        )));
    }
    let mut body = json!({ "name": name, "source": source });
    if let Some(r) = run_id {
        body["run_id"] = json!(r);
    }
    if let Some(m) = model_id {
        body["model_id"] = json!(m);
    }
    let resp: ModelVersionResp = store.post("model-versions/create", &body)?;
    Ok(resp.model_version.into())
}

pub(super) fn get_model_version(
    store: &RestStore,
    name: &str,
    version: u64,
) -> Result<ModelVersion> {
    let v = version.to_string();
    let resp: ModelVersionResp =
        store.get("model-versions/get", &[("name", name), ("version", &v)])?;
    Ok(resp.model_version.into())
}

pub(super) fn latest_model_version(store: &RestStore, name: &str) -> Result<ModelVersion> {
    store
        .get_registered_model(name)?
        .latest_versions
        .into_iter()
        .max_by_key(|v| v.version)
        .ok_or_else(|| TrackingError::NoModelVersions {
            name: name.to_string(),
        })
}

pub(super) fn set_model_alias(
    store: &RestStore,
    name: &str,
    alias: &str,
    version: u64,
) -> Result<()> {
    validate_alias(alias)?;
    let _: serde_json::Value = store.post(
        "registered-models/alias",
        &json!({ "name": name, "alias": alias, "version": version.to_string() }),
    )?;
    Ok(())
}

pub(super) fn get_model_version_by_alias(
    store: &RestStore,
    name: &str,
    alias: &str,
) -> Result<ModelVersion> {
    let resp: ModelVersionResp = store.get(
        "registered-models/alias",
        &[("name", name), ("alias", alias)],
    )?;
    Ok(resp.model_version.into())
}

pub(super) fn list_registered_models(store: &RestStore) -> Result<Vec<RegisteredModel>> {
    let mut out: Vec<RegisteredModel> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut q = vec![("max_results", "1000")];
        if let Some(t) = token.as_deref() {
            q.push(("page_token", t));
        }
        let resp: SearchModelsResp = store.get("registered-models/search", &q)?;
        out.extend(
            resp.registered_models
                .into_iter()
                .map(RegisteredModel::from),
        );
        token = has_more(&resp.next_page_token);
        if token.is_none() {
            break;
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

pub(super) fn get_registered_model(store: &RestStore, name: &str) -> Result<RegisteredModel> {
    let resp: RegisteredModelResp = store.get("registered-models/get", &[("name", name)])?;
    Ok(resp.registered_model.into())
}

pub(super) fn model_versions(store: &RestStore, name: &str) -> Result<Vec<ModelVersion>> {
    // Fails with RESOURCE_DOES_NOT_EXIST for an unknown model, as the embedded store does.
    store.get_registered_model(name)?;
    let filter = format!("name='{}'", name.replace('\'', "\\'"));
    let mut out: Vec<ModelVersion> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut q = vec![("filter", filter.as_str()), ("max_results", "1000")];
        if let Some(t) = token.as_deref() {
            q.push(("page_token", t));
        }
        let resp: SearchModelVersionsResp = store.get("model-versions/search", &q)?;
        out.extend(resp.model_versions.into_iter().map(ModelVersion::from));
        token = has_more(&resp.next_page_token);
        if token.is_none() {
            break;
        }
    }
    out.sort_by_key(|v| v.version);
    Ok(out)
}

pub(super) fn delete_model_version(store: &RestStore, name: &str, version: u64) -> Result<()> {
    let body = json!({ "name": name, "version": version.to_string() });
    let _: Empty = store.delete("model-versions/delete", &body)?;
    Ok(())
}

pub(super) fn delete_registered_model(store: &RestStore, name: &str) -> Result<()> {
    let _: Empty = store.delete("registered-models/delete", &json!({ "name": name }))?;
    Ok(())
}

pub(super) fn delete_model_alias(store: &RestStore, name: &str, alias: &str) -> Result<()> {
    let body = json!({ "name": name, "alias": alias });
    let _: Empty = store.delete("registered-models/alias", &body)?;
    Ok(())
}

pub(super) fn set_model_description(
    store: &RestStore,
    name: &str,
    version: Option<u64>,
    text: &str,
) -> Result<()> {
    let (endpoint, body) = match version {
        None => (
            "registered-models/update",
            json!({ "name": name, "description": text }),
        ),
        Some(v) => (
            "model-versions/update",
            json!({ "name": name, "version": v.to_string(), "description": text }),
        ),
    };
    let _: serde_json::Value = store.patch(endpoint, &body)?;
    Ok(())
}

pub(super) fn set_model_tag(
    store: &RestStore,
    name: &str,
    version: Option<u64>,
    tag: &crate::tracking::model::Tag,
) -> Result<()> {
    crate::tracking::model::validate_tag(tag)?;
    let (endpoint, mut body) = match version {
        None => ("registered-models/set-tag", json!({ "name": name })),
        Some(v) => (
            "model-versions/set-tag",
            json!({ "name": name, "version": v.to_string() }),
        ),
    };
    body["key"] = json!(tag.key);
    body["value"] = json!(tag.value);
    let _: Empty = store.post(endpoint, &body)?;
    Ok(())
}

pub(super) fn delete_model_tag(
    store: &RestStore,
    name: &str,
    version: Option<u64>,
    key: &str,
) -> Result<()> {
    let (endpoint, mut body) = match version {
        None => ("registered-models/delete-tag", json!({ "name": name })),
        Some(v) => (
            "model-versions/delete-tag",
            json!({ "name": name, "version": v.to_string() }),
        ),
    };
    body["key"] = json!(key);
    let _: Empty = store.delete(endpoint, &body)?;
    Ok(())
}
