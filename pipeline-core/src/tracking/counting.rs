//! A store that counts the run searches made through it and the rows they returned, delegating
//! everything to an embedded store: tests use it to show that a page of the UI or of `runs list`
//! asks the backend for one page, never for every run.

use super::error::Result;
use super::model::{
    DatasetInput, Experiment, FileInfo, Metric, ModelVersion, Param, RegisteredModel, Run,
};
use super::model::{
    LoggedModel, LoggedModelPage, LoggedModelStatus, NewLoggedModel, RunInfo, RunStatus, Tag,
};
use super::query::{RunPage, SearchQuery};
use super::{SqliteStore, TrackingStore};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// An embedded store with counters on its searches.
pub(crate) struct CountingStore {
    inner: SqliteStore,
    /// Calls of `search_runs`.
    pub searches: AtomicUsize,
    /// Runs those calls returned, in all.
    pub rows: AtomicUsize,
    /// Milliseconds every search waits first, standing in for a slow query.
    pub search_delay_ms: std::sync::atomic::AtomicU64,
}

impl CountingStore {
    /// An embedded store in `dir`, with `runs` top-level runs in experiment `name`.
    pub fn with_runs(dir: &Path, name: &str, runs: usize) -> Self {
        let inner = SqliteStore::open(&dir.join("tracking.db"), &dir.join("cache")).unwrap();
        let experiment = inner.get_or_create_experiment(name).unwrap();
        for i in 0..runs {
            let run = inner
                .create_run(&experiment, &format!("run-{i}"), None, &[], i as i64)
                .unwrap();
            inner
                .log_batch(
                    &run.run_id,
                    &[Metric::new("accuracy", i as f64, 0, 0)],
                    &[],
                    &[],
                )
                .unwrap();
        }
        CountingStore {
            inner,
            searches: AtomicUsize::new(0),
            rows: AtomicUsize::new(0),
            search_delay_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// (searches, rows) so far.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.searches.load(Ordering::SeqCst),
            self.rows.load(Ordering::SeqCst),
        )
    }
}

impl TrackingStore for CountingStore {
    fn search_runs(&self, query: &SearchQuery) -> Result<RunPage> {
        let delay = self.search_delay_ms.load(Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let page = self.inner.search_runs(query)?;
        self.searches.fetch_add(1, Ordering::SeqCst);
        self.rows.fetch_add(page.runs.len(), Ordering::SeqCst);
        Ok(page)
    }
    fn count_runs(&self, query: &SearchQuery) -> Result<Option<u64>> {
        self.inner.count_runs(query)
    }
    fn page_token_at(&self, offset: usize) -> Option<String> {
        self.inner.page_token_at(offset)
    }
    fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        self.inner.get_or_create_experiment(name)
    }
    fn list_experiments(&self) -> Result<Vec<Experiment>> {
        self.inner.list_experiments()
    }
    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        self.inner.get_experiment_by_name(name)
    }
    fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        parent_run_id: Option<&str>,
        tags: &[Tag],
        start_time_ms: i64,
    ) -> Result<RunInfo> {
        self.inner
            .create_run(experiment_id, run_name, parent_run_id, tags, start_time_ms)
    }
    fn log_batch(&self, id: &str, m: &[Metric], p: &[Param], t: &[Tag]) -> Result<()> {
        self.inner.log_batch(id, m, p, t)
    }
    fn update_run(&self, id: &str, status: RunStatus, end: Option<i64>) -> Result<()> {
        self.inner.update_run(id, status, end)
    }
    fn get_run(&self, id: &str) -> Result<Run> {
        self.inner.get_run(id)
    }
    fn metric_history(&self, id: &str, key: &str) -> Result<Vec<Metric>> {
        self.inner.metric_history(id, key)
    }
    fn find_run(&self, id: &str) -> Result<Run> {
        self.inner.find_run(id)
    }
    fn log_artifact(&self, id: &str, file: &Path, path: &str) -> Result<()> {
        self.inner.log_artifact(id, file, path)
    }
    fn list_artifacts(&self, id: &str, dir: Option<&str>) -> Result<Vec<FileInfo>> {
        self.inner.list_artifacts(id, dir)
    }
    fn download_artifact(&self, id: &str, path: &str, dest: &Path) -> Result<()> {
        self.inner.download_artifact(id, path, dest)
    }
    fn create_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        self.inner.create_registered_model(name)
    }
    fn create_model_version_linked(
        &self,
        name: &str,
        src: &str,
        run: Option<&str>,
        model: Option<&str>,
    ) -> Result<ModelVersion> {
        self.inner
            .create_model_version_linked(name, src, run, model)
    }
    fn create_logged_model(&self, model: &NewLoggedModel) -> Result<LoggedModel> {
        self.inner.create_logged_model(model)
    }
    fn log_model_artifact(&self, id: &str, file: &Path, path: &str) -> Result<()> {
        self.inner.log_model_artifact(id, file, path)
    }
    fn finalize_logged_model(&self, id: &str, status: LoggedModelStatus) -> Result<LoggedModel> {
        self.inner.finalize_logged_model(id, status)
    }
    fn get_logged_model(&self, id: &str) -> Result<LoggedModel> {
        self.inner.get_logged_model(id)
    }
    fn search_logged_models(
        &self,
        experiments: &[String],
        max: usize,
        token: Option<&str>,
    ) -> Result<LoggedModelPage> {
        self.inner.search_logged_models(experiments, max, token)
    }
    fn create_experiment(&self, name: &str, tags: &[Tag]) -> Result<String> {
        self.inner.create_experiment(name, tags)
    }
    fn get_experiment(&self, id: &str) -> Result<Experiment> {
        self.inner.get_experiment(id)
    }
    fn all_experiments(&self) -> Result<Vec<Experiment>> {
        self.inner.all_experiments()
    }
    fn set_experiment_tag(&self, id: &str, tag: &Tag) -> Result<()> {
        self.inner.set_experiment_tag(id, tag)
    }
    fn delete_tag(&self, id: &str, key: &str) -> Result<()> {
        self.inner.delete_tag(id, key)
    }
    fn set_logged_model_tags(&self, id: &str, tags: &[Tag]) -> Result<()> {
        self.inner.set_logged_model_tags(id, tags)
    }
    fn log_logged_model_params(&self, id: &str, params: &[Param]) -> Result<()> {
        self.inner.log_logged_model_params(id, params)
    }
    fn logged_models_of_run(&self, id: &str) -> Result<Vec<LoggedModel>> {
        self.inner.logged_models_of_run(id)
    }
    fn list_model_artifacts(&self, id: &str, dir: Option<&str>) -> Result<Vec<FileInfo>> {
        self.inner.list_model_artifacts(id, dir)
    }
    fn download_model_artifact(&self, id: &str, path: &str, dest: &Path) -> Result<()> {
        self.inner.download_model_artifact(id, path, dest)
    }
    fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        self.inner.get_model_version(name, version)
    }
    fn latest_model_version(&self, name: &str) -> Result<ModelVersion> {
        self.inner.latest_model_version(name)
    }
    fn set_model_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        self.inner.set_model_alias(name, alias, version)
    }
    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        self.inner.get_model_version_by_alias(name, alias)
    }
    fn list_registered_models(&self) -> Result<Vec<RegisteredModel>> {
        self.inner.list_registered_models()
    }
    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        self.inner.get_registered_model(name)
    }
    fn log_inputs(&self, run_id: &str, inputs: &[DatasetInput]) -> Result<()> {
        self.inner.log_inputs(run_id, inputs)
    }
    fn run_inputs(&self, run_id: &str) -> Result<Vec<DatasetInput>> {
        self.inner.run_inputs(run_id)
    }
    fn delete_run(&self, run_id: &str) -> Result<()> {
        self.inner.delete_run(run_id)
    }
    fn restore_run(&self, run_id: &str) -> Result<()> {
        self.inner.restore_run(run_id)
    }
    fn rename_experiment(&self, id: &str, new_name: &str) -> Result<()> {
        self.inner.rename_experiment(id, new_name)
    }
    fn delete_experiment(&self, id: &str) -> Result<()> {
        self.inner.delete_experiment(id)
    }
    fn restore_experiment(&self, id: &str) -> Result<()> {
        self.inner.restore_experiment(id)
    }
    fn set_model_description(&self, name: &str, version: Option<u64>, text: &str) -> Result<()> {
        self.inner.set_model_description(name, version, text)
    }
    fn set_model_tag(&self, name: &str, version: Option<u64>, tag: &Tag) -> Result<()> {
        self.inner.set_model_tag(name, version, tag)
    }
    fn delete_model_tag(&self, name: &str, version: Option<u64>, key: &str) -> Result<()> {
        self.inner.delete_model_tag(name, version, key)
    }
    fn model_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        self.inner.model_versions(name)
    }
    fn delete_model_version(&self, name: &str, version: u64) -> Result<()> {
        self.inner.delete_model_version(name, version)
    }
    fn delete_registered_model(&self, name: &str) -> Result<()> {
        self.inner.delete_registered_model(name)
    }
    fn delete_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        self.inner.delete_model_alias(name, alias)
    }
}
