//! Experiment tracking for the pipeline engine: experiments, runs, params,
//! metrics, tags, artifacts and a model registry, following MLflow's data
//! model and semantics.
//!
//! Two backends implement [`TrackingStore`]: [`SqliteStore`], an embedded
//! store needing only a local directory, and [`RestStore`], a client for an
//! MLflow tracking server. Everything else here (types, validation, the
//! search-filter language, paged queries, URIs) is shared so both behave
//! alike; database and HTTP types stay inside `sqlite/` and `rest/`.
#![deny(missing_docs)]

pub mod active_runs;
#[cfg(test)]
pub(crate) mod counting;
pub mod error;
pub mod filter;
pub mod model;
pub mod model_uri;
pub mod query;
pub mod recorder;
pub mod rest;
pub mod sqlite;
pub mod store;
pub mod target;

pub use self::error::{Result, TrackingError};
pub use self::filter::{Filter, OrderBy};
pub use self::model::{
    Dataset, DatasetInput, Experiment, FileInfo, LoggedModel, LoggedModelPage, LoggedModelStatus,
    Metric, ModelVersion, NewLoggedModel, Param, RegisteredModel, Run, RunInfo, RunStatus, Tag,
};
pub use self::model_uri::{logged_model_of_source, run_artifact_of_source, ModelUri};
pub use self::query::{RunPage, SearchQuery};
pub use self::recorder::stage_run_id;
pub use self::rest::RestStore;
pub use self::sqlite::{RunBundle, SqliteStore};
pub use self::store::TrackingStore;
pub use self::target::Target;
