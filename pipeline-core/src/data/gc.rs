//! `gc`: removes cache objects nothing refers to any more. Kept: what pointer files and the lock
//! file name, what any run-cache record names (so going back to earlier params still restores,
//! unless `--workspace`), and every tracking artifact (they share the cache).

use super::{versioned, DataError};
use crate::cas::ContentStore;
use crate::engine::run_cache::RunCache;
use crate::entry::PathEntry;
use crate::tracking::SqliteStore;
use crate::workspace::Workspace;
use std::collections::HashSet;

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
fn keep_entry(store: &ContentStore, entry: &PathEntry, keep: &mut HashSet<String>) {
    keep.insert(entry.hash.clone());
    if entry.dir {
        if let Ok(manifest) = store.read_manifest(&entry.hash) {
            keep.extend(manifest.into_iter().map(|f| f.hash));
        }
    }
}

/// Collects garbage; with `workspace_only`, run-cache records not in use by the lock file go too.
pub fn collect(ws: &Workspace, workspace_only: bool) -> Result<Collected, DataError> {
    let store = ContentStore::new(ws.layout().objects_dir());
    let mut keep: HashSet<String> = HashSet::new();
    for entry in versioned(ws)? {
        keep_entry(&store, &entry, &mut keep);
    }
    let lock = crate::lockfile::LockFile::load(ws.root())?;
    let in_use: HashSet<&str> = lock
        .stages
        .values()
        .map(|s| s.fingerprint.as_str())
        .collect();
    let runs = RunCache::new(ws.layout().run_cache_dir());
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
    let db = ws.layout().tracking_db();
    if db.is_file() {
        let tracking = SqliteStore::open(&db, &ws.layout().objects_dir())?;
        keep.extend(tracking.artifact_hashes()?);
    }
    sweep(&store, &keep, &mut collected)?;
    Ok(collected)
}

fn sweep(
    store: &ContentStore,
    keep: &HashSet<String>,
    collected: &mut Collected,
) -> Result<(), DataError> {
    for (hash, size) in store.list()? {
        if keep.contains(&hash) {
            continue;
        }
        store.delete(&hash)?;
        collected.objects += 1;
        collected.bytes += size;
    }
    Ok(())
}
