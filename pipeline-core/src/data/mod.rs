//! Versioned data outside the pipeline: `add` records a file or directory by content hash in a
//! small pointer file committed to git (`data/raw/big.csv.ptr`), the data itself going to the
//! content-addressed cache and `.gitignore`; `checkout` puts data back as pointers and the lock
//! file say; `gc` drops cache objects nothing refers to; remotes share the cache.

pub mod gc;
pub mod pointer;
pub mod remote;

use crate::cas::{CasError, ContentStore};
use crate::dag::Dag;
use crate::entry::PathEntry;
use crate::lockfile::LockFile;
use crate::state::{HashError, StateCache};
use crate::workspace::Workspace;
use pointer::Pointer;
use std::path::Path;

/// Why data could not be added or checked out.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The path is not inside the workspace or not normalized.
    #[error("`{0}` is not a path inside the workspace")]
    BadPath(String),
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
/// runs in) to a workspace-relative one with `/` separators.
pub fn workspace_relative(ws: &Workspace, start: &Path, given: &Path) -> Result<String, DataError> {
    let bad = || DataError::BadPath(given.display().to_string());
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
            std::path::Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    let normalized: std::path::PathBuf = std::iter::once("/".to_string()).chain(parts).collect();
    let root = ws
        .root()
        .canonicalize()
        .unwrap_or_else(|_| ws.root().to_path_buf());
    let rel = normalized
        .strip_prefix(&root)
        .or_else(|_| normalized.strip_prefix(ws.root()))
        .map_err(|_| bad())?;
    let rel = rel.to_string_lossy().replace('\\', "/");
    if rel.is_empty() || rel.starts_with(crate::layout::STATE_DIR) {
        return Err(bad());
    }
    Ok(rel)
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
    for stage in dag.stages() {
        if let Some(out) = stage
            .outs
            .iter()
            .find(|o| o.path == rel || rel.starts_with(&format!("{}/", o.path)))
        {
            return Err(DataError::StageOutput {
                path: out.path.clone(),
                stage: stage.name.clone(),
            });
        }
    }
    let store = ContentStore::new(ws.layout().objects_dir());
    let entry = if link {
        store.adopt_path(ws.root(), rel)?
    } else {
        store.store_path(ws.root(), rel)?
    };
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
    match state.hash_path(ws.root(), &entry.path) {
        Ok(now) if now.hash == entry.hash => return Ok(Checkout::Unchanged),
        Ok(_) | Err(HashError::Missing(_)) => {}
        Err(e) => return Err(e.into()),
    }
    ContentStore::new(ws.layout().objects_dir()).restore(ws.root(), entry, state)?;
    Ok(Checkout::Restored)
}

/// Every path the workspace versions: pointer files and the lock file's outputs.
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
