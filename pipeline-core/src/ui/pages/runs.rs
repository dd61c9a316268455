//! `/experiments/{id}`: one page of an experiment's runs, filtered and sorted by the store.

use super::{bad_query, blocking, fail, not_found, status, Page};
use crate::display::{distinct_params, format_time};
use crate::metrics::format_value;
use crate::tracking::{Run, SearchQuery};
use crate::ui::html::{esc, page, q, table};
use crate::ui::UiState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use std::collections::BTreeSet;
use std::sync::Arc;

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
    query: Result<Query<RunsQuery>, QueryRejection>,
) -> Page {
    let Query(query) = query.map_err(bad_query)?;
    blocking(move || render(&state, &id, &query)).await
}

fn render(state: &UiState, id: &str, query: &RunsQuery) -> Page {
    let store = state.reader();
    let store = store.as_ref();
    let experiment = store
        .list_experiments()
        .map_err(fail)?
        .into_iter()
        .find(|e| e.experiment_id == *id)
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
    let mut search = SearchQuery {
        filter: filter.clone(),
        order_by: order,
        max_results: PAGE_SIZE,
        top_level_only: !all,
        ..SearchQuery::new(std::slice::from_ref(&experiment.experiment_id))
    };
    let found = store.count_runs(&search).and_then(|total| {
        // A page past the last shows the last one (`?page=99` on 10 runs shows runs 1 to 10).
        let last =
            total.map(|t| usize::try_from(t).unwrap_or(usize::MAX).saturating_sub(1) / PAGE_SIZE);
        let page_no = query.page.unwrap_or(0).min(last.unwrap_or(usize::MAX));
        // Page N by offset where the store can seek; otherwise by the token of a "next" link.
        search.page_token = match &query.token {
            Some(token) => Some(token.clone()),
            None if page_no > 0 => store.page_token_at(page_no * PAGE_SIZE),
            None => None,
        };
        Ok((total, page_no, store.search_runs(&search)?))
    });
    let (total, page_no, found) = match found {
        Ok(found) => found,
        Err(e) => {
            body.push_str(&format!(
                "<div class=\"error\">{}</div>",
                esc(&e.to_string())
            ));
            return Ok(page(&experiment.name, &body));
        }
    };
    let page_no = if search.page_token.is_some() && total.is_some() && query.token.is_none() {
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
        .flat_map(|r| distinct_params(r).into_iter().map(|p| p.key.as_str()))
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
    let total_text = match total {
        Some(1) => "1 run".to_string(),
        Some(n) => format!("{n} runs"),
        None => "Many runs".to_string(),
    };
    let total = total.map_or(usize::MAX, |t| usize::try_from(t).unwrap_or(usize::MAX));
    let range = if shown.is_empty() {
        "none shown".to_string()
    } else {
        format!(
            "{} to {}",
            page_no * PAGE_SIZE + 1,
            page_no * PAGE_SIZE + shown.len()
        )
    };
    body.push_str(&format!(
        "<p class=\"muted\">{total_text}; {range}</p>\
         <form method=\"get\" action=\"/compare\">{}<p><button type=\"submit\">Compare selected</button></p></form>",
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
