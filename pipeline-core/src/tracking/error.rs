//! The single error type shared by every tracking backend.
//!
//! Both stores (embedded SQLite and the MLflow REST client) report failures
//! through [`TrackingError`] so that pipeline code can react to, say, a changed
//! parameter or a missing run the same way whichever backend is configured.
//! Backend failures are wrapped at the backend's boundary into
//! [`TrackingError::Backend`], so no database or HTTP library type appears here.
//! Every message names the run id, key, model or file involved, because these
//! errors usually surface in logs far away from the call that caused them.

use std::path::PathBuf;

/// Result alias used throughout the tracking module.
pub type Result<T, E = TrackingError> = std::result::Result<T, E>;

/// Everything that can go wrong while recording or reading experiment data.
#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    /// A param, metric or tag key breaks MLflow's naming rules.
    #[error("invalid {kind} key '{key}': {reason}")]
    InvalidKey {
        /// "param", "metric" or "tag".
        kind: &'static str,
        /// The offending key, verbatim.
        key: String,
        /// Which rule was broken.
        reason: String,
    },

    /// A param or tag value exceeds MLflow's length limit.
    #[error("{kind} '{key}' has a value of {len} characters; the limit is {max}")]
    ValueTooLong {
        /// "param" or "tag".
        kind: &'static str,
        /// The key whose value is too long.
        key: String,
        /// Length of the rejected value in characters.
        len: usize,
        /// The limit that applies.
        max: usize,
    },

    /// A param was logged again with a different value; params are immutable.
    #[error(
        "param '{key}' of run {run_id} is already '{old_value}' and cannot be changed to '{new_value}' (params are immutable)"
    )]
    ParamChanged {
        /// Run that owns the param.
        run_id: String,
        /// Param key.
        key: String,
        /// Value already recorded.
        old_value: String,
        /// Value that was rejected.
        new_value: String,
    },

    /// A run id prefix (or run name) names more than one run.
    #[error("'{id}' matches {matches} runs; give more of the run id")]
    AmbiguousRun {
        /// The prefix or name given.
        id: String,
        /// How many runs it matches.
        matches: u64,
    },

    /// Some other argument is unacceptable (empty name, reserved alias, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The run does not exist.
    #[error("run {run_id} not found")]
    RunNotFound {
        /// The id that was looked up.
        run_id: String,
    },

    /// The experiment does not exist.
    #[error("experiment '{experiment}' not found")]
    ExperimentNotFound {
        /// Id or name that was looked up.
        experiment: String,
    },

    /// The registered model does not exist.
    #[error("registered model '{name}' not found")]
    ModelNotFound {
        /// Model name.
        name: String,
    },

    /// The run has no tag with this key.
    #[error("no tag with name '{key}' in run {run_id}")]
    TagNotFound {
        /// Run id.
        run_id: String,
        /// Tag key.
        key: String,
    },

    /// The logged model does not exist.
    #[error("logged model '{model_id}' not found")]
    LoggedModelNotFound {
        /// Its id.
        model_id: String,
    },

    /// The model version does not exist.
    #[error("version {version} of registered model '{name}' not found")]
    ModelVersionNotFound {
        /// Model name.
        name: String,
        /// Requested version.
        version: u64,
    },

    /// The registered model exists but has no versions yet.
    #[error("registered model '{name}' has no versions")]
    NoModelVersions {
        /// Model name.
        name: String,
    },

    /// No version carries the alias.
    #[error("registered model '{name}' has no alias '{alias}'")]
    AliasNotFound {
        /// Model name.
        name: String,
        /// Requested alias.
        alias: String,
    },

    /// The store could not be opened earlier in this run; the first error, again.
    #[error("tracking store unavailable: {0}")]
    Unavailable(String),

    /// Something that must be unique already exists.
    #[error("{0} already exists")]
    AlreadyExists(String),

    /// A search filter could not be parsed; the message points at the token.
    #[error("invalid filter at column {column}: {message}\n  {filter}\n  {caret}")]
    InvalidFilter {
        /// What was expected and what was found.
        message: String,
        /// 1-based character column of the offending token.
        column: usize,
        /// The whole filter string, for context.
        filter: String,
        /// A line of spaces and a `^` under the offending token.
        caret: String,
    },

    /// An `order_by` clause could not be parsed.
    #[error("invalid order_by clause '{clause}': {message}")]
    InvalidOrderBy {
        /// The clause as given.
        clause: String,
        /// What is wrong with it.
        message: String,
    },

    /// A `runs:/` or `models:/` URI is malformed.
    #[error("invalid URI '{uri}': {reason}")]
    InvalidUri {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },

    /// An artifact path is absolute, escapes the run root, or is otherwise unusable.
    #[error("invalid artifact path '{path}': {reason}")]
    InvalidArtifactPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },

    /// No artifact (file or directory) exists at the path.
    #[error("run {run_id} has no artifact at '{path}'")]
    ArtifactNotFound {
        /// Run that was searched.
        run_id: String,
        /// Path inside the run's artifact root.
        path: String,
    },

    /// A content-addressed object does not hash to its name.
    #[error(
        "artifact object {} is corrupt: expected sha256 {expected}, found {actual}", object.display()
    )]
    CorruptObject {
        /// File in the object store.
        object: PathBuf,
        /// Hash the object is stored under.
        expected: String,
        /// Hash of the bytes actually read (or a note that it is missing).
        actual: String,
    },

    /// A file-system operation failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The backend failed below the level of tracking semantics: the database, the network,
    /// or a server answering something that is not MLflow's protocol. Carries the backend's
    /// message only, so no backend type leaks past its module.
    #[error("{backend} error while {context}: {message}")]
    Backend {
        /// `"sqlite"` or `"mlflow server"`.
        backend: &'static str,
        /// The operation being carried out, naming the run, key or endpoint.
        context: String,
        /// The backend's own description of the failure.
        message: String,
    },

    /// The on-disk schema is newer than this build understands.
    #[error("database {} has schema version {found}, newer than the {supported} this build supports", path.display())]
    SchemaTooNew {
        /// Database file.
        path: PathBuf,
        /// `PRAGMA user_version` found.
        found: u32,
        /// Highest version this build can migrate to.
        supported: u32,
    },

    /// The MLflow server answered with an error document.
    #[error("MLflow server error {error_code} (HTTP {status}) from {endpoint}: {message}")]
    Mlflow {
        /// Endpoint that was called.
        endpoint: String,
        /// HTTP status code.
        status: u16,
        /// MLflow's `error_code`, e.g. `RESOURCE_DOES_NOT_EXIST`.
        error_code: String,
        /// MLflow's `message`.
        message: String,
    },

    /// The server refused the request for want of credentials or permission.
    #[error("MLflow server {server} refused the request ({status}): {hint}")]
    Unauthorized {
        /// The server's URL.
        server: String,
        /// 401 or 403.
        status: u16,
        /// What to set.
        hint: String,
    },

    /// The operation is not possible with this backend or configuration.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl TrackingError {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrackingError::Io {
            path: path.into(),
            source,
        }
    }

    /// True when the error means "the thing looked up does not exist",
    /// whichever backend produced it.
    pub fn is_not_found(&self) -> bool {
        match self {
            TrackingError::RunNotFound { .. }
            | TrackingError::ExperimentNotFound { .. }
            | TrackingError::ModelNotFound { .. }
            | TrackingError::LoggedModelNotFound { .. }
            | TrackingError::TagNotFound { .. }
            | TrackingError::ModelVersionNotFound { .. }
            | TrackingError::NoModelVersions { .. }
            | TrackingError::AliasNotFound { .. }
            | TrackingError::ArtifactNotFound { .. } => true,
            TrackingError::Mlflow { error_code, .. } => error_code == "RESOURCE_DOES_NOT_EXIST",
            _ => false,
        }
    }
}
