//! Versioned data outside the pipeline: `add` records a file or directory by content hash in a
//! small pointer file committed to git (`data/raw/big.csv.ptr`), the data itself going to the
//! content-addressed cache and `.gitignore`; `checkout` puts data back as pointers and the lock
//! file say; `gc` drops cache objects nothing refers to; remotes share the cache.

pub mod gc;
pub mod pointer;
pub mod remote;

use crate::cas::{CasError, ContentStore};
use crate::dag::rules::is_inside;
use crate::dag::Dag;
use crate::entry::PathEntry;
use crate::layout::STATE_DIR;
use crate::lockfile::{LockFile, LOCK_FILE};
use crate::state::{HashError, StateCache};
use crate::workspace::Workspace;
use pointer::Pointer;
use std::path::{Path, PathBuf};

/// Why data could not be added or checked out.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The path is not inside the workspace or not normalized.
    #[error("`{0}` is not a path inside the workspace")]
    BadPath(String),
    /// `add` refuses this path.
    #[error("`{path}`: {reason}")]
    Refused {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The path is written by a stage.
    #[error("`{path}` is an output of stage `{stage}`: the lock file versions it already")]
    StageOutput {
        /// The path.
        path: String,
        /// The stage writing it.
        stage: String,
    },
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] CasError),
    /// A remote failed: unreachable, denied, no such bucket.
    #[error("remote `{remote}` ({url}): {message}")]
    Remote {
        /// The remote's name.
        remote: String,
        /// Its URL.
        url: String,
        /// What went wrong, in one line.
        message: String,
    },
    /// `.pipeline/config.toml` (remotes) is unreadable or names no such remote.
    #[error("{path}: {message}")]
    Config {
        /// The config file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// `pipeline.lock` is unreadable.
    #[error(transparent)]
    Lock(#[from] crate::lockfile::LockError),
    /// The embedded tracking store (whose artifacts share the cache) failed.
    #[error("tracking store: {0}")]
    Tracking(#[from] crate::tracking::TrackingError),
    /// An object does not hash to its name.
    #[error("{path}: corrupt object: content hashes to {actual}")]
    CorruptObject {
        /// The object file.
        path: String,
        /// What it hashes to.
        actual: String,
    },
    /// A pointer file is unreadable.
    #[error("{path}: {message}")]
    Pointer {
        /// The pointer file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A filesystem error.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Normalizes a user-given path (absolute, or relative to `start`, the directory the command
/// runs in) to a workspace-relative one with `/` separators. Links are resolved: a path that
/// leads outside the workspace through a symlink is refused like one outside it, and so is a
/// name that is not UTF-8 (no pointer or lock entry could record it exactly).
pub fn workspace_relative(ws: &Workspace, start: &Path, given: &Path) -> Result<String, DataError> {
    let shown = given.display().to_string();
    let bad = || DataError::BadPath(shown.clone());
    if given.to_str().is_none() {
        return Err(DataError::Refused {
            path: given.to_string_lossy().into_owned(),
            reason: "the name is not valid UTF-8; rename it".into(),
        });
    }
    let absolute = if given.is_absolute() {
        given.to_path_buf()
    } else {
        let start = if start.is_absolute() {
            start.to_path_buf()
        } else {
            std::env::current_dir().map_err(|_| bad())?.join(start)
        };
        start.join(given)
    };
    let mut parts: Vec<String> = Vec::new();
    for component in absolute.components() {
        match component {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(p) => {
                parts.push(p.to_str().ok_or_else(bad)?.to_string());
            }
            _ => {}
        }
    }
    let normalized: PathBuf = std::iter::once("/".to_string()).chain(parts).collect();
    let resolved = resolve_links(&normalized);
    let root = ws
        .root()
        .canonicalize()
        .unwrap_or_else(|_| ws.root().to_path_buf());
    let rel = resolved.strip_prefix(&root).map_err(|_| {
        if normalized.starts_with(&root) || normalized.starts_with(ws.root()) {
            DataError::Refused {
                path: shown.clone(),
                reason: format!(
                    "leads outside the workspace through a link (to {})",
                    resolved.display()
                ),
            }
        } else {
            bad()
        }
    })?;
    let rel = rel.to_str().ok_or_else(bad)?.replace('\\', "/");
    if rel.is_empty() || rel == STATE_DIR || rel.starts_with(&format!("{STATE_DIR}/")) {
        return Err(bad());
    }
    Ok(rel)
}

/// `path` with every link resolved: its longest existing ancestor canonicalized, the rest
/// appended as given.
fn resolve_links(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |acc, part| acc.join(part));
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// Why `add` must not version `rel`, if it must not: the files git versions for the runtime
/// (lock, params, pointers), stage outputs and the directories holding them, and anything
/// overlapping data already versioned by a pointer.
fn add_problem(ws: &Workspace, dag: &Dag, rel: &str) -> Option<DataError> {
    let refuse = |reason: String| {
        Some(DataError::Refused {
            path: rel.to_string(),
            reason,
        })
    };
    if rel == LOCK_FILE || rel == crate::params::PARAMS_FILE {
        return refuse("the pipeline's own file is versioned by git, not by `add`".into());
    }
    if rel.ends_with(&format!(".{}", pointer::EXTENSION)) {
        return refuse("is a pointer file".into());
    }
    if let Some(problem) = crate::dag::rules::path_problem(rel) {
        return refuse(problem);
    }
    for stage in dag.stages() {
        for out in &stage.outs {
            if out.path == rel || is_inside(rel, &out.path) {
                return Some(DataError::StageOutput {
                    path: out.path.clone(),
                    stage: stage.name.clone(),
                });
            }
            if is_inside(&out.path, rel) {
                return refuse(format!(
                    "holds `{}`, an output of stage `{}`: the lock file versions it already",
                    out.path, stage.name
                ));
            }
        }
    }
    for tracked in pointer::find(ws.root()) {
        if is_inside(rel, &tracked) {
            return refuse(format!(
                "is inside `{tracked}`, which is versioned already (by {tracked}.{})",
                pointer::EXTENSION
            ));
        }
        if is_inside(&tracked, rel) {
            return refuse(format!(
                "holds `{tracked}`, which is versioned already (by {tracked}.{}); remove that pointer first",
                pointer::EXTENSION
            ));
        }
    }
    None
}

/// Records `rel` (a file or directory) in the cache and writes its pointer file; adds the data
/// to the `.gitignore` next to it. With `link`, files are hard-linked into the cache and made
/// read-only instead of copied: no second copy is written, but an in-place edit that ignores the
/// read-only mark (root can) would change the cached object too (restores then report it
/// corrupt).
pub fn add(
    ws: &Workspace,
    dag: &Dag,
    state: &StateCache,
    rel: &str,
    link: bool,
) -> Result<PathEntry, DataError> {
    if let Some(problem) = add_problem(ws, dag, rel) {
        return Err(problem);
    }
    let store = ContentStore::new(ws.layout().objects_dir());
    let entry = store.add_path(ws.root(), rel, link, state)?;
    if !entry.dir {
        state.remember(&ws.path(rel), rel, &entry.hash);
    }
    Pointer::from_entry(&entry).save(ws.root(), rel)?;
    pointer::ignore_in_git(ws.root(), rel)?;
    Ok(entry)
}

/// What `checkout` did to one path.
#[derive(Debug, PartialEq, Eq)]
pub enum Checkout {
    /// It already matched.
    Unchanged,
    /// It was restored from the cache.
    Restored,
}

/// Puts `entry` in place if the workspace differs from it.
pub fn checkout_entry(
    ws: &Workspace,
    state: &StateCache,
    entry: &PathEntry,
) -> Result<Checkout, DataError> {
    if let Some(parent) = Path::new(&entry.path).parent() {
        let resolved = resolve_links(&ws.root().join(parent));
        let root = ws
            .root()
            .canonicalize()
            .unwrap_or_else(|_| ws.root().to_path_buf());
        if !resolved.starts_with(&root) {
            return Err(DataError::Refused {
                path: entry.path.clone(),
                reason: format!(
                    "leads outside the workspace through a link (to {}); not written",
                    resolved.display()
                ),
            });
        }
    }
    match state.hash_path(ws.root(), &entry.path) {
        Ok(now) if now.hash == entry.hash => return Ok(Checkout::Unchanged),
        Ok(_) | Err(HashError::Missing(_)) => {}
        Err(e) => return Err(e.into()),
    }
    ContentStore::new(ws.layout().objects_dir()).restore(ws.root(), entry, state)?;
    Ok(Checkout::Restored)
}

/// Every path the workspace versions: pointer files and the lock file's outputs.
/// Lock outputs `checkout` leaves alone: (stage, path).
pub type Undeclared = Vec<(String, String)>;

/// What `checkout` may put back: pointer-versioned data, and the lock file's outputs that are
/// declared outputs of the same stage in the pipeline. Lock entries that are not (an edited or
/// foreign lock file) are returned apart, as (stage, path), to be reported and left alone.
pub fn checkout_entries(
    ws: &Workspace,
    dag: &Dag,
) -> Result<(Vec<PathEntry>, Undeclared), DataError> {
    let mut entries: Vec<PathEntry> = pointer::find(ws.root())
        .into_iter()
        .map(|rel| Pointer::load(ws.root(), &rel).map(|p| p.entry(&rel)))
        .collect::<Result<_, _>>()?;
    let mut refused = Vec::new();
    let lock = LockFile::load(ws.root())?;
    for (name, stage) in &lock.stages {
        let declared = dag
            .find(name)
            .map(|i| {
                dag.stage(i)
                    .outs
                    .iter()
                    .map(|o| o.path.as_str())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for out in &stage.outs {
            if declared.contains(&out.path.as_str()) {
                entries.push(out.clone());
            } else {
                refused.push((name.clone(), out.path.clone()));
            }
        }
    }
    Ok((entries, refused))
}

pub fn versioned(ws: &Workspace) -> Result<Vec<PathEntry>, DataError> {
    let mut entries: Vec<PathEntry> = pointer::find(ws.root())
        .into_iter()
        .map(|rel| Pointer::load(ws.root(), &rel).map(|p| p.entry(&rel)))
        .collect::<Result<_, _>>()?;
    let lock = LockFile::load(ws.root())?;
    for stage in lock.stages.values() {
        entries.extend(stage.outs.iter().cloned());
    }
    Ok(entries)
}

/// What a transfer restricted to some stages or paths moves.
pub(crate) struct Selection {
    /// Versioned files and directories, and stage outputs, selected.
    pub entries: Vec<PathEntry>,
    /// The stages whose run records move; `None`: all.
    stages: Option<std::collections::BTreeSet<String>>,
}

impl Selection {
    /// Whether run records of `stage` move.
    pub fn wants_stage(&self, stage: &str) -> bool {
        self.stages.as_ref().is_none_or(|s| s.contains(stage))
    }
}

/// [`versioned`], restricted to `targets`: stage names (their outputs and run records) and
/// workspace paths (what is versioned at or under them). No targets: everything.
pub(crate) fn versioned_of(ws: &Workspace, targets: &[String]) -> Result<Selection, DataError> {
    if targets.is_empty() {
        return Ok(Selection {
            entries: versioned(ws)?,
            stages: None,
        });
    }
    let pointers: Vec<PathEntry> = pointer::find(ws.root())
        .into_iter()
        .map(|rel| Pointer::load(ws.root(), &rel).map(|p| p.entry(&rel)))
        .collect::<Result<_, _>>()?;
    let lock = LockFile::load(ws.root())?;
    let mut entries = Vec::new();
    let mut stages = std::collections::BTreeSet::new();
    for target in targets {
        let wanted = target.trim_start_matches("./").trim_end_matches('/');
        let under = |path: &str| {
            wanted.is_empty()
                || path == wanted
                || path
                    .strip_prefix(wanted)
                    .is_some_and(|r| r.starts_with('/'))
        };
        let mut matched = false;
        if let Some(stage) = lock.stages.get(wanted) {
            stages.insert(wanted.to_string());
            entries.extend(stage.outs.iter().cloned());
            matched = true;
        }
        for entry in lock
            .stages
            .values()
            .flat_map(|s| s.outs.iter())
            .chain(pointers.iter())
        {
            if under(&entry.path) {
                entries.push(entry.clone());
                matched = true;
            }
        }
        if !matched {
            return Err(DataError::Refused {
                path: target.clone(),
                reason: "neither a stage of pipeline.lock nor a versioned path".into(),
            });
        }
    }
    Ok(Selection {
        entries,
        stages: Some(stages),
    })
}
