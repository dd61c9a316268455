//! The run cache: stage fingerprint → the outputs that run produced. Going back to earlier
//! params or code finds the old fingerprint here and restores outputs without running anything.

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
        let (head, tail) = fingerprint.split_at(2.min(fingerprint.len()));
        self.dir.join(head).join(format!("{tail}.json"))
    }

    /// The run recorded for `fingerprint`, if any. An unreadable record counts as absent.
    pub fn get(&self, fingerprint: &str) -> Option<RunRecord> {
        let bytes = fs::read(self.path(fingerprint)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Every record, with its fingerprint.
    pub fn all(&self) -> Vec<(String, RunRecord)> {
        let mut out = Vec::new();
        let Ok(shards) = fs::read_dir(&self.dir) else {
            return out;
        };
        for shard in shards.flatten() {
            let head = shard.file_name().to_string_lossy().into_owned();
            let Ok(files) = fs::read_dir(shard.path()) else {
                continue;
            };
            for file in files.flatten() {
                let name = file.file_name().to_string_lossy().into_owned();
                let Some(tail) = name.strip_suffix(".json") else {
                    continue;
                };
                let fingerprint = format!("{head}{tail}");
                if let Some(record) = self.get(&fingerprint) {
                    out.push((fingerprint, record));
                }
            }
        }
        out
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
