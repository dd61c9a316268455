//! `repro`: bring outputs up to date, or with `--dry` say what that would do.

use super::{load_params, resolve_targets, select, Printer};
use crate::dag::Dag;
use crate::exec::{Engine, Event, Options, Outcome};
use crate::tracking::recorder::{Recorder, Target};
use crate::workspace::Workspace;
use anyhow::bail;
use std::process::ExitCode;

/// Arguments of `repro`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stages to bring up to date (default: all), with what they depend on.
    pub stages: Vec<String>,
    /// Run the stages even if they are up to date.
    #[arg(short, long)]
    pub force: bool,
    /// Only the named stages, not their upstream.
    #[arg(short = 's', long = "single-item")]
    pub single: bool,
    /// Print what would run and why; change nothing.
    #[arg(long)]
    pub dry: bool,
    /// Run at most N stages at once (default: one per CPU).
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// The named stages and everything that depends on them.
    #[arg(long)]
    pub downstream: bool,
}

pub fn run(
    ws: &Workspace,
    dag: &Dag,
    tracking: &Target,
    args: Args,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let params = load_params(ws, dag, &[])?;
    let targets = resolve_targets(dag, &args.stages)?;
    let selected = select(dag, &targets, args.single, args.downstream)?;
    if args.dry {
        return dry(ws, dag, &params, &selected, args.force, out);
    }
    let _guard = ws.lock(true, |holder| {
        out.line(format!("waiting for the workspace lock held by {holder}…"))
    })?;
    crate::tracking::recorder::sweep_abandoned(tracking, ws.root())?;
    let recorder = Recorder::new(tracking.clone(), dag.name(), "repro", "repro", ws.root());
    let engine = Engine::new(ws, dag, &params)?.with_recorder(&recorder);
    engine.sweep_leftovers();
    let options = Options {
        force: args.force,
        jobs: args.jobs.map_or(0, usize::from),
    };
    let progress = super::progress::Progress::new();
    let events = |event: Event| match event {
        Event::Running(name, reasons) => {
            let why: Vec<String> = reasons.iter().map(ToString::to_string).collect();
            progress.suspend(|| out.line(format!("Running stage `{name}` ({})", why.join("; "))));
            progress.start(name);
        }
        Event::Finished(name, outcome, took) => {
            progress.finish(name);
            let line = match outcome {
                Outcome::Restored => {
                    format!("Restored stage `{name}` from the run cache in {}", ms(took))
                }
                _ => format!("Stage `{name}` done in {}", ms(took)),
            };
            progress.suspend(|| out.line(line));
        }
        Event::CacheWarning(name, error) => progress.suspend(|| {
            out.line(format!(
                "warning: stage `{name}`: {error}; running the stage instead"
            ))
        }),
    };
    let reports = engine.repro(&selected, &options, &events);
    if args.stages.is_empty() {
        engine.prune_lock();
    }
    engine.finish()?;
    // Only a run that started (some stage ran or was restored) has anything to record; a no-op
    // `repro` skips reading the metrics files again.
    if recorder.parent_run_id().is_some() {
        let ok = reports.iter().all(|r| r.result.is_ok());
        let snapshot = crate::compare::workspace(ws, dag).unwrap_or_default();
        let metrics = snapshot.metrics.into_values().flatten().collect();
        let flat = crate::exp::flat_params(params.sections());
        if let Some(run_id) = recorder.finish(ok, &flat, &metrics, &[])? {
            out.line(format!(
                "Recorded as run {run_id} in experiment `{}`",
                dag.name()
            ));
        }
    }
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| r.result.is_err())
        .map(ToString::to_string)
        .collect();
    if reports
        .iter()
        .all(|r| matches!(r.result, Ok(Outcome::UpToDate | Outcome::Frozen)))
    {
        out.line("Everything is up to date.");
    }
    match failed.len() {
        0 => Ok(ExitCode::SUCCESS),
        1 => bail!("{}", failed[0]),
        n => bail!("{n} stages did not complete:\n  {}", failed.join("\n  ")),
    }
}

fn dry(
    ws: &Workspace,
    dag: &Dag,
    params: &crate::params::ParamValues,
    selected: &std::collections::BTreeSet<usize>,
    force: bool,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let engine = Engine::new(ws, dag, params)?;
    for (i, result) in engine.status(selected) {
        let name = &dag.stage(i).name;
        match result {
            Err(error) => out.line(format!("would fail `{name}`: {error}")),
            Ok(check) if check.reasons.is_empty() && !force => {
                out.line(format!("`{name}` is up to date"))
            }
            Ok(check) => {
                let mut why: Vec<String> = check.reasons.iter().map(ToString::to_string).collect();
                if force {
                    why.push("forced".into());
                }
                let verb = if check.cached.is_some() && !force && !dag.stage(i).always_run {
                    "would restore"
                } else {
                    "would run"
                };
                out.line(format!("{verb} `{name}` ({})", why.join("; ")));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn ms(d: std::time::Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}
