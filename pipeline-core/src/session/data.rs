//! Versioned data through a session: `add`, `checkout`, `gc`, remotes and transfers, each
//! under the workspace lock, and the data part of `status`.

use super::{Session, SessionError};
use crate::data::remote::{self, Transfer, TransferOptions};
use crate::data::{self, gc, Checkout};
use crate::entry::PathEntry;
use crate::state::{HashError, StateCache};
use std::path::{Path, PathBuf};

/// How a path versioned by a pointer file compares with the workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataState {
    /// The workspace holds what the pointer names.
    UpToDate,
    /// The workspace holds something else.
    Modified,
    /// Nothing is there.
    Missing,
}

/// One path versioned by a pointer file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataStatus {
    /// The workspace-relative path.
    pub path: String,
    /// How it compares.
    pub state: DataState,
}

/// What `checkout` did.
#[derive(Debug, Default)]
pub struct CheckoutReport {
    /// Paths restored from the cache.
    pub restored: Vec<String>,
    /// Paths that could not be restored, with why.
    pub failed: Vec<(String, String)>,
    /// Paths the lock file lists that this pipeline does not declare: left alone, with why.
    pub skipped: Vec<(String, String)>,
}

impl Session {
    fn state_cache(&self) -> StateCache {
        StateCache::load(&self.ws.layout().state_cache())
    }

    /// Removes what killed commands left in the workspace: temp files in the caches, in
    /// `.pipeline/`, at the root and next to versioned data and stage outputs. Call only while
    /// holding the workspace lock.
    fn sweep(&self) {
        self.sweep_also(&[]);
    }

    /// [`sweep`](Self::sweep), plus the directories holding `extra` paths (what `add` is about
    /// to version: a killed `add` may have left temp files there before any pointer existed).
    fn sweep_also(&self, extra: &[String]) {
        let root = self.ws.root();
        let mut dirs: Vec<PathBuf> = data::pointer::find(root)
            .iter()
            .chain(
                self.dag
                    .stages()
                    .iter()
                    .flat_map(|stage| stage.outs.iter().map(|o| &o.path)),
            )
            .chain(extra)
            .filter_map(|rel| self.ws.path(rel).parent().map(Path::to_path_buf))
            .collect();
        if let Ok(lock) = crate::lockfile::LockFile::load(root) {
            dirs.extend(
                lock.stages
                    .values()
                    .flat_map(|s| s.outs.iter())
                    .filter_map(|o| self.ws.path(&o.path).parent().map(Path::to_path_buf)),
            );
        }
        self.ws.layout().sweep(dirs);
    }

    /// Paths given on the command line (relative to `start`, the directory the command runs
    /// in, or absolute) as workspace-relative paths.
    fn relative(&self, start: &Path, paths: &[PathBuf]) -> Result<Vec<String>, SessionError> {
        Ok(paths
            .iter()
            .map(|p| data::workspace_relative(&self.ws, start, p))
            .collect::<Result<_, _>>()?)
    }

    /// Data versioned by pointer files, compared with the workspace.
    pub fn data_status(&self) -> Result<Vec<DataStatus>, SessionError> {
        let root = self.ws.root();
        let paths = data::pointer::find(root);
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let state = self.state_cache();
        let mut out = Vec::with_capacity(paths.len());
        for path in paths {
            let pointer = data::pointer::Pointer::load(root, &path)?;
            let now = match state.hash_path(root, &path) {
                Ok(now) if now.hash == pointer.hash => DataState::UpToDate,
                Ok(_) => DataState::Modified,
                Err(HashError::Missing(_)) => DataState::Missing,
                Err(e) => return Err(data::DataError::from(e).into()),
            };
            out.push(DataStatus { path, state: now });
        }
        let _ = state.save();
        Ok(out)
    }

    /// `add`: versions each path (relative to `start`) by hash; `link` hard-links instead of
    /// copying. Returns what each path was recorded as.
    pub fn add(
        &self,
        start: &Path,
        paths: &[PathBuf],
        link: bool,
        waiting: &dyn Fn(&str),
    ) -> Result<Vec<PathEntry>, SessionError> {
        let _guard = self.lock(waiting)?;
        let rels = self.relative(start, paths)?;
        self.sweep_also(&rels);
        let state = self.state_cache();
        let mut added = Vec::new();
        for rel in rels {
            added.push(data::add(&self.ws, &self.dag, &state, &rel, link)?);
        }
        let _ = state.save();
        Ok(added)
    }

    /// `checkout`: puts versioned data and stage outputs (all, or those at or below `paths`)
    /// back as the pointer files and the lock file say.
    pub fn checkout(
        &self,
        start: &Path,
        paths: &[PathBuf],
        waiting: &dyn Fn(&str),
    ) -> Result<CheckoutReport, SessionError> {
        let _guard = self.lock(waiting)?;
        self.sweep();
        self.checkout_locked(&self.relative(start, paths)?)
    }

    fn checkout_locked(&self, wanted: &[String]) -> Result<CheckoutReport, SessionError> {
        let state = self.state_cache();
        let mut report = CheckoutReport::default();
        let (entries, refused) = data::checkout_entries(&self.ws, &self.dag)?;
        for (stage, path) in refused {
            report.skipped.push((
                path,
                format!("pipeline.lock lists it under stage `{stage}`, which does not declare it as an output"),
            ));
        }
        for entry in entries {
            let selected = wanted.is_empty()
                || wanted
                    .iter()
                    .any(|w| &entry.path == w || entry.path.starts_with(&format!("{w}/")));
            if !selected {
                continue;
            }
            match data::checkout_entry(&self.ws, &state, &entry) {
                Ok(Checkout::Restored) => report.restored.push(entry.path.clone()),
                Ok(Checkout::Unchanged) => {}
                Err(e) => report.failed.push((entry.path.clone(), e.to_string())),
            }
        }
        let _ = state.save();
        Ok(report)
    }

    /// `gc`: removes cache objects nothing refers to; with `workspace_only`, also run-cache
    /// records the lock file does not use; with `dry`, removes nothing and lists what it would.
    pub fn gc(
        &self,
        workspace_only: bool,
        dry: bool,
        waiting: &dyn Fn(&str),
    ) -> Result<gc::Collected, SessionError> {
        let _guard = self.lock(waiting)?;
        if !dry {
            self.sweep();
        }
        Ok(gc::collect(&self.ws, workspace_only, dry)?)
    }

    /// `push`: sends what the remote (default: the default remote) lacks, sweeping what killed
    /// transfers left in it.
    pub fn push(&self, options: &TransferOptions) -> Result<Transfer, SessionError> {
        Ok(remote::push(&self.ws, options)?)
    }

    /// `fetch`: brings what the local cache lacks from the remote, under the workspace lock.
    pub fn fetch(
        &self,
        options: &TransferOptions,
        waiting: &dyn Fn(&str),
    ) -> Result<Transfer, SessionError> {
        let _guard = self.lock(waiting)?;
        self.sweep();
        Ok(remote::fetch(&self.ws, options)?)
    }

    /// `pull`: `fetch`, then `checkout` of everything, under one hold of the workspace lock.
    pub fn pull(
        &self,
        options: &TransferOptions,
        waiting: &dyn Fn(&str),
    ) -> Result<(Transfer, CheckoutReport), SessionError> {
        let _guard = self.lock(waiting)?;
        self.sweep();
        let transfer = remote::fetch(&self.ws, options)?;
        Ok((transfer, self.checkout_locked(&[])?))
    }
}
