//! `/experiments/{id}`: one page of an experiment's runs, filtered, sorted, counted and paged by
//! the store (one count and one search per page, whatever the number of runs). Pipeline runs
//! expand to their stage runs (`stages` below, fetched by the page's script on demand), columns
//! are grouped and chosen in the browser, and the selection survives paging (`static/ui.js`).

use super::columns::{cell, columns, is_numeric, Column, Group};
use super::{bad_query, blocking, fail, not_found, Page};
use crate::tracking::model::TAG_PARENT_RUN_ID;
use crate::tracking::query::MAX_PAGE_SIZE;
use crate::tracking::{Run, SearchQuery};
use crate::ui::html::{esc, page, q};
use crate::ui::UiState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
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
    let links = Links {
        filter: &filter,
        order_by: &order_by,
        all,
    };
    let mut body = format!(
        "<form method=\"get\" class=\"card filter\">Filter <input type=\"text\" name=\"filter\" \
         value=\"{f}\" placeholder=\"metrics.accuracy &gt; 0.9 AND params.max_depth = '10'\"> \
         <input type=\"hidden\" name=\"order_by\" value=\"{o}\">\
         <label><input type=\"checkbox\" name=\"all\" value=\"1\"{c}> stage runs as rows</label> \
         <button type=\"submit\">Search</button></form>",
        f = esc(&filter),
        o = esc(&order_by),
        c = if all { " checked" } else { "" }
    );
    let mut search = SearchQuery {
        filter: filter.clone(),
        order_by: (!order_by.is_empty())
            .then(|| order_by.clone())
            .into_iter()
            .collect(),
        max_results: PAGE_SIZE,
        top_level_only: !all,
        ..SearchQuery::new(std::slice::from_ref(&experiment.experiment_id))
    };
    let key = (experiment.experiment_id.clone(), filter.clone(), all);
    let found = match state.counts.get(&key) {
        Some(total) => page_of(store, &mut search, query, total).map(|(n, p)| (total, n, p)),
        // The first page needs no count to be found: count on another connection meanwhile.
        None if query.page.unwrap_or(0) == 0 || query.token.is_some() => {
            let counter = state.reader();
            let (total, found) = std::thread::scope(|scope| {
                let total = scope.spawn(|| counter.count_runs(&search));
                let mut first = search.clone();
                let found = page_of(store, &mut first, query, None);
                let total = total
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p));
                (total, found)
            });
            total.and_then(|total| {
                state.counts.put(key, total);
                let (n, page) = found?;
                Ok((total, n, page))
            })
        }
        None => store.count_runs(&search).and_then(|total| {
            state.counts.put(key, total);
            page_of(store, &mut search, query, total).map(|(n, p)| (total, n, p))
        }),
    };
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
    let shown = &found.runs;
    let cols = columns(shown.iter());
    let total_text = match total {
        Some(1) => "1 run".to_string(),
        Some(n) => format!("{n} runs"),
        None => "Many runs".to_string(),
    };
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
        "<p class=\"muted\">{total_text}; {range}</p>{}\
         <div class=\"table-wrap\"><table id=\"runs\" data-experiment=\"{}\">{}<tbody>{}</tbody>\
         </table></div>",
        toolbar(&cols, &experiment.experiment_id, &links),
        esc(&experiment.experiment_id),
        header(&cols, &links),
        shown
            .iter()
            .map(|r| row(r, &cols, !all))
            .collect::<String>()
    ));
    body.push_str(&paging(
        total,
        page_no,
        found.next_page_token.as_deref(),
        &links,
    ));
    Ok(page(&format!("Experiment {}", experiment.name), &body))
}

/// The page `query` asks for, given the total when known: a page past the last is the last
/// (`?page=99` on 10 runs shows runs 1 to 10); page N by offset where the store can seek,
/// otherwise by the token of a "next" link.
fn page_of(
    store: &dyn crate::tracking::TrackingStore,
    search: &mut SearchQuery,
    query: &RunsQuery,
    total: Option<u64>,
) -> crate::tracking::Result<(usize, crate::tracking::RunPage)> {
    let last =
        total.map(|t| usize::try_from(t).unwrap_or(usize::MAX).saturating_sub(1) / PAGE_SIZE);
    let page_no = query.page.unwrap_or(0).min(last.unwrap_or(usize::MAX));
    search.page_token = match &query.token {
        Some(token) => Some(token.clone()),
        None if page_no > 0 => store.page_token_at(page_no * PAGE_SIZE),
        None => None,
    };
    Ok((page_no, store.search_runs(search)?))
}

/// The filter, order and `all` flag every link of the page keeps.
struct Links<'a> {
    filter: &'a str,
    order_by: &'a str,
    all: bool,
}

impl Links<'_> {
    fn href(&self, order_by: &str, extra: &str) -> String {
        format!(
            "?filter={}&order_by={}{}{extra}",
            q(self.filter),
            q(order_by),
            if self.all { "&all=1" } else { "" }
        )
    }
}

/// The column chooser (grouped), the selection count and the compare button.
fn toolbar(cols: &[Column], experiment: &str, links: &Links) -> String {
    let mut chooser = String::new();
    for group in [
        Group::Attributes,
        Group::Params,
        Group::Metrics,
        Group::Tags,
    ] {
        let boxes: String = cols
            .iter()
            .filter(|c| c.group == group && c.key != "attributes.name")
            .map(|c| {
                format!(
                    "<label title=\"{k}\"><input type=\"checkbox\" data-col=\"{k}\"{checked}> {l}</label>",
                    k = esc(&c.key),
                    l = esc(&c.label),
                    checked = if c.hidden_by_default { "" } else { " checked" }
                )
            })
            .collect();
        if !boxes.is_empty() {
            chooser.push_str(&format!(
                "<fieldset><legend>{}</legend>{boxes}</fieldset>",
                group.label()
            ));
        }
    }
    format!(
        "<div class=\"toolbar\"><details class=\"chooser\"><summary>Columns</summary>\
         <div class=\"groups\">{chooser}</div></details>\
         <span id=\"selected-count\" class=\"muted\">0 selected</span>\
         <button type=\"button\" id=\"compare\">Compare selected</button>\
         <button type=\"button\" id=\"clear-selection\">Clear selection</button>\
         <a href=\"{charts}\">Charts of these runs</a>\
         <span id=\"toolbar-note\" class=\"muted\"></span></div>",
        charts = esc(&format!(
            "/experiments/{}/charts?filter={}&order_by={}",
            q(experiment),
            q(links.filter),
            q(links.order_by)
        ))
    )
}

/// Two header rows: the groups, then the columns (sort links where the store can sort).
fn header(cols: &[Column], links: &Links) -> String {
    let mut groups = String::from("<tr class=\"groups\"><th></th>");
    let mut names = String::from("<tr><th></th>");
    for c in cols {
        groups.push_str(&format!(
            "<th data-col=\"{}\" class=\"group-{}\">{}</th>",
            esc(&c.key),
            c.group.label().to_lowercase(),
            c.group.label()
        ));
        let label = esc(&c.label);
        let text = match &c.sort {
            Some(sort) => {
                let desc = format!("{sort} DESC");
                let (next, mark) = if links.order_by == desc {
                    (format!("{sort} ASC"), " ▼")
                } else if links.order_by == format!("{sort} ASC") {
                    (desc, " ▲")
                } else {
                    (desc, "")
                };
                format!(
                    "<a href=\"{}\">{label}{mark}</a>",
                    esc(&links.href(&next, ""))
                )
            }
            None => label,
        };
        names.push_str(&format!(
            "<th data-col=\"{}\" title=\"{}\"{}>{text}</th>",
            esc(&c.key),
            esc(&c.key),
            if c.hidden_by_default {
                " data-hidden=\"1\""
            } else {
                ""
            }
        ));
    }
    format!("<thead>{groups}</tr>{names}</tr></thead>")
}

/// One run's row; `expandable` rows get the toggle that loads their stage runs.
fn row(run: &Run, cols: &[Column], expandable: bool) -> String {
    let id = &run.info.run_id;
    let toggle = if expandable {
        format!(
            "<button type=\"button\" class=\"expand\" aria-expanded=\"false\" data-run=\"{}\" \
             title=\"stage runs\">▸</button>",
            esc(id)
        )
    } else {
        String::new()
    };
    let mut out = format!(
        "<tr class=\"run\" data-run=\"{i}\"><td class=\"pick\">{toggle}<input type=\"checkbox\" \
         class=\"select\" value=\"{i}\" aria-label=\"select\"></td>",
        i = esc(id)
    );
    for c in cols {
        out.push_str(&cell_html(run, &c.key));
    }
    out.push_str("</tr>");
    out
}

/// A cell: numbers right-aligned, long text cut to the column with the whole value on hover.
fn cell_html(run: &Run, key: &str) -> String {
    let text = cell(run, key).unwrap_or_else(|| "-".into());
    let class = if is_numeric(&text) { " num" } else { "" };
    let inner = match key {
        "attributes.name" => format!(
            "<a href=\"/runs/{}\">{}</a>",
            q(&run.info.run_id),
            esc(&text)
        ),
        "attributes.status" => format!("<span class=\"status-{t}\">{t}</span>", t = esc(&text)),
        _ => esc(&text),
    };
    format!(
        "<td data-col=\"{}\" class=\"cut{class}\" title=\"{}\">{inner}</td>",
        esc(key),
        esc(&text)
    )
}

/// Page links when the total is known; a "next" link by token otherwise.
fn paging(total: Option<u64>, page_no: usize, next: Option<&str>, links: &Links) -> String {
    let Some(total) = total.map(|t| usize::try_from(t).unwrap_or(usize::MAX)) else {
        return next.map_or_else(String::new, |token| {
            format!(
                "<p><a href=\"{}\">Next page</a></p>",
                esc(&links.href(links.order_by, &format!("&token={}", q(token))))
            )
        });
    };
    let pages = total.div_ceil(PAGE_SIZE);
    if pages <= 1 {
        return String::new();
    }
    // The first, the last and the pages around this one: 1,000 pages are not 1,000 links.
    let mut nav = Vec::new();
    let mut gap = false;
    for p in 0..pages {
        if p == 0 || p + 1 == pages || p.abs_diff(page_no) <= 3 {
            gap = false;
            nav.push(if p == page_no {
                format!("<b>{}</b>", p + 1)
            } else {
                format!(
                    "<a href=\"{}\">{}</a>",
                    esc(&links.href(links.order_by, &format!("&page={p}"))),
                    p + 1
                )
            });
        } else if !gap {
            gap = true;
            nav.push("…".to_string());
        }
    }
    format!("<p class=\"pages\">Page {}</p>", nav.join(" "))
}

/// `/runs/{id}/stages`: the stage runs of a pipeline run as JSON, each with its text per column
/// key, for the runs page's script to nest under the run it expands.
pub async fn stages(State(state): State<Arc<UiState>>, Path(id): Path<String>) -> Response {
    let found = blocking(move || {
        let store = state.reader();
        let parent = store.get_run(&id).map_err(not_found)?;
        let children = store
            .search_runs(&SearchQuery {
                filter: format!("tags.`{TAG_PARENT_RUN_ID}` = '{}'", parent.info.run_id),
                order_by: vec!["attributes.start_time ASC".into()],
                max_results: MAX_PAGE_SIZE,
                ..SearchQuery::new(std::slice::from_ref(&parent.info.experiment_id))
            })
            .map_err(fail)?
            .runs;
        Ok(children)
    })
    .await;
    let children = match found {
        Ok(children) => children,
        Err(response) => return response,
    };
    let rows: Vec<serde_json::Value> = children
        .iter()
        .map(|run| {
            let cols = columns(std::iter::once(run));
            let cells: serde_json::Map<String, serde_json::Value> = cols
                .iter()
                .filter_map(|c| Some((c.key.clone(), cell(run, &c.key)?.into())))
                .collect();
            serde_json::json!({ "run_id": run.info.run_id, "cells": cells })
        })
        .collect();
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        serde_json::Value::Array(rows).to_string(),
    )
        .into_response()
}
