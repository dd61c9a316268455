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
    if args.json {
        out.line(serde_json::to_string_pretty(
            &serde_json::json!({ "stages": statuses }),
        )?);
        return Ok(ExitCode::SUCCESS);
    }
    if statuses.iter().all(|s| s.state == "up_to_date") {
        out.line("Everything is up to date.");
        return Ok(ExitCode::SUCCESS);
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
