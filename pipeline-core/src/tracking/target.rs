//! Which tracking backend a command talks to, and opening it.
//!
//! Opening does nothing but open: marking runs of dead processes as KILLED is the job of
//! [`super::active_runs::sweep_abandoned`], which only commands that start runs call, and only
//! for runs this workspace started. Read-only commands (`runs list`, `ui`, `models`) never
//! write to the store, which matters most against a shared MLflow server.

use std::path::PathBuf;
use std::sync::Arc;

use super::{RestStore, SqliteStore, TrackingError, TrackingStore};
use crate::workspace::Workspace;

/// Where runs are recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The embedded store: `.pipeline/tracking.db`, artifacts in the object cache.
    Embedded {
        /// The SQLite database.
        db: PathBuf,
        /// The content-addressed objects directory (shared with pipeline outputs).
        objects: PathBuf,
    },
    /// An MLflow tracking server.
    Server(String),
    /// A tracking URI this engine cannot record to (`sqlite:`, `file:`, `databricks`, …).
    /// Commands that never touch the store work; opening it says which URIs are supported.
    Unsupported(String),
}

impl Target {
    /// `--tracking-uri`, else `MLFLOW_TRACKING_URI`, else the workspace's embedded store.
    /// Never fails: an unsupported URI is reported when a command opens the store.
    pub fn choose(ws: &Workspace, uri: Option<&str>) -> Result<Target, TrackingError> {
        let from_env = std::env::var("MLFLOW_TRACKING_URI")
            .ok()
            .filter(|v| !v.is_empty());
        match uri.map(str::to_string).or(from_env) {
            Some(uri) if uri.starts_with("http://") || uri.starts_with("https://") => {
                Ok(Target::Server(uri))
            }
            Some(uri) => Ok(Target::Unsupported(uri)),
            None => Ok(Target::Embedded {
                db: ws.layout().tracking_db(),
                objects: ws.layout().objects_dir(),
            }),
        }
    }

    /// Opens the store.
    pub fn open(&self) -> Result<Arc<dyn TrackingStore>, TrackingError> {
        Ok(match self {
            Target::Embedded { db, objects } => Arc::new(SqliteStore::open(db, objects)?),
            Target::Server(url) => Arc::new(RestStore::new(url)?),
            Target::Unsupported(uri) => {
                return Err(TrackingError::InvalidUri {
                    uri: uri.clone(),
                    reason: "this engine records to its embedded store (leave --tracking-uri and MLFLOW_TRACKING_URI unset) or to an MLflow server (http:// or https://); sqlite:, file: and databricks URIs are not supported".into(),
                })
            }
        })
    }

    /// Whether the engine picks run ids (so stage run ids can follow from fingerprints).
    pub(crate) fn chooses_ids(&self) -> bool {
        matches!(self, Target::Embedded { .. })
    }
}
