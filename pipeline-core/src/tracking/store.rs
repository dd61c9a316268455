//! The backend-neutral tracking interface.
//!
//! The engine records every stage run through [`TrackingStore`] and never
//! knows whether the data lands in the embedded SQLite store or on an MLflow
//! server; both implementations follow MLflow's semantics (immutable params,
//! latest-metric rules, search syntax) so switching backends changes where
//! data lives, not what it means.

use std::path::Path;

use super::error::{Result, TrackingError};
use super::model::{
    now_ms, DatasetInput, Experiment, FileInfo, LoggedModel, LoggedModelPage, LoggedModelStatus,
    Metric, ModelVersion, NewLoggedModel, Param, RegisteredModel, Run, RunInfo, RunStatus, Tag,
};
use super::model_uri::ModelUri;
pub use super::query::{RunPage, SearchQuery};

/// A place to record experiments, runs, artifacts and registered models.
///
/// Implementations are shared between pipeline stages running on several
/// threads, hence `Send + Sync` and `&self` everywhere.
pub trait TrackingStore: Send + Sync {
    /// Returns the id of the experiment with this name, creating it first if needed.
    fn get_or_create_experiment(&self, name: &str) -> Result<String>;

    /// All active experiments, ordered by id.
    fn list_experiments(&self) -> Result<Vec<Experiment>>;

    /// The experiment with this name, if any.
    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>>;

    /// Starts a run in `RUNNING` state. Sets the `mlflow.runName` tag, and
    /// `mlflow.parentRunId` when `parent_run_id` is given, besides `tags`.
    /// An empty `run_name` gets a generated one.
    fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        parent_run_id: Option<&str>,
        tags: &[Tag],
        start_time_ms: i64,
    ) -> Result<RunInfo>;

    /// Like [`create_run`](Self::create_run), with the run id chosen by the caller where the
    /// backend allows it: the embedded store does (so a stage run's id can follow from its
    /// fingerprint and outputs that mention it stay reproducible), an MLflow server assigns ids
    /// itself and this falls back to `create_run`. An id already in use is
    /// [`TrackingError::AlreadyExists`].
    fn create_run_with_id(
        &self,
        run_id: Option<&str>,
        experiment_id: &str,
        run_name: &str,
        parent_run_id: Option<&str>,
        tags: &[Tag],
        start_time_ms: i64,
    ) -> Result<RunInfo> {
        let _ = run_id;
        self.create_run(experiment_id, run_name, parent_run_id, tags, start_time_ms)
    }

    /// Records metrics (appended to history), params (immutable: the same
    /// value again is accepted, a different one is [`TrackingError::ParamChanged`])
    /// and tags (overwritten). Everything is validated before anything is written.
    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()>;

    /// Sets a run's status and, optionally, its end time.
    fn update_run(&self, run_id: &str, status: RunStatus, end_time_ms: Option<i64>) -> Result<()>;

    /// A run with its params, tags and the latest value of each metric.
    fn get_run(&self, run_id: &str) -> Result<Run>;

    /// Every recorded value of one metric, ordered by step, then timestamp.
    fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>>;

    /// One page of the runs matching `query`, ordered by its `order_by` clauses (default
    /// `start_time DESC`, then run id). The backend filters, sorts and pages, so no caller ever
    /// holds more than a page; follow [`RunPage::next_page_token`] for the next one.
    fn search_runs(&self, query: &SearchQuery) -> Result<RunPage>;

    /// How many runs match `query` (its paging fields ignored), where the backend can count
    /// without reading them; `None` where it cannot (an MLflow server has no count call).
    fn count_runs(&self, query: &SearchQuery) -> Result<Option<u64>> {
        let _ = query;
        Ok(None)
    }

    /// A page token that starts `offset` runs into a search, for pagers that jump to page N;
    /// `None` where tokens are opaque (an MLflow server's), leaving "next page" links only.
    fn page_token_at(&self, offset: usize) -> Option<String> {
        let _ = offset;
        None
    }

    /// The run `id` names: the run with exactly that id, else the only run whose id starts
    /// with it or whose name is exactly it. None is [`TrackingError::RunNotFound`]; several
    /// are [`TrackingError::AmbiguousRun`]. Found by the backend, without listing runs.
    fn find_run(&self, id: &str) -> Result<Run>;

    /// Marks the run `KILLED` (ending at `end_time_ms`) if it is still `RUNNING`, and says
    /// whether it did. For runs whose process is known to be gone.
    fn kill_if_running(&self, run_id: &str, end_time_ms: i64) -> Result<bool> {
        if self.get_run(run_id)?.info.status != RunStatus::Running {
            return Ok(false);
        }
        self.update_run(run_id, RunStatus::Killed, Some(end_time_ms))?;
        Ok(true)
    }

    /// Stores a local file as `artifact_path` (e.g. `model/model.json`)
    /// inside the run's artifact root, replacing any artifact at that path.
    fn log_artifact(&self, run_id: &str, local_file: &Path, artifact_path: &str) -> Result<()>;

    /// The immediate children of `dir` (the root when `None`) in the run's
    /// artifact tree; paths are relative to the root.
    fn list_artifacts(&self, run_id: &str, dir: Option<&str>) -> Result<Vec<FileInfo>>;

    /// Copies an artifact to `dest`: a file is written to exactly `dest`; a
    /// directory (or `""` for the root) is recreated at `dest` recursively.
    fn download_artifact(&self, run_id: &str, path: &str, dest: &Path) -> Result<()>;

    /// Creates an empty registered model.
    fn create_registered_model(&self, name: &str) -> Result<RegisteredModel>;

    /// Adds the next version (1, 2, ...) of a registered model.
    fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
    ) -> Result<ModelVersion> {
        self.create_model_version_linked(name, source, run_id, None)
    }

    /// Adds the next version of a registered model, registering the logged model `model_id`
    /// (MLflow 3) when given: the version carries its id.
    fn create_model_version_linked(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
        model_id: Option<&str>,
    ) -> Result<ModelVersion>;

    /// One version of a registered model.
    fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion>;

    /// The newest version of a registered model.
    fn latest_model_version(&self, name: &str) -> Result<ModelVersion>;

    /// Points `alias` at `version`, moving it if it pointed elsewhere.
    fn set_model_alias(&self, name: &str, alias: &str, version: u64) -> Result<()>;

    /// The version `alias` points at.
    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion>;

    /// All registered models, ordered by name.
    fn list_registered_models(&self) -> Result<Vec<RegisteredModel>>;

    /// One registered model with its newest version and aliases.
    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel>;

    /// Logs one metric value.
    fn log_metric(&self, run_id: &str, key: &str, value: f64, step: i64) -> Result<()> {
        self.log_batch(run_id, &[Metric::new(key, value, now_ms(), step)], &[], &[])
    }

    /// Logs one param.
    fn log_param(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        self.log_batch(run_id, &[], &[Param::new(key, value)], &[])
    }

    /// Sets one tag.
    fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        self.log_batch(run_id, &[], &[], &[Tag::new(key, value)])
    }

    /// Every file of a run's artifact tree, directories walked, paths relative to the root.
    fn list_artifact_files(&self, run_id: &str) -> Result<Vec<FileInfo>> {
        let mut files = Vec::new();
        let mut dirs: Vec<Option<String>> = vec![None];
        while let Some(dir) = dirs.pop() {
            for file in self.list_artifacts(run_id, dir.as_deref())? {
                if file.is_dir {
                    dirs.push(Some(file.path));
                } else {
                    files.push(file);
                }
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    /// Records the data sets a run read (MLflow's `log_inputs`): the same data set twice is
    /// stored once.
    fn log_inputs(&self, run_id: &str, inputs: &[DatasetInput]) -> Result<()>;

    /// The data sets a run read.
    fn run_inputs(&self, run_id: &str) -> Result<Vec<DatasetInput>>;

    /// Marks a run deleted: searches leave it out, `get_run` still finds it, and it can be
    /// restored (as in MLflow).
    fn delete_run(&self, run_id: &str) -> Result<()>;

    /// Makes a deleted run active again.
    fn restore_run(&self, run_id: &str) -> Result<()>;

    /// Renames an experiment.
    fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()>;

    /// Marks an experiment deleted (listed no more, restorable).
    fn delete_experiment(&self, experiment_id: &str) -> Result<()>;

    /// Makes a deleted experiment active again.
    fn restore_experiment(&self, experiment_id: &str) -> Result<()>;

    /// Sets the description of a registered model (`version` None) or of one version.
    fn set_model_description(&self, name: &str, version: Option<u64>, text: &str) -> Result<()>;

    /// Sets a tag on a registered model (`version` None) or on one version.
    fn set_model_tag(&self, name: &str, version: Option<u64>, tag: &Tag) -> Result<()>;

    /// Removes a tag from a registered model (`version` None) or from one version.
    fn delete_model_tag(&self, name: &str, version: Option<u64>, key: &str) -> Result<()>;

    /// Every version of a registered model, oldest first; numbers may have gaps where versions
    /// were deleted.
    fn model_versions(&self, name: &str) -> Result<Vec<ModelVersion>>;

    /// Deletes one version (and the aliases pointing at it). Its number is never reused.
    fn delete_model_version(&self, name: &str, version: u64) -> Result<()>;

    /// Deletes a registered model with its versions and aliases.
    fn delete_registered_model(&self, name: &str) -> Result<()>;

    /// Removes an alias.
    fn delete_model_alias(&self, name: &str, alias: &str) -> Result<()>;

    /// Creates a logged model (MLflow 3) in `LOGGED_MODEL_PENDING` state, with its params and
    /// tags; its files go in with [`log_model_artifact`](Self::log_model_artifact), then
    /// [`finalize_logged_model`](Self::finalize_logged_model) marks it ready. An id chosen by
    /// the caller that is already taken is [`TrackingError::AlreadyExists`].
    fn create_logged_model(&self, model: &NewLoggedModel) -> Result<LoggedModel>;

    /// Stores a local file as `artifact_path` among a logged model's files.
    fn log_model_artifact(
        &self,
        model_id: &str,
        local_file: &Path,
        artifact_path: &str,
    ) -> Result<()>;

    /// Sets a logged model's final status.
    fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel>;

    /// One logged model with its params, tags and linked metrics.
    fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel>;

    /// One page of the logged models of these experiments, newest first.
    fn search_logged_models(
        &self,
        experiment_ids: &[String],
        max_results: usize,
        page_token: Option<&str>,
    ) -> Result<LoggedModelPage>;

    /// Sets tags on a logged model.
    fn set_logged_model_tags(&self, model_id: &str, tags: &[Tag]) -> Result<()>;

    /// Adds params to a logged model (a param already set keeps its value: a different one is
    /// [`TrackingError::ParamChanged`]).
    fn log_logged_model_params(&self, model_id: &str, params: &[Param]) -> Result<()>;

    /// The logged models a run produced, oldest first.
    fn logged_models_of_run(&self, run_id: &str) -> Result<Vec<LoggedModel>>;

    /// The immediate children of `dir` (the root when `None`) among a logged model's files.
    fn list_model_artifacts(&self, model_id: &str, dir: Option<&str>) -> Result<Vec<FileInfo>>;

    /// Copies a logged model's file, or (`""` for all) its directory, to `dest`.
    fn download_model_artifact(&self, model_id: &str, path: &str, dest: &Path) -> Result<()>;

    /// Creates an experiment with these tags; a name already in use, even by a deleted
    /// experiment, is [`TrackingError::AlreadyExists`] (MLflow's `experiments/create`).
    fn create_experiment(&self, name: &str, tags: &[Tag]) -> Result<String>;

    /// One experiment by id, active or deleted.
    fn get_experiment(&self, experiment_id: &str) -> Result<Experiment>;

    /// Every experiment, deleted ones included, ordered by id.
    fn all_experiments(&self) -> Result<Vec<Experiment>>;

    /// Sets a tag on an experiment.
    fn set_experiment_tag(&self, experiment_id: &str, tag: &Tag) -> Result<()>;

    /// Removes a tag from a run; a tag the run does not have is not found.
    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()>;

    /// Resolves a `models:/` URI to the model version it names.
    fn resolve_model_uri(&self, uri: &str) -> Result<ModelVersion> {
        match ModelUri::parse(uri)? {
            ModelUri::ModelVersion { name, version } => self.get_model_version(&name, version),
            ModelUri::ModelLatest { name } => self.latest_model_version(&name),
            ModelUri::ModelAlias { name, alias } => self.get_model_version_by_alias(&name, &alias),
            ModelUri::Run { .. } | ModelUri::LoggedModel { .. } => Err(TrackingError::InvalidUri {
                uri: uri.to_string(),
                reason: "expected a models:/<name>/… URI of a registered model".into(),
            }),
        }
    }
}
