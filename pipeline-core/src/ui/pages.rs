//! The tracking pages: experiments, runs, one run, artifacts, comparison, model registry.

use super::charts;
use super::html::{error, esc, page, path_q, q, table};
use super::UiState;
use crate::display::format_time;
use crate::metrics::format_value;
use crate::tracking::model::TAG_PARENT_RUN_ID;
use crate::tracking::query::MAX_PAGE_SIZE;
use crate::tracking::{Run, SearchQuery};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

type Page = Result<Html<String>, Response>;

fn fail(e: impl std::fmt::Display) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
}

fn not_found(e: impl std::fmt::Display) -> Response {
    error(StatusCode::NOT_FOUND, &e.to_string())
}

fn status(run: &Run) -> String {
    let s = run.info.status.as_str();
    format!("<span class=\"status-{s}\">{s}</span>")
}

/// `/`: every experiment with its number of runs.
pub async fn experiments(State(state): State<Arc<UiState>>) -> Page {
    let store = state.store.as_ref();
    let mut rows = Vec::new();
    for e in store.list_experiments().map_err(fail)? {
        let query = SearchQuery::new(std::slice::from_ref(&e.experiment_id));
        let all = store.count_runs(&query).map_err(fail)?;
        let top = store
            .count_runs(&SearchQuery {
                top_level_only: true,
                ..query
            })
            .map_err(fail)?;
        // A server that cannot count shows no numbers rather than reading every run.
        let shown = |n: Option<u64>| n.map_or_else(|| "-".to_string(), |n| n.to_string());
        rows.push(vec![
            format!(
                "<a href=\"/experiments/{}\">{}</a>",
                q(&e.experiment_id),
                esc(&e.name)
            ),
            esc(&e.experiment_id),
            shown(top),
            shown(all.zip(top).map(|(all, top)| all - top)),
            format_time(e.creation_time),
        ]);
    }
    let headers = ["Experiment", "ID", "Runs", "Stage runs", "Created"].map(String::from);
    Ok(page("Experiments", &table(&headers, &rows)))
}

/// Query of the runs page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RunsQuery {
    filter: Option<String>,
    order_by: Option<String>,
    all: Option<String>,
    page: Option<usize>,
    token: Option<String>,
}

const PAGE_SIZE: usize = 100;

/// `/experiments/{id}`: the runs table with sorting, filtering and pagination.
pub async fn runs(
    State(state): State<Arc<UiState>>,
    Path(id): Path<String>,
    Query(query): Query<RunsQuery>,
) -> Page {
    let store = state.store.as_ref();
    let experiment = store
        .list_experiments()
        .map_err(fail)?
        .into_iter()
        .find(|e| e.experiment_id == id)
        .ok_or_else(|| not_found(format!("no experiment {id}")))?;
    let filter = query.filter.clone().unwrap_or_default();
    let order_by = query.order_by.clone().unwrap_or_default();
    let all = query.all.is_some();
    let order: Vec<String> = (!order_by.is_empty())
        .then(|| order_by.clone())
        .into_iter()
        .collect();
    let mut body = format!(
        "<form method=\"get\" class=\"card\">Filter <input type=\"text\" name=\"filter\" value=\"{f}\" \
         placeholder=\"metrics.accuracy &gt; 0.9 AND params.max_depth = '10'\"> \
         <input type=\"hidden\" name=\"order_by\" value=\"{o}\">\
         <label><input type=\"checkbox\" name=\"all\" value=\"1\"{c}> stage runs</label> \
         <button type=\"submit\">Search</button></form>",
        f = esc(&filter),
        o = esc(&order_by),
        c = if all { " checked" } else { "" }
    );
    let page_no = query.page.unwrap_or(0);
    let mut search = SearchQuery {
        filter: filter.clone(),
        order_by: order,
        max_results: PAGE_SIZE,
        top_level_only: !all,
        ..SearchQuery::new(std::slice::from_ref(&experiment.experiment_id))
    };
    // Page N by offset where the store can seek; otherwise by the token of a "next" link.
    search.page_token = match &query.token {
        Some(token) => Some(token.clone()),
        None if page_no > 0 => store.page_token_at(page_no * PAGE_SIZE),
        None => None,
    };
    let found = store
        .count_runs(&search)
        .and_then(|total| Ok((total, store.search_runs(&search)?)));
    let (total, found) = match found {
        Ok(found) => found,
        Err(e) => {
            body.push_str(&format!(
                "<div class=\"error\">{}</div>",
                esc(&e.to_string())
            ));
            return Ok(page(&experiment.name, &body));
        }
    };
    let page_no = if search.page_token.is_some() && total.is_some() {
        page_no
    } else {
        0
    };
    let shown: Vec<&Run> = found.runs.iter().collect();
    let metric_keys: BTreeSet<&str> = shown
        .iter()
        .flat_map(|r| r.metrics.iter().map(|m| m.key.as_str()))
        .filter(|k| !k.contains('.') || all)
        .collect();
    let param_keys: BTreeSet<&str> = shown
        .iter()
        .flat_map(|r| r.params.iter().map(|p| p.key.as_str()))
        .collect();
    let link = |sort: &str| {
        let desc = format!("{sort} DESC");
        let next = if order_by == desc {
            format!("{sort} ASC")
        } else {
            desc
        };
        let mark = if order_by.starts_with(sort) {
            if order_by.ends_with("ASC") {
                " ▲"
            } else {
                " ▼"
            }
        } else {
            ""
        };
        format!(
            "<a href=\"?filter={}&order_by={}{}\">{}{mark}</a>",
            q(&filter),
            q(&next),
            if all { "&all=1" } else { "" },
            esc(sort.split_once('.').map_or(sort, |s| s.1).trim_matches('`'))
        )
    };
    let mut headers = vec![
        String::new(),
        "Run".to_string(),
        "Status".to_string(),
        link("attributes.start_time"),
    ];
    headers.extend(metric_keys.iter().map(|k| link(&format!("metrics.`{k}`"))));
    headers.extend(param_keys.iter().map(|k| link(&format!("params.`{k}`"))));
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|r| {
            let id = &r.info.run_id;
            let mut row = vec![
                format!(
                    "<input type=\"checkbox\" name=\"runs\" value=\"{}\">",
                    esc(id)
                ),
                format!("<a href=\"/runs/{}\">{}</a>", q(id), esc(&r.info.run_name)),
                status(r),
                format_time(r.info.start_time),
            ];
            row.extend(metric_keys.iter().map(|k| {
                r.metric(k)
                    .map_or_else(|| "-".into(), |m| format_value(m.value))
            }));
            row.extend(param_keys.iter().map(|k| esc(r.param(k).unwrap_or("-"))));
            row
        })
        .collect();
    let total_text = total.map_or_else(|| "Many".to_string(), |t| t.to_string());
    let total = total.map_or(usize::MAX, |t| usize::try_from(t).unwrap_or(usize::MAX));
    body.push_str(&format!(
        "<p class=\"muted\">{total_text} runs; {} to {}</p>\
         <form method=\"get\" action=\"/compare\">{}<p><button type=\"submit\">Compare selected</button></p></form>",
        (page_no * PAGE_SIZE + 1).min(total),
        (page_no * PAGE_SIZE + shown.len()),
        table(&headers, &rows)
    ));
    if total == usize::MAX {
        if let Some(next) = &found.next_page_token {
            body.push_str(&format!(
                "<p><a href=\"?filter={}&order_by={}&token={}{}\">Next page</a></p>",
                q(&filter),
                q(&order_by),
                q(next),
                if all { "&all=1" } else { "" },
            ));
        }
    }
    let pages = if total == usize::MAX {
        0
    } else {
        total.div_ceil(PAGE_SIZE)
    };
    if pages > 1 {
        let nav: Vec<String> = (0..pages)
            .map(|p| {
                if p == page_no {
                    format!("<b>{}</b>", p + 1)
                } else {
                    format!(
                        "<a href=\"?filter={}&order_by={}&page={p}{}\">{}</a>",
                        q(&filter),
                        q(&order_by),
                        if all { "&all=1" } else { "" },
                        p + 1
                    )
                }
            })
            .collect();
        body.push_str(&format!("<p>Page {}</p>", nav.join(" ")));
    }
    Ok(page(&format!("Experiment {}", experiment.name), &body))
}

/// `/runs/{id}`: one run.
pub async fn run(State(state): State<Arc<UiState>>, Path(id): Path<String>) -> Page {
    let store = state.store.as_ref();
    let run = store.get_run(&id).map_err(not_found)?;
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
            charts.push_str(&charts::history(&metric.key, &points));
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

/// `/compare?runs=a&runs=b…`: runs side by side, with a parallel-coordinates chart.
pub async fn compare(State(state): State<Arc<UiState>>, RawQuery(query): RawQuery) -> Page {
    let ids: Vec<String> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "runs")
        .map(|(_, v)| v.into_owned())
        .collect();
    if ids.len() < 2 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "select two or more runs to compare",
        ));
    }
    let mut runs: Vec<Run> = Vec::with_capacity(ids.len());
    for id in &ids {
        runs.push(state.store.get_run(id).map_err(not_found)?);
    }
    let mut rows: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        for p in &run.params {
            rows.entry(format!("params.{}", p.key))
                .or_insert_with(|| vec![None; runs.len()])[i] = Some(p.value.clone());
        }
        for m in &run.metrics {
            rows.entry(format!("metrics.{}", m.key))
                .or_insert_with(|| vec![None; runs.len()])[i] = Some(format_value(m.value));
        }
    }
    let mut headers = vec!["Key".to_string()];
    headers.extend(runs.iter().map(|r| {
        format!(
            "<a href=\"/runs/{}\">{}</a>",
            q(&r.info.run_id),
            esc(&r.info.run_name)
        )
    }));
    let mut html_rows = String::new();
    for (key, values) in &rows {
        let differs = values.iter().any(|v| v != &values[0]);
        html_rows.push_str(&format!(
            "<tr{}><td>{}</td>",
            if differs { " class=\"diff\"" } else { "" },
            esc(key)
        ));
        for v in values {
            html_rows.push_str(&format!(
                "<td>{}</td>",
                v.as_deref().map(esc).unwrap_or_else(|| "-".into())
            ));
        }
        html_rows.push_str("</tr>");
    }
    // The chart shows what differs: varying params, then top-level metrics.
    let axes: Vec<String> = rows
        .iter()
        .filter(|(k, v)| {
            let varies = v.iter().any(|x| x != &v[0]);
            (k.starts_with("params.") && varies)
                || (k.starts_with("metrics.") && !k[8..].contains('.'))
        })
        .map(|(k, _)| k.clone())
        .collect();
    let series: Vec<(String, Vec<Option<String>>)> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            (
                r.info.run_name.clone(),
                axes.iter().map(|k| rows[k][i].clone()).collect(),
            )
        })
        .collect();
    let labels: Vec<String> = axes
        .iter()
        .map(|k| k.split_once('.').map_or(k.clone(), |s| s.1.to_string()))
        .collect();
    let body = format!(
        "<div class=\"card\">{}</div><h2>Params and metrics</h2><table><thead><tr>{}</tr></thead><tbody>{html_rows}</tbody></table>",
        charts::parallel(&labels, &series),
        headers.iter().map(|h| format!("<th>{h}</th>")).collect::<String>()
    );
    Ok(page(&format!("Comparing {} runs", runs.len()), &body))
}

/// `/models`: registered models, their versions and aliases.
pub async fn models(State(state): State<Arc<UiState>>) -> Page {
    let store = state.store.as_ref();
    let models = store.list_registered_models().map_err(fail)?;
    if models.is_empty() {
        return Ok(page(
            "Models",
            "<p class=\"muted\">No registered models. Register one with <code>models register runs:/&lt;run id&gt;/model --name NAME</code>.</p>",
        ));
    }
    let mut body = String::new();
    for model in &models {
        let rows: Vec<Vec<String>> = store
            .model_versions(model)
            .map_err(fail)?
            .into_iter()
            .map(|v| {
                let aliases: Vec<String> = model
                    .aliases
                    .iter()
                    .filter(|(_, n)| *n == v.version)
                    .map(|(a, _)| format!("@{}", esc(a)))
                    .collect();
                let run = v.run_id.clone().unwrap_or_default();
                vec![
                    v.version.to_string(),
                    aliases.join(" "),
                    esc(&v.source),
                    format!("<a href=\"/runs/{}\">{}</a>", q(&run), esc(&run)),
                    format_time(v.creation_time),
                ]
            })
            .collect();
        body.push_str(&format!("<h2>{}</h2>", esc(&model.name)));
        body.push_str(&table(
            &["Version", "Aliases", "Source", "Run", "Created"].map(String::from),
            &rows,
        ));
    }
    Ok(page("Models", &body))
}
