//! `/models`: the model registry; `/models/{name}`: one model with its versions (numbers may
//! have gaps where versions were deleted: they come from `model_versions`, never from counting);
//! `/models/{name}/versions/{version}`: one version with its source run linked and that run's
//! metrics.

use super::{blocking, fail, not_found, Page};
use crate::display::format_time;
use crate::metrics::format_value;
use crate::tracking::{ModelVersion, RegisteredModel};
use crate::ui::html::{esc, page, q, table};
use crate::ui::UiState;
use axum::extract::{Path, State};
use std::sync::Arc;

/// `/models`: registered models, their versions and aliases.
pub async fn models(State(state): State<Arc<UiState>>) -> Page {
    blocking(move || render(&state)).await
}

fn render(state: &UiState) -> Page {
    let store = state.reader();
    let models = store.list_registered_models().map_err(fail)?;
    if models.is_empty() {
        return Ok(page(
            "Models",
            "<p class=\"muted\">No registered models. Register one with <code>models register runs:/&lt;run id&gt;/model --name NAME</code>.</p>",
        ));
    }
    let mut body = String::new();
    for model in &models {
        let versions = store.model_versions(&model.name).map_err(fail)?;
        body.push_str(&format!(
            "<h2><a href=\"/models/{}\">{}</a></h2>",
            q(&model.name),
            esc(&model.name)
        ));
        body.push_str(&versions_table(model, &versions));
    }
    Ok(page("Models", &body))
}

/// The aliases pointing at `version`, as `@alias` text.
fn aliases(model: &RegisteredModel, version: u64) -> String {
    model
        .aliases
        .iter()
        .filter(|(_, n)| *n == version)
        .map(|(a, _)| format!("@{}", esc(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn run_link(run: Option<&str>) -> String {
    match run {
        Some(run) => format!("<a href=\"/runs/{}\">{}</a>", q(run), esc(run)),
        None => "-".into(),
    }
}

fn versions_table(model: &RegisteredModel, versions: &[ModelVersion]) -> String {
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            vec![
                format!(
                    "<a href=\"/models/{}/versions/{}\">{}</a>",
                    q(&model.name),
                    v.version,
                    v.version
                ),
                aliases(model, v.version),
                esc(&v.source),
                run_link(v.run_id.as_deref()),
                format_time(v.creation_time),
                esc(&v.description),
            ]
        })
        .collect();
    table(
        &[
            "Version",
            "Aliases",
            "Source",
            "Run",
            "Created",
            "Description",
        ]
        .map(String::from),
        &rows,
    )
}

fn tags_table(tags: &[crate::tracking::Tag]) -> String {
    if tags.is_empty() {
        return "<p class=\"muted\">No tags.</p>".into();
    }
    let rows: Vec<Vec<String>> = tags
        .iter()
        .map(|t| vec![esc(&t.key), esc(&t.value)])
        .collect();
    table(&["Tag".into(), "Value".into()], &rows)
}

/// `/models/{name}`.
pub async fn model(State(state): State<Arc<UiState>>, Path(name): Path<String>) -> Page {
    blocking(move || {
        let store = state.reader();
        let model = store.get_registered_model(&name).map_err(not_found)?;
        let versions = store.model_versions(&name).map_err(fail)?;
        let description = if model.description.is_empty() {
            "<p class=\"muted\">No description.</p>".to_string()
        } else {
            format!("<p>{}</p>", esc(&model.description))
        };
        let body = format!(
            "<p class=\"crumbs\"><a href=\"/models\">Models</a> › {}</p>{description}\
             <h2>Versions</h2>{}<h2>Tags</h2>{}",
            esc(&model.name),
            versions_table(&model, &versions),
            tags_table(&model.tags)
        );
        Ok(page(&format!("Model {}", model.name), &body))
    })
    .await
}

/// `/models/{name}/versions/{version}`.
pub async fn version(
    State(state): State<Arc<UiState>>,
    Path((name, version)): Path<(String, String)>,
) -> Page {
    blocking(move || {
        let number: u64 = version
            .parse()
            .map_err(|_| not_found(format!("no version `{version}` of model {name}")))?;
        let store = state.reader();
        let model = store.get_registered_model(&name).map_err(not_found)?;
        let v = store.get_model_version(&name, number).map_err(not_found)?;
        let mut body = format!(
            "<p class=\"crumbs\"><a href=\"/models\">Models</a> › <a href=\"/models/{}\">{}</a> › \
             version {}</p>",
            q(&name),
            esc(&name),
            v.version
        );
        body.push_str(&table(
            &["Version", "Aliases", "Source", "Source run", "Created"].map(String::from),
            &[vec![
                v.version.to_string(),
                aliases(&model, v.version),
                esc(&v.source),
                run_link(v.run_id.as_deref()),
                format_time(v.creation_time),
            ]],
        ));
        body.push_str(&if v.description.is_empty() {
            "<p class=\"muted\">No description.</p>".to_string()
        } else {
            format!("<h2>Description</h2><p>{}</p>", esc(&v.description))
        });
        body.push_str("<h2>Tags</h2>");
        body.push_str(&tags_table(&v.tags));
        if let Some(run) = v.run_id.as_deref().and_then(|id| store.get_run(id).ok()) {
            body.push_str(&format!(
                "<h2>Metrics of the source run <a href=\"/runs/{}\">{}</a></h2>",
                q(&run.info.run_id),
                esc(&run.info.run_name)
            ));
            let rows: Vec<Vec<String>> = run
                .metrics
                .iter()
                .map(|m| {
                    vec![
                        esc(&m.key),
                        format!("<span class=\"num\">{}</span>", format_value(m.value)),
                    ]
                })
                .collect();
            body.push_str(&table(&["Metric".into(), "Value".into()], &rows));
        }
        Ok(page(&format!("{name} version {}", v.version), &body))
    })
    .await
}
