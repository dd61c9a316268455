//! `/runs/{id}/artifacts/{path}`: a run's artifact, shown, downloaded or (a directory) listed.
//!
//! Artifacts are content anyone who can log to the store wrote, and the UI serves them on its
//! own origin, so none of them may run code there:
//!
//! - every artifact response carries `Content-Security-Policy: sandbox` (the browser gives the
//!   document an opaque origin and runs no script in it) and, like every response of the UI,
//!   `X-Content-Type-Options: nosniff`;
//! - only formats a browser displays without running code are shown inline: raster images,
//!   plain text (JSON, CSV, logs, YAML, TOML, Markdown shown as text) and SVG, which is shown
//!   inline only under that sandbox (the run page's plots are `<img>` tags, where SVG never
//!   runs script anyway);
//! - HTML, XHTML, XML, JavaScript, PDF and every extension not listed are attachments: the
//!   browser saves them instead of rendering them.
//!
//! A directory answers with a page listing its entries, each a link.

use super::{fail, not_found};
use crate::tracking::FileInfo;
use crate::ui::html::{esc, page, path_q, q, table};
use crate::ui::UiState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The policy of every artifact response: no script, no plugin, an opaque origin; styles and
/// images inside the document (an SVG's own `<style>`, a data: image) still render.
pub const ARTIFACT_CSP: &str =
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// Query of an artifact request.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ArtifactQuery {
    download: Option<String>,
}

/// How an artifact is served: its content type and whether a browser may render it inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Serving {
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// Shown in the browser (`inline`) rather than saved (`attachment`).
    pub inline: bool,
}

/// How an artifact at `path` is served, by its extension (see the module docs for the policy).
pub fn serving(path: &str) -> Serving {
    let name = path.rsplit('/').next().unwrap_or_default();
    let ext = match name.rsplit_once('.') {
        Some((_, ext)) => ext.to_ascii_lowercase(),
        None => String::new(),
    };
    let (content_type, inline) = match ext.as_str() {
        "png" => ("image/png", true),
        "jpg" | "jpeg" => ("image/jpeg", true),
        "gif" => ("image/gif", true),
        "webp" => ("image/webp", true),
        "svg" => ("image/svg+xml", true),
        "json" => ("application/json", true),
        "txt" | "log" | "csv" | "tsv" | "md" | "yaml" | "yml" | "toml" | "lock" | "ptr" => {
            ("text/plain; charset=utf-8", true)
        }
        "html" | "htm" => ("text/html; charset=utf-8", false),
        "xhtml" => ("application/xhtml+xml", false),
        "xml" => ("application/xml", false),
        "js" | "mjs" => ("text/javascript", false),
        "pdf" => ("application/pdf", false),
        _ => ("application/octet-stream", false),
    };
    Serving {
        content_type,
        inline,
    }
}

/// A `Content-Disposition` value naming the file: an ASCII `filename` for every browser and the
/// exact name as `filename*` (RFC 6266), so no name can break the header.
fn disposition(kind: &str, path: &str) -> String {
    let name = path.rsplit('/').next().filter(|n| !n.is_empty());
    let name = name.unwrap_or("artifact");
    let ascii: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    let exact = path_q(name);
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{exact}")
}

/// `/runs/{id}/artifacts/{path}`: a file, shown in the browser or downloaded, or a directory's
/// listing.
pub async fn artifact(
    State(state): State<Arc<UiState>>,
    Path((id, path)): Path<(String, String)>,
    query: Result<Query<ArtifactQuery>, QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(query) => query,
        Err(rejection) => return super::bad_query(rejection),
    };
    match super::blocking(move || Ok(respond(&state, &id, &path, &query))).await {
        Ok(response) | Err(response) => response,
    }
}

fn respond(state: &UiState, id: &str, path: &str, query: &ArtifactQuery) -> Response {
    let store = state.reader();
    let (id, path) = (id.to_string(), path.to_string());
    let path = path.trim_end_matches('/').to_string();
    // A directory lists its children; a file (or nothing) lists none, in both backends.
    match store.list_artifacts(&id, Some(&path)) {
        Ok(children) if !children.is_empty() => return directory(state, &id, &path, &children),
        Ok(_) => {}
        Err(e) => return not_found(e),
    }
    let scratch = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => return fail(e),
    };
    let file = scratch.path().join("artifact");
    if let Err(e) = store.download_artifact(&id, &path, &file) {
        return not_found(e);
    }
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) => return fail(format!("runs:/{id}/{path} is unreadable: {e}")),
    };
    let serving = serving(&path);
    let kind = if serving.inline && query.download.is_none() {
        "inline"
    } else {
        "attachment"
    };
    (
        [
            (header::CONTENT_TYPE, serving.content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition(kind, &path)),
            (header::CONTENT_SECURITY_POLICY, ARTIFACT_CSP.to_string()),
        ],
        bytes,
    )
        .into_response()
}

/// The listing of an artifact directory: each entry links to its file or subdirectory.
fn directory(state: &UiState, id: &str, path: &str, children: &[FileInfo]) -> Response {
    let run = match state.reader().get_run(id) {
        Ok(run) => run,
        Err(e) => return not_found(e),
    };
    let run_id = &run.info.run_id;
    let rows: Vec<Vec<String>> = children
        .iter()
        .map(|child| {
            let name = child.path.rsplit('/').next().unwrap_or(&child.path);
            let url = format!("/runs/{}/artifacts/{}", q(run_id), path_q(&child.path));
            if child.is_dir {
                vec![
                    format!("<a href=\"{url}\">{}/</a>", esc(name)),
                    "directory".into(),
                    String::new(),
                ]
            } else {
                vec![
                    format!("<a href=\"{url}\">{}</a>", esc(name)),
                    child.file_size.map_or_else(String::new, |s| s.to_string()),
                    format!("<a href=\"{url}?download=1\">download</a>"),
                ]
            }
        })
        .collect();
    let up = match path.rsplit_once('/') {
        Some((parent, _)) => format!(
            "<a href=\"/runs/{}/artifacts/{}\">{}/</a>",
            q(run_id),
            path_q(parent),
            esc(parent)
        ),
        None => format!(
            "<a href=\"/runs/{}\">run {}</a>",
            q(run_id),
            esc(&run.info.run_name)
        ),
    };
    let body = format!(
        "<p class=\"muted\">Up: {up}</p>{}",
        table(&["Name", "Bytes", ""].map(String::from), &rows)
    );
    page(&format!("{path}/ (run {})", run.info.run_name), &body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_formats_that_run_no_code_are_inline() {
        for path in ["a.png", "b/c.SVG", "m.json", "x.csv", "notes.txt", "p.jpeg"] {
            assert!(serving(path).inline, "{path}");
        }
        for path in [
            "report.html",
            "r.HTM",
            "page.xhtml",
            "feed.xml",
            "app.js",
            "doc.pdf",
            "model.pkl",
            "noext",
            "dir.html/file",
        ] {
            assert!(!serving(path).inline, "{path}");
        }
        assert_eq!(serving("x.bin").content_type, "application/octet-stream");
    }

    #[test]
    fn dispositions_cannot_break_the_header() {
        assert_eq!(
            disposition("attachment", "a/r\"e\\p\u{e9}\r\n.html"),
            "attachment; filename=\"r_e_p___.html\"; filename*=UTF-8''r%22e%5Cp%C3%A9%0D%0A.html"
        );
        assert!(axum::http::HeaderValue::from_str(&disposition("inline", "ü.png")).is_ok());
    }
}
