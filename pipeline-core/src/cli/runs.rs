//! `experiments list|create|rename|delete|restore`, `runs list|search|show|compare|delete|restore`:
//! the tracking store from the terminal, with MLflow's filter and order-by syntax.

use super::{table, Printer};
use crate::dag::Dag;
use crate::metrics::format_value;
use crate::tracking::model::TAG_PARENT_RUN_ID;
use crate::tracking::query::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::tracking::recorder::Target;
use crate::tracking::{Run, SearchQuery, TrackingStore};
use anyhow::{bail, Context as _};
use std::collections::BTreeMap;
use std::process::ExitCode;

/// `experiments` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ExperimentsCommand {
    /// List experiments.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create an experiment.
    Create {
        /// Its name.
        name: String,
    },
    /// Rename an experiment.
    Rename {
        /// Its current name.
        name: String,
        /// The new name.
        new_name: String,
    },
    /// Delete an experiment (restorable; its runs are kept).
    Delete {
        /// Its name.
        name: String,
    },
    /// Restore a deleted experiment.
    Restore {
        /// Its name.
        name: String,
    },
}

/// `runs` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RunsCommand {
    /// List runs, newest first (pipeline runs and experiments; `--all` adds stage runs).
    List(ListArgs),
    /// The same as `list`, for MLflow users' muscle memory.
    Search(ListArgs),
    /// One run: info, params, metrics, tags, artifacts and stage runs.
    Show {
        /// The run id (or a unique prefix).
        id: String,
        /// Print every value of this metric (step, value, time) instead.
        #[arg(long, value_name = "KEY")]
        metric: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a run (restorable with `runs restore`; searches leave it out).
    Delete {
        /// The run id (or a unique prefix).
        id: String,
    },
    /// Restore a deleted run.
    Restore {
        /// The run id.
        id: String,
    },
    /// Runs side by side: every param and metric, differences marked.
    Compare {
        /// Two or more run ids (or unique prefixes).
        #[arg(required = true, num_args = 2..)]
        ids: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `runs list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Experiment name (default: this pipeline's).
    #[arg(long)]
    pub experiment: Option<String>,
    /// MLflow filter, e.g. "metrics.accuracy > 0.9 AND params.`train.max_depth` = '10'".
    #[arg(long)]
    pub filter: Option<String>,
    /// Ordering, e.g. "metrics.accuracy DESC" (repeatable).
    #[arg(long = "order-by")]
    pub order_by: Vec<String>,
    /// Include the per-stage child runs.
    #[arg(long)]
    pub all: bool,
    /// At most this many runs (one page; the store caps a page at 1,000).
    #[arg(long = "max-results", alias = "max", default_value_t = DEFAULT_PAGE_SIZE)]
    pub max: usize,
    /// Continue after a previous page: the token it printed.
    #[arg(long)]
    pub page_token: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn experiments(
    tracking: &Target,
    command: ExperimentsCommand,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let store = tracking.open()?;
    let by_name = |name: &str| -> anyhow::Result<crate::tracking::Experiment> {
        store.get_experiment_by_name(name)?.ok_or_else(|| {
            anyhow::anyhow!("no experiment named `{name}`; `experiments list` shows them")
        })
    };
    let json = match command {
        ExperimentsCommand::List { json } => json,
        ExperimentsCommand::Create { name } => {
            if store.get_experiment_by_name(&name)?.is_some() {
                bail!("experiment `{name}` already exists");
            }
            let id = store.get_or_create_experiment(&name)?;
            out.line(format!("Created experiment `{name}` (id {id})"));
            return Ok(ExitCode::SUCCESS);
        }
        ExperimentsCommand::Rename { name, new_name } => {
            store.rename_experiment(&by_name(&name)?.experiment_id, &new_name)?;
            out.line(format!("Renamed experiment `{name}` to `{new_name}`"));
            return Ok(ExitCode::SUCCESS);
        }
        ExperimentsCommand::Delete { name } => {
            store.delete_experiment(&by_name(&name)?.experiment_id)?;
            out.line(format!(
                "Deleted experiment `{name}`; `experiments restore {name}` brings it back"
            ));
            return Ok(ExitCode::SUCCESS);
        }
        ExperimentsCommand::Restore { name } => {
            store.restore_experiment(&by_name(&name)?.experiment_id)?;
            out.line(format!("Restored experiment `{name}`"));
            return Ok(ExitCode::SUCCESS);
        }
    };
    let experiments = store.list_experiments()?;
    if json {
        out.line(serde_json::to_string_pretty(&experiments)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = experiments
        .iter()
        .map(|e| {
            vec![
                e.experiment_id.clone(),
                e.name.clone(),
                table::format_time(e.creation_time),
            ]
        })
        .collect();
    out.line(table::render(&["ID", "Name", "Created"].map(String::from), &rows).trim_end());
    Ok(ExitCode::SUCCESS)
}

pub fn runs(
    dag: &Dag,
    tracking: &Target,
    command: RunsCommand,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let store = tracking.open()?;
    match command {
        RunsCommand::List(args) | RunsCommand::Search(args) => {
            super::runs_list::list(dag, store.as_ref(), args, out)
        }
        RunsCommand::Show {
            id,
            metric: Some(key),
            json,
        } => history(dag, store.as_ref(), &id, &key, json, out),
        RunsCommand::Show { id, json, .. } => show(dag, store.as_ref(), &id, json, out),
        RunsCommand::Delete { id } => {
            let run = find(dag, store.as_ref(), &id)?;
            store.delete_run(&run.info.run_id)?;
            out.line(format!(
                "Deleted run {} ({}); `runs restore {}` brings it back",
                run.info.run_id, run.info.run_name, run.info.run_id
            ));
            Ok(ExitCode::SUCCESS)
        }
        RunsCommand::Restore { id } => {
            store.restore_run(&id)?;
            out.line(format!("Restored run {id}"));
            Ok(ExitCode::SUCCESS)
        }
        RunsCommand::Compare { ids, json } => compare(dag, store.as_ref(), &ids, json, out),
    }
}

/// The run `id` is or uniquely starts with, among the pipeline's runs.
fn find(dag: &Dag, store: &dyn TrackingStore, id: &str) -> anyhow::Result<Run> {
    match store.find_run(id) {
        Ok(run) => Ok(run),
        Err(e) if e.is_not_found() => bail!(
            "no run `{id}` in the tracking store (pipeline `{}`)",
            dag.name()
        ),
        Err(e) => Err(e.into()),
    }
}

/// `runs show ID --metric KEY`: every recorded value of one metric.
fn history(
    dag: &Dag,
    store: &dyn TrackingStore,
    id: &str,
    key: &str,
    json: bool,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let run = find(dag, store, id)?;
    let points = store.metric_history(&run.info.run_id, key)?;
    if points.is_empty() {
        bail!("run {} has no metric `{key}`", run.info.run_id);
    }
    if json {
        out.line(serde_json::to_string_pretty(&points)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = points
        .iter()
        .map(|m| {
            vec![
                m.step.to_string(),
                format_value(m.value),
                table::format_time(m.timestamp),
            ]
        })
        .collect();
    out.line(table::render(&["Step", "Value", "Time"].map(String::from), &rows).trim_end());
    Ok(ExitCode::SUCCESS)
}

fn show(
    dag: &Dag,
    store: &dyn TrackingStore,
    id: &str,
    json: bool,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let run = find(dag, store, id)?;
    let files: Vec<(String, Option<u64>)> = store
        .list_artifact_files(&run.info.run_id)?
        .into_iter()
        .map(|f| (f.path, f.file_size))
        .collect();
    let children: Vec<Run> = store
        .search_runs(&SearchQuery {
            filter: format!("tags.`{TAG_PARENT_RUN_ID}` = '{}'", run.info.run_id),
            max_results: MAX_PAGE_SIZE,
            ..SearchQuery::new(std::slice::from_ref(&run.info.experiment_id))
        })
        .context("finding stage runs")?
        .runs;
    let inputs = store.run_inputs(&run.info.run_id)?;
    if json {
        let value = serde_json::json!({
            "run": run,
            "inputs": inputs,
            "artifacts": files.iter().map(|(p, s)| serde_json::json!({"path": p, "size": s})).collect::<Vec<_>>(),
            "children": children.iter().map(|c| &c.info).collect::<Vec<_>>(),
        });
        out.line(serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    let info = &run.info;
    out.line(format!("Run {} ({})", info.run_id, info.run_name));
    if info.lifecycle_stage == "deleted" {
        out.line(format!(
            "  DELETED    (`runs restore {}` brings it back)",
            info.run_id
        ));
    }
    out.line(format!("  status     {}", info.status.as_str()));
    out.line(format!(
        "  started    {}",
        table::format_time(info.start_time)
    ));
    if let Some(end) = info.end_time {
        out.line(format!(
            "  ended      {} ({:.1} s)",
            table::format_time(end),
            (end - info.start_time) as f64 / 1000.0
        ));
    }
    out.line(format!("  artifacts  runs:/{}", info.run_id));
    let section = |title: &str, rows: Vec<(String, String)>| {
        if rows.is_empty() {
            return;
        }
        out.line(format!("{title}:"));
        for (k, v) in rows {
            out.line(format!("  {k} = {v}"));
        }
    };
    section(
        "Inputs",
        inputs
            .iter()
            .map(|i| {
                let context = i.context.as_deref().unwrap_or("-");
                (
                    i.dataset.name.clone(),
                    format!("{context} (digest {})", i.dataset.digest),
                )
            })
            .collect(),
    );
    section(
        "Params",
        run.params
            .iter()
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect(),
    );
    section(
        "Metrics",
        run.metrics
            .iter()
            .map(|m| (m.key.clone(), format_value(m.value)))
            .collect(),
    );
    section(
        "Tags",
        run.tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect(),
    );
    if !files.is_empty() {
        out.line("Artifacts:");
        for (path, size) in &files {
            out.line(format!("  {path} ({} bytes)", size.unwrap_or(0)));
        }
    }
    if !children.is_empty() {
        out.line("Stage runs:");
        for child in &children {
            out.line(format!(
                "  {} {} {}",
                child.info.run_id,
                child.info.run_name,
                child.info.status.as_str()
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn compare(
    dag: &Dag,
    store: &dyn TrackingStore,
    ids: &[String],
    json: bool,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let runs: Vec<Run> = ids
        .iter()
        .map(|id| find(dag, store, id))
        .collect::<anyhow::Result<_>>()?;
    let mut rows: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        for p in crate::display::distinct_params(run) {
            rows.entry(format!("params.{}", p.key))
                .or_insert_with(|| vec!["-".into(); runs.len()])[i] = p.value.clone();
        }
        for m in &run.metrics {
            rows.entry(format!("metrics.{}", m.key))
                .or_insert_with(|| vec!["-".into(); runs.len()])[i] = format_value(m.value);
        }
    }
    if json {
        out.line(serde_json::to_string_pretty(&serde_json::json!({
            "runs": runs.iter().map(|r| &r.info.run_id).collect::<Vec<_>>(),
            "rows": rows,
        }))?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut headers = vec![String::new(), "Key".to_string()];
    headers.extend(runs.iter().map(|r| {
        format!(
            "{} ({})",
            &r.info.run_id[..8.min(r.info.run_id.len())],
            r.info.run_name
        )
    }));
    let cells: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(key, values)| {
            let differs = values.iter().any(|v| v != &values[0]);
            let mut row = vec![
                if differs {
                    "*".to_string()
                } else {
                    String::new()
                },
                key,
            ];
            row.extend(values);
            row
        })
        .collect();
    out.line(table::render(&headers, &cells).trim_end());
    Ok(ExitCode::SUCCESS)
}
