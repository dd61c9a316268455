//! The run cache: stage fingerprint → the outputs that run produced. Going back to earlier
//! params or code finds the old fingerprint here and restores outputs without running anything.
//!
//! Records may come from a remote, so they are input like any other: a record is read only from
//! a small regular file, its hashes and paths are validated when parsed
//! ([`crate::entry`]), and it is used only if its outputs are exactly the stage's declared ones.

use crate::atomic;
use crate::entry::PathEntry;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io;
use std::path::PathBuf;

/// One recorded run of a stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The stage that ran.
    pub stage: String,
    /// What it wrote.
    pub outs: Vec<PathEntry>,
}

impl RunRecord {
    /// Whether this is a run of `stage` whose outputs are exactly `declared`.
    pub fn matches(&self, stage: &str, declared: &[&str]) -> bool {
        let mut recorded: Vec<&str> = self.outs.iter().map(|o| o.path.as_str()).collect();
        let mut wanted = declared.to_vec();
        recorded.sort_unstable();
        wanted.sort_unstable();
        self.stage == stage && recorded == wanted
    }
}

/// The largest run record read.
const MAX_RECORD_BYTES: u64 = 16 << 20;

/// The run cache of one workspace, `.pipeline/runs/ab/cdef….json`.
#[derive(Clone, Debug)]
pub struct RunCache {
    dir: PathBuf,
}

impl RunCache {
    /// The run cache rooted at `dir`.
    pub fn new(dir: PathBuf) -> Self {
        RunCache { dir }
    }

    fn path(&self, fingerprint: &str) -> PathBuf {
        if !crate::entry::is_hash(fingerprint) {
            return self.dir.join("not-a-fingerprint.json");
        }
        let (head, tail) = fingerprint.split_at(2);
        self.dir.join(head).join(format!("{tail}.json"))
    }

    /// The record of `fingerprint` as stored, or why it cannot be used (`Ok(None)`: none).
    pub fn read(&self, fingerprint: &str) -> Result<Option<RunRecord>, String> {
        let path = self.path(fingerprint);
        let shown = || path.display().to_string();
        if !crate::entry::is_hash(fingerprint) {
            return Err(format!("{}: not a run record name", shown()));
        }
        let bytes = match atomic::read_limited(&path, MAX_RECORD_BYTES) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", shown())),
        };
        let record: RunRecord =
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", shown()))?;
        Ok(Some(record))
    }

    /// The run recorded for `fingerprint` by stage `stage`, if any, and only if its outputs are
    /// exactly `declared` (the stage's declared output paths): a record naming another stage or
    /// any other path is never used. An unreadable record counts as absent.
    pub fn get(&self, fingerprint: &str, stage: &str, declared: &[&str]) -> Option<RunRecord> {
        let record = self.read(fingerprint).ok()??;
        record.matches(stage, declared).then_some(record)
    }

    /// Every record, with its fingerprint, and a message naming each file that is not a valid
    /// record (temp files of writers aside).
    pub fn all(&self) -> (Vec<(String, RunRecord)>, Vec<String>) {
        let mut out = Vec::new();
        let mut bad = Vec::new();
        let Ok(shards) = fs::read_dir(&self.dir) else {
            return (out, bad);
        };
        for shard in shards.flatten() {
            let head = shard.file_name().to_string_lossy().into_owned();
            if crate::layout::is_temp_name(&head) || !shard.path().is_dir() {
                continue;
            }
            let Ok(files) = fs::read_dir(shard.path()) else {
                bad.push(format!("{}: unreadable", shard.path().display()));
                continue;
            };
            for file in files.flatten() {
                let name = file.file_name().to_string_lossy().into_owned();
                if crate::layout::is_temp_name(&name) {
                    continue;
                }
                let fingerprint = name
                    .strip_suffix(".json")
                    .map(|tail| format!("{head}{tail}"))
                    .filter(|f| crate::entry::is_hash(f));
                let Some(fingerprint) = fingerprint else {
                    bad.push(format!("{}: not a run record", file.path().display()));
                    continue;
                };
                match self.read(&fingerprint) {
                    Ok(Some(record)) => out.push((fingerprint, record)),
                    Ok(None) => {}
                    Err(e) => bad.push(e),
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        (out, bad)
    }

    /// Forgets a record.
    pub fn remove(&self, fingerprint: &str) {
        let _ = fs::remove_file(self.path(fingerprint));
    }

    /// The directory holding the records, for sharing them with a remote.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Records a run.
    pub fn put(&self, fingerprint: &str, record: &RunRecord) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
        atomic::write_via(&self.dir, &self.path(fingerprint), &bytes)
    }
}

/// Run records kept elsewhere (a remote's run cache), consulted when the local cache has no
/// run for a stale stage's fingerprint.
pub trait RunSource: Sync {
    /// Whether a run of `fingerprint` is there. Cheap after the first call.
    fn has(&self, fingerprint: &str) -> bool;
    /// Brings the run of `fingerprint` (record and output objects, verified) into the local
    /// caches, if it is a run of `stage` with exactly the `declared` outputs.
    fn bring(&self, fingerprint: &str, stage: &str, declared: &[&str])
        -> Result<RunRecord, String>;
}
