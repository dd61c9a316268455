//! `exp run`, `exp show`, `exp apply`: trying variants without touching `params.toml`.

use super::{load_params, table, Printer};
use crate::atomic;
use crate::compare;
use crate::dag::Dag;
use crate::exp::run::{prepare_points, run_points};
use crate::exp::{grid, ExpRecord, ExperimentLog, StoreLog};
use crate::metrics::format_value;
use crate::params::{self, PARAMS_FILE};
use crate::tracking::recorder::Target;
use crate::workspace::Workspace;
use anyhow::{bail, Context as _};
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

pub fn run(
    ws: &Workspace,
    dag: &Dag,
    tracking: &Target,
    command: Command,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let log = StoreLog::new(tracking.clone(), dag.name());
    match command {
        Command::Run(args) => run_exps(ws, dag, tracking, args, out),
        Command::Show(args) => show(ws, dag, args, &log, out),
        Command::Apply(args) => apply(ws, dag, tracking, args, &log, out),
    }
}

fn run_exps(
    ws: &Workspace,
    dag: &Dag,
    tracking: &Target,
    args: RunArgs,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let points: Vec<Vec<String>> = grid::expand(&args.grid)?
        .into_iter()
        .map(|point| args.set.iter().cloned().chain(point).collect())
        .collect();
    let points = prepare_points(ws, dag, points)?;
    let jobs = args
        .jobs
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let count = points.len();
    out.line(format!("Running {count} experiment(s), {jobs} at a time"));
    let records = run_points(ws, dag, points, jobs, tracking, &|line| out.line(line))?;
    let failed: Vec<&ExpRecord> = records.iter().filter(|r| r.error.is_some()).collect();
    for record in &records {
        let summary = headline_metrics(record);
        match &record.error {
            None => out.line(format!("{}: {summary}", record.id)),
            Some(error) => out.line(format!("{}: failed: {error}", record.id)),
        }
    }
    if !failed.is_empty() {
        bail!("{} of {count} experiment(s) failed", failed.len());
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

fn show(
    ws: &Workspace,
    dag: &Dag,
    args: ShowArgs,
    log: &dyn ExperimentLog,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let keep = |key: &str| args.all_metrics || !key.contains('.');
    let flat_metrics = |m: &BTreeMap<String, crate::metrics::Flat>| -> BTreeMap<String, f64> {
        m.values()
            .flat_map(|f| f.iter())
            .filter(|(k, _)| keep(k))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    let mut rows = Vec::new();
    if let Ok(snapshot) = compare::workspace(ws, dag) {
        rows.push(Row {
            id: "workspace".into(),
            created: "-".into(),
            params: snapshot.params,
            metrics: flat_metrics(&snapshot.metrics),
            error: None,
        });
    }
    let records = log.list()?;
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

fn apply(
    ws: &Workspace,
    dag: &Dag,
    tracking: &Target,
    args: ApplyArgs,
    log: &dyn ExperimentLog,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let record = log.get(&args.id)?;
    if let Some(error) = &record.error {
        bail!(
            "experiment {} failed ({error}); there is nothing to apply",
            record.id
        );
    }
    let path = ws.path(PARAMS_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {PARAMS_FILE}"))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("parsing {PARAMS_FILE}"))?;
    for (key, value) in record.flat_params() {
        set_leaf(&mut doc, &key, &value)?;
    }
    let new_text = doc.to_string();
    // Validate before writing: params.toml is never left invalid.
    let table: toml::Table = new_text
        .parse()
        .context("applying the experiment's params")?;
    let sections = dag
        .stages()
        .iter()
        .flat_map(|s| s.params.iter().map(move |p| (s.name.as_str(), p)));
    params::validate(&table, sections, PARAMS_FILE)?;
    atomic::write(&path, new_text.as_bytes()).with_context(|| format!("writing {PARAMS_FILE}"))?;
    let _ = load_params(ws, dag, &[])?;
    out.line(format!(
        "Applied {} to {PARAMS_FILE}; restoring its outputs",
        record.id
    ));
    let args = super::repro::Args {
        stages: Vec::new(),
        force: false,
        single: false,
        dry: false,
        jobs: None,
        downstream: false,
    };
    super::repro::run(ws, dag, tracking, args, out)
}

/// Sets `a.b.c` in the document to the TOML value written as `value`, keeping comments and
/// layout; only changed values are touched.
fn set_leaf(doc: &mut toml_edit::DocumentMut, key: &str, value: &str) -> anyhow::Result<()> {
    let parts: Vec<&str> = key.split('.').collect();
    let Some((leaf, tables)) = parts.split_last() else {
        return Ok(());
    };
    let mut item = doc.as_item_mut();
    for part in tables {
        item = &mut item[*part];
    }
    let parsed: toml_edit::Value = value
        .parse()
        .or_else(|_| format!("{value:?}").parse())
        .map_err(|e| anyhow::anyhow!("{key} = {value}: {e}"))?;
    let current = item
        .get(*leaf)
        .and_then(|i| i.as_value())
        .map(|v| v.to_string());
    if current.as_deref().map(str::trim) != Some(parsed.to_string().trim()) {
        let decor = item
            .get(*leaf)
            .and_then(|i| i.as_value())
            .map(|v| v.decor().clone());
        let mut parsed = parsed;
        if let Some(decor) = decor {
            *parsed.decor_mut() = decor;
        }
        item[*leaf] = toml_edit::Item::Value(parsed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_leaf_keeps_comments() {
        let mut doc: toml_edit::DocumentMut = "# top\n[train]\n# trees\nn = 100 # many\nd = 3\n"
            .parse()
            .unwrap();
        set_leaf(&mut doc, "train.n", "20").unwrap();
        set_leaf(&mut doc, "train.d", "3").unwrap();
        assert_eq!(
            doc.to_string(),
            "# top\n[train]\n# trees\nn = 20 # many\nd = 3\n"
        );
    }
}
