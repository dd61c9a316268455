//! What happens to a stage's outputs once it succeeded, in an order that keeps the workspace
//! consistent when anything fails: stored in the content store (a full disk fails here, with
//! nothing in the workspace changed), reported to the tracking store from the staging area,
//! recorded in the run cache, and only then moved into the workspace, all of them, by renames.

use super::{Check, Engine, StageError};
use crate::cas;
use crate::engine::run_cache::RunRecord;
use crate::entry::PathEntry;
use crate::pipeline::OutKind;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

impl Engine<'_> {
    /// Stores what a successful stage wrote in the staging area; the workspace is untouched.
    pub(super) fn store_outputs(
        &self,
        i: usize,
        staging: &Path,
    ) -> Result<Vec<PathEntry>, StageError> {
        let stage = self.dag.stage(i);
        let mut entries = Vec::with_capacity(stage.outs.len());
        for out in &stage.outs {
            if fs::symlink_metadata(staging.join(&out.path)).is_err() {
                return Err(StageError::OutputNotWritten(out.path.clone()));
            }
            entries.push(self.store.store_path(staging, &out.path)?);
        }
        Ok(entries)
    }

    /// Records the run in the run cache, then moves every output into the workspace.
    pub(super) fn commit_outputs(
        &self,
        i: usize,
        check: &Check,
        staging: &Path,
        entries: &[PathEntry],
    ) -> Result<(), StageError> {
        let stage = self.dag.stage(i);
        self.runs
            .put(
                &check.fingerprint.digest(),
                &RunRecord {
                    stage: stage.name.clone(),
                    outs: entries.to_vec(),
                },
            )
            .map_err(|source| StageError::Io {
                path: self.ws.layout().run_cache_dir().display().to_string(),
                source,
            })?;
        for entry in entries {
            self.place(staging, entry)?;
        }
        Ok(())
    }

    /// A stage's metrics (flattened) and its metrics and plots files as artifacts, read from the
    /// staging area before anything moves into the workspace.
    pub(super) fn reported_outputs(
        &self,
        i: usize,
        staging: &Path,
    ) -> (BTreeMap<String, f64>, Vec<(std::path::PathBuf, String)>) {
        let mut metrics = BTreeMap::new();
        let mut artifacts = Vec::new();
        for out in &self.dag.stage(i).outs {
            let path = staging.join(&out.path);
            match out.kind {
                OutKind::Metrics => {
                    if let Ok(flat) = fs::read(&path)
                        .map_err(|e| e.to_string())
                        .and_then(|b| crate::metrics::parse(&out.path, &b))
                    {
                        metrics.extend(flat);
                    }
                    artifacts.push((path, out.path.clone()));
                }
                OutKind::Plots if path.is_file() => artifacts.push((path, out.path.clone())),
                _ => {}
            }
        }
        (metrics, artifacts)
    }

    /// Moves a cached output from the staging area into the workspace.
    fn place(&self, staging: &Path, entry: &PathEntry) -> Result<(), StageError> {
        let from = staging.join(&entry.path);
        let to = self.ws.path(&entry.path);
        let io = |source| StageError::Io {
            path: entry.path.clone(),
            source,
        };
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(io)?;
        }
        if entry.dir {
            cas::replace_dir(&from, &to)?;
            if let Ok(manifest) = self.store.read_manifest(&entry.hash) {
                for file in manifest {
                    let rel = format!("{}/{}", entry.path, file.path);
                    self.state.remember(&to.join(&file.path), &rel, &file.hash);
                }
            }
        } else {
            fs::File::open(&from)
                .and_then(|f| f.sync_all())
                .map_err(io)?;
            if to.is_dir() {
                fs::remove_dir_all(&to).map_err(io)?;
            }
            fs::rename(&from, &to).map_err(io)?;
            self.state.remember(&to, &entry.path, &entry.hash);
        }
        Ok(())
    }
}
