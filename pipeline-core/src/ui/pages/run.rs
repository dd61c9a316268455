//! `/runs/{id}`: one run. A breadcrumb (experiment › pipeline run › stage run), its parent and
//! stage runs by name, the registered model versions made from it, params, metrics with their
//! histories charted by step or time (`static/views.js`, from `/runs/{id}/metrics/{key}`), plots,
//! an artifact tree whose files preview in the page (`preview.rs`), and tags.

use super::{bad_query, blocking, not_found, preview, status, Page};
use crate::display::format_time;
use crate::metrics::format_value;
use crate::tracking::model::TAG_PARENT_RUN_ID;
use crate::tracking::query::MAX_PAGE_SIZE;
use crate::tracking::{Run, SearchQuery, TrackingStore};
use crate::ui::html::{esc, json_block, page, path_q, q, table};
use crate::ui::UiState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Query of the run page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RunQuery {
    /// An artifact to preview in the page.
    preview: Option<String>,
}

/// `/runs/{id}`: one run.
pub async fn run(
    State(state): State<Arc<UiState>>,
    Path(id): Path<String>,
    query: Result<Query<RunQuery>, QueryRejection>,
) -> Page {
    let Query(query) = query.map_err(bad_query)?;
    blocking(move || render(&state, &id, query.preview.as_deref())).await
}

fn link(run: &Run) -> String {
    format!(
        "<a href=\"/runs/{}\">{}</a>",
        q(&run.info.run_id),
        esc(&run.info.run_name)
    )
}

fn render(state: &UiState, id: &str, preview_path: Option<&str>) -> Page {
    let store = state.reader();
    let store = store.as_ref();
    let run = store.get_run(id).map_err(not_found)?;
    let info = &run.info;
    let parent = run
        .tag(TAG_PARENT_RUN_ID)
        .and_then(|p| store.get_run(p).ok());
    let experiment = store.list_experiments().ok().and_then(|all| {
        all.into_iter()
            .find(|e| e.experiment_id == info.experiment_id)
    });
    let mut crumbs = vec!["<a href=\"/\">Experiments</a>".to_string()];
    if let Some(e) = &experiment {
        crumbs.push(format!(
            "<a href=\"/experiments/{}\">{}</a>",
            q(&e.experiment_id),
            esc(&e.name)
        ));
    }
    if let Some(p) = &parent {
        crumbs.push(link(p));
    }
    crumbs.push(esc(&info.run_name));
    let mut body = format!("<p class=\"crumbs\">{}</p>", crumbs.join(" › "));
    let children = store
        .search_runs(&SearchQuery {
            filter: format!("tags.`{TAG_PARENT_RUN_ID}` = '{}'", info.run_id),
            order_by: vec!["attributes.start_time ASC".into()],
            max_results: MAX_PAGE_SIZE,
            ..SearchQuery::new(std::slice::from_ref(&info.experiment_id))
        })
        .map(|page| page.runs)
        .unwrap_or_default();
    body.push_str("<div class=\"card\">");
    body.push_str(&table(
        &[
            "Run ID",
            "Status",
            "Started",
            "Duration",
            "Parent",
            "Stage runs",
        ]
        .map(String::from),
        &[vec![
            esc(&info.run_id),
            status(&run),
            format_time(info.start_time),
            info.end_time.map_or_else(
                || "-".into(),
                |end| format!("{:.2} s", (end - info.start_time) as f64 / 1000.0),
            ),
            parent.as_ref().map_or_else(|| "-".into(), link),
            if children.is_empty() {
                "-".into()
            } else {
                children.iter().map(link).collect::<Vec<_>>().join(" · ")
            },
        ]],
    ));
    body.push_str("</div>");
    body.push_str(&registered_versions(store, &run, &children));
    let kv = |rows: Vec<(String, String)>| {
        table(
            &["Key".into(), "Value".into()],
            &rows
                .into_iter()
                .map(|(k, v)| vec![k, v])
                .collect::<Vec<_>>(),
        )
    };
    body.push_str("<h2>Params</h2>");
    body.push_str(&kv(crate::display::distinct_params(&run)
        .into_iter()
        .map(|p| (esc(&p.key), esc(&p.value)))
        .collect()));
    body.push_str("<h2>Metrics</h2>");
    body.push_str(&kv(run
        .metrics
        .iter()
        .map(|m| {
            let all = format!("/runs/{}/metrics/{}?points=all", q(&info.run_id), q(&m.key));
            (
                esc(&m.key),
                format!(
                    "<span class=\"num\">{}</span> <a class=\"muted\" href=\"{}\">history</a>",
                    format_value(m.value),
                    esc(&all)
                ),
            )
        })
        .collect()));
    // Histories of more than one point are charted by the page's script.
    let charted: Vec<&str> = run
        .metrics
        .iter()
        .filter(|m| {
            store
                .metric_history(&info.run_id, &m.key)
                .is_ok_and(|h| h.len() > 1)
        })
        .map(|m| m.key.as_str())
        .collect();
    if !charted.is_empty() {
        body.push_str("<h2>Metric history</h2>");
        body.push_str(&json_block(
            "run-data",
            &serde_json::json!({"run": info.run_id, "name": info.run_name, "keys": charted}),
        ));
        body.push_str("<div id=\"run-charts\"></div>");
    }
    let files = store.list_artifact_files(&info.run_id).unwrap_or_default();
    let plots: Vec<&str> = files
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| p.ends_with(".svg") || p.ends_with(".png"))
        .collect();
    if !plots.is_empty() {
        body.push_str("<h2>Plots</h2>");
        for path in plots {
            body.push_str(&format!(
                "<figure class=\"card\"><img alt=\"{p}\" src=\"/runs/{r}/artifacts/{u}\"><figcaption>{p}</figcaption></figure>",
                p = esc(path),
                r = q(&info.run_id),
                u = path_q(path)
            ));
        }
    }
    body.push_str("<h2>Artifacts</h2>");
    if files.is_empty() {
        body.push_str("<p class=\"muted\">No artifacts.</p>");
    } else {
        let paths: Vec<(String, u64)> = files
            .iter()
            .map(|f| (f.path.clone(), f.file_size.unwrap_or(0)))
            .collect();
        body.push_str("<div class=\"artifacts\"><div class=\"card tree\">");
        body.push_str(&tree(&info.run_id, &paths, preview_path));
        body.push_str("</div>");
        if let Some(path) = preview_path {
            body.push_str(&preview::section(store, &info.run_id, path));
        }
        body.push_str("</div>");
    }
    body.push_str("<h2>Tags</h2>");
    body.push_str(&kv(run
        .tags
        .iter()
        .map(|t| (esc(&t.key), esc(&t.value)))
        .collect()));
    Ok(page(&format!("Run {}", info.run_name), &body))
}

/// The registered versions whose source run is this run or one of its stage runs.
fn registered_versions(store: &dyn TrackingStore, run: &Run, children: &[Run]) -> String {
    let ids: Vec<&str> = std::iter::once(run.info.run_id.as_str())
        .chain(children.iter().map(|c| c.info.run_id.as_str()))
        .collect();
    let mut rows = Vec::new();
    for model in store.list_registered_models().unwrap_or_default() {
        for v in store.model_versions(&model.name).unwrap_or_default() {
            if v.run_id.as_deref().is_some_and(|r| ids.contains(&r)) {
                rows.push(vec![
                    format!(
                        "<a href=\"/models/{}/versions/{}\">{} version {}</a>",
                        q(&model.name),
                        v.version,
                        esc(&model.name),
                        v.version
                    ),
                    esc(&v.source),
                ]);
            }
        }
    }
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "<h2>Registered versions</h2>{}",
        table(&["Model version".into(), "Source".into()], &rows)
    )
}

/// Nested lists of the run's artifacts: directories open and link to their listing, files to
/// their preview in this page and to their download.
fn tree(run_id: &str, files: &[(String, u64)], open: Option<&str>) -> String {
    #[derive(Default)]
    struct Dir {
        dirs: BTreeMap<String, Dir>,
        files: Vec<(String, String, u64)>,
    }
    let mut root = Dir::default();
    for (path, size) in files {
        let parts: Vec<&str> = path.split('/').collect();
        let mut dir = &mut root;
        for part in &parts[..parts.len() - 1] {
            dir = dir.dirs.entry((*part).to_string()).or_default();
        }
        dir.files
            .push((parts[parts.len() - 1].to_string(), path.clone(), *size));
    }
    fn walk(run_id: &str, prefix: &str, dir: &Dir, open: Option<&str>, out: &mut String) {
        out.push_str("<ul>");
        for (name, sub) in &dir.dirs {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            out.push_str(&format!(
                "<li><details open><summary>{}/ <a class=\"muted\" href=\"/runs/{}/artifacts/{}\">list</a></summary>",
                esc(name),
                q(run_id),
                path_q(&path)
            ));
            walk(run_id, &path, sub, open, out);
            out.push_str("</details></li>");
        }
        for (name, path, size) in &dir.files {
            let current = if open == Some(path.as_str()) {
                " class=\"current\""
            } else {
                ""
            };
            out.push_str(&format!(
                "<li{current}><a href=\"/runs/{r}?preview={p}#preview\" data-artifact=\"{e}\">{n}</a> \
                 <span class=\"muted\">{size} B</span> \
                 <a class=\"muted\" href=\"/runs/{r}/artifacts/{u}?download=1\">download</a></li>",
                r = q(run_id),
                p = q(path),
                e = esc(path),
                n = esc(name),
                u = path_q(path)
            ));
        }
        out.push_str("</ul>");
    }
    let mut out = String::new();
    walk(run_id, "", &root, open, &mut out);
    out
}
