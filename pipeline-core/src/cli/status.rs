//! `status`: which stages are stale and why, field by field.

use super::{load_params, resolve_targets, select, Printer};
use crate::dag::Dag;
use crate::exec::Engine;
use crate::workspace::Workspace;
use serde::Serialize;
use std::process::ExitCode;

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stages to check (default: all), with what they depend on.
    pub stages: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct StageStatus {
    stage: String,
    state: &'static str,
    restorable: bool,
    reasons: Vec<String>,
}

#[derive(Serialize)]
struct DataStatus {
    path: String,
    state: &'static str,
}

/// Data versioned by pointer files, compared with the workspace.
fn data_status(ws: &Workspace) -> anyhow::Result<Vec<DataStatus>> {
    let paths = crate::data::pointer::find(ws.root());
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let state = crate::state::StateCache::load(&ws.layout().state_cache());
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        let pointer = crate::data::pointer::Pointer::load(ws.root(), &path)?;
        let status = match state.hash_path(ws.root(), &path) {
            Ok(now) if now.hash == pointer.hash => "up_to_date",
            Ok(_) => "modified",
            Err(crate::state::HashError::Missing(_)) => "missing",
            Err(e) => return Err(e.into()),
        };
        out.push(DataStatus {
            path,
            state: status,
        });
    }
    let _ = state.save();
    Ok(out)
}

pub fn run(ws: &Workspace, dag: &Dag, args: Args, out: &Printer) -> anyhow::Result<ExitCode> {
    let params = load_params(ws, dag, &[])?;
    let targets = resolve_targets(dag, &args.stages)?;
    let selected = select(dag, &targets, false, false)?;
    let engine = Engine::new(ws, dag, &params)?;
    let statuses: Vec<StageStatus> = engine
        .status(&selected)
        .into_iter()
        .map(|(i, result)| {
            let stage = dag.stage(i).name.clone();
            match result {
                Ok(check) if check.reasons.is_empty() => StageStatus {
                    stage,
                    state: "up_to_date",
                    restorable: false,
                    reasons: Vec::new(),
                },
                Ok(check) => StageStatus {
                    stage,
                    state: "stale",
                    restorable: check.cached.is_some(),
                    reasons: check.reasons.iter().map(ToString::to_string).collect(),
                },
                Err(error) => StageStatus {
                    stage,
                    state: "error",
                    restorable: false,
                    reasons: vec![error.to_string()],
                },
            }
        })
        .collect();
    engine.finish()?;
    let data = data_status(ws)?;
    if args.json {
        out.line(serde_json::to_string_pretty(
            &serde_json::json!({ "stages": statuses, "data": data }),
        )?);
        return Ok(ExitCode::SUCCESS);
    }
    if statuses.iter().all(|s| s.state == "up_to_date")
        && data.iter().all(|d| d.state == "up_to_date")
    {
        out.line("Everything is up to date.");
        return Ok(ExitCode::SUCCESS);
    }
    for d in data.iter().filter(|d| d.state != "up_to_date") {
        let hint = if d.state == "missing" {
            "`checkout` restores it"
        } else {
            "`add` records it, `checkout` restores it"
        };
        out.line(format!("{}: {} ({hint})", d.path, d.state));
    }
    for status in &statuses {
        match status.state {
            "up_to_date" => out.line(format!("{}: up to date", status.stage)),
            state => {
                let note = if status.restorable {
                    " (restorable from cache)"
                } else {
                    ""
                };
                out.line(format!(
                    "{}: {}{note}",
                    status.stage,
                    state.replace('_', " ")
                ));
                for reason in &status.reasons {
                    out.line(format!("    {reason}"));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
