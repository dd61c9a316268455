//! `gc`: removes cache objects nothing refers to any more. Kept: what pointer files and the lock
//! file name, what any run-cache record names (so going back to earlier params still restores,
//! unless `--workspace`), and every tracking artifact (they share the cache).

use super::{versioned, DataError};
use crate::cache::runs::RunCache;
use crate::cache::ObjectStore;
use crate::entry::PathEntry;
use crate::tracking::SqliteStore;
use crate::workspace::Workspace;
use std::collections::HashSet;
use std::path::Path;

/// What `gc` removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Collected {
    /// Objects removed.
    pub objects: usize,
    /// Bytes freed.
    pub bytes: u64,
    /// Run-cache records removed.
    pub runs: usize,
}

/// Adds `entry`'s objects (a directory's manifest and files) to `keep`.
fn keep_entry(store: &ObjectStore, entry: &PathEntry, keep: &mut HashSet<String>) {
    keep.insert(entry.hash.clone());
    if entry.dir {
        if let Ok(manifest) = store.read_manifest(&entry.hash) {
            keep.extend(manifest.into_iter().map(|f| f.hash));
        }
    }
}

/// Collects garbage; with `workspace_only`, run-cache records not in use by the lock file go too.
pub fn collect(ws: &Workspace, workspace_only: bool) -> Result<Collected, DataError> {
    let store = ObjectStore::new(ws.cache_dir());
    let mut keep: HashSet<String> = HashSet::new();
    for entry in versioned(ws)? {
        keep_entry(&store, &entry, &mut keep);
    }
    let lock = crate::lock::LockFile::load(ws.root()).map_err(|e| DataError::Pointer {
        path: crate::lock::LOCK_FILE.to_string(),
        message: e.to_string(),
    })?;
    let in_use: HashSet<&str> = lock
        .stages
        .values()
        .map(|s| s.fingerprint.as_str())
        .collect();
    let runs = RunCache::new(ws.runs_dir());
    let mut collected = Collected::default();
    for (fingerprint, record) in runs.all() {
        if workspace_only && !in_use.contains(fingerprint.as_str()) {
            runs.remove(&fingerprint);
            collected.runs += 1;
            continue;
        }
        for entry in &record.outs {
            keep_entry(&store, entry, &mut keep);
        }
    }
    let db = ws.state_dir().join("tracking.db");
    if db.is_file() {
        let tracking = SqliteStore::open(&db, &ws.cache_dir()).map_err(|e| DataError::Pointer {
            path: db.display().to_string(),
            message: e.to_string(),
        })?;
        keep.extend(tracking.artifact_hashes().map_err(|e| DataError::Pointer {
            path: db.display().to_string(),
            message: e.to_string(),
        })?);
    }
    sweep(&ws.cache_dir(), &keep, &mut collected)?;
    Ok(collected)
}

fn sweep(dir: &Path, keep: &HashSet<String>, collected: &mut Collected) -> Result<(), DataError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| DataError::Io { path, source }
    };
    let Ok(shards) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for shard in shards.flatten() {
        let head = shard.file_name().to_string_lossy().into_owned();
        if head.len() != 2 || !shard.path().is_dir() {
            continue;
        }
        for object in std::fs::read_dir(shard.path())
            .map_err(io(&shard.path()))?
            .flatten()
        {
            let hash = format!("{head}{}", object.file_name().to_string_lossy());
            if keep.contains(&hash) {
                continue;
            }
            let size = object.metadata().map(|m| m.len()).unwrap_or(0);
            std::fs::remove_file(object.path()).map_err(io(&object.path()))?;
            collected.objects += 1;
            collected.bytes += size;
        }
    }
    Ok(())
}
