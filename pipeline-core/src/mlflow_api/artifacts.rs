//! The artifact proxy, `/api/2.0/mlflow-artifacts/artifacts`: what MLflow's client uses for
//! `mlflow-artifacts:/` URIs. A path is `<experiment>/<run>/artifacts/<file>` or
//! `<experiment>/models/<model id>/artifacts/<file>`; the file part is confined to its run or
//! model (no `..`, no absolute path), and the bytes land in the one content store.

use std::io::Write as _;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::{blocking, Reply, Store};
use crate::tracking::model::normalize_artifact_path;
use crate::tracking::{FileInfo, TrackingStore};

/// The largest artifact one upload may carry.
const MAX_UPLOAD_BYTES: u64 = 8 << 30;

/// Whose files a proxy path names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owner {
    Run(String),
    Model(String),
}

/// A proxy path resolved: whose files, and the path among them (`""` for the root).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Located {
    experiment: String,
    owner: Owner,
    path: String,
}

fn parse(path: &str) -> Result<Located, ApiError> {
    let bad = || {
        ApiError::invalid(format!(
            "invalid artifact path '{path}': expected <experiment>/<run id>/artifacts/… or \
             <experiment>/models/<model id>/artifacts/…"
        ))
    };
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (experiment, owner, rest) = match parts.as_slice() {
        [exp, "models", id, "artifacts", rest @ ..] => (*exp, Owner::Model(id.to_string()), rest),
        [exp, run, "artifacts", rest @ ..] => (*exp, Owner::Run(run.to_string()), rest),
        _ => return Err(bad()),
    };
    let plain =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let id_ok = match &owner {
        Owner::Run(id) | Owner::Model(id) => plain(id),
    };
    if !plain(experiment) || !id_ok {
        return Err(bad());
    }
    let path =
        normalize_artifact_path(&rest.join("/")).map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok(Located {
        experiment: experiment.to_string(),
        owner,
        path,
    })
}

/// Checks the run or model exists and belongs to the experiment the path names.
fn check(store: &dyn TrackingStore, at: &Located) -> Result<(), ApiError> {
    let experiment = match &at.owner {
        Owner::Run(id) => store.get_run(id)?.info.experiment_id,
        Owner::Model(id) => store.get_logged_model(id)?.experiment_id,
    };
    if experiment != at.experiment {
        return Err(ApiError::not_found(format!(
            "no artifacts at '{}/…': that run or model belongs to experiment {experiment}",
            at.experiment
        )));
    }
    Ok(())
}

fn list_of(store: &dyn TrackingStore, at: &Located) -> Result<Vec<FileInfo>, ApiError> {
    let dir = (!at.path.is_empty()).then_some(at.path.as_str());
    Ok(match &at.owner {
        Owner::Run(id) => store.list_artifacts(id, dir)?,
        Owner::Model(id) => store.list_model_artifacts(id, dir)?,
    })
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    path: Option<String>,
}

/// `GET …/artifacts?path=<dir>`: the directory's entries, by base name as MLflow answers.
pub(crate) async fn list(State(store): State<Store>, Query(query): Query<ListQuery>) -> Reply {
    let at = parse(query.path.as_deref().unwrap_or(""))?;
    let files = blocking(&store, move |s| {
        check(s, &at)?;
        list_of(s, &at)
    })
    .await?;
    let files: Vec<Value> = files
        .iter()
        .map(|f| {
            let name = f.path.rsplit('/').next().unwrap_or(&f.path);
            match f.file_size {
                Some(size) => json!({ "path": name, "is_dir": f.is_dir, "file_size": size }),
                None => json!({ "path": name, "is_dir": f.is_dir }),
            }
        })
        .collect();
    Ok(Json(json!({ "files": files })))
}

/// `GET …/artifacts/<path>`: one file's bytes.
pub(crate) async fn download(
    State(store): State<Store>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let at = parse(&path)?;
    if at.path.is_empty() {
        return Err(ApiError::invalid(
            "a directory cannot be downloaded; list it instead",
        ));
    }
    let bytes = blocking(&store, move |s| {
        check(s, &at)?;
        let scratch =
            tempfile::tempdir().map_err(|e| ApiError::internal(format!("scratch space: {e}")))?;
        let dest = scratch.path().join("file");
        match &at.owner {
            Owner::Run(id) => s.download_artifact(id, &at.path, &dest)?,
            Owner::Model(id) => s.download_model_artifact(id, &at.path, &dest)?,
        }
        if dest.is_dir() {
            return Err(ApiError::invalid(format!(
                "'{}' is a directory; list it instead",
                at.path
            )));
        }
        std::fs::read(&dest).map_err(|e| ApiError::internal(format!("reading {}: {e}", at.path)))
    })
    .await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        bytes,
    )
        .into_response())
}

/// `PUT …/artifacts/<path>`: stores the body as that file, written to scratch space first so a
/// broken upload stores nothing.
pub(crate) async fn upload(
    State(store): State<Store>,
    Path(path): Path<String>,
    body: Body,
) -> Reply {
    let at = parse(&path)?;
    if at.path.is_empty() {
        return Err(ApiError::invalid(
            "an upload names a file under the artifact root",
        ));
    }
    {
        let at = at.clone();
        blocking(&store, move |s| check(s, &at)).await?;
    }
    let mut file = tempfile::NamedTempFile::new()
        .map_err(|e| ApiError::internal(format!("scratch space: {e}")))?;
    let mut stream = body.into_data_stream();
    let mut written: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::malformed(StatusCode::BAD_REQUEST, format!("reading the upload: {e}"))
        })?;
        written += chunk.len() as u64;
        if written > MAX_UPLOAD_BYTES {
            return Err(ApiError::malformed(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("an artifact may be at most {MAX_UPLOAD_BYTES} bytes"),
            ));
        }
        file.write_all(&chunk)
            .map_err(|e| ApiError::internal(format!("writing the upload: {e}")))?;
    }
    blocking(&store, move |s| {
        file.flush()
            .map_err(|e| ApiError::internal(format!("writing the upload: {e}")))?;
        match &at.owner {
            Owner::Run(id) => s.log_artifact(id, file.path(), &at.path)?,
            Owner::Model(id) => s.log_model_artifact(id, file.path(), &at.path)?,
        }
        Ok(())
    })
    .await?;
    Ok(Json(json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_paths_are_confined_to_their_run_or_model() {
        let at = parse("1/abc123/artifacts/model/MLmodel").unwrap();
        assert_eq!(at.owner, Owner::Run("abc123".into()));
        assert_eq!(
            (at.experiment.as_str(), at.path.as_str()),
            ("1", "model/MLmodel")
        );
        let at = parse("0/models/m-0123/artifacts").unwrap();
        assert_eq!(at.owner, Owner::Model("m-0123".into()));
        assert_eq!(at.path, "");
        for bad in [
            "1/abc/artifacts/../../etc/passwd",
            "1/abc/artifacts//etc/passwd",
            "../x/artifacts/a",
            "1/a.b/artifacts/x",
            "1/abc/files/x",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
