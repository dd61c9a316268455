//! `runs list` (and `runs search`): one page of runs as a table, each parameter once, and with
//! `--all` each pipeline run's stage runs indented under it, as MLflow's UI nests them.

use super::style::Paint;
use super::{table, Printer};
use crate::dag::Dag;
use crate::display::distinct_params;
use crate::metrics::format_value;
use crate::tracking::model::TAG_PARENT_RUN_ID;
use crate::tracking::query::MAX_PAGE_SIZE;
use crate::tracking::{Run, SearchQuery, TrackingStore};
use anyhow::bail;
use std::collections::BTreeSet;
use std::process::ExitCode;

use super::runs::ListArgs;

/// A run and how deep it sits: 0 for a pipeline or experiment run, 1 for its stage runs.
struct Row {
    run: Run,
    depth: usize,
}

pub(super) fn list(
    dag: &Dag,
    store: &dyn TrackingStore,
    args: ListArgs,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let name = args.experiment.as_deref().unwrap_or(dag.name());
    let Some(experiment) = store.get_experiment_by_name(name)? else {
        if args.experiment.is_some() {
            bail!("no experiment named `{name}`; `experiments list` shows them");
        }
        out.line(if args.json {
            "[]"
        } else {
            "No runs yet: `repro` or `exp run` record them."
        });
        return Ok(ExitCode::SUCCESS);
    };
    // The filter, order and page apply to the top-level runs; stage runs come with their parent.
    let page = store.search_runs(&SearchQuery {
        filter: args.filter.clone().unwrap_or_default(),
        order_by: args.order_by.clone(),
        max_results: args.max,
        page_token: args.page_token.clone(),
        top_level_only: true,
        ..SearchQuery::new(std::slice::from_ref(&experiment.experiment_id))
    })?;
    let mut rows = Vec::new();
    for run in page.runs {
        let children = if args.all {
            stage_runs(store, &experiment.experiment_id, &run.info.run_id)?
        } else {
            Vec::new()
        };
        rows.push(Row { run, depth: 0 });
        rows.extend(children.into_iter().map(|run| Row { run, depth: 1 }));
    }
    if args.json {
        let runs: Vec<&Run> = rows.iter().map(|r| &r.run).collect();
        out.line(serde_json::to_string_pretty(&runs)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        out.line("No runs match.");
        return Ok(ExitCode::SUCCESS);
    }
    let text = render(&rows);
    let (header, body) = text.split_once('\n').unwrap_or((&text, ""));
    out.line(out.paint(Paint::Bold, header));
    out.line(body.trim_end());
    if let Some(token) = page.next_page_token {
        out.line(format!(
            "More runs match: add --page-token {token} for the next page."
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// The stage runs of pipeline run `parent`, in the order they started.
fn stage_runs(
    store: &dyn TrackingStore,
    experiment_id: &str,
    parent: &str,
) -> anyhow::Result<Vec<Run>> {
    Ok(store
        .search_runs(&SearchQuery {
            filter: format!("tags.`{TAG_PARENT_RUN_ID}` = '{parent}'"),
            order_by: vec!["attributes.start_time ASC".into()],
            max_results: MAX_PAGE_SIZE,
            ..SearchQuery::new(&[experiment_id.to_string()])
        })?
        .runs)
}

/// The table: attributes, then the headline metrics (top-level keys), then each parameter once.
fn render(rows: &[Row]) -> String {
    let metric_keys: BTreeSet<&str> = rows
        .iter()
        .flat_map(|r| r.run.metrics.iter().map(|m| m.key.as_str()))
        .filter(|k| !k.contains('.'))
        .collect();
    let param_keys: BTreeSet<&str> = rows
        .iter()
        .flat_map(|r| distinct_params(&r.run).into_iter().map(|p| p.key.as_str()))
        .collect();
    let mut headers: Vec<String> = ["Run ID", "Name", "Status", "Started"]
        .map(String::from)
        .to_vec();
    headers.extend(metric_keys.iter().map(|k| k.to_string()));
    headers.extend(param_keys.iter().map(|k| k.to_string()));
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|Row { run, depth }| {
            // A stage run sits two spaces in, under its pipeline run.
            let indent = "  ".repeat(*depth);
            let mut row = vec![
                format!("{indent}{}", run.info.run_id),
                run.info.run_name.clone(),
                run.info.status.as_str().to_string(),
                table::format_time(run.info.start_time),
            ];
            for key in &metric_keys {
                row.push(
                    run.metric(key)
                        .map_or_else(|| "-".into(), |m| format_value(m.value)),
                );
            }
            for key in &param_keys {
                row.push(run.param(key).unwrap_or("-").to_string());
            }
            row
        })
        .collect();
    table::render(&headers, &cells)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Pipeline;
    use crate::tracking::counting::CountingStore;
    use crate::tracking::query::DEFAULT_PAGE_SIZE;

    fn args(all: bool) -> ListArgs {
        ListArgs {
            experiment: None,
            filter: Some("metrics.accuracy >= 0".into()),
            order_by: vec!["metrics.accuracy DESC".into()],
            all,
            max: DEFAULT_PAGE_SIZE,
            page_token: None,
            json: false,
        }
    }

    #[test]
    fn runs_list_asks_the_store_for_one_page() {
        let dir = tempfile::tempdir().unwrap();
        let store = CountingStore::with_runs(dir.path(), "p", 250);
        let dag = Dag::new(Pipeline::new("p", Vec::new())).unwrap();
        let printer = Printer::new(Box::new(std::io::sink()));
        list(&dag, &store, args(false), &printer).unwrap();
        assert_eq!(store.counts(), (1, DEFAULT_PAGE_SIZE));
    }

    fn run(id: &str, name: &str, params: &[(&str, &str)]) -> Run {
        let mut run: Run = serde_json::from_value(serde_json::json!({
            "info": {"run_id": id, "run_name": name, "experiment_id": "0", "status": "FINISHED",
                     "start_time": 0, "lifecycle_stage": "active", "artifact_uri": ""},
            "params": [], "metrics": [], "tags": []
        }))
        .unwrap();
        for (k, v) in params {
            run.params.push(crate::tracking::Param::new(*k, *v));
        }
        run
    }

    #[test]
    fn each_param_once_and_stage_runs_indented_under_their_pipeline_run() {
        let rows = vec![
            Row {
                run: run(
                    "p1",
                    "pipeline",
                    &[("train.max_depth", "10"), ("max_depth", "10")],
                ),
                depth: 0,
            },
            Row {
                run: run(
                    "c1",
                    "train",
                    &[("train.max_depth", "10"), ("max_depth", "10")],
                ),
                depth: 1,
            },
        ];
        let text = render(&rows);
        let header = text.lines().next().unwrap();
        assert!(
            header.ends_with("Started              train.max_depth"),
            "{text}"
        );
        assert!(!header.contains("  max_depth"), "{text}");
        assert!(
            text.lines().nth(2).unwrap().starts_with("  c1    train "),
            "{text}"
        );
    }
}
