//! `/models`: the model registry.

use super::{blocking, fail, Page};
use crate::display::format_time;
use crate::ui::html::{esc, page, q, table};
use crate::ui::UiState;
use axum::extract::State;
use std::sync::Arc;

/// `/models`: registered models, their versions and aliases.
pub async fn models(State(state): State<Arc<UiState>>) -> Page {
    blocking(move || render(&state)).await
}

fn render(state: &UiState) -> Page {
    let store = state.reader();
    let store = store.as_ref();
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
            .model_versions(&model.name)
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
