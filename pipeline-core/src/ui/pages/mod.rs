//! The pages of the UI, one file each; the helpers they share are here.

// A page renders to `Result<Html, Response>`: the error is the finished error page, returned
// once per request, so its size does not matter and boxing it would only add noise.
#![allow(clippy::result_large_err)]

mod artifact;
mod charts;
mod columns;
mod compare;
mod experiments;
mod models;
mod pipeline;
mod preview;
mod run;
mod runs;

pub use artifact::artifact;
pub use charts::{experiment_charts, metric_history};
pub use compare::compare;
pub use experiments::experiments;
pub use models::{model, models, version};
pub use pipeline::page as pipeline;
pub use run::run;
pub use runs::{runs, stages};

use super::html::error;
use crate::tracking::Run;
use axum::http::StatusCode;
use axum::response::{Html, Response};

pub(super) type Page = Result<Html<String>, Response>;

/// Runs `render` (which reads the store) on tokio's blocking pool, so that a slow query holds a
/// blocking thread rather than an async worker every other request needs.
pub(super) async fn blocking<T: Send + 'static>(
    render: impl FnOnce() -> Result<T, Response> + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(render).await.map_err(fail)?
}

pub(super) fn fail(e: impl std::fmt::Display) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
}

/// The styled 400 page for a query string a page cannot read (`?page=abc`).
pub(super) fn bad_query(rejection: axum::extract::rejection::QueryRejection) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        &format!("bad query parameter: {}", rejection.body_text()),
    )
}

pub(super) fn not_found(e: impl std::fmt::Display) -> Response {
    error(StatusCode::NOT_FOUND, &e.to_string())
}

pub(super) fn status(run: &Run) -> String {
    let s = run.info.status.as_str();
    format!("<span class=\"status-{s}\">{s}</span>")
}
