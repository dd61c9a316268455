//! The UI's scripts and icon, compiled into the binary (`include_str!`): nothing to build, install or
//! fetch from elsewhere, and the pages' policy allows scripts from the UI's own origin only.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// The files by name, with their content type.
const FILES: &[(&str, &str, &str)] = &[
    (
        "runs.js",
        "text/javascript; charset=utf-8",
        include_str!("static/runs.js"),
    ),
    (
        "charts.js",
        "text/javascript; charset=utf-8",
        include_str!("static/charts.js"),
    ),
    (
        "views.js",
        "text/javascript; charset=utf-8",
        include_str!("static/views.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("static/favicon.svg"),
    ),
];

/// `/static/{name}`.
pub(super) async fn script(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, text)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *text,
        )
            .into_response(),
        None => super::html::error(StatusCode::NOT_FOUND, &format!("no file /static/{name}")),
    }
}
