//! `gc`: removes cache objects nothing refers to any more. Kept: what pointer files and the lock
//! file name, what any run-cache record names (so going back to earlier params still restores,
//! unless `--workspace`), and every tracking artifact (they share the cache).
//!
//! gc deletes only once it knows everything that is referenced: a pointer, lock file, run record
//! or directory manifest it cannot read stops it before anything is removed, naming the file.
//! It needs no free space: the tracking store is only read.

use super::{versioned, DataError};
use crate::cas::{CasError, ContentStore};
use crate::engine::run_cache::RunCache;
use crate::entry::PathEntry;
use crate::tracking::SqliteStore;
use crate::workspace::Workspace;
use std::collections::HashSet;

/// What `gc` removed (or, dry, would remove).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Collected {
    /// Objects removed.
    pub objects: usize,
    /// Bytes freed.
    pub bytes: u64,
    /// Run-cache records removed.
    pub runs: usize,
    /// Each object removed: its hash and size.
    pub removed: Vec<(String, u64)>,
    /// Each run record removed: its fingerprint.
    pub removed_runs: Vec<String>,
}

/// Why gc stopped without deleting anything.
fn unreadable(what: String, message: impl std::fmt::Display) -> DataError {
    DataError::Refused {
        path: what,
        reason: format!(
            "{message}; gc stopped before deleting anything (fix or `fetch` it, or remove what refers to it)"
        ),
    }
}

/// Adds `entry`'s objects (a directory's manifest and files) to `keep`; `from` names the file
/// that refers to it. A directory whose manifest cannot be read stops gc.
fn keep_entry(
    store: &ContentStore,
    entry: &PathEntry,
    from: &str,
    keep: &mut HashSet<String>,
) -> Result<(), DataError> {
    keep.insert(entry.hash.clone());
    if entry.dir {
        match store.read_manifest(&entry.hash) {
            Ok(manifest) => keep.extend(manifest.into_iter().map(|f| f.hash)),
            Err(CasError::Missing { hash, .. }) => {
                return Err(unreadable(
                    format!("{} (in {from})", entry.path),
                    format!("its directory manifest {hash} is not in the cache"),
                ))
            }
            Err(e) => {
                return Err(unreadable(
                    format!("{} (in {from})", entry.path),
                    format!("its directory manifest is unreadable: {e}"),
                ))
            }
        }
    }
    Ok(())
}

/// Collects garbage; with `workspace_only`, run-cache records not in use by the lock file go too.
/// With `dry`, nothing is removed: the result lists what would be.
pub fn collect(ws: &Workspace, workspace_only: bool, dry: bool) -> Result<Collected, DataError> {
    let store = ContentStore::new(ws.layout().objects_dir());
    let mut keep: HashSet<String> = HashSet::new();
    let pointers: HashSet<String> = super::pointer::find(ws.root()).into_iter().collect();
    for entry in versioned(ws)? {
        let from = if pointers.contains(&entry.path) {
            format!("{}.{}", entry.path, super::pointer::EXTENSION)
        } else {
            crate::lockfile::LOCK_FILE.to_string()
        };
        keep_entry(&store, &entry, &from, &mut keep)?;
    }
    let lock = crate::lockfile::LockFile::load(ws.root())?;
    let in_use: HashSet<&str> = lock
        .stages
        .values()
        .map(|s| s.fingerprint.as_str())
        .collect();
    let runs = RunCache::new(ws.layout().run_cache_dir());
    let (records, bad) = runs.all();
    if let Some(first) = bad.first() {
        return Err(unreadable(first.clone(), "not a valid run record"));
    }
    let mut collected = Collected::default();
    let mut forget = Vec::new();
    for (fingerprint, record) in records {
        if workspace_only && !in_use.contains(fingerprint.as_str()) {
            forget.push(fingerprint);
            continue;
        }
        let from = format!("run record {fingerprint}");
        for entry in &record.outs {
            keep_entry(&store, entry, &from, &mut keep)?;
        }
    }
    let db = ws.layout().tracking_db();
    if db.is_file() {
        keep.extend(SqliteStore::read_artifact_hashes(&db)?);
    }
    for fingerprint in forget {
        if !dry {
            runs.remove(&fingerprint);
        }
        collected.runs += 1;
        collected.removed_runs.push(fingerprint);
    }
    for (hash, size) in store.list()? {
        if keep.contains(&hash) {
            continue;
        }
        if !dry {
            store.delete(&hash)?;
        }
        collected.objects += 1;
        collected.bytes += size;
        collected.removed.push((hash, size));
    }
    Ok(collected)
}
