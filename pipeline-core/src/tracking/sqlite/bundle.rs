//! A run as one self-contained record, to carry runs of the embedded store through a remote:
//! `push` writes one per finished run, `pull` imports those this store lacks, with the same run
//! id, so `runs:/<id>` URIs and stage-run links mean the same on every teammate's machine.
//! Artifacts travel as objects of the content store; the record names them by hash.
//!
//! An imported record is untrusted input: it goes through the store's own validation (ids, keys,
//! values, artifact paths), and its artifacts must already be in the content store.

use super::artifact_tree::{record_artifact, Owner};
use super::SqliteStore;
use crate::tracking::error::{Result, TrackingError};
use crate::tracking::model::{
    artifact_file_path, DatasetInput, Metric, Param, RunInfo, RunStatus, Tag,
    MAX_ENTITIES_PER_BATCH, MAX_METRICS_PER_BATCH,
};
use crate::tracking::TrackingStore;
use serde::{Deserialize, Serialize};

/// A run with everything it logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunBundle {
    /// The name of its experiment (ids differ between stores).
    pub experiment: String,
    /// Its attributes.
    pub info: RunInfo,
    /// Params.
    pub params: Vec<Param>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Every logged metric point.
    pub metrics: Vec<Metric>,
    /// Data sets it read.
    pub inputs: Vec<DatasetInput>,
    /// Its artifact files.
    pub artifacts: Vec<BundledArtifact>,
}

/// One artifact file of a bundled run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundledArtifact {
    /// Path under the run's artifact root.
    pub path: String,
    /// Content hash: the object in the content store.
    #[serde(deserialize_with = "crate::entry::content_hash")]
    pub hash: String,
    /// Size in bytes.
    pub size: u64,
}

impl SqliteStore {
    /// Ids of the runs that have ended (finished, failed or killed): those worth sharing.
    pub fn ended_run_ids(&self) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT run_id FROM runs WHERE status != 'RUNNING' ORDER BY id")
            .map_err(|e| super::db_err("listing ended runs", e))?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| super::db_err("listing ended runs", e))?;
        Ok(ids)
    }

    /// Everything run `run_id` holds.
    pub fn export_run(&self, run_id: &str) -> Result<RunBundle> {
        let run = self.get_run(run_id)?;
        let experiment = self
            .list_experiments()?
            .into_iter()
            .find(|e| e.experiment_id == run.info.experiment_id)
            .map(|e| e.name)
            .unwrap_or_else(|| "Default".into());
        let mut metrics = Vec::new();
        for latest in &run.metrics {
            metrics.extend(self.metric_history(run_id, &latest.key)?);
        }
        let artifacts = {
            let conn = self.lock();
            let pk = super::run_pk(&conn, run_id)?;
            super::artifact_tree::artifact_rows(&conn, Owner::Run(run_id), pk, "")?
                .into_iter()
                .map(|(path, hash, size)| BundledArtifact { path, hash, size })
                .collect()
        };
        Ok(RunBundle {
            experiment,
            inputs: self.run_inputs(run_id)?,
            info: run.info,
            params: run.params,
            tags: run.tags,
            metrics,
            artifacts,
        })
    }

    /// Adds a bundled run, unless a run with its id is already here (`Ok(false)`). Its
    /// artifacts' objects must be in the content store already.
    pub fn import_run(&self, bundle: &RunBundle) -> Result<bool> {
        let info = &bundle.info;
        if self.get_run(&info.run_id).is_ok() {
            return Ok(false);
        }
        for artifact in &bundle.artifacts {
            artifact_file_path(&artifact.path)?;
            if !self.object_path(&artifact.hash).is_file() {
                return Err(TrackingError::InvalidArgument(format!(
                    "artifact '{}' of run {}: object {} is not in the cache",
                    artifact.path, info.run_id, artifact.hash
                )));
            }
        }
        let experiment = self.get_or_create_experiment(&bundle.experiment)?;
        let created = self.create_run_with_id(
            Some(&info.run_id),
            &experiment,
            &info.run_name,
            None,
            &[],
            info.start_time,
        );
        match created {
            // Another import (a parallel stage's) got there first: the run is its to finish.
            Err(TrackingError::AlreadyExists(_)) => return Ok(false),
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        let imported = (|| {
            for tags in bundle.tags.chunks(MAX_ENTITIES_PER_BATCH) {
                self.log_batch(&info.run_id, &[], &[], tags)?;
            }
            for params in bundle.params.chunks(MAX_ENTITIES_PER_BATCH) {
                self.log_batch(&info.run_id, &[], params, &[])?;
            }
            for metrics in bundle.metrics.chunks(MAX_METRICS_PER_BATCH) {
                self.log_batch(&info.run_id, metrics, &[], &[])?;
            }
            if !bundle.inputs.is_empty() {
                self.log_inputs(&info.run_id, &bundle.inputs)?;
            }
            for a in &bundle.artifacts {
                let path = artifact_file_path(&a.path)?;
                record_artifact(
                    self,
                    Owner::Run(&info.run_id),
                    &a.path,
                    &path,
                    &a.hash,
                    a.size,
                )?;
            }
            let status = match info.status {
                RunStatus::Running => RunStatus::Killed,
                other => other,
            };
            self.update_run(&info.run_id, status, info.end_time)?;
            if info.lifecycle_stage == "deleted" {
                self.delete_run(&info.run_id)?;
            }
            Ok(())
        })();
        if let Err(e) = imported {
            // Half an import is worse than none: the next pull tries again from scratch.
            let _ = self.purge_run(&info.run_id);
            return Err(e);
        }
        Ok(true)
    }

    /// Removes every trace of a run (a failed import's leftovers).
    fn purge_run(&self, run_id: &str) -> Result<()> {
        let ctx = format!("removing run {run_id}");
        let mut conn = self.lock();
        let tx = super::immediate(&mut conn, &ctx)?;
        let pk = super::run_pk(&tx, run_id)?;
        for table in [
            "params",
            "tags",
            "metrics",
            "latest_metrics",
            "artifacts",
            "run_inputs",
        ] {
            tx.execute(&format!("DELETE FROM {table} WHERE run_pk = ?1"), [pk])
                .map_err(|e| super::db_err(ctx.clone(), e))?;
        }
        tx.execute("DELETE FROM runs WHERE id = ?1", [pk])
            .map_err(|e| super::db_err(ctx.clone(), e))?;
        super::commit(tx, &ctx)
    }
}
