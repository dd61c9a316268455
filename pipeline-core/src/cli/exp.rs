//! `exp run`, `exp show`, `exp apply`: trying variants without touching `params.toml`.

use super::{table, waiting, Printer};
use crate::compare;
use crate::engine::Event;
use crate::exp::{grid, ExpRecord, ExperimentLog};
use crate::metrics::format_value;
use crate::params::PARAMS_FILE;
use crate::session::Session;
use anyhow::bail;
use std::collections::BTreeMap;
use std::process::ExitCode;

/// `exp` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run the pipeline with overrides, in isolation: params.toml and outputs stay as they are.
    Run(RunArgs),
    /// Table of experiments with their params and metrics.
    Show(ShowArgs),
    /// Put an experiment's params into params.toml and its outputs into the workspace.
    Apply(ApplyArgs),
}

/// Arguments of `exp run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Override a parameter: -S section.key=value (validated like params.toml).
    #[arg(short = 'S', long = "set-param", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Run one experiment per value: --grid train.max_depth=3,5,10 (several grids multiply).
    #[arg(long, value_name = "KEY=V1,V2,…")]
    pub grid: Vec<String>,
    /// Experiments run at once (default: one per CPU).
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

/// Arguments of `exp show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Sort by a metric (`accuracy`) or a param (`train.max_depth`), largest first.
    #[arg(long, value_name = "KEY")]
    pub sort_by: Option<String>,
    /// With --sort-by: smallest first.
    #[arg(long)]
    pub asc: bool,
    /// Show nested metrics too (e.g. per-class scores).
    #[arg(long)]
    pub all_metrics: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `exp apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// The experiment id (or a unique prefix).
    pub id: String,
}

pub fn run(session: &Session, command: Command, out: &Printer) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run(args) => run_exps(session, args, out),
        Command::Show(args) => show(session, args, out),
        Command::Apply(args) => apply(session, args, out),
    }
}

fn run_exps(session: &Session, args: RunArgs, out: &Printer) -> anyhow::Result<ExitCode> {
    let points: Vec<Vec<String>> = grid::expand(&args.grid)?
        .into_iter()
        .map(|point| args.set.iter().cloned().chain(point).collect())
        .collect();
    let jobs = args
        .jobs
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let count = points.len();
    let say = |line: String| out.line(line);
    out.line(format!(
        "Running {}, {jobs} at a time",
        super::style::count(count, "experiment")
    ));
    let records = session.exp_run(points, jobs, &say, &waiting(out))?;
    let failed: Vec<&ExpRecord> = records.iter().filter(|r| r.error.is_some()).collect();
    for record in &records {
        let summary = headline_metrics(record);
        match &record.error {
            None => out.line(format!("{}: {summary}", record.id)),
            Some(error) => out.line(format!("{}: failed: {error}", record.id)),
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} of {} failed",
            failed.len(),
            super::style::count(count, "experiment")
        );
    }
    out.line("Compare them with `exp show`; keep one with `exp apply ID`.");
    Ok(ExitCode::SUCCESS)
}

fn headline_metrics(record: &ExpRecord) -> String {
    let parts: Vec<String> = record
        .metrics
        .values()
        .flat_map(|flat| flat.iter())
        .filter(|(k, _)| !k.contains('.'))
        .map(|(k, v)| format!("{k}={}", format_value(*v)))
        .collect();
    if parts.is_empty() {
        "done".to_string()
    } else {
        parts.join(" ")
    }
}

/// One row of `exp show`.
struct Row {
    id: String,
    created: String,
    params: BTreeMap<String, String>,
    metrics: BTreeMap<String, f64>,
    error: Option<String>,
}

fn show(session: &Session, args: ShowArgs, out: &Printer) -> anyhow::Result<ExitCode> {
    let keep = |key: &str| args.all_metrics || !key.contains('.');
    let flat_metrics = |m: &BTreeMap<String, crate::metrics::Flat>| -> BTreeMap<String, f64> {
        m.values()
            .flat_map(|f| f.iter())
            .filter(|(k, _)| keep(k))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    let mut rows = Vec::new();
    if let Ok(snapshot) = compare::workspace(session.workspace(), session.dag()) {
        rows.push(Row {
            id: "workspace".into(),
            created: "-".into(),
            params: snapshot.params,
            metrics: flat_metrics(&snapshot.metrics),
            error: None,
        });
    }
    let records = session.experiments().list()?;
    for record in &records {
        rows.push(Row {
            id: record.id.clone(),
            created: table::format_time(record.created_ms),
            params: record.flat_params(),
            metrics: flat_metrics(&record.metrics),
            error: record.error.clone(),
        });
    }
    if let Some(key) = &args.sort_by {
        let known = rows
            .iter()
            .any(|r| r.metrics.contains_key(key) || r.params.contains_key(key));
        if !known {
            bail!("--sort-by {key}: no experiment has a metric or param of that name");
        }
        let value = |r: &Row| -> Option<f64> {
            r.metrics
                .get(key)
                .copied()
                .or_else(|| r.params.get(key).and_then(|v| v.parse().ok()))
        };
        // The workspace row stays on top.
        let first = usize::from(rows.first().is_some_and(|r| r.id == "workspace"));
        rows[first..].sort_by(|a, b| {
            let (x, y) = (value(a), value(b));
            let ord = match (x, y) {
                (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                (Some(_), None) => return std::cmp::Ordering::Less,
                (None, Some(_)) => return std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            };
            if args.asc {
                ord
            } else {
                ord.reverse()
            }
        });
    }
    if args.json {
        let json: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id, "created": r.created, "params": r.params,
                    "metrics": r.metrics, "error": r.error,
                })
            })
            .collect();
        out.line(serde_json::to_string_pretty(&json)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut param_keys: Vec<&String> = rows.iter().flat_map(|r| r.params.keys()).collect();
    param_keys.sort();
    param_keys.dedup();
    let mut metric_keys: Vec<&String> = rows.iter().flat_map(|r| r.metrics.keys()).collect();
    metric_keys.sort();
    metric_keys.dedup();
    let mut headers = vec!["Experiment".to_string(), "Created".to_string()];
    headers.extend(metric_keys.iter().map(|k| k.to_string()));
    headers.extend(param_keys.iter().map(|k| k.to_string()));
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row = vec![r.id.clone(), r.created.clone()];
            for key in &metric_keys {
                row.push(match (&r.error, r.metrics.get(*key)) {
                    (Some(_), _) => "failed".into(),
                    (None, Some(v)) => format_value(*v),
                    (None, None) => "-".into(),
                });
            }
            for key in &param_keys {
                row.push(r.params.get(*key).cloned().unwrap_or_else(|| "-".into()));
            }
            row
        })
        .collect();
    out.line(table::render(&headers, &cells).trim_end());
    if records.is_empty() {
        out.line("No experiments yet: try `exp run -S section.key=value`.");
    }
    Ok(ExitCode::SUCCESS)
}

fn apply(session: &Session, args: ApplyArgs, out: &Printer) -> anyhow::Result<ExitCode> {
    let events = |event: Event| {
        if let Event::Running(name, _) = event {
            out.line(format!("Running stage `{name}`"));
        }
    };
    let before = super::repro::metrics_files(session);
    let applied = session.exp_apply(&args.id, &events, &waiting(out))?;
    out.line(format!(
        "Applied {} to {PARAMS_FILE}; restored its outputs",
        applied.record.id
    ));
    super::repro::report_outcome(session, &applied.repro, &before, out)
}
