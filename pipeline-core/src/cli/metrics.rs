//! `metrics show` and `metrics diff [A] [B]`.

use super::params::DiffArgs;
use super::{table, Printer};
use crate::compare::{resolve, workspace};
use crate::dag::Dag;
use crate::exp::StoreLog;
use crate::metrics::format_value;
use crate::tracking::recorder::Target;
use crate::workspace::Workspace;
use std::process::ExitCode;

/// `metrics` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Show the workspace's metrics files.
    Show(ShowArgs),
    /// Show metrics that differ between A and B.
    Diff(DiffArgs),
}

/// Arguments of `metrics show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(
    ws: &Workspace,
    dag: &Dag,
    tracking: &Target,
    command: Command,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    match command {
        Command::Show(args) => show(ws, dag, args, out),
        Command::Diff(args) => diff(ws, dag, tracking, args, out),
    }
}

fn show(ws: &Workspace, dag: &Dag, args: ShowArgs, out: &Printer) -> anyhow::Result<ExitCode> {
    let snapshot = workspace(ws, dag)?;
    if args.json {
        out.line(serde_json::to_string_pretty(&snapshot.metrics)?);
        return Ok(ExitCode::SUCCESS);
    }
    if snapshot.metrics.is_empty() {
        out.line("No metrics files yet: run `repro`.");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = snapshot
        .metrics
        .iter()
        .flat_map(|(path, flat)| {
            flat.iter()
                .map(move |(k, v)| vec![path.clone(), k.clone(), format_value(*v)])
        })
        .collect();
    let headers = [
        "Path".to_string(),
        "Metric".to_string(),
        "Value".to_string(),
    ];
    out.line(table::render(&headers, &rows).trim_end());
    Ok(ExitCode::SUCCESS)
}

fn diff(
    ws: &Workspace,
    dag: &Dag,
    tracking: &Target,
    args: DiffArgs,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let log = StoreLog::new(tracking.clone(), dag.name());
    let a_spec = args.a.as_deref().unwrap_or("HEAD");
    let b_spec = args.b.as_deref().unwrap_or("workspace");
    let a = resolve(ws, dag, &log, tracking, a_spec)?;
    let b = resolve(ws, dag, &log, tracking, b_spec)?;
    let mut keys: Vec<(String, String)> = Vec::new();
    for snapshot in [&a, &b] {
        for (path, flat) in &snapshot.metrics {
            keys.extend(flat.keys().map(|k| (path.clone(), k.clone())));
        }
    }
    keys.sort();
    keys.dedup();
    let get = |s: &crate::compare::Snapshot, path: &str, key: &str| {
        s.metrics.get(path).and_then(|f| f.get(key)).copied()
    };
    let mut rows = Vec::new();
    let mut json = Vec::new();
    for (path, key) in keys {
        let (old, new) = (get(&a, &path, &key), get(&b, &path, &key));
        if old == new && !args.all {
            continue;
        }
        let change = match (old, new) {
            (Some(o), Some(n)) => Some(n - o),
            _ => None,
        };
        let show = |v: Option<f64>| v.map_or_else(|| "-".to_string(), format_value);
        let delta = change.map_or_else(
            || "-".to_string(),
            |d| format!("{}{}", if d > 0.0 { "+" } else { "" }, format_value(d)),
        );
        rows.push(vec![path.clone(), key.clone(), show(old), show(new), delta]);
        json.push(serde_json::json!({"path": path, "metric": key, "old": old, "new": new, "change": change}));
    }
    if args.json {
        out.line(serde_json::to_string_pretty(&json)?);
    } else if rows.is_empty() {
        out.line(format!("No metric differs between {a_spec} and {b_spec}."));
    } else {
        let headers = ["Path", "Metric", a_spec, b_spec, "Change"].map(String::from);
        out.line(table::render(&headers, &rows).trim_end());
    }
    Ok(ExitCode::SUCCESS)
}
