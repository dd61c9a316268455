//! Experiments: the pipeline run with parameter overrides in a scratch workspace that shares the
//! caches, so `params.toml` and the workspace outputs stay untouched while everything produced
//! lands in the cache. Each run leaves an [`ExpRecord`]: its params, metrics and the outputs of
//! every stage, enough to show, compare and apply it later.
//!
//! Records go through the [`ExperimentLog`] trait; [`FileLog`] keeps them as JSON files under
//! `.pipeline/exps/`.

pub mod grid;
pub mod run;

use crate::atomic;
use crate::lock::LockFile;
use crate::metrics::Flat;
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
        flat_params(&self.params)
    }
}

/// `section.key` → value text for a set of canonical sections.
pub fn flat_params(params: &BTreeMap<String, serde_json::Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (section, value) in params {
        flatten_param(section, value, &mut out);
    }
    out
}

fn flatten_param(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                flatten_param(&format!("{prefix}.{key}"), inner, out);
            }
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// Where experiment records are kept.
pub trait ExperimentLog: Send + Sync {
    /// Stores a record.
    fn record(&self, exp: &ExpRecord) -> Result<(), ExpError>;
    /// Every record, oldest first.
    fn list(&self) -> Result<Vec<ExpRecord>, ExpError>;
    /// The record whose id is or starts with `id`.
    fn get(&self, id: &str) -> Result<ExpRecord, ExpError> {
        let all = self.list()?;
        if let Some(exact) = all.iter().find(|e| e.id == id) {
            return Ok(exact.clone());
        }
        let matches: Vec<&ExpRecord> = all.iter().filter(|e| e.id.starts_with(id)).collect();
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

/// Records as `.pipeline/exps/<id>.json`.
pub struct FileLog {
    dir: PathBuf,
}

impl FileLog {
    /// The log in `dir`.
    pub fn new(dir: PathBuf) -> Self {
        FileLog { dir }
    }
}

impl ExperimentLog for FileLog {
    fn record(&self, exp: &ExpRecord) -> Result<(), ExpError> {
        let path = self.dir.join(format!("{}.json", exp.id));
        let bytes = serde_json::to_vec_pretty(exp).map_err(|e| ExpError::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
        atomic::write(&path, &bytes).map_err(|source| ExpError::Io { path, source })
    }

    fn list(&self) -> Result<Vec<ExpRecord>, ExpError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(ExpError::Io {
                    path: self.dir.clone(),
                    source,
                })
            }
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|source| ExpError::Io {
                path: path.clone(),
                source,
            })?;
            let record: ExpRecord =
                serde_json::from_slice(&bytes).map_err(|e| ExpError::Corrupt {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            out.push(record);
        }
        out.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
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

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
