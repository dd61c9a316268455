//! `add`, `checkout`, `gc`, `remote`, `push`, `fetch`, `pull`: data versioning and sharing.

use super::style::count;
use super::{waiting, Printer};
use crate::data::remote::{self, ConfigFile, Transfer, TransferOptions};
use crate::data::{self};
use crate::session::{CheckoutReport, Session};
use crate::workspace::Workspace;
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `remote` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RemoteCommand {
    /// Add a remote: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, azure://CONTAINER/PREFIX (or
    /// az://), a directory or file://DIR. Credentials and endpoints come from each cloud's
    /// environment variables (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL, AWS_REGION,
    /// GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_ACCOUNT_NAME, …) or `remote modify`.
    Add {
        /// Its name.
        name: String,
        /// Where it is.
        url: String,
        /// Make it the default remote.
        #[arg(short, long)]
        default: bool,
    },
    /// Set an option of a remote (endpoint, region, allow_http, access_key_id, account_name,
    /// use_emulator, …). Credentials are written to .pipeline/config.local.toml, never to the
    /// committed .pipeline/config.toml.
    Modify {
        /// The remote.
        name: String,
        /// The option.
        key: String,
        /// Its value (omit with --unset).
        #[arg(required_unless_present = "unset")]
        value: Option<String>,
        /// Remove the option.
        #[arg(long, conflicts_with = "value")]
        unset: bool,
        /// Write to the local, uncommitted file even if the option is not a credential.
        #[arg(long)]
        local: bool,
    },
    /// List remotes.
    List {
        /// Also say whether each answers (one request each).
        #[arg(long)]
        check: bool,
    },
    /// Forget a remote.
    Remove {
        /// Its name.
        name: String,
    },
}

/// What `push`, `fetch` and `pull` take.
#[derive(Debug, clap::Args)]
pub struct TransferArgs {
    /// Only these stages (their outputs and run records) or paths (what is versioned at or
    /// under them).
    pub targets: Vec<String>,
    /// The remote (default: the default remote).
    #[arg(short, long)]
    pub remote: Option<String>,
    /// Requests in flight at once (default: 32 for object storage, 4 for a directory).
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// `fetch`/`pull`: also the outputs of every run record of the remote, not only what the
    /// lock file and pointers use (`push` always sends them).
    #[arg(long)]
    pub run_cache: bool,
}

impl TransferArgs {
    /// The session's options.
    pub fn options(&self) -> TransferOptions {
        TransferOptions {
            remote: self.remote.clone(),
            jobs: self.jobs.map(usize::from),
            run_cache: self.run_cache,
            targets: self.targets.clone(),
        }
    }
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
            "{} could not be checked out (try `fetch`):\n  {}",
            count(failed.len(), "path"),
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
            "Would remove {}, {}; {}",
            count(done.objects, "object"),
            count(done.bytes as usize, "byte"),
            count(done.runs, "run record")
        ));
    } else {
        out.line(format!(
            "Removed {}, {}; {}",
            count(done.objects, "object"),
            count(done.bytes as usize, "byte"),
            count(done.runs, "run record")
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
        RemoteCommand::Modify {
            name,
            key,
            value,
            unset: _,
            local,
        } => {
            let file = remote::modify(ws, &name, &key, value.as_deref(), local)?;
            let where_ = match file {
                ConfigFile::Shared => ".pipeline/config.toml",
                ConfigFile::Local => ".pipeline/config.local.toml (not committed)",
            };
            match value {
                Some(_) => out.line(format!("Remote `{name}`: {key} set in {where_}")),
                None => out.line(format!("Remote `{name}`: {key} unset")),
            }
        }
        RemoteCommand::List { check } => {
            let mut failed = 0;
            for info in remote::list(ws)? {
                let mut line = format!(
                    "{}\t{}{}",
                    info.name,
                    info.url,
                    if info.default { "\t(default)" } else { "" }
                );
                for (key, value) in &info.options {
                    line.push_str(&format!("\t{key}={value}"));
                }
                if check {
                    match remote::check(ws, &info.name) {
                        Ok(()) => line.push_str("\treachable"),
                        Err(e) => {
                            failed += 1;
                            line.push_str(&format!("\tunreachable: {e}"));
                        }
                    }
                }
                out.line(line);
            }
            if failed > 0 {
                anyhow::bail!("{} did not answer", count(failed, "remote"));
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
    let mut line = format!(
        "{verb}: {} copied ({}), {} already there, {}, {}; remote `{}`",
        count(done.objects, "object"),
        indicatif::HumanBytes(done.bytes),
        done.present,
        count(done.runs, "run record"),
        count(done.tracking_runs, "tracking run"),
        done.remote
    );
    if done.missing > 0 {
        line.push_str(&format!(
            "; {} missing on the sending side",
            count(done.missing, "object")
        ));
    }
    out.line(line);
    if !done.problems.is_empty() {
        anyhow::bail!(
            "{verb}: {} skipped, everything else was transferred:\n  {}",
            count(done.problems.len(), "item"),
            done.problems.join("\n  ")
        );
    }
    Ok(())
}

/// `push`.
pub fn push(
    session: &Session,
    options: &TransferOptions,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let done = session.push(options).context("push failed")?;
    show_transfer("push", &done, out)?;
    Ok(ExitCode::SUCCESS)
}

/// `fetch`.
pub fn fetch(
    session: &Session,
    options: &TransferOptions,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let done = session
        .fetch(options, &waiting(out))
        .context("fetch failed")?;
    show_transfer("fetch", &done, out)?;
    Ok(ExitCode::SUCCESS)
}

/// `pull`: fetch, then checkout.
pub fn pull(
    session: &Session,
    options: &TransferOptions,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let (done, report) = session
        .pull(options, &waiting(out))
        .context("pull failed")?;
    let shown = show_checkout(&report, out);
    show_transfer("pull", &done, out)?;
    shown
}
