//! `add`, `checkout`, `gc`, `remote`, `push`, `fetch`, `pull`: data versioning and sharing.

use super::{waiting, Printer};
use crate::data::remote::{self, Transfer};
use crate::data::{self};
use crate::session::{CheckoutReport, Session};
use crate::workspace::Workspace;
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `remote` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RemoteCommand {
    /// Add a remote: a directory (local path, mounted share, file://…).
    Add {
        /// Its name.
        name: String,
        /// Where it is.
        url: String,
        /// Make it the default remote.
        #[arg(short, long)]
        default: bool,
    },
    /// List remotes.
    List,
    /// Forget a remote.
    Remove {
        /// Its name.
        name: String,
    },
}

/// `add PATH…`.
pub fn add(
    session: &Session,
    start: &Path,
    paths: &[PathBuf],
    link: bool,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    for entry in session.add(start, paths, link, &waiting(out))? {
        let rel = &entry.path;
        out.line(format!(
            "Added {rel} ({} bytes{}); commit {rel}.{} and .gitignore",
            entry.size,
            if entry.dir { ", directory" } else { "" },
            data::pointer::EXTENSION
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// `checkout [PATH…]`.
pub fn checkout(
    session: &Session,
    start: &Path,
    paths: &[PathBuf],
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let report = session.checkout(start, paths, &waiting(out))?;
    show_checkout(&report, out)
}

fn show_checkout(report: &CheckoutReport, out: &Printer) -> anyhow::Result<ExitCode> {
    for (path, why) in &report.skipped {
        out.line(format!("warning: {path} left alone: {why}"));
    }
    for path in &report.restored {
        out.line(format!("Restored {path}"));
    }
    if !report.failed.is_empty() {
        let failed: Vec<String> = report
            .failed
            .iter()
            .map(|(path, error)| format!("{path}: {error}"))
            .collect();
        anyhow::bail!(
            "{} path(s) could not be checked out (try `fetch`):\n  {}",
            failed.len(),
            failed.join("\n  ")
        );
    }
    if report.restored.is_empty() {
        out.line("Everything is already in place.");
    }
    Ok(ExitCode::SUCCESS)
}

/// `gc [--workspace] [--dry]`.
pub fn collect(
    session: &Session,
    workspace_only: bool,
    dry: bool,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let done = session.gc(workspace_only, dry, &waiting(out))?;
    if dry {
        for fingerprint in &done.removed_runs {
            out.line(format!("Would remove run record {fingerprint}"));
        }
        for (hash, size) in &done.removed {
            out.line(format!("Would remove object {hash} ({size} bytes)"));
        }
        out.line(format!(
            "Would remove {} object(s), {} bytes; {} run record(s)",
            done.objects, done.bytes, done.runs
        ));
    } else {
        out.line(format!(
            "Removed {} object(s), {} bytes; {} run record(s)",
            done.objects, done.bytes, done.runs
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// `remote …`.
pub fn remotes(ws: &Workspace, command: RemoteCommand, out: &Printer) -> anyhow::Result<ExitCode> {
    match command {
        RemoteCommand::Add { name, url, default } => {
            remote::add(ws, &name, &url, default)?;
            out.line(format!("Remote `{name}` → {url}"));
        }
        RemoteCommand::List => {
            for (name, url, is_default) in remote::list(ws)? {
                out.line(format!(
                    "{name}\t{url}{}",
                    if is_default { "\t(default)" } else { "" }
                ));
            }
        }
        RemoteCommand::Remove { name } => {
            remote::remove(ws, &name)?;
            out.line(format!("Removed remote `{name}`"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints what a transfer moved; what it skipped makes the command fail, once the rest is done.
fn show_transfer(verb: &str, done: &Transfer, out: &Printer) -> anyhow::Result<()> {
    out.line(format!(
        "{verb}: {} object(s) copied, {} already there, {} run record(s); remote `{}`",
        done.objects, done.present, done.runs, done.remote
    ));
    if !done.problems.is_empty() {
        anyhow::bail!(
            "{verb}: {} item(s) skipped, everything else was transferred:\n  {}",
            done.problems.len(),
            done.problems.join("\n  ")
        );
    }
    Ok(())
}

/// `push`.
pub fn push(session: &Session, remote: Option<&str>, out: &Printer) -> anyhow::Result<ExitCode> {
    let done = session.push(remote).context("push failed")?;
    show_transfer("push", &done, out)?;
    Ok(ExitCode::SUCCESS)
}

/// `fetch`.
pub fn fetch(session: &Session, remote: Option<&str>, out: &Printer) -> anyhow::Result<ExitCode> {
    let done = session
        .fetch(remote, &waiting(out))
        .context("fetch failed")?;
    show_transfer("fetch", &done, out)?;
    Ok(ExitCode::SUCCESS)
}

/// `pull`: fetch, then checkout.
pub fn pull(session: &Session, remote: Option<&str>, out: &Printer) -> anyhow::Result<ExitCode> {
    let (done, report) = session.pull(remote, &waiting(out)).context("pull failed")?;
    let shown = show_checkout(&report, out);
    show_transfer("pull", &done, out)?;
    shown
}
