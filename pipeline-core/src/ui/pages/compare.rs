//! `/compare?runs=…`: runs side by side, with parallel coordinates and a scatter drawn by
//! `static/views.js` from the runs' params and metrics.

use super::{blocking, not_found, Page};
use crate::metrics::format_value;
use crate::tracking::Run;
use crate::ui::html::{error, esc, json_block, page, q};
use crate::ui::UiState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use std::collections::BTreeMap;
use std::sync::Arc;

/// `/compare?runs=a&runs=b…`: runs side by side, with a parallel-coordinates chart.
pub async fn compare(State(state): State<Arc<UiState>>, RawQuery(query): RawQuery) -> Page {
    blocking(move || render(&state, query)).await
}

fn render(state: &UiState, query: Option<String>) -> Page {
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
        runs.push(state.reader().get_run(id).map_err(not_found)?);
    }
    let mut rows: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        for p in crate::display::distinct_params(run) {
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
    let data = serde_json::json!({ "runs": runs.iter().map(chart_run).collect::<Vec<_>>() });
    let body = format!(
        "{}<div id=\"compare-charts\"></div><h2>Params and metrics</h2><table><thead><tr>{}</tr></thead><tbody>{html_rows}</tbody></table>",
        json_block("compare-data", &data),
        headers.iter().map(|h| format!("<th>{h}</th>")).collect::<String>()
    );
    Ok(page(&format!("Comparing {} runs", runs.len()), &body))
}

/// A run as the chart scripts read it: id, name, each param once, metrics by key.
pub(super) fn chart_run(run: &Run) -> serde_json::Value {
    let params: serde_json::Map<String, serde_json::Value> = crate::display::distinct_params(run)
        .into_iter()
        .map(|p| (p.key.clone(), p.value.clone().into()))
        .collect();
    let metrics: serde_json::Map<String, serde_json::Value> = run
        .metrics
        .iter()
        .filter(|m| m.value.is_finite())
        .map(|m| (m.key.clone(), m.value.into()))
        .collect();
    serde_json::json!({
        "id": run.info.run_id, "name": run.info.run_name, "params": params, "metrics": metrics,
    })
}
