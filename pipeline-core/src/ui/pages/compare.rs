//! `/compare?runs=…`: runs side by side, with a parallel-coordinates chart.

use super::{blocking, not_found, Page};
use crate::metrics::format_value;
use crate::tracking::Run;
use crate::ui::charts;
use crate::ui::html::{error, esc, page, q};
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
