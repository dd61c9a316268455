//! `pipeline.lock`: the contract between runs, committed to git like `dvc.lock`. Per stage its
//! fingerprint, code hash, params values and the path, size and hash of each dependency and
//! output. Maps are sorted and nothing varies between runs, so identical runs give identical files.

use crate::atomic;
use crate::entry::PathEntry;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The lock file, at the workspace root.
pub const LOCK_FILE: &str = "pipeline.lock";

/// The largest lock file read (a link to `/dev/urandom` must not be read until memory runs out).
const MAX_LOCK_BYTES: u64 = 64 << 20;

/// Bumped when the layout changes incompatibly.
const SCHEMA: u32 = 1;

/// Why the lock file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// A filesystem error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The file is not a lock file we understand.
    #[error("{path}: {message} (fix or delete it; `repro` rebuilds it)")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
}

/// What one stage's last successful run recorded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageLock {
    /// The stage fingerprint.
    #[serde(deserialize_with = "crate::entry::content_hash")]
    pub fingerprint: String,
    /// The stage code fingerprint (only ever compared, never used to name a file).
    pub code: String,
    /// Values of the declared params sections.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, serde_json::Value>,
    /// Dependencies, sorted by path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<PathEntry>,
    /// Outputs, sorted by path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outs: Vec<PathEntry>,
}

/// The whole lock file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    /// Layout version.
    pub schema: u32,
    /// Stages by name.
    pub stages: BTreeMap<String, StageLock>,
}

impl Default for LockFile {
    fn default() -> Self {
        LockFile {
            schema: SCHEMA,
            stages: BTreeMap::new(),
        }
    }
}

impl LockFile {
    /// Reads `root/pipeline.lock`; absent means no stage has run yet.
    pub fn load(root: &Path) -> Result<LockFile, LockError> {
        let path = root.join(LOCK_FILE);
        let exists = fs::symlink_metadata(&path).is_ok();
        if exists && !atomic::resolves_inside(root, &path) {
            return Err(LockError::Io {
                path: PathBuf::from(LOCK_FILE),
                source: io::Error::other("resolves outside the workspace (a link?); not read"),
            });
        }
        let text = match atomic::read_text_limited(&path, MAX_LOCK_BYTES) {
            Ok(Some(text)) => text,
            Ok(None) => return Ok(LockFile::default()),
            Err(source) => {
                return Err(LockError::Io {
                    path: PathBuf::from(LOCK_FILE),
                    source,
                })
            }
        };
        let lock: LockFile = serde_yaml::from_str(&text).map_err(|e| LockError::Parse {
            path: PathBuf::from(LOCK_FILE),
            message: e.to_string(),
        })?;
        if lock.schema != SCHEMA {
            return Err(LockError::Parse {
                path: PathBuf::from(LOCK_FILE),
                message: format!(
                    "schema {} is not supported (expected {SCHEMA})",
                    lock.schema
                ),
            });
        }
        Ok(lock)
    }

    /// The YAML text of this lock file.
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).unwrap_or_default()
    }

    /// Writes `root/pipeline.lock` atomically.
    pub fn save(&self, root: &Path) -> Result<(), LockError> {
        let path = root.join(LOCK_FILE);
        atomic::write(&path, self.to_yaml().as_bytes())
            .map_err(|source| LockError::Io { path, source })
    }
}
