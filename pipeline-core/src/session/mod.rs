//! [`Session`]: everything a command does, for one workspace and one pipeline, with typed
//! results and no printing. The CLI parses arguments and formats what a `Session` returns; the UI
//! and the tests call the same operations, so there is one path through the engine, whoever asks.
//!
//! - `repro.rs`: `repro` and the plan behind `status` and `repro --dry`;
//! - `exp.rs`: `exp run`, `exp show`'s records, `exp apply`;
//! - `data.rs`: `add`, `checkout`, `gc`, `push`, `fetch`, `pull`.

mod data;
mod exp;
mod repro;

pub use data::{CheckoutReport, DataState, DataStatus};
pub use exp::ApplyReport;
pub use repro::{ReproReport, ReproRequest};

use crate::dag::{Dag, DagError};
use crate::data::DataError;
use crate::exp::ExpError;
use crate::lockfile::LockError;
use crate::params::{self, ParamValues, ParamsError};
use crate::pipeline::Pipeline;
use crate::tracking::recorder::Target;
use crate::tracking::TrackingError;
use crate::workspace::{Workspace, WorkspaceError, WorkspaceLock};
use std::collections::BTreeSet;
use std::path::Path;

/// Why an operation of a session failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The pipeline is not a valid graph.
    #[error("invalid pipeline: {0}")]
    Dag(#[from] DagError),
    /// `params.toml` or an override is invalid.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// A stage name given by the user is not in the pipeline.
    #[error("unknown stage `{name}`; stages are: {}", .known.join(", "))]
    UnknownStage {
        /// The name as given.
        name: String,
        /// The pipeline's stages.
        known: Vec<String>,
    },
    /// The workspace could not be locked.
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    /// `pipeline.lock` could not be read or written.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The tracking store failed.
    #[error("tracking: {0}")]
    Tracking(#[from] TrackingError),
    /// An experiment could not be run, found or applied.
    #[error(transparent)]
    Exp(#[from] ExpError),
    /// Versioned data could not be added, checked out, collected or transferred.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A filesystem error outside the stores.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// An experiment that failed has nothing to apply.
    #[error("experiment {id} failed ({error}); there is nothing to apply")]
    FailedExperiment {
        /// The experiment.
        id: String,
        /// Its failure.
        error: String,
    },
}

/// Which stages an operation applies to, besides the ones named.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    /// The named stages and everything they depend on (all stages when none is named).
    #[default]
    WithUpstream,
    /// Only the named stages.
    Single,
    /// The named stages and everything that depends on them.
    WithDownstream,
}

/// One workspace, one validated pipeline, one tracking target.
pub struct Session {
    ws: Workspace,
    dag: Dag,
    tracking: Target,
}

impl Session {
    /// A session over parts already built.
    pub fn new(ws: Workspace, dag: Dag, tracking: Target) -> Self {
        Session { ws, dag, tracking }
    }

    /// The session a command started in `start` uses: the workspace found at or above it, the
    /// pipeline validated, and the tracking store named by `tracking_uri`, else
    /// `MLFLOW_TRACKING_URI`, else the embedded one.
    pub fn open(
        pipeline: Pipeline,
        start: &Path,
        tracking_uri: Option<&str>,
    ) -> Result<Self, SessionError> {
        let ws = Workspace::discover(start);
        let dag = Dag::new(pipeline)?;
        let tracking = Target::choose(&ws, tracking_uri)?;
        Ok(Session { ws, dag, tracking })
    }

    /// The workspace.
    pub fn workspace(&self) -> &Workspace {
        &self.ws
    }

    /// The validated pipeline.
    pub fn dag(&self) -> &Dag {
        &self.dag
    }

    /// Where runs are recorded.
    pub fn tracking(&self) -> &Target {
        &self.tracking
    }

    /// `params.toml` with `overrides` (`section.key=value`) applied, validated for every
    /// section the pipeline declares. The one place params are loaded.
    pub fn params(&self, overrides: &[String]) -> Result<ParamValues, SessionError> {
        let table = params::read_file(self.ws.root())?;
        Ok(self.validate_params(table, overrides)?)
    }

    /// Validates a params table with overrides, naming them in errors.
    pub(crate) fn validate_params(
        &self,
        mut table: toml::Table,
        overrides: &[String],
    ) -> Result<ParamValues, ParamsError> {
        params::apply_overrides(&mut table, overrides)?;
        let origin = if overrides.is_empty() {
            params::PARAMS_FILE.to_string()
        } else {
            format!("{} with -S {}", params::PARAMS_FILE, overrides.join(" -S "))
        };
        let sections = self
            .dag
            .stages()
            .iter()
            .flat_map(|s| s.params.iter().map(move |p| (s.name.as_str(), p)));
        params::validate(&table, sections, &origin)
    }

    /// The stages an operation applies to: all when `names` is empty, else the named ones with
    /// their upstream, downstream, or alone.
    pub fn select(&self, names: &[String], scope: Scope) -> Result<BTreeSet<usize>, SessionError> {
        let targets = names
            .iter()
            .map(|name| {
                self.dag
                    .find(name)
                    .ok_or_else(|| SessionError::UnknownStage {
                        name: name.clone(),
                        known: self.dag.stages().iter().map(|s| s.name.clone()).collect(),
                    })
            })
            .collect::<Result<Vec<usize>, _>>()?;
        Ok(if targets.is_empty() {
            (0..self.dag.stages().len()).collect()
        } else {
            match scope {
                Scope::Single => targets.into_iter().collect(),
                Scope::WithDownstream => self.dag.with_downstream(&targets),
                Scope::WithUpstream => self.dag.with_upstream(&targets),
            }
        })
    }

    /// What killed processes left behind: staging areas, temp files in the caches, next to
    /// outputs and at the root, scratch workspaces of dead experiments; and the tracking runs
    /// they left open, marked KILLED. Call only while holding the workspace lock.
    pub(crate) fn recover(&self) -> Result<(), SessionError> {
        let output_dirs: Vec<std::path::PathBuf> = self
            .dag
            .stages()
            .iter()
            .flat_map(|stage| stage.outs.iter())
            .filter_map(|out| self.ws.path(&out.path).parent().map(|p| p.to_path_buf()))
            .collect();
        self.ws.layout().sweep(output_dirs);
        crate::tracking::recorder::sweep_abandoned(&self.tracking, self.ws.root())?;
        Ok(())
    }

    /// Takes the workspace lock, calling `waiting` with the holder's description first when
    /// another process holds it.
    pub(crate) fn lock(&self, waiting: &dyn Fn(&str)) -> Result<WorkspaceLock, SessionError> {
        Ok(self.ws.lock(true, waiting)?)
    }
}
