//! `/dag`: the pipeline graph drawn as SVG, each stage coloured by its state (up to date, stale
//! and why, failing to check), computed as `status` does.

use crate::engine::StageState;
use crate::session::ReproRequest;
use crate::ui::html::{esc, table};
use crate::ui::UiState;
use axum::extract::State;
use axum::response::Html;
use std::fmt::Write;
use std::sync::Arc;

/// The run that produced each stage's outputs as the lock file records them, or `None` when it
/// never ran or the store cannot say. The embedded store names a stage run after its
/// fingerprint, so that is one lookup by key per stage, whatever the number of runs; a server
/// picks its own ids, so there it is the stage's most recent run, found by its tag.
fn last_runs(state: &UiState) -> Vec<Option<String>> {
    let dag = state.session.dag();
    let store = state.reader();
    if state.session.tracking().chooses_ids() {
        let lock = crate::lockfile::LockFile::load(state.session.workspace().root()).ok();
        return dag
            .stages()
            .iter()
            .map(|stage| {
                let entry = lock.as_ref()?.stages.get(&stage.name)?;
                let id = crate::tracking::stage_run_id(&entry.fingerprint);
                store.get_run(&id).ok().map(|run| run.info.run_id)
            })
            .collect();
    }
    let experiment = store
        .get_experiment_by_name(dag.name())
        .ok()
        .flatten()
        .map(|e| e.experiment_id);
    dag.stages()
        .iter()
        .map(|stage| {
            let experiment = experiment.as_ref()?;
            let query = crate::tracking::SearchQuery {
                filter: format!(
                    "tags.`{}` = '{}'",
                    crate::tracking::recorder::TAG_STAGE,
                    stage.name.replace('\'', "\\'")
                ),
                order_by: vec!["attributes.start_time DESC".into()],
                max_results: 1,
                ..crate::tracking::SearchQuery::new(std::slice::from_ref(experiment))
            };
            let page = store.search_runs(&query).ok()?;
            page.runs.into_iter().next().map(|r| r.info.run_id)
        })
        .collect()
}

/// The colours of the states, explained under the graph.
const LEGEND: [(&str, &str); 4] = [
    ("#aceebb", "up to date"),
    (
        "#fff1a8",
        "stale: `repro` runs or restores it (the table says why)",
    ),
    ("#ffcecb", "cannot be checked"),
    ("#d0d7de", "frozen"),
];

/// Each stage's state as `status` computes it, with the fill colour the page gives it.
fn states(state: &UiState) -> Result<Vec<(StageState, &'static str)>, String> {
    let session = &state.session;
    let plan = session
        .plan(&ReproRequest::default())
        .map_err(|e| e.to_string())?;
    let mut out = vec![(StageState::Frozen, "#d0d7de"); session.dag().stages().len()];
    for status in plan {
        let colour = match &status.state {
            StageState::UpToDate => "#aceebb",
            StageState::Restorable(_)
            | StageState::RestorableFromRemote(_)
            | StageState::Stale(_) => "#fff1a8",
            StageState::Frozen => "#d0d7de",
            StageState::Error(_) => "#ffcecb",
        };
        out[status.index] = (status.state, colour);
    }
    Ok(out)
}

fn reasons(state: &StageState) -> Vec<String> {
    match state {
        StageState::Error(error) => vec![error.clone()],
        state => state.reasons().iter().map(ToString::to_string).collect(),
    }
}

/// The page.
pub async fn page(State(state): State<Arc<UiState>>) -> super::Page {
    // Planning hashes the workspace's files: blocking work, kept off the async workers.
    super::blocking(move || Ok(render(&state))).await
}

fn render(state: &UiState) -> Html<String> {
    let dag = state.session.dag();
    let states = match states(state) {
        Ok(states) => states,
        Err(message) => {
            return crate::ui::html::page(
                "Pipeline",
                &format!("<div class=\"error\">{}</div>", esc(&message)),
            );
        }
    };
    let last = last_runs(state);
    // Layer = length of the longest path from a source stage.
    let mut layer = vec![0usize; dag.stages().len()];
    for &i in dag.order() {
        layer[i] = dag
            .upstream(i)
            .iter()
            .map(|&u| layer[u] + 1)
            .max()
            .unwrap_or(0);
    }
    let layers = layer.iter().max().map_or(0, |m| m + 1);
    let mut slot = vec![0usize; dag.stages().len()];
    let mut per_layer = vec![0usize; layers];
    for &i in dag.order() {
        slot[i] = per_layer[layer[i]];
        per_layer[layer[i]] += 1;
    }
    let (bw, bh, gx, gy) = (180.0, 56.0, 60.0, 40.0);
    let width = 40.0 + bw / 2.0 + per_layer.iter().max().copied().unwrap_or(1) as f64 * (bw + gx);
    let height = 40.0 + layers as f64 * (bh + gy);
    let pos = |i: usize| {
        (
            20.0 + slot[i] as f64 * (bw + gx),
            20.0 + layer[i] as f64 * (bh + gy),
        )
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"dag\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"pipeline graph\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#57606a\"/></marker></defs>"
    );
    for &i in dag.order() {
        for &u in dag.upstream(i) {
            let (ux, uy) = pos(u);
            let (x, y) = pos(i);
            let (x1, y1, x2, y2) = (ux + bw / 2.0, uy + bh, x + bw / 2.0, y);
            // An edge that skips layers bows out to the right, clear of the boxes in between.
            let bow = if layer[i] > layer[u] + 1 { bw } else { 0.0 };
            let _ = write!(
                svg,
                "<path d=\"M{x1},{y1} C{},{} {},{} {x2},{y2}\" fill=\"none\" stroke=\"#57606a\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>",
                x1 + bow,
                y1 + gy,
                x2 + bow,
                y2 - gy,
            );
        }
    }
    for &i in dag.order() {
        let (x, y) = pos(i);
        let (stage_state, colour) = &states[i];
        let (label, reasons) = (ui_label(stage_state), reasons(stage_state));
        let link = last[i]
            .as_ref()
            .map(|id| format!("/runs/{}", crate::ui::html::q(id)));
        if let Some(href) = &link {
            let _ = write!(svg, "<a href=\"{}\">", esc(href));
        }
        let _ = write!(
            svg,
            "<g class=\"stage\" data-state=\"{label}\"><title>{tip}</title>\
             <rect x=\"{x}\" y=\"{y}\" width=\"{bw}\" height=\"{bh}\" rx=\"8\" fill=\"{colour}\" stroke=\"#57606a\"/>\
             <text x=\"{tx}\" y=\"{ty}\" font-size=\"14\" font-weight=\"600\" text-anchor=\"middle\">{name}</text>\
             <text x=\"{tx}\" y=\"{sy}\" font-size=\"11\" text-anchor=\"middle\">{label}</text></g>",
            tip = esc(&reasons.join("; ")),
            tx = x + bw / 2.0,
            ty = y + 24.0,
            sy = y + 42.0,
            name = esc(&dag.stage(i).name),
        );
        if link.is_some() {
            svg.push_str("</a>");
        }
    }
    svg.push_str("</svg>");
    let legend: String = LEGEND
        .iter()
        .map(|(colour, meaning)| {
            format!(
                "<span class=\"legend-item\"><span class=\"swatch\" style=\"background:{colour};border:1px solid #57606a\"></span>{}</span>",
                esc(meaning)
            )
        })
        .collect();
    let rows: Vec<Vec<String>> = dag
        .order()
        .iter()
        .map(|&i| {
            let stage = dag.stage(i);
            let (stage_state, _) = &states[i];
            let (label, reasons) = (ui_label(stage_state), reasons(stage_state));
            let name = match &last[i] {
                Some(id) => format!(
                    "<a href=\"/runs/{}\" title=\"its last run\">{}</a>",
                    crate::ui::html::q(id),
                    esc(&stage.name)
                ),
                None => esc(&stage.name),
            };
            vec![
                name,
                esc(label),
                esc(&reasons.join("; ")),
                esc(&stage
                    .deps
                    .iter()
                    .map(|d| d.path())
                    .collect::<Vec<_>>()
                    .join(", ")),
                esc(&stage
                    .outs
                    .iter()
                    .map(|o| o.path.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")),
            ]
        })
        .collect();
    let body = format!(
        "<div class=\"card\">{svg}<div class=\"legend\">{legend}</div></div>{}",
        table(
            &[
                "Stage (its last run)",
                "State",
                "Why",
                "Depends on",
                "Writes"
            ]
            .map(String::from),
            &rows
        )
    );
    crate::ui::html::page(&format!("Pipeline {}", dag.name()), &body)
}

/// The page's label: a restorable stage is stale all the same (`repro` would restore it).
fn ui_label(state: &StageState) -> &'static str {
    match state {
        StageState::Restorable(_) | StageState::RestorableFromRemote(_) => "stale",
        state => state.label(),
    }
}
