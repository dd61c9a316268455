//! Tracking store backed by an MLflow tracking server's REST API.
//!
//! Teams that already run MLflow can point the engine at their server and see
//! pipeline runs in the MLflow UI. The client keeps MLflow's rules on its side
//! too (key validation, param immutability, filter syntax) so that mistakes
//! produce the same typed errors as with the embedded store, and it splits
//! large batches to stay within the server's per-request limits.
//!
//! Artifacts go through the server's artifact proxy (see `artifacts.rs`).

mod artifacts;
mod auth;
mod batch;
mod client;
mod inputs;
mod logged_models;
mod registry;
mod runs;
mod search;
mod wire;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::Duration;

use super::error::{Result, TrackingError};
use super::model::{
    DatasetInput, Experiment, FileInfo, LoggedModel, LoggedModelPage, LoggedModelStatus, Metric,
    ModelVersion, NewLoggedModel, Param, RegisteredModel, Run, RunInfo, RunStatus, Tag,
};
use super::query::{RunPage, SearchQuery};
use super::store::TrackingStore;

/// Client for an MLflow tracking server.
#[derive(Debug)]
pub struct RestStore {
    agent: ureq::Agent,
    base: String,
    credentials: auth::Credentials,
    /// run id -> artifact_uri; a run's artifact root never changes.
    artifact_roots: Mutex<HashMap<String, String>>,
    /// Set once the server has refused `tags.x IS NULL` (MLflow before 2.x): top-level runs
    /// are then picked out of each page here instead.
    no_null_filter: AtomicBool,
}

impl RestStore {
    /// A client for the server at `base_url` (`http://host:port`, optionally
    /// with a path prefix; `https://` is supported through rustls).
    ///
    /// No request is made here; the first call reports an unreachable server. Credentials and
    /// TLS settings come from MLflow's environment variables (see `auth.rs`).
    pub fn new(base_url: &str) -> Result<Self> {
        Self::with_credentials(base_url, auth::Credentials::from_env())
    }

    fn with_credentials(base_url: &str, credentials: auth::Credentials) -> Result<Self> {
        let base = base_url.trim_end_matches('/').to_string();
        let bad = |reason: &str| TrackingError::InvalidUri {
            uri: base_url.to_string(),
            reason: reason.to_string(),
        };
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(bad("expected an http:// or https:// URL"));
        }
        let uri: ureq::http::Uri = base.parse().map_err(|e| bad(&format!("{e}")))?;
        if uri.host().is_none_or(str::is_empty) {
            return Err(bad("missing host"));
        }
        if uri.query().is_some() {
            return Err(bad("must not contain a query string"));
        }
        let mut config = ureq::Agent::config_builder();
        if let Some(tls) = credentials.tls_config()? {
            config = config.tls_config(tls);
        }
        let config = config
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_send_request(Some(Duration::from_secs(60)))
            .timeout_recv_response(Some(Duration::from_secs(300)))
            .timeout_per_read(Some(Duration::from_secs(120)))
            .timeout_per_write(Some(Duration::from_secs(120)))
            .user_agent(concat!("pipeline-tracking/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(RestStore {
            agent: config.new_agent(),
            base,
            credentials,
            artifact_roots: Mutex::new(HashMap::new()),
            no_null_filter: AtomicBool::new(false),
        })
    }

    /// The server URL this client talks to.
    pub fn base_url(&self) -> &str {
        &self.base
    }
}

/// Each operation lives in the file for its concern; this impl only routes to them.
impl TrackingStore for RestStore {
    fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        runs::get_or_create_experiment(self, name)
    }

    fn list_experiments(&self) -> Result<Vec<Experiment>> {
        runs::list_experiments(self)
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        runs::get_experiment_by_name(self, name)
    }

    fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        parent_run_id: Option<&str>,
        tags: &[Tag],
        start_time_ms: i64,
    ) -> Result<RunInfo> {
        runs::create_run(
            self,
            experiment_id,
            run_name,
            parent_run_id,
            tags,
            start_time_ms,
        )
    }

    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()> {
        runs::log_batch(self, run_id, metrics, params, tags)
    }

    fn update_run(&self, run_id: &str, status: RunStatus, end_time_ms: Option<i64>) -> Result<()> {
        runs::update_run(self, run_id, status, end_time_ms)
    }

    fn get_run(&self, run_id: &str) -> Result<Run> {
        runs::get_run(self, run_id)
    }

    fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        runs::metric_history(self, run_id, key)
    }

    fn search_runs(&self, query: &SearchQuery) -> Result<RunPage> {
        search::search_runs(self, query)
    }

    /// MLflow has no count call; the filter is still checked, so a bad one fails here too.
    fn count_runs(&self, query: &SearchQuery) -> Result<Option<u64>> {
        super::Filter::parse(&query.filter)?;
        Ok(None)
    }

    fn find_run(&self, id: &str) -> Result<Run> {
        search::find_run(self, id)
    }

    fn log_artifact(&self, run_id: &str, local_file: &Path, artifact_path: &str) -> Result<()> {
        artifacts::log_artifact(self, run_id, local_file, artifact_path)
    }

    fn list_artifacts(&self, run_id: &str, dir: Option<&str>) -> Result<Vec<FileInfo>> {
        artifacts::list_artifacts(self, run_id, dir)
    }

    fn download_artifact(&self, run_id: &str, path: &str, dest: &Path) -> Result<()> {
        artifacts::download_artifact(self, run_id, path, dest)
    }

    fn create_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        registry::create_registered_model(self, name)
    }

    fn create_model_version_linked(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
        model_id: Option<&str>,
    ) -> Result<ModelVersion> {
        registry::create_model_version(self, name, source, run_id, model_id)
    }

    fn create_logged_model(&self, model: &NewLoggedModel) -> Result<LoggedModel> {
        logged_models::create(self, model)
    }

    fn log_model_artifact(
        &self,
        model_id: &str,
        local_file: &Path,
        artifact_path: &str,
    ) -> Result<()> {
        logged_models::log_artifact(self, model_id, local_file, artifact_path)
    }

    fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel> {
        logged_models::finalize(self, model_id, status)
    }

    fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        logged_models::get(self, model_id)
    }

    fn search_logged_models(
        &self,
        experiment_ids: &[String],
        max_results: usize,
        page_token: Option<&str>,
    ) -> Result<LoggedModelPage> {
        logged_models::search(self, experiment_ids, max_results, page_token)
    }

    fn create_experiment(&self, name: &str, tags: &[Tag]) -> Result<String> {
        runs::create_experiment(self, name, tags)
    }

    fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        runs::get_experiment(self, experiment_id)
    }

    fn all_experiments(&self) -> Result<Vec<Experiment>> {
        runs::search_experiments(self, "ALL")
    }

    fn set_experiment_tag(&self, experiment_id: &str, tag: &Tag) -> Result<()> {
        crate::tracking::model::validate_tag(tag)?;
        let body = serde_json::json!({ "experiment_id": experiment_id, "key": tag.key, "value": tag.value });
        runs::post_empty(self, "experiments/set-experiment-tag", body)
    }

    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        let body = serde_json::json!({ "run_id": run_id, "key": key });
        runs::post_empty(self, "runs/delete-tag", body)
    }

    fn set_logged_model_tags(&self, model_id: &str, tags: &[Tag]) -> Result<()> {
        logged_models::set_tags(self, model_id, tags)
    }

    fn log_logged_model_params(&self, model_id: &str, params: &[Param]) -> Result<()> {
        logged_models::log_params(self, model_id, params)
    }

    fn logged_models_of_run(&self, run_id: &str) -> Result<Vec<LoggedModel>> {
        logged_models::of_run(self, run_id)
    }

    fn list_model_artifacts(&self, model_id: &str, dir: Option<&str>) -> Result<Vec<FileInfo>> {
        logged_models::list_artifacts(self, model_id, dir)
    }

    fn download_model_artifact(&self, model_id: &str, path: &str, dest: &Path) -> Result<()> {
        logged_models::download_artifact(self, model_id, path, dest)
    }

    fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        registry::get_model_version(self, name, version)
    }

    fn latest_model_version(&self, name: &str) -> Result<ModelVersion> {
        registry::latest_model_version(self, name)
    }

    fn set_model_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        registry::set_model_alias(self, name, alias, version)
    }

    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        registry::get_model_version_by_alias(self, name, alias)
    }

    fn list_registered_models(&self) -> Result<Vec<RegisteredModel>> {
        registry::list_registered_models(self)
    }

    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        registry::get_registered_model(self, name)
    }

    fn log_inputs(&self, run_id: &str, inputs: &[DatasetInput]) -> Result<()> {
        inputs::log_inputs(self, run_id, inputs)
    }

    fn run_inputs(&self, run_id: &str) -> Result<Vec<DatasetInput>> {
        inputs::run_inputs(self, run_id)
    }

    fn delete_run(&self, run_id: &str) -> Result<()> {
        runs::post_empty(self, "runs/delete", serde_json::json!({ "run_id": run_id }))
    }

    fn restore_run(&self, run_id: &str) -> Result<()> {
        runs::post_empty(
            self,
            "runs/restore",
            serde_json::json!({ "run_id": run_id }),
        )
    }

    fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        crate::tracking::model::validate_experiment_name(new_name)?;
        let body = serde_json::json!({ "experiment_id": experiment_id, "new_name": new_name });
        runs::post_empty(self, "experiments/update", body)
    }

    fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        let body = serde_json::json!({ "experiment_id": experiment_id });
        runs::post_empty(self, "experiments/delete", body)
    }

    fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        let body = serde_json::json!({ "experiment_id": experiment_id });
        runs::post_empty(self, "experiments/restore", body)
    }

    fn set_model_description(&self, name: &str, version: Option<u64>, text: &str) -> Result<()> {
        registry::set_model_description(self, name, version, text)
    }

    fn set_model_tag(&self, name: &str, version: Option<u64>, tag: &Tag) -> Result<()> {
        registry::set_model_tag(self, name, version, tag)
    }

    fn delete_model_tag(&self, name: &str, version: Option<u64>, key: &str) -> Result<()> {
        registry::delete_model_tag(self, name, version, key)
    }

    fn model_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        registry::model_versions(self, name)
    }

    fn delete_model_version(&self, name: &str, version: u64) -> Result<()> {
        registry::delete_model_version(self, name, version)
    }

    fn delete_registered_model(&self, name: &str) -> Result<()> {
        registry::delete_registered_model(self, name)
    }

    fn delete_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        registry::delete_model_alias(self, name, alias)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server on loopback that answers `experiments/get-by-name` only with basic auth as
    /// alice, as an MLflow server behind `--app-name basic-auth` does.
    fn guarded_server() -> String {
        use axum::http::{HeaderMap, StatusCode};
        use axum::routing::get;
        let app = axum::Router::new().route(
            "/api/2.0/mlflow/experiments/get-by-name",
            get(|headers: HeaderMap| async move {
                let ok = headers
                    .get("authorization")
                    .is_some_and(|v| v == "Basic YWxpY2U6czNjcmV0");
                if ok {
                    (
                        StatusCode::OK,
                        r#"{"experiment": {"experiment_id": "0", "name": "Default"}}"#,
                    )
                } else {
                    (
                        StatusCode::UNAUTHORIZED,
                        r#"{"error_code": "UNAUTHENTICATED", "message": "You are not authenticated."}"#,
                    )
                }
            }),
        );
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        format!("http://{}", rx.recv().unwrap())
    }

    #[test]
    fn a_server_behind_basic_auth_works_with_mlflows_variables() {
        let url = guarded_server();
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            auth::Credentials::from_vars(move |k| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.to_string())
            })
        };
        let alice = vars(&[
            ("MLFLOW_TRACKING_USERNAME", "alice"),
            ("MLFLOW_TRACKING_PASSWORD", "s3cret"),
        ]);
        let store = RestStore::with_credentials(&url, alice).unwrap();
        let found = store.get_experiment_by_name("Default").unwrap().unwrap();
        assert_eq!(found.experiment_id, "0");

        let anonymous = RestStore::with_credentials(&url, vars(&[])).unwrap();
        let refused = anonymous.get_experiment_by_name("Default").unwrap_err();
        assert!(matches!(
            refused,
            TrackingError::Unauthorized { status: 401, .. }
        ));
        let line = refused.to_string();
        assert!(
            line.contains(&url) && line.contains("MLFLOW_TRACKING_USERNAME"),
            "{line}"
        );
        assert!(!line.contains('\n'), "{line}");
    }

    #[test]
    fn base_url_validation() {
        RestStore::new("http://127.0.0.1:5000").unwrap();
        RestStore::new("https://mlflow.example.com/prefix/").unwrap();
        for bad in ["ftp://x", "127.0.0.1:5000", "http://", "http://h:5000?x=1"] {
            assert!(RestStore::new(bad).is_err(), "{bad}");
        }
        assert_eq!(
            RestStore::new("http://h:1/").unwrap().base_url(),
            "http://h:1"
        );
    }
}
