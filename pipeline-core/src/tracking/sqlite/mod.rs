//! The embedded tracking store: SQLite for metadata, a content-addressed
//! directory for artifact bytes.
//!
//! This is the default backend because a pipeline run must be trackable with
//! nothing but a local directory. It follows MLflow's SQL store closely
//! (latest-metrics table, NaN stored as 0 plus a flag, immutable params) so
//! data can later be exported to an MLflow server without reinterpretation.
//!
//! Concurrency model: one [`rusqlite::Connection`] behind a `Mutex` per store.
//! SQLite admits a single writer per database file anyway, so a private
//! connection per thread would only trade mutex waits for `SQLITE_BUSY`
//! retries inside the busy handler, and would lose the prepared-statement
//! cache that makes batch logging fast. Other processes (and other stores on
//! the same file) are coordinated by SQLite itself: WAL mode lets readers
//! proceed during a write, every write transaction starts with
//! `BEGIN IMMEDIATE` so it queues on the busy timeout instead of failing with a
//! lock-upgrade deadlock, and `busy_timeout` makes the wait bounded but long.
//! Slow work (hashing and copying artifact files) happens outside the lock.

mod artifact_tree;
mod artifacts;
mod batch;
mod bundle;
mod experiments;
mod filter_sql;
mod inputs;
mod logged_models;
mod registry;
mod runs;
mod schema;
mod search;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use self::artifact_tree::Owner;
pub use self::bundle::{BundledArtifact, RunBundle};
pub use self::schema::SCHEMA_VERSION;
use super::error::{Result, TrackingError};
use super::model::{
    DatasetInput, Experiment, FileInfo, LoggedModel, LoggedModelPage, LoggedModelStatus, Metric,
    ModelVersion, NewLoggedModel, Param, RegisteredModel, Run, RunInfo, RunStatus, Tag,
};
use super::query::{RunPage, SearchQuery};
use super::store::TrackingStore;

/// How long a writer waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Tracking store kept in a local SQLite file plus an object directory.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    db_path: PathBuf,
    objects_dir: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("db_path", &self.db_path)
            .field("objects_dir", &self.objects_dir)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `db_path` and the object
    /// directory `objects_dir`, switches the database to WAL mode and brings
    /// its schema up to [`SCHEMA_VERSION`].
    pub fn open(db_path: &Path, objects_dir: &Path) -> Result<Self> {
        if let Some(parent) = db_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| TrackingError::io(parent, e))?;
        }
        fs::create_dir_all(objects_dir).map_err(|e| TrackingError::io(objects_dir, e))?;
        let ctx = |what: &str| format!("{what} {}", db_path.display());
        let mut conn = Connection::open(db_path).map_err(|e| db_err(ctx("opening"), e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| db_err(ctx("configuring"), e))?;
        let mode = enable_wal(&conn).map_err(|e| db_err(ctx("enabling WAL on"), e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(TrackingError::Unsupported(format!(
                "database {} refused WAL journal mode (got '{mode}'); is it on a network file system?",
                db_path.display()
            )));
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(|e| db_err(ctx("configuring"), e))?;
        conn.set_prepared_statement_cache_capacity(64);
        schema::migrate(&mut conn, db_path)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            db_path: db_path.to_path_buf(),
            objects_dir: objects_dir.to_path_buf(),
        })
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// The directory holding artifact objects.
    pub fn objects_dir(&self) -> &Path {
        &self.objects_dir
    }

    /// The database's current `PRAGMA user_version`.
    pub fn schema_version(&self) -> Result<u32> {
        self.lock()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| db_err("reading the schema version", e))
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic in another thread while holding the lock leaves the
        // connection usable: any open transaction was rolled back on unwind.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Switches a database to WAL, which needs a moment with no other connection on it: several
/// openers at once (parallel experiments on a database a killed process left in rollback mode)
/// can get SQLITE_BUSY without the busy handler being asked, so this retries for a while, and
/// is done as soon as another connection has made the switch.
fn enable_wal(conn: &Connection) -> rusqlite::Result<String> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)) {
            Ok(mode) => return Ok(mode),
            Err(error) if std::time::Instant::now() < deadline && is_busy(&error) => {
                let now: Option<String> = conn
                    .query_row("PRAGMA journal_mode", [], |row| row.get(0))
                    .ok();
                if now
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case("wal"))
                {
                    return Ok("wal".into());
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(error) => return Err(error),
        }
    }
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// A database failure as the rest of the engine sees it: which operation, and SQLite's words.
fn db_err(context: impl Into<String>, source: rusqlite::Error) -> TrackingError {
    TrackingError::Backend {
        backend: "sqlite",
        context: context.into(),
        message: source.to_string(),
    }
}

fn run_pk(conn: &Connection, run_id: &str) -> Result<i64> {
    conn.prepare_cached("SELECT id FROM runs WHERE run_id = ?1")
        .and_then(|mut s| s.query_row([run_id], |r| r.get(0)).optional())
        .map_err(|e| db_err(format!("looking up run {run_id}"), e))?
        .ok_or_else(|| TrackingError::RunNotFound {
            run_id: run_id.to_string(),
        })
}

fn immediate<'c>(conn: &'c mut Connection, context: &str) -> Result<rusqlite::Transaction<'c>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| db_err(format!("starting a transaction for {context}"), e))
}

fn commit(tx: rusqlite::Transaction<'_>, context: &str) -> Result<()> {
    tx.commit()
        .map_err(|e| db_err(format!("committing {context}"), e))
}

/// Each operation lives in the file for its concern; this impl only routes to them.
impl TrackingStore for SqliteStore {
    fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        experiments::get_or_create_experiment(self, name)
    }

    fn list_experiments(&self) -> Result<Vec<Experiment>> {
        experiments::list_experiments(self)
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        experiments::get_experiment_by_name(self, name)
    }

    fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        parent_run_id: Option<&str>,
        tags: &[Tag],
        start_time_ms: i64,
    ) -> Result<RunInfo> {
        runs::create_run_with_id(
            self,
            None,
            experiment_id,
            run_name,
            parent_run_id,
            tags,
            start_time_ms,
        )
    }

    fn create_run_with_id(
        &self,
        run_id: Option<&str>,
        experiment_id: &str,
        run_name: &str,
        parent_run_id: Option<&str>,
        tags: &[Tag],
        start_time_ms: i64,
    ) -> Result<RunInfo> {
        runs::create_run_with_id(
            self,
            run_id,
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
        batch::log_batch(self, run_id, metrics, params, tags)
    }

    fn update_run(&self, run_id: &str, status: RunStatus, end_time_ms: Option<i64>) -> Result<()> {
        runs::update_run(self, run_id, status, end_time_ms)
    }

    fn get_run(&self, run_id: &str) -> Result<Run> {
        runs::get_run(self, run_id)
    }

    fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        batch::metric_history(self, run_id, key)
    }

    fn search_runs(&self, query: &SearchQuery) -> Result<RunPage> {
        search::search_runs(self, query)
    }

    fn count_runs(&self, query: &SearchQuery) -> Result<Option<u64>> {
        search::count_runs(self, query).map(Some)
    }

    fn page_token_at(&self, offset: usize) -> Option<String> {
        Some(search::offset_token(offset))
    }

    fn find_run(&self, id: &str) -> Result<Run> {
        search::find_run(self, id)
    }

    fn kill_if_running(&self, run_id: &str, end_time_ms: i64) -> Result<bool> {
        runs::kill_if_running(self, run_id, end_time_ms)
    }

    fn log_artifact(&self, run_id: &str, local_file: &Path, artifact_path: &str) -> Result<()> {
        artifact_tree::log_artifact(self, Owner::Run(run_id), local_file, artifact_path)
    }

    fn list_artifacts(&self, run_id: &str, dir: Option<&str>) -> Result<Vec<FileInfo>> {
        artifact_tree::list_artifacts(self, Owner::Run(run_id), dir)
    }

    fn download_artifact(&self, run_id: &str, path: &str, dest: &Path) -> Result<()> {
        artifact_tree::download_artifact(self, Owner::Run(run_id), path, dest)
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
        artifact_tree::log_artifact(self, Owner::Model(model_id), local_file, artifact_path)
    }

    fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel> {
        logged_models::finalize(self, model_id, status)
    }

    fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        logged_models::get(&self.lock(), model_id)
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
        experiments::create_experiment(self, name, tags)
    }

    fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        experiments::get_experiment(self, experiment_id)
    }

    fn all_experiments(&self) -> Result<Vec<Experiment>> {
        experiments::all_experiments(self)
    }

    fn set_experiment_tag(&self, experiment_id: &str, tag: &Tag) -> Result<()> {
        experiments::set_experiment_tag(self, experiment_id, tag)
    }

    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        batch::delete_tag(self, run_id, key)
    }

    fn set_logged_model_tags(&self, model_id: &str, tags: &[Tag]) -> Result<()> {
        logged_models::set_tags(self, model_id, tags)
    }

    fn log_logged_model_params(&self, model_id: &str, params: &[Param]) -> Result<()> {
        logged_models::log_params(self, model_id, params)
    }

    fn logged_models_of_run(&self, run_id: &str) -> Result<Vec<LoggedModel>> {
        logged_models::of_run(&self.lock(), run_id)
    }

    fn list_model_artifacts(&self, model_id: &str, dir: Option<&str>) -> Result<Vec<FileInfo>> {
        artifact_tree::list_artifacts(self, Owner::Model(model_id), dir)
    }

    fn download_model_artifact(&self, model_id: &str, path: &str, dest: &Path) -> Result<()> {
        artifact_tree::download_artifact(self, Owner::Model(model_id), path, dest)
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
        runs::set_run_lifecycle(self, run_id, true)
    }

    fn restore_run(&self, run_id: &str) -> Result<()> {
        runs::set_run_lifecycle(self, run_id, false)
    }

    fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        experiments::rename_experiment(self, experiment_id, new_name)
    }

    fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        experiments::set_experiment_lifecycle(self, experiment_id, "deleted")
    }

    fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        experiments::set_experiment_lifecycle(self, experiment_id, "active")
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
