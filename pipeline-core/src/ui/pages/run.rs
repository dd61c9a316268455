//! `/runs/{id}`: one run with its params, tags, metric charts, artifacts and plots.

use super::{bad_query, blocking, not_found, status, Page};
use crate::display::format_time;
use crate::metrics::format_value;
use crate::tracking::model::TAG_PARENT_RUN_ID;
use crate::tracking::query::MAX_PAGE_SIZE;
use crate::tracking::SearchQuery;
use crate::ui::charts;
use crate::ui::downsample;
use crate::ui::html::{esc, page, path_q, q, table};
use crate::ui::UiState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use std::sync::Arc;

/// Query of the run page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RunQuery {
    /// `all`: draw every point of the metric histories instead of the thinned ones.
    points: Option<String>,
}

/// `/runs/{id}`: one run.
pub async fn run(
    State(state): State<Arc<UiState>>,
    Path(id): Path<String>,
    query: Result<Query<RunQuery>, QueryRejection>,
) -> Page {
    let Query(query) = query.map_err(bad_query)?;
    let every_point = query.points.as_deref() == Some("all");
    blocking(move || render(&state, &id, every_point)).await
}

fn render(state: &UiState, id: &str, every_point: bool) -> Page {
    let store = state.reader();
    let store = store.as_ref();
    let run = store.get_run(id).map_err(not_found)?;
    let info = &run.info;
    let mut body = String::from("<div class=\"card\">");
    let parent = run
        .tags
        .iter()
        .find(|t| t.key == TAG_PARENT_RUN_ID)
        .map(|t| t.value.clone());
    body.push_str(&table(
        &["Run ID", "Name", "Status", "Started", "Duration", "Parent"].map(String::from),
        &[vec![
            esc(&info.run_id),
            esc(&info.run_name),
            status(&run),
            format_time(info.start_time),
            info.end_time.map_or_else(
                || "-".into(),
                |end| format!("{:.2} s", (end - info.start_time) as f64 / 1000.0),
            ),
            parent.map_or_else(
                || "-".into(),
                |p| format!("<a href=\"/runs/{}\">{}</a>", q(&p), esc(&p)),
            ),
        ]],
    ));
    body.push_str("</div>");
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
    body.push_str(&kv(run
        .params
        .iter()
        .map(|p| (esc(&p.key), esc(&p.value)))
        .collect()));
    body.push_str("<h2>Metrics</h2>");
    body.push_str(&kv(run
        .metrics
        .iter()
        .map(|m| (esc(&m.key), format_value(m.value)))
        .collect()));
    let mut charts = String::new();
    for metric in &run.metrics {
        let history = store
            .metric_history(&info.run_id, &metric.key)
            .unwrap_or_default();
        if history.len() > 1 {
            let points: Vec<(i64, f64)> = history.iter().map(|m| (m.step, m.value)).collect();
            let drawn = if every_point {
                points.clone()
            } else {
                downsample::min_max(&points, downsample::BUCKETS)
            };
            charts.push_str(&charts::history(&metric.key, &drawn));
            if drawn.len() < points.len() {
                charts.push_str(&format!(
                    "<p class=\"muted\">{} points, drawn as {} (the lowest and highest of each \
                     of {} buckets of steps): <a href=\"/runs/{}?points=all\">draw all</a></p>",
                    points.len(),
                    drawn.len(),
                    downsample::BUCKETS,
                    q(&info.run_id)
                ));
            }
        }
    }
    if !charts.is_empty() {
        body.push_str("<h2>Metric history</h2><div>");
        body.push_str(&charts);
        body.push_str("</div>");
    }
    let files: Vec<(String, u64)> = store
        .list_artifact_files(&info.run_id)
        .unwrap_or_default()
        .into_iter()
        .map(|f| (f.path, f.file_size.unwrap_or(0)))
        .collect();
    let plots: Vec<&(String, u64)> = files
        .iter()
        .filter(|(p, _)| p.ends_with(".svg") || p.ends_with(".png"))
        .collect();
    if !plots.is_empty() {
        body.push_str("<h2>Plots</h2>");
        for (path, _) in plots {
            body.push_str(&format!(
                "<figure class=\"card\"><img alt=\"{p}\" src=\"/runs/{r}/artifacts/{u}\"><figcaption>{p}</figcaption></figure>",
                p = esc(path),
                r = q(&info.run_id),
                u = path_q(path)
            ));
        }
    }
    body.push_str("<h2>Artifacts</h2>");
    let rows: Vec<Vec<String>> = files
        .iter()
        .map(|(path, size)| {
            let url = format!("/runs/{}/artifacts/{}", q(&info.run_id), path_q(path));
            vec![
                format!("<a href=\"{url}\">{}</a>", esc(path)),
                format!("{size}"),
                format!("<a href=\"{url}?download=1\">download</a>"),
            ]
        })
        .collect();
    body.push_str(&table(&["Path", "Bytes", ""].map(String::from), &rows));
    let children = store
        .search_runs(&SearchQuery {
            filter: format!("tags.`{TAG_PARENT_RUN_ID}` = '{}'", info.run_id),
            max_results: MAX_PAGE_SIZE,
            ..SearchQuery::new(std::slice::from_ref(&info.experiment_id))
        })
        .map(|page| page.runs)
        .unwrap_or_default();
    if !children.is_empty() {
        body.push_str("<h2>Stage runs</h2>");
        let rows: Vec<Vec<String>> = children
            .iter()
            .map(|c| {
                vec![
                    format!(
                        "<a href=\"/runs/{}\">{}</a>",
                        q(&c.info.run_id),
                        esc(&c.info.run_name)
                    ),
                    status(c),
                ]
            })
            .collect();
        body.push_str(&table(&["Stage".into(), "Status".into()], &rows));
    }
    body.push_str("<h2>Tags</h2>");
    body.push_str(&kv(run
        .tags
        .iter()
        .map(|t| (esc(&t.key), esc(&t.value)))
        .collect()));
    Ok(page(&format!("Run {}", info.run_name), &body))
}
