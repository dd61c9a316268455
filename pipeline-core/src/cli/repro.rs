//! `repro`: bring outputs up to date, or with `--dry` say what that would do.

use super::style::Paint;
use super::summary::{self, MetricsFiles};
use super::{waiting, Printer};
use crate::engine::{Event, Outcome, StageState};
use crate::session::{ReproRequest, Scope, Session};
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
    #[arg(short = 's', long = "single-item", conflicts_with = "downstream")]
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
    /// Do not look up stale stages in the default remote's run cache.
    #[arg(long)]
    pub no_remote: bool,
    /// Then push to the default remote what the run produced, for teammates' `repro`.
    #[arg(long, conflicts_with = "dry")]
    pub push: bool,
}

impl Args {
    fn request(&self) -> ReproRequest {
        ReproRequest {
            stages: self.stages.clone(),
            scope: if self.single {
                Scope::Single
            } else if self.downstream {
                Scope::WithDownstream
            } else {
                Scope::WithUpstream
            },
            force: self.force,
            jobs: self.jobs.map_or(0, usize::from),
            no_remote: self.no_remote,
        }
    }
}

pub fn run(session: &Session, args: Args, out: &Printer) -> anyhow::Result<ExitCode> {
    let request = args.request();
    if args.dry {
        return dry(session, &request, out);
    }
    let before = metrics_files(session);
    let progress = super::progress::Progress::new();
    let events = |event: Event| match event {
        Event::Running(name, reasons) => {
            let why: Vec<String> = reasons.iter().map(ToString::to_string).collect();
            let stage = out.paint(Paint::Bold, &format!("`{name}`"));
            progress.suspend(|| out.line(format!("Running stage {stage} ({})", why.join("; "))));
            progress.start(name);
        }
        Event::Finished(name, outcome, took) => {
            progress.finish(name);
            let line = match outcome {
                Outcome::Restored => format!(
                    "{} stage `{name}` from the run cache in {}",
                    out.paint(Paint::Cyan, "Restored"),
                    ms(took)
                ),
                _ => format!(
                    "Stage `{name}` {} in {}",
                    out.paint(Paint::Green, "done"),
                    ms(took)
                ),
            };
            progress.suspend(|| out.line(line));
        }
        Event::CacheWarning(name, error) => progress.suspend(|| {
            out.line(format!(
                "warning: stage `{name}`: {error}; running the stage instead"
            ))
        }),
    };
    let report = session.repro(&request, &events, &waiting(out))?;
    if let Some(warning) = &report.remote_warning {
        out.line(format!(
            "warning: the remote run cache was not used: {warning}"
        ));
    }
    let code = report_outcome(session, &report, &before, out)?;
    if args.push && report.succeeded() {
        super::data::push(session, &Default::default(), out)?;
    }
    Ok(code)
}

/// The workspace's metrics files as they are now (none when unreadable: the summary then shows
/// the new values without a change).
pub(super) fn metrics_files(session: &Session) -> MetricsFiles {
    crate::compare::workspace(session.workspace(), session.dag())
        .map(|snapshot| snapshot.metrics)
        .unwrap_or_default()
}

/// The closing lines of a `repro` (also after `exp apply`), and its exit code: the run it was
/// recorded as, then one summary line (stages, and the headline metrics against `before`).
pub(super) fn report_outcome(
    session: &Session,
    report: &crate::session::ReproReport,
    before: &MetricsFiles,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    if let Some(run_id) = &report.run_id {
        out.line(format!(
            "Recorded as run {} in experiment `{}`",
            out.paint(Paint::Dim, run_id),
            report.experiment
        ));
    }
    if report.all_up_to_date() {
        out.line(out.paint(Paint::Green, "Everything is up to date."));
    } else {
        let after = metrics_files(session);
        out.line(summary::line(report, before, &after, out.color()));
    }
    let failed: Vec<String> = report.failures().map(ToString::to_string).collect();
    match failed.len() {
        0 => Ok(ExitCode::SUCCESS),
        1 => bail!("{}", failed[0]),
        n => bail!("{n} stages did not complete:\n  {}", failed.join("\n  ")),
    }
}

fn dry(session: &Session, request: &ReproRequest, out: &Printer) -> anyhow::Result<ExitCode> {
    for status in session.plan(request)? {
        let name = &status.name;
        let why = || {
            let reasons: Vec<String> = status
                .state
                .reasons()
                .iter()
                .map(ToString::to_string)
                .collect();
            reasons.join("; ")
        };
        match &status.state {
            StageState::Frozen => {}
            StageState::Error(error) => out.line(format!("would fail `{name}`: {error}")),
            StageState::UpToDate => out.line(format!("`{name}` is up to date")),
            StageState::Restorable(_) => out.line(format!("would restore `{name}` ({})", why())),
            StageState::RestorableFromRemote(_) => out.line(format!(
                "would restore `{name}` from the remote ({})",
                why()
            )),
            StageState::Stale(_) => out.line(format!("would run `{name}` ({})", why())),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn ms(d: std::time::Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}
