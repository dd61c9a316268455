//! `add`, `checkout`, `gc`, `remote`, `push`, `fetch`, `pull`: data versioning and sharing.

use super::Printer;
use crate::dag::Dag;
use crate::data::{self, gc, remote, Checkout};
use crate::state::StateCache;
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

fn lock(ws: &Workspace, out: &Printer) -> anyhow::Result<crate::workspace::WorkspaceLock> {
    Ok(ws.lock(true, |holder| {
        out.line(format!("waiting for the workspace lock held by {holder}…"))
    })?)
}

/// `add PATH…`.
pub fn add(
    ws: &Workspace,
    start: &Path,
    dag: &Dag,
    paths: &[PathBuf],
    link: bool,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let _guard = lock(ws, out)?;
    let state = StateCache::load(&ws.layout().state_cache());
    for path in paths {
        let rel = data::workspace_relative(ws, start, path)?;
        let entry = data::add(ws, dag, &state, &rel, link)?;
        out.line(format!(
            "Added {rel} ({} bytes{}); commit {rel}.{} and .gitignore",
            entry.size,
            if entry.dir { ", directory" } else { "" },
            data::pointer::EXTENSION
        ));
    }
    let _ = state.save();
    Ok(ExitCode::SUCCESS)
}

/// `checkout [PATH…]`.
pub fn checkout(
    ws: &Workspace,
    start: &Path,
    paths: &[PathBuf],
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let _guard = lock(ws, out)?;
    let state = StateCache::load(&ws.layout().state_cache());
    let wanted: Vec<String> = paths
        .iter()
        .map(|p| data::workspace_relative(ws, start, p))
        .collect::<Result<_, _>>()?;
    let mut restored = 0;
    let mut failed = Vec::new();
    for entry in data::versioned(ws)? {
        if !wanted.is_empty()
            && !wanted
                .iter()
                .any(|w| &entry.path == w || entry.path.starts_with(&format!("{w}/")))
        {
            continue;
        }
        match data::checkout_entry(ws, &state, &entry) {
            Ok(Checkout::Restored) => {
                restored += 1;
                out.line(format!("Restored {}", entry.path));
            }
            Ok(Checkout::Unchanged) => {}
            Err(e) => failed.push(format!("{}: {e}", entry.path)),
        }
    }
    let _ = state.save();
    if !failed.is_empty() {
        anyhow::bail!(
            "{} path(s) could not be checked out (try `fetch`):\n  {}",
            failed.len(),
            failed.join("\n  ")
        );
    }
    if restored == 0 {
        out.line("Everything is already in place.");
    }
    Ok(ExitCode::SUCCESS)
}

/// `gc [--workspace]`.
pub fn collect(ws: &Workspace, workspace_only: bool, out: &Printer) -> anyhow::Result<ExitCode> {
    let _guard = lock(ws, out)?;
    let done = gc::collect(ws, workspace_only)?;
    out.line(format!(
        "Removed {} object(s), {} bytes; {} run record(s)",
        done.objects, done.bytes, done.runs
    ));
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

/// `push`, `fetch` and `pull` (fetch, then checkout).
pub fn transfer(
    ws: &Workspace,
    start: &Path,
    verb: &str,
    name: Option<&str>,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let done = match verb {
        "push" => remote::push(ws, name),
        _ => remote::fetch(ws, name),
    }
    .with_context(|| format!("{verb} failed"))?;
    out.line(format!(
        "{verb}: {} object(s) copied, {} already there, {} run record(s); remote `{}`",
        done.objects, done.present, done.runs, done.remote
    ));
    if verb == "pull" {
        return checkout(ws, start, &[], out);
    }
    Ok(ExitCode::SUCCESS)
}
