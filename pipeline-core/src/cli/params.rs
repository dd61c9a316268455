//! `params diff [A] [B]`: parameters that differ between two points (default: the last commit,
//! `HEAD`, against the workspace, as DVC does: after `repro` a person asks "what changed since I
//! committed", which the lock file, just rewritten by that `repro`, cannot answer).

use super::{table, Printer};
use crate::compare::resolve;
use crate::dag::Dag;
use crate::exp::StoreLog;
use crate::tracking::recorder::Target;
use crate::workspace::Workspace;
use std::process::ExitCode;

/// `params` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Show parameters that differ between A and B.
    Diff(DiffArgs),
}

/// Arguments of `params diff` and `metrics diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// `workspace`, `lock`, an experiment id, a run id or a git revision (default: HEAD, the
    /// last commit).
    pub a: Option<String>,
    /// Same choices (default: workspace).
    pub b: Option<String>,
    /// Also list what did not change.
    #[arg(long)]
    pub all: bool,
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
    let Command::Diff(args) = command;
    let log = StoreLog::new(tracking.clone(), dag.name());
    let a_spec = args.a.as_deref().unwrap_or("HEAD");
    let b_spec = args.b.as_deref().unwrap_or("workspace");
    let a = resolve(ws, dag, &log, tracking, a_spec)?;
    let b = resolve(ws, dag, &log, tracking, b_spec)?;
    let mut keys: Vec<&String> = a.params.keys().chain(b.params.keys()).collect();
    keys.sort();
    keys.dedup();
    let rows: Vec<Vec<String>> = keys
        .into_iter()
        .filter_map(|key| {
            let (old, new) = (a.params.get(key), b.params.get(key));
            if old == new && !args.all {
                return None;
            }
            let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "-".into());
            Some(vec![key.clone(), show(old), show(new)])
        })
        .collect();
    if args.json {
        let json: Vec<_> = rows
            .iter()
            .map(|r| serde_json::json!({"param": r[0], "old": r[1], "new": r[2]}))
            .collect();
        out.line(serde_json::to_string_pretty(&json)?);
    } else if rows.is_empty() {
        out.line(format!(
            "No parameter differs between {a_spec} and {b_spec}."
        ));
    } else {
        let headers = ["Param".to_string(), a_spec.to_string(), b_spec.to_string()];
        out.line(table::render(&headers, &rows).trim_end());
    }
    Ok(ExitCode::SUCCESS)
}
