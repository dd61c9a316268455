//! `/runs/{id}/artifacts/{path}`: a run's artifact, shown or downloaded.

use super::{fail, not_found};
use crate::ui::UiState;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Query of an artifact request.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ArtifactQuery {
    download: Option<String>,
}

/// `/runs/{id}/artifacts/{path}`: an artifact, shown in the browser or downloaded.
pub async fn artifact(
    State(state): State<Arc<UiState>>,
    Path((id, path)): Path<(String, String)>,
    Query(query): Query<ArtifactQuery>,
) -> Response {
    let scratch = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => return fail(e),
    };
    let file = scratch.path().join("artifact");
    if let Err(e) = state.store.download_artifact(&id, &path, &file) {
        return not_found(e);
    }
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) => {
            return fail(format!(
                "runs:/{id}/{path} is a directory or unreadable: {e}"
            ))
        }
    };
    let kind = match path.rsplit('.').next().unwrap_or_default() {
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        "html" => "text/html; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    };
    let name = path
        .rsplit('/')
        .next()
        .unwrap_or("artifact")
        .replace('"', "");
    let disposition = if query.download.is_some() {
        format!("attachment; filename=\"{name}\"")
    } else {
        format!("inline; filename=\"{name}\"")
    };
    (
        [
            (header::CONTENT_TYPE, kind.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}
