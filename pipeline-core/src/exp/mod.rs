//! Experiments: the pipeline run with parameter overrides in a scratch workspace that shares the
//! caches, so `params.toml` and the workspace outputs stay untouched while everything produced
//! lands in the cache. Each run leaves an [`ExpRecord`]: its params, metrics and the outputs of
//! every stage, enough to show, compare and apply it later.
//!
//! Records are read through the [`ExperimentLog`] trait; [`StoreLog`] finds them in the tracking
//! store, where each experiment is a run.

pub mod grid;
pub mod run;

use crate::lockfile::LockFile;
use crate::metrics::Flat;
use crate::tracking::query::MAX_PAGE_SIZE;
use crate::tracking::recorder::{Target, TAG_KIND};
use crate::tracking::{SearchQuery, TrackingError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Why an experiment could not be recorded or found.
#[derive(Debug, thiserror::Error)]
pub enum ExpError {
    /// A filesystem error.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A record is not valid JSON.
    #[error("{path}: not a valid experiment record: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The tracking store failed.
    #[error(transparent)]
    Tracking(#[from] TrackingError),
    /// The lock file of a scratch workspace could not be read or written.
    #[error(transparent)]
    Lock(#[from] crate::lockfile::LockError),
    /// The experiments' thread pool could not start.
    #[error("starting the experiment thread pool: {0}")]
    ThreadPool(String),
    /// No experiment has this id.
    #[error("no experiment `{0}`; `exp show` lists them")]
    NotFound(String),
    /// Several experiments start with this prefix.
    #[error("`{prefix}` matches several experiments: {}", .matches.join(", "))]
    Ambiguous {
        /// What was asked for.
        prefix: String,
        /// What it matches.
        matches: Vec<String>,
    },
}

/// One experiment run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExpRecord {
    /// Short unique id, e.g. `exp-3fa2c1d`.
    pub id: String,
    /// The tracking run that recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Milliseconds since the Unix epoch when it started.
    pub created_ms: i64,
    /// The `-S` overrides it ran with, in order.
    pub overrides: Vec<String>,
    /// Every params section, canonical.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Metrics file path → flattened metrics.
    pub metrics: BTreeMap<String, Flat>,
    /// What each stage recorded, as a lock file would.
    pub lock: LockFile,
    /// The failure, if a stage failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ExpRecord {
    /// Params flattened to `section.key` → value text, as tables show them.
    pub fn flat_params(&self) -> BTreeMap<String, String> {
        crate::params::flat_params(&self.params)
    }
}

/// Where experiment records are read from.
pub trait ExperimentLog: Send + Sync {
    /// Every record, oldest first.
    fn list(&self) -> Result<Vec<ExpRecord>, ExpError>;
    /// The record whose id (or tracking run id) is or starts with `id`.
    fn get(&self, id: &str) -> Result<ExpRecord, ExpError> {
        let all = self.list()?;
        let is = |e: &ExpRecord, f: &dyn Fn(&str) -> bool| {
            f(&e.id) || e.run_id.as_deref().is_some_and(f)
        };
        if let Some(exact) = all.iter().find(|e| is(e, &|s| s == id)) {
            return Ok(exact.clone());
        }
        let matches: Vec<&ExpRecord> = all
            .iter()
            .filter(|e| is(e, &|s| s.starts_with(id)))
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(ExpError::NotFound(id.to_string())),
            many => Err(ExpError::Ambiguous {
                prefix: id.to_string(),
                matches: many.iter().map(|e| e.id.clone()).collect(),
            }),
        }
    }
}

/// The artifact holding an experiment's record on its tracking run.
pub const RECORD_ARTIFACT: &str = "pipeline/exp.json";

/// Experiments as tracking runs tagged `pipeline.kind = exp`, each carrying its record as an
/// artifact: they show up in `runs list` and the MLflow UI like any run.
pub struct StoreLog {
    target: Target,
    experiment: String,
}

impl StoreLog {
    /// The experiments of pipeline `experiment` in the store at `target`.
    pub fn new(target: Target, experiment: &str) -> Self {
        StoreLog {
            target,
            experiment: experiment.to_string(),
        }
    }
}

impl ExperimentLog for StoreLog {
    fn list(&self) -> Result<Vec<ExpRecord>, ExpError> {
        let store = self.target.open()?;
        let Some(experiment) = store.get_experiment_by_name(&self.experiment)? else {
            return Ok(Vec::new());
        };
        let mut query = SearchQuery {
            filter: format!("tags.`{TAG_KIND}` = 'exp'"),
            order_by: vec!["attributes.start_time ASC".to_string()],
            max_results: MAX_PAGE_SIZE,
            ..SearchQuery::new(&[experiment.experiment_id])
        };
        // Page by page: only the experiment records are kept, not the runs.
        let mut runs = Vec::new();
        loop {
            let page = store.search_runs(&query)?;
            runs.extend(page.runs.into_iter().map(|r| r.info.run_id));
            query.page_token = page.next_page_token;
            if query.page_token.is_none() {
                break;
            }
        }
        let scratch = tempfile::tempdir().map_err(|source| ExpError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
        let mut out = Vec::with_capacity(runs.len());
        for run_id in runs {
            let file = scratch.path().join(&run_id);
            if store
                .download_artifact(&run_id, RECORD_ARTIFACT, &file)
                .is_err()
            {
                // A run killed before it recorded its experiment: nothing to show or apply.
                continue;
            }
            let bytes = std::fs::read(&file).map_err(|source| ExpError::Io {
                path: file.clone(),
                source,
            })?;
            let mut record: ExpRecord =
                serde_json::from_slice(&bytes).map_err(|e| ExpError::Corrupt {
                    path: PathBuf::from(format!("runs:/{}/{RECORD_ARTIFACT}", run_id)),
                    message: e.to_string(),
                })?;
            record.run_id = Some(run_id.clone());
            out.push(record);
        }
        Ok(out)
    }
}

/// A fresh experiment id: short, unique across processes and parallel points.
pub fn new_id(seed: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let text = format!("{seed}|{nanos}|{}|{n}", std::process::id());
    format!("exp-{}", &crate::hash::bytes(text.as_bytes())[..7])
}
