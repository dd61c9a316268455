//! `/`: every experiment with its number of runs.

use super::{blocking, fail, Page};
use crate::display::format_time;
use crate::tracking::SearchQuery;
use crate::ui::html::{esc, page, q, table};
use crate::ui::UiState;
use axum::extract::State;
use std::sync::Arc;

pub async fn experiments(State(state): State<Arc<UiState>>) -> Page {
    blocking(move || render(&state)).await
}

fn render(state: &UiState) -> Page {
    let store = state.reader();
    let store = store.as_ref();
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
