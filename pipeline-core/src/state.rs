//! The state cache: (path, size, mtime, inode) → hash, as DVC keeps it, so that checking a
//! workspace never rehashes a file that has not changed since it was last hashed.

use crate::atomic;
use crate::entry::{mode_of, Manifest, ManifestEntry, PathEntry};
use crate::hash;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// A file modified this recently may still change within the filesystem's timestamp
/// granularity, so its hash is not remembered (git's "racy clean" problem).
const RACY_WINDOW: Duration = Duration::from_millis(100);

/// The largest state cache read back; a bigger one is ignored (and rebuilt).
const MAX_STATE_BYTES: u64 = 512 << 20;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    mtime_ns: u128,
    inode: u64,
    hash: String,
}

/// Why a path could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The path does not exist.
    #[error("{0}: no such file or directory")]
    Missing(String),
    /// It is a FIFO, device or socket: reading it could block forever or never end.
    #[error("{0}: not a regular file or directory (a FIFO, device or socket is never read)")]
    NotRegular(String),
    /// A file name below it is not UTF-8, so no path could record it exactly.
    #[error("{0}: the file name is not valid UTF-8; rename it")]
    NotUtf8(String),
    /// Reading it failed.
    #[error("{path}: {source}")]
    Io {
        /// The workspace-relative path.
        path: String,
        /// The error.
        source: io::Error,
    },
}

/// The state cache of one workspace. Shared by parallel stages.
#[derive(Debug)]
pub struct StateCache {
    file: PathBuf,
    stamps: Mutex<HashMap<String, Stamp>>,
    dirty: Mutex<bool>,
}

impl StateCache {
    /// Loads the state cache from `file` ([`crate::layout::Layout::state_cache`]); a missing or
    /// unreadable one is an empty cache (it only saves work, it never decides anything).
    pub fn load(file: &Path) -> Self {
        let file = file.to_path_buf();
        let stamps = atomic::read_limited(&file, MAX_STATE_BYTES)
            .ok()
            .flatten()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        StateCache {
            file,
            stamps: Mutex::new(stamps),
            dirty: Mutex::new(false),
        }
    }

    /// Writes the cache back if anything changed.
    pub fn save(&self) -> io::Result<()> {
        let mut dirty = lock(&self.dirty);
        if !*dirty {
            return Ok(());
        }
        let bytes = {
            let stamps = lock(&self.stamps);
            serde_json::to_vec(&*stamps).map_err(io::Error::other)?
        };
        atomic::write(&self.file, &bytes)?;
        *dirty = false;
        Ok(())
    }

    /// Hash of the file or directory at `root/rel`, from the cache when its stamp is unchanged.
    pub fn hash_path(&self, root: &Path, rel: &str) -> Result<PathEntry, HashError> {
        let abs = root.join(rel);
        let meta = match fs::metadata(&abs) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(HashError::Missing(rel.to_string()))
            }
            Err(source) => {
                return Err(HashError::Io {
                    path: rel.to_string(),
                    source,
                })
            }
        };
        if meta.is_dir() {
            let manifest = self.manifest(root, rel)?;
            let size = manifest.iter().map(|e| e.size).sum();
            Ok(PathEntry {
                path: rel.to_string(),
                hash: hash::bytes(&manifest_bytes(&manifest)),
                size,
                dir: true,
                mode: None,
            })
        } else {
            let hash = self.hash_file(&abs, rel, &meta)?;
            Ok(PathEntry {
                path: rel.to_string(),
                hash,
                size: meta.len(),
                dir: false,
                mode: mode_of(&meta),
            })
        }
    }

    /// The manifest of directory `root/rel`: every file below it, sorted.
    pub fn manifest(&self, root: &Path, rel: &str) -> Result<Manifest, HashError> {
        let base = root.join(rel);
        let mut files = Vec::new();
        walk(&base, String::new(), &mut files).map_err(|source| {
            match source.get_ref().and_then(|e| e.downcast_ref::<NotUtf8>()) {
                Some(NotUtf8(inner)) => HashError::NotUtf8(format!("{rel}/{inner}")),
                None => HashError::Io {
                    path: rel.to_string(),
                    source,
                },
            }
        })?;
        files.sort();
        let mut manifest = Vec::with_capacity(files.len());
        for inner in files {
            let file_rel = format!("{rel}/{inner}");
            let abs = root.join(&file_rel);
            let meta = fs::metadata(&abs).map_err(|source| HashError::Io {
                path: file_rel.clone(),
                source,
            })?;
            let hash = self.hash_file(&abs, &file_rel, &meta)?;
            manifest.push(ManifestEntry {
                path: inner,
                hash,
                size: meta.len(),
                mode: mode_of(&meta),
            });
        }
        Ok(manifest)
    }

    /// Records a hash known without reading the file (just written from a hashed stream).
    pub fn remember(&self, abs: &Path, rel: &str, hash: &str) {
        if let Ok(meta) = fs::metadata(abs) {
            self.insert(rel, &meta, hash);
        }
    }

    fn hash_file(&self, abs: &Path, rel: &str, meta: &Metadata) -> Result<String, HashError> {
        if !meta.is_file() {
            return Err(HashError::NotRegular(rel.to_string()));
        }
        let stamp = stamp_of(meta);
        if let Some(known) = lock(&self.stamps).get(rel) {
            if (known.size, known.mtime_ns, known.inode) == stamp {
                return Ok(known.hash.clone());
            }
        }
        let (hash, _) = hash::file(abs).map_err(|source| HashError::Io {
            path: rel.to_string(),
            source,
        })?;
        self.insert(rel, meta, &hash);
        Ok(hash)
    }

    fn insert(&self, rel: &str, meta: &Metadata, hash: &str) {
        let racy = meta
            .modified()
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .is_none_or(|age| age < RACY_WINDOW);
        let mut stamps = lock(&self.stamps);
        if racy {
            if stamps.remove(rel).is_some() {
                *lock(&self.dirty) = true;
            }
            return;
        }
        let (size, mtime_ns, inode) = stamp_of(meta);
        stamps.insert(
            rel.to_string(),
            Stamp {
                size,
                mtime_ns,
                inode,
                hash: hash.to_string(),
            },
        );
        *lock(&self.dirty) = true;
    }
}

/// The canonical bytes of a manifest, the thing its hash is taken over.
pub fn manifest_bytes(manifest: &Manifest) -> Vec<u8> {
    serde_json::to_vec(manifest).unwrap_or_default()
}

fn stamp_of(meta: &Metadata) -> (u64, u128, u64) {
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0;
    (meta.len(), mtime_ns, inode)
}

/// A file name that is not UTF-8, carried through `io::Error` out of [`walk`].
#[derive(Debug)]
struct NotUtf8(String);

impl std::fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: the file name is not valid UTF-8", self.0)
    }
}

impl std::error::Error for NotUtf8 {}

fn walk(dir: &Path, prefix: String, out: &mut Vec<String>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            let lossy = entry.file_name().to_string_lossy().into_owned();
            let shown = if prefix.is_empty() {
                lossy
            } else {
                format!("{prefix}/{lossy}")
            };
            return Err(io::Error::other(NotUtf8(shown)));
        };
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if entry.file_type()?.is_dir() {
            walk(&entry.path(), rel, out)?;
        } else {
            out.push(rel);
        }
    }
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_hash_depends_on_names_and_content() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("d/sub")).unwrap();
        fs::write(dir.path().join("d/a.txt"), "a").unwrap();
        fs::write(dir.path().join("d/sub/b.txt"), "b").unwrap();
        let state = StateCache::load(&dir.path().join(".pipeline/state.json"));
        let first = state.hash_path(dir.path(), "d").unwrap();
        assert!(first.dir);
        assert_eq!(first.size, 2);
        fs::rename(dir.path().join("d/a.txt"), dir.path().join("d/c.txt")).unwrap();
        let second = state.hash_path(dir.path(), "d").unwrap();
        assert_ne!(first.hash, second.hash);
    }

    #[test]
    fn unchanged_stamp_is_not_rehashed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f.txt");
        let old = SystemTime::now() - Duration::from_secs(60);
        let write = |text: &str, mtime: SystemTime| {
            fs::write(&file, text).unwrap();
            fs::File::options()
                .write(true)
                .open(&file)
                .unwrap()
                .set_modified(mtime)
                .unwrap();
        };
        write("aaaa", old);
        let state = StateCache::load(&dir.path().join(".pipeline/state.json"));
        let first = state.hash_path(dir.path(), "f.txt").unwrap();
        assert_eq!(first.hash, hash::bytes(b"aaaa"));
        // Same size, same mtime, same inode: the recorded hash is trusted, the file not read.
        write("bbbb", old);
        assert_eq!(
            state.hash_path(dir.path(), "f.txt").unwrap().hash,
            first.hash
        );
        // A saved and reloaded cache behaves the same.
        state.save().unwrap();
        let reloaded = StateCache::load(&dir.path().join(".pipeline/state.json"));
        assert_eq!(
            reloaded.hash_path(dir.path(), "f.txt").unwrap().hash,
            first.hash
        );
        // Any change of the stamp means a rehash.
        write("bbbb", old + Duration::from_secs(1));
        assert_eq!(
            reloaded.hash_path(dir.path(), "f.txt").unwrap().hash,
            hash::bytes(b"bbbb")
        );
    }

    #[test]
    fn recently_modified_files_are_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("new.txt"), "x").unwrap();
        let state = StateCache::load(&dir.path().join(".pipeline/state.json"));
        state.hash_path(dir.path(), "new.txt").unwrap();
        assert!(lock(&state.stamps).is_empty(), "within the racy window");
    }

    #[test]
    fn missing_path_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateCache::load(dir.path());
        let err = state.hash_path(dir.path(), "nope.csv").unwrap_err();
        assert_eq!(err.to_string(), "nope.csv: no such file or directory");
    }
}
