//! The pages of the UI, one file each; the helpers they share are here.

mod artifact;
mod compare;
mod experiments;
mod models;
mod pipeline;
mod run;
mod runs;

pub use artifact::artifact;
pub use compare::compare;
pub use experiments::experiments;
pub use models::models;
pub use pipeline::page as pipeline;
pub use run::run;
pub use runs::runs;

use super::html::error;
use crate::tracking::Run;
use axum::http::StatusCode;
use axum::response::{Html, Response};

pub(super) type Page = Result<Html<String>, Response>;

pub(super) fn fail(e: impl std::fmt::Display) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
}

pub(super) fn not_found(e: impl std::fmt::Display) -> Response {
    error(StatusCode::NOT_FOUND, &e.to_string())
}

pub(super) fn status(run: &Run) -> String {
    let s = run.info.status.as_str();
    format!("<span class=\"status-{s}\">{s}</span>")
}
