//! `/experiments/{id}/charts`: the experiment's runs as charts (a scatter of any two columns,
//! bars of a metric across runs, the selected runs' metric histories overlaid), drawn in the
//! browser by `static/views.js` from one page of runs; and `/runs/{id}/metrics/{key}`, a metric's
//! history as JSON for those overlays, thinned like the run page's charts unless `?points=all`.

use super::compare::chart_run;
use super::{bad_query, blocking, fail, not_found, Page};
use crate::tracking::query::MAX_PAGE_SIZE;
use crate::tracking::SearchQuery;
use crate::ui::downsample;
use crate::ui::html::{esc, json_block, page, q};
use crate::ui::UiState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Query of the chart view: the runs table's filter and order.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ChartsQuery {
    filter: Option<String>,
    order_by: Option<String>,
}

/// `/experiments/{id}/charts`.
pub async fn experiment_charts(
    State(state): State<Arc<UiState>>,
    Path(id): Path<String>,
    query: Result<Query<ChartsQuery>, QueryRejection>,
) -> Page {
    let Query(query) = query.map_err(bad_query)?;
    blocking(move || render(&state, &id, &query)).await
}

fn render(state: &UiState, id: &str, query: &ChartsQuery) -> Page {
    let store = state.reader();
    let experiment = store
        .list_experiments()
        .map_err(fail)?
        .into_iter()
        .find(|e| e.experiment_id == *id)
        .ok_or_else(|| not_found(format!("no experiment {id}")))?;
    let filter = query.filter.clone().unwrap_or_default();
    let order_by = query.order_by.clone().unwrap_or_default();
    // The first page of the table's runs, at the store's largest page size.
    let found = store.search_runs(&SearchQuery {
        filter: filter.clone(),
        order_by: (!order_by.is_empty())
            .then(|| order_by.clone())
            .into_iter()
            .collect(),
        max_results: MAX_PAGE_SIZE,
        top_level_only: true,
        ..SearchQuery::new(std::slice::from_ref(&experiment.experiment_id))
    });
    let runs = match found {
        Ok(found) => found.runs,
        Err(e) => {
            return Ok(page(
                &format!("Charts of {}", experiment.name),
                &format!("<div class=\"error\">{}</div>", esc(&e.to_string())),
            ))
        }
    };
    let history_keys: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.metrics.iter().map(|m| m.key.as_str()))
        .filter(|k| !k.contains('.'))
        .collect();
    let data = serde_json::json!({
        "experiment": experiment.experiment_id,
        "runs": runs.iter().map(chart_run).collect::<Vec<_>>(),
        "history_keys": history_keys,
    });
    let back = format!(
        "/experiments/{}?filter={}&order_by={}",
        q(&experiment.experiment_id),
        q(&filter),
        q(&order_by)
    );
    let body = format!(
        "<p><a href=\"{}\">Back to the table</a> · {} runs{}</p>{}<div id=\"experiment-charts\"></div>",
        esc(&back),
        runs.len(),
        if filter.is_empty() {
            String::new()
        } else {
            format!(" matching <code>{}</code>", esc(&filter))
        },
        json_block("experiment-data", &data)
    );
    Ok(page(&format!("Charts of {}", experiment.name), &body))
}

/// Query of a metric history.
#[derive(Debug, Default, serde::Deserialize)]
pub struct HistoryQuery {
    points: Option<String>,
}

/// `/runs/{id}/metrics/{key}`: `[{step, value, timestamp}]`.
pub async fn metric_history(
    State(state): State<Arc<UiState>>,
    Path((id, key)): Path<(String, String)>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(query) => query,
        Err(rejection) => return bad_query(rejection),
    };
    let found = blocking(move || {
        let history = state
            .reader()
            .metric_history(&id, &key)
            .map_err(not_found)?;
        if history.is_empty() {
            return Err(not_found(format!("run {id} has no metric `{key}`")));
        }
        Ok(history)
    })
    .await;
    let history = match found {
        Ok(history) => history,
        Err(response) => return response,
    };
    let every = query.points.as_deref() == Some("all");
    // Thinned by value over steps; the timestamps travel with the points they belong to.
    let indexed: Vec<(i64, f64)> = (0..history.len())
        .map(|i| (i as i64, history[i].value))
        .collect();
    let kept = if every {
        indexed
    } else {
        downsample::min_max(&indexed, downsample::BUCKETS)
    };
    let points: Vec<serde_json::Value> = kept
        .into_iter()
        .map(|(i, _)| {
            let m = &history[i as usize];
            serde_json::json!({ "step": m.step, "value": m.value, "timestamp": m.timestamp })
        })
        .collect();
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::Value::Array(points).to_string(),
    )
        .into_response()
}
