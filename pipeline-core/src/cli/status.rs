//! `status`: which stages are stale and why, field by field, and how versioned data compares.

use super::style::Paint;
use super::Printer;
use crate::engine::StageState;
use crate::session::{DataState, Session};
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

/// A stage as `status --json` shows it.
#[derive(Serialize)]
struct StageJson {
    stage: String,
    state: &'static str,
    restorable: bool,
    restorable_from_remote: bool,
    reasons: Vec<String>,
}

/// A data path as `status --json` shows it.
#[derive(Serialize)]
struct DataJson {
    path: String,
    state: &'static str,
}

fn data_key(state: DataState) -> &'static str {
    match state {
        DataState::UpToDate => "up_to_date",
        DataState::Modified => "modified",
        DataState::Missing => "missing",
    }
}

pub fn run(session: &Session, args: Args, out: &Printer) -> anyhow::Result<ExitCode> {
    let stages: Vec<StageJson> = session
        .status(&args.stages)?
        .into_iter()
        .filter(|s| s.state != StageState::Frozen)
        .map(|s| {
            let reasons = match &s.state {
                StageState::Error(error) => vec![error.clone()],
                state => state.reasons().iter().map(ToString::to_string).collect(),
            };
            StageJson {
                stage: s.name,
                state: match s.state {
                    StageState::UpToDate | StageState::Frozen => "up_to_date",
                    StageState::Restorable(_)
                    | StageState::RestorableFromRemote(_)
                    | StageState::Stale(_) => "stale",
                    StageState::Error(_) => "error",
                },
                restorable: matches!(s.state, StageState::Restorable(_)),
                restorable_from_remote: matches!(s.state, StageState::RestorableFromRemote(_)),
                reasons,
            }
        })
        .collect();
    let data: Vec<DataJson> = session
        .data_status()?
        .into_iter()
        .map(|d| DataJson {
            path: d.path,
            state: data_key(d.state),
        })
        .collect();
    if args.json {
        out.line(serde_json::to_string_pretty(
            &serde_json::json!({ "stages": stages, "data": data }),
        )?);
        return Ok(ExitCode::SUCCESS);
    }
    if stages.iter().all(|s| s.state == "up_to_date")
        && data.iter().all(|d| d.state == "up_to_date")
    {
        out.line(out.paint(Paint::Green, "Everything is up to date."));
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
    for status in &stages {
        match status.state {
            "up_to_date" => out.line(format!(
                "{}: {}",
                status.stage,
                out.paint(Paint::Green, "up to date")
            )),
            state => {
                let note = if status.restorable {
                    " (restorable from cache)"
                } else if status.restorable_from_remote {
                    " (restorable from remote)"
                } else {
                    ""
                };
                let paint = if state == "error" {
                    Paint::Red
                } else {
                    Paint::Yellow
                };
                out.line(format!(
                    "{}: {}{note}",
                    status.stage,
                    out.paint(paint, &state.replace('_', " "))
                ));
                for reason in &status.reasons {
                    out.line(format!("    {reason}"));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
