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
//! Slow work (hashing and copying artifact files, liveness callbacks) happens
//! outside the lock.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};

use super::error::{Result, TrackingError};
use super::filter::{order_by_sql, Filter, OrderBy};
use super::model::{
    new_run_id, normalize_artifact_path, now_ms, to_hex, validate_alias, validate_batch,
    validate_experiment_name, validate_model_name, validate_tag, Experiment, FileInfo, Metric,
    ModelVersion, Param, RegisteredModel, Run, RunInfo, RunStatus, Tag, MAX_SEARCH_RESULTS,
    TAG_PARENT_RUN_ID, TAG_RUN_NAME,
};
use super::store::TrackingStore;

/// How long a writer waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Schema migrations, in order. Step `i` takes the database from
/// `PRAGMA user_version = i` to `i + 1`; steps are only ever appended.
///
/// Table layout relied on by the filter translation: `runs r` with integer
/// primary key `id`; `params`, `tags` and `latest_metrics` keyed by
/// `(run_pk, key)` with a `value` column (and `is_nan` for metrics).
pub const MIGRATIONS: &[&str] = &[
    // 1: experiments, runs, params, tags, metrics.
    r#"
    CREATE TABLE experiments (
        experiment_id   INTEGER PRIMARY KEY,
        name            TEXT NOT NULL UNIQUE,
        lifecycle_stage TEXT NOT NULL DEFAULT 'active',
        creation_time   INTEGER NOT NULL
    );
    INSERT INTO experiments (experiment_id, name, lifecycle_stage, creation_time)
    VALUES (0, 'Default', 'active', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));

    CREATE TABLE runs (
        id              INTEGER PRIMARY KEY,
        run_id          TEXT NOT NULL UNIQUE,
        experiment_id   INTEGER NOT NULL REFERENCES experiments(experiment_id),
        run_name        TEXT NOT NULL,
        status          TEXT NOT NULL,
        start_time      INTEGER NOT NULL,
        end_time        INTEGER,
        artifact_uri    TEXT NOT NULL,
        lifecycle_stage TEXT NOT NULL DEFAULT 'active'
    );
    CREATE INDEX runs_by_experiment ON runs(experiment_id, start_time);
    CREATE INDEX runs_by_status ON runs(status);

    CREATE TABLE params (
        run_pk INTEGER NOT NULL REFERENCES runs(id),
        key    TEXT NOT NULL,
        value  TEXT NOT NULL,
        PRIMARY KEY (run_pk, key)
    ) WITHOUT ROWID;
    CREATE INDEX params_by_key_value ON params(key, value);

    CREATE TABLE tags (
        run_pk INTEGER NOT NULL REFERENCES runs(id),
        key    TEXT NOT NULL,
        value  TEXT NOT NULL,
        PRIMARY KEY (run_pk, key)
    ) WITHOUT ROWID;
    CREATE INDEX tags_by_key_value ON tags(key, value);

    -- Full history: every logged point. NaN is stored as 0 with is_nan = 1
    -- because SQLite turns NaN into NULL.
    CREATE TABLE metrics (
        run_pk    INTEGER NOT NULL REFERENCES runs(id),
        key       TEXT NOT NULL,
        value     REAL NOT NULL,
        is_nan    INTEGER NOT NULL,
        timestamp INTEGER NOT NULL,
        step      INTEGER NOT NULL
    );
    CREATE INDEX metrics_history ON metrics(run_pk, key, step, timestamp);

    -- The latest point per (run, key): max step, then timestamp, then value.
    CREATE TABLE latest_metrics (
        run_pk    INTEGER NOT NULL REFERENCES runs(id),
        key       TEXT NOT NULL,
        value     REAL NOT NULL,
        is_nan    INTEGER NOT NULL,
        timestamp INTEGER NOT NULL,
        step      INTEGER NOT NULL,
        PRIMARY KEY (run_pk, key)
    ) WITHOUT ROWID;
    CREATE INDEX latest_metrics_by_key_value ON latest_metrics(key, value);
    "#,
    // 2: content-addressed artifacts.
    r#"
    CREATE TABLE artifacts (
        run_pk INTEGER NOT NULL REFERENCES runs(id),
        path   TEXT NOT NULL,
        hash   TEXT NOT NULL,
        size   INTEGER NOT NULL,
        PRIMARY KEY (run_pk, path)
    ) WITHOUT ROWID;
    CREATE INDEX artifacts_by_hash ON artifacts(hash);
    "#,
    // 3: model registry.
    r#"
    CREATE TABLE registered_models (
        name              TEXT PRIMARY KEY,
        creation_time     INTEGER NOT NULL,
        last_updated_time INTEGER NOT NULL
    );
    CREATE TABLE model_versions (
        name          TEXT NOT NULL REFERENCES registered_models(name),
        version       INTEGER NOT NULL,
        source        TEXT NOT NULL,
        run_id        TEXT,
        creation_time INTEGER NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE TABLE model_aliases (
        name    TEXT NOT NULL,
        alias   TEXT NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (name, alias),
        FOREIGN KEY (name, version) REFERENCES model_versions(name, version)
    );
    "#,
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

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

/// Run columns in the order [`RunRow::from_row`] reads them.
const RUN_COLUMNS: &str =
    "r.id, r.run_id, r.run_name, r.experiment_id, r.status, r.start_time, r.end_time, r.artifact_uri";

struct RunRow {
    pk: i64,
    run_id: String,
    run_name: String,
    experiment_id: i64,
    status: String,
    start_time: i64,
    end_time: Option<i64>,
    artifact_uri: String,
}

impl RunRow {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(RunRow {
            pk: row.get(0)?,
            run_id: row.get(1)?,
            run_name: row.get(2)?,
            experiment_id: row.get(3)?,
            status: row.get(4)?,
            start_time: row.get(5)?,
            end_time: row.get(6)?,
            artifact_uri: row.get(7)?,
        })
    }

    fn into_info(self) -> Result<RunInfo> {
        Ok(RunInfo {
            status: self.status.parse()?,
            run_id: self.run_id,
            run_name: self.run_name,
            experiment_id: self.experiment_id.to_string(),
            start_time: self.start_time,
            end_time: self.end_time,
            artifact_uri: self.artifact_uri,
        })
    }
}

fn metric_from_row(key: String, value: f64, is_nan: bool, timestamp: i64, step: i64) -> Metric {
    Metric {
        key,
        value: if is_nan { f64::NAN } else { value },
        timestamp,
        step,
    }
}

/// NaN cannot be stored in SQLite, so it becomes 0 plus a flag, as in MLflow.
fn stored_value(v: f64) -> (f64, bool) {
    if v.is_nan() {
        (0.0, true)
    } else {
        (v, false)
    }
}

fn parse_experiment_id(id: &str) -> Option<i64> {
    id.parse::<i64>().ok().filter(|v| *v >= 0)
}

fn version_i64(name: &str, version: u64) -> Result<i64> {
    i64::try_from(version).map_err(|_| TrackingError::ModelVersionNotFound {
        name: name.to_string(),
        version,
    })
}

fn version_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
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
        let mut conn =
            Connection::open(db_path).map_err(|e| TrackingError::db(ctx("opening"), e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| TrackingError::db(ctx("configuring"), e))?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| TrackingError::db(ctx("enabling WAL on"), e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(TrackingError::Unsupported(format!(
                "database {} refused WAL journal mode (got '{mode}'); is it on a network file system?",
                db_path.display()
            )));
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(|e| TrackingError::db(ctx("configuring"), e))?;
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&mut conn, db_path)?;
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

    /// Every object hash an artifact refers to: what `gc` must keep in a shared cache.
    pub fn artifact_hashes(&self) -> Result<std::collections::HashSet<String>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT DISTINCT hash FROM artifacts")
            .map_err(|e| TrackingError::db("listing artifact objects", e))?;
        let hashes = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<std::collections::HashSet<String>>>())
            .map_err(|e| TrackingError::db("listing artifact objects", e))?;
        Ok(hashes)
    }

    /// The database's current `PRAGMA user_version`.
    pub fn schema_version(&self) -> Result<u32> {
        self.lock()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| TrackingError::db("reading the schema version", e))
    }

    /// Where the object with this SHA-256 hex digest lives:
    /// `objects_dir/<first two hex chars>/<remaining 62>`.
    pub fn object_path(&self, hash: &str) -> PathBuf {
        match (hash.get(..2), hash.get(2..)) {
            (Some(dir), Some(rest)) if !rest.is_empty() => self.objects_dir.join(dir).join(rest),
            _ => self.objects_dir.join(hash),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic in another thread while holding the lock leaves the
        // connection usable: any open transaction was rolled back on unwind.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a file's bytes under their hash (no-op if already present) and
    /// returns `(hash, size)`.
    fn store_object(&self, local_file: &Path) -> Result<(String, u64)> {
        let mut src = File::open(local_file).map_err(|e| TrackingError::io(local_file, e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".incoming-")
            .tempfile_in(&self.objects_dir)
            .map_err(|e| TrackingError::io(&self.objects_dir, e))?;
        let mut sha = Sha256::new();
        let mut size: u64 = 0;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = src
                .read(&mut buf)
                .map_err(|e| TrackingError::io(local_file, e))?;
            if n == 0 {
                break;
            }
            sha.update(&buf[..n]);
            tmp.write_all(&buf[..n])
                .map_err(|e| TrackingError::io(tmp.path(), e))?;
            size += n as u64;
        }
        let hash = to_hex(&sha.finalize());
        let dest = self.object_path(&hash);
        if dest.is_file() {
            return Ok((hash, size));
        }
        tmp.as_file()
            .sync_all()
            .map_err(|e| TrackingError::io(tmp.path(), e))?;
        let dir = dest.parent().unwrap_or(&self.objects_dir).to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| TrackingError::io(&dir, e))?;
        tmp.persist(&dest)
            .map_err(|e| TrackingError::io(&dest, e.error))?;
        // Make the rename itself durable; failure here only weakens crash safety.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok((hash, size))
    }

    /// Copies an object to `dest`, hashing on the way; a mismatch leaves
    /// `dest` untouched and names the corrupt object.
    fn copy_object_verified(&self, hash: &str, dest: &Path) -> Result<()> {
        let object = self.object_path(hash);
        let mut src = match File::open(&object) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TrackingError::CorruptObject {
                    object,
                    expected: hash.to_string(),
                    actual: "nothing (object file is missing)".into(),
                })
            }
            Err(e) => return Err(TrackingError::io(&object, e)),
        };
        let parent = match dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(p) => p.to_path_buf(),
            None => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(|e| TrackingError::io(&parent, e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".download-")
            .tempfile_in(&parent)
            .map_err(|e| TrackingError::io(&parent, e))?;
        let mut sha = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = src
                .read(&mut buf)
                .map_err(|e| TrackingError::io(&object, e))?;
            if n == 0 {
                break;
            }
            sha.update(&buf[..n]);
            tmp.write_all(&buf[..n])
                .map_err(|e| TrackingError::io(tmp.path(), e))?;
        }
        let actual = to_hex(&sha.finalize());
        if actual != hash {
            return Err(TrackingError::CorruptObject {
                object,
                expected: hash.to_string(),
                actual,
            });
        }
        tmp.persist(dest)
            .map_err(|e| TrackingError::io(dest, e.error))?;
        Ok(())
    }
}

fn migrate(conn: &mut Connection, db_path: &Path) -> Result<()> {
    let ctx = |what: &str| format!("{what} {}", db_path.display());
    let read_version = |c: &Connection| -> Result<u32> {
        c.query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| TrackingError::db(ctx("reading the schema version of"), e))
    };
    // Fast path without taking the write lock: already current.
    let current = read_version(conn)?;
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| TrackingError::db(ctx("locking for migration"), e))?;
    // Another process may have migrated while we waited for the lock.
    let current = read_version(&tx)?;
    if current > SCHEMA_VERSION {
        return Err(TrackingError::SchemaTooNew {
            path: db_path.to_path_buf(),
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(step)
            .map_err(|e| TrackingError::db(ctx(&format!("applying migration {} to", i + 1)), e))?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(|e| TrackingError::db(ctx("recording the schema version of"), e))?;
    tx.commit()
        .map_err(|e| TrackingError::db(ctx("committing migrations of"), e))
}

fn run_pk(conn: &Connection, run_id: &str) -> Result<i64> {
    conn.prepare_cached("SELECT id FROM runs WHERE run_id = ?1")
        .and_then(|mut s| s.query_row([run_id], |r| r.get(0)).optional())
        .map_err(|e| TrackingError::db(format!("looking up run {run_id}"), e))?
        .ok_or_else(|| TrackingError::RunNotFound {
            run_id: run_id.to_string(),
        })
}

/// Loads full runs (info, params, tags, latest metrics) for the given
/// primary keys, in that order.
fn load_runs(conn: &Connection, pks: &[i64]) -> Result<Vec<Run>> {
    if pks.is_empty() {
        return Ok(Vec::new());
    }
    let ctx = |what: &str| format!("loading {what} of {} run(s)", pks.len());
    // The key list travels as one JSON parameter so the statement text (and
    // its cache entry) stays the same whatever the number of runs.
    let ids =
        serde_json::to_string(pks).map_err(|e| TrackingError::InvalidArgument(e.to_string()))?;
    let mut index: HashMap<i64, usize> = HashMap::with_capacity(pks.len());
    for (i, pk) in pks.iter().enumerate() {
        index.insert(*pk, i);
    }
    let mut slots: Vec<Option<Run>> = vec![None; pks.len()];

    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM runs r WHERE r.id IN (SELECT value FROM json_each(?1))"
        ))
        .map_err(|e| TrackingError::db(ctx("runs"), e))?;
    let rows = stmt
        .query_map([&ids], RunRow::from_row)
        .map_err(|e| TrackingError::db(ctx("runs"), e))?;
    for row in rows {
        let row = row.map_err(|e| TrackingError::db(ctx("runs"), e))?;
        if let Some(&i) = index.get(&row.pk) {
            slots[i] = Some(Run {
                info: row.into_info()?,
                params: Vec::new(),
                metrics: Vec::new(),
                tags: Vec::new(),
            });
        }
    }

    for table in ["params", "tags"] {
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT run_pk, key, value FROM {table} \
                 WHERE run_pk IN (SELECT value FROM json_each(?1)) ORDER BY run_pk, key"
            ))
            .map_err(|e| TrackingError::db(ctx(table), e))?;
        let rows = stmt
            .query_map([&ids], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| TrackingError::db(ctx(table), e))?;
        for row in rows {
            let (pk, key, value) = row.map_err(|e| TrackingError::db(ctx(table), e))?;
            if let Some(run) = index.get(&pk).and_then(|&i| slots[i].as_mut()) {
                if table == "params" {
                    run.params.push(Param { key, value });
                } else {
                    run.tags.push(Tag { key, value });
                }
            }
        }
    }

    let mut stmt = conn
        .prepare_cached(
            "SELECT run_pk, key, value, is_nan, timestamp, step FROM latest_metrics \
             WHERE run_pk IN (SELECT value FROM json_each(?1)) ORDER BY run_pk, key",
        )
        .map_err(|e| TrackingError::db(ctx("metrics"), e))?;
    let rows = stmt
        .query_map([&ids], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                metric_from_row(r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?),
            ))
        })
        .map_err(|e| TrackingError::db(ctx("metrics"), e))?;
    for row in rows {
        let (pk, metric) = row.map_err(|e| TrackingError::db(ctx("metrics"), e))?;
        if let Some(run) = index.get(&pk).and_then(|&i| slots[i].as_mut()) {
            run.metrics.push(metric);
        }
    }
    Ok(slots.into_iter().flatten().collect())
}

fn immediate<'c>(conn: &'c mut Connection, context: &str) -> Result<rusqlite::Transaction<'c>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| TrackingError::db(format!("starting a transaction for {context}"), e))
}

fn commit(tx: rusqlite::Transaction<'_>, context: &str) -> Result<()> {
    tx.commit()
        .map_err(|e| TrackingError::db(format!("committing {context}"), e))
}

fn experiment_by(
    conn: &Connection,
    column: &str,
    value: &dyn rusqlite::ToSql,
) -> Result<Option<Experiment>> {
    conn.prepare_cached(&format!(
        "SELECT experiment_id, name, lifecycle_stage, creation_time FROM experiments WHERE {column} = ?1"
    ))
    .and_then(|mut s| {
        s.query_row([value], |r| {
            Ok(Experiment {
                experiment_id: r.get::<_, i64>(0)?.to_string(),
                name: r.get(1)?,
                lifecycle_stage: r.get(2)?,
                creation_time: r.get(3)?,
            })
        })
        .optional()
    })
    .map_err(|e| TrackingError::db(format!("looking up experiment by {column}"), e))
}

fn model_version_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ModelVersion> {
    Ok(ModelVersion {
        name: r.get(0)?,
        version: version_u64(r.get(1)?),
        source: r.get(2)?,
        run_id: r.get(3)?,
        creation_time: r.get(4)?,
    })
}

const MODEL_VERSION_COLUMNS: &str = "name, version, source, run_id, creation_time";

fn registered_model_exists(conn: &Connection, name: &str) -> Result<bool> {
    conn.prepare_cached("SELECT 1 FROM registered_models WHERE name = ?1")
        .and_then(|mut s| s.exists([name]))
        .map_err(|e| TrackingError::db(format!("looking up registered model '{name}'"), e))
}

fn require_model(conn: &Connection, name: &str) -> Result<()> {
    if registered_model_exists(conn, name)? {
        Ok(())
    } else {
        Err(TrackingError::ModelNotFound {
            name: name.to_string(),
        })
    }
}

fn model_version_conn(conn: &Connection, name: &str, version: u64) -> Result<ModelVersion> {
    let v = version_i64(name, version)?;
    let found = conn
        .prepare_cached(&format!(
            "SELECT {MODEL_VERSION_COLUMNS} FROM model_versions WHERE name = ?1 AND version = ?2"
        ))
        .and_then(|mut s| s.query_row(params![name, v], model_version_row).optional())
        .map_err(|e| {
            TrackingError::db(format!("reading version {version} of model '{name}'"), e)
        })?;
    match found {
        Some(mv) => Ok(mv),
        None => {
            require_model(conn, name)?;
            Err(TrackingError::ModelVersionNotFound {
                name: name.to_string(),
                version,
            })
        }
    }
}

fn latest_version_conn(conn: &Connection, name: &str) -> Result<Option<ModelVersion>> {
    conn.prepare_cached(&format!(
        "SELECT {MODEL_VERSION_COLUMNS} FROM model_versions WHERE name = ?1 ORDER BY version DESC LIMIT 1"
    ))
    .and_then(|mut s| s.query_row([name], model_version_row).optional())
    .map_err(|e| TrackingError::db(format!("reading the latest version of model '{name}'"), e))
}

fn registered_model_conn(conn: &Connection, name: &str) -> Result<RegisteredModel> {
    let creation_time: i64 = conn
        .prepare_cached("SELECT creation_time FROM registered_models WHERE name = ?1")
        .and_then(|mut s| s.query_row([name], |r| r.get(0)).optional())
        .map_err(|e| TrackingError::db(format!("reading registered model '{name}'"), e))?
        .ok_or_else(|| TrackingError::ModelNotFound {
            name: name.to_string(),
        })?;
    let latest_versions = latest_version_conn(conn, name)?.into_iter().collect();
    let mut stmt = conn
        .prepare_cached("SELECT alias, version FROM model_aliases WHERE name = ?1 ORDER BY alias")
        .map_err(|e| TrackingError::db(format!("reading aliases of model '{name}'"), e))?;
    let aliases = stmt
        .query_map([name], |r| {
            Ok((r.get::<_, String>(0)?, version_u64(r.get(1)?)))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| TrackingError::db(format!("reading aliases of model '{name}'"), e))?;
    Ok(RegisteredModel {
        name: name.to_string(),
        creation_time,
        latest_versions,
        aliases,
    })
}

/// Rows `(path, hash, size)` of a run's artifacts at or under `path`.
fn artifact_rows(conn: &Connection, pk: i64, path: &str) -> Result<Vec<(String, String, u64)>> {
    let ctx = || format!("listing artifacts under '{path}'");
    let map = |r: &rusqlite::Row<'_>| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
        ))
    };
    if path.is_empty() {
        let mut stmt = conn
            .prepare_cached(
                "SELECT path, hash, size FROM artifacts WHERE run_pk = ?1 ORDER BY path",
            )
            .map_err(|e| TrackingError::db(ctx(), e))?;
        let rows = stmt
            .query_map([pk], map)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| TrackingError::db(ctx(), e))?;
        return Ok(rows);
    }
    // Everything strictly under "path/" sorts between "path/" and "path0"
    // ('0' follows '/' in byte order), which lets the primary key serve the scan.
    let lower = format!("{path}/");
    let upper = format!("{path}0");
    let mut stmt = conn
        .prepare_cached(
            "SELECT path, hash, size FROM artifacts WHERE run_pk = ?1 \
             AND (path = ?2 OR (path >= ?3 AND path < ?4)) ORDER BY path",
        )
        .map_err(|e| TrackingError::db(ctx(), e))?;
    let rows = stmt
        .query_map(params![pk, path, lower, upper], map)
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| TrackingError::db(ctx(), e))?;
    Ok(rows)
}

impl TrackingStore for SqliteStore {
    fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        validate_experiment_name(name)?;
        let mut conn = self.lock();
        if let Some(e) = experiment_by(&conn, "name", &name)? {
            return Ok(e.experiment_id);
        }
        let ctx = format!("creating experiment '{name}'");
        let tx = immediate(&mut conn, &ctx)?;
        if let Some(e) = experiment_by(&tx, "name", &name)? {
            return Ok(e.experiment_id);
        }
        tx.execute(
            "INSERT INTO experiments (name, lifecycle_stage, creation_time) VALUES (?1, 'active', ?2)",
            params![name, now_ms()],
        )
        .map_err(|e| TrackingError::db(ctx.clone(), e))?;
        let id = tx.last_insert_rowid();
        commit(tx, &ctx)?;
        Ok(id.to_string())
    }

    fn list_experiments(&self) -> Result<Vec<Experiment>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT experiment_id, name, lifecycle_stage, creation_time FROM experiments \
                 WHERE lifecycle_stage = 'active' ORDER BY experiment_id",
            )
            .map_err(|e| TrackingError::db("listing experiments", e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Experiment {
                    experiment_id: r.get::<_, i64>(0)?.to_string(),
                    name: r.get(1)?,
                    lifecycle_stage: r.get(2)?,
                    creation_time: r.get(3)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| TrackingError::db("listing experiments", e))?;
        Ok(rows)
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        experiment_by(&self.lock(), "name", &name)
    }

    fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        parent_run_id: Option<&str>,
        tags: &[Tag],
        start_time_ms: i64,
    ) -> Result<RunInfo> {
        self.create_run_with_id(
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
        tags.iter().try_for_each(validate_tag)?;
        let run_id = match run_id {
            Some(id) if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) => {
                if run_pk(&self.lock(), id).is_ok() {
                    return Err(TrackingError::AlreadyExists(format!("run {id}")));
                }
                id.to_ascii_lowercase()
            }
            Some(id) => {
                return Err(TrackingError::InvalidUri {
                    uri: id.to_string(),
                    reason: "a run id is 32 hexadecimal characters".into(),
                })
            }
            None => new_run_id(),
        };
        let run_name = if run_name.is_empty() {
            format!("run-{}", &run_id[..8])
        } else {
            run_name.to_string()
        };
        validate_tag(&Tag::new(TAG_RUN_NAME, run_name.as_str()))?;
        let exp = parse_experiment_id(experiment_id).ok_or_else(|| {
            TrackingError::ExperimentNotFound {
                experiment: experiment_id.to_string(),
            }
        })?;
        let info = RunInfo {
            artifact_uri: format!("runs:/{run_id}"),
            run_id,
            run_name,
            experiment_id: exp.to_string(),
            status: RunStatus::Running,
            start_time: start_time_ms,
            end_time: None,
        };
        let ctx = format!("creating run {} in experiment {experiment_id}", info.run_id);
        let mut conn = self.lock();
        let tx = immediate(&mut conn, &ctx)?;
        if experiment_by(&tx, "experiment_id", &exp)?.is_none() {
            return Err(TrackingError::ExperimentNotFound {
                experiment: experiment_id.to_string(),
            });
        }
        if let Some(parent) = parent_run_id {
            run_pk(&tx, parent)?;
        }
        tx.prepare_cached(
            "INSERT INTO runs (run_id, experiment_id, run_name, status, start_time, end_time, artifact_uri) \
             VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6)",
        )
        .and_then(|mut s| {
            s.execute(params![
                info.run_id,
                exp,
                info.run_name,
                info.status.as_str(),
                info.start_time,
                info.artifact_uri
            ])
        })
        .map_err(|e| TrackingError::db(ctx.clone(), e))?;
        let pk = tx.last_insert_rowid();
        let mut all_tags: Vec<(&str, &str)> = tags
            .iter()
            .map(|t| (t.key.as_str(), t.value.as_str()))
            .collect();
        all_tags.push((TAG_RUN_NAME, &info.run_name));
        if let Some(parent) = parent_run_id {
            all_tags.push((TAG_PARENT_RUN_ID, parent));
        }
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO tags (run_pk, key, value) VALUES (?1, ?2, ?3) \
                     ON CONFLICT(run_pk, key) DO UPDATE SET value = excluded.value",
                )
                .map_err(|e| TrackingError::db(ctx.clone(), e))?;
            for (k, v) in all_tags {
                stmt.execute(params![pk, k, v]).map_err(|e| {
                    TrackingError::db(format!("setting tag '{k}' of run {}", info.run_id), e)
                })?;
            }
        }
        commit(tx, &ctx)?;
        Ok(info)
    }

    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()> {
        validate_batch(run_id, metrics, params, tags)?;
        if metrics.is_empty() && params.is_empty() && tags.is_empty() {
            run_pk(&self.lock(), run_id)?;
            return Ok(());
        }
        // Only the latest point per key can change the latest-metrics row.
        let mut latest: HashMap<&str, &Metric> = HashMap::new();
        for m in metrics {
            match latest.get(m.key.as_str()) {
                Some(cur) if !m.is_later_than(cur) => {}
                _ => {
                    latest.insert(m.key.as_str(), m);
                }
            }
        }
        let ctx = format!("logging to run {run_id}");
        let mut conn = self.lock();
        let tx = immediate(&mut conn, &ctx)?;
        let pk = run_pk(&tx, run_id)?;
        {
            let mut get = tx
                .prepare_cached("SELECT value FROM params WHERE run_pk = ?1 AND key = ?2")
                .map_err(|e| TrackingError::db(ctx.clone(), e))?;
            let mut put = tx
                .prepare_cached("INSERT INTO params (run_pk, key, value) VALUES (?1, ?2, ?3)")
                .map_err(|e| TrackingError::db(ctx.clone(), e))?;
            for p in params {
                let pctx = || format!("logging param '{}' of run {run_id}", p.key);
                let old: Option<String> = get
                    .query_row(params![pk, p.key], |r| r.get(0))
                    .optional()
                    .map_err(|e| TrackingError::db(pctx(), e))?;
                match old {
                    Some(old) if old == p.value => {}
                    Some(old) => {
                        return Err(TrackingError::ParamChanged {
                            run_id: run_id.to_string(),
                            key: p.key.clone(),
                            old_value: old,
                            new_value: p.value.clone(),
                        })
                    }
                    None => {
                        put.execute(params![pk, p.key, p.value])
                            .map_err(|e| TrackingError::db(pctx(), e))?;
                    }
                }
            }
        }
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO tags (run_pk, key, value) VALUES (?1, ?2, ?3) \
                     ON CONFLICT(run_pk, key) DO UPDATE SET value = excluded.value",
                )
                .map_err(|e| TrackingError::db(ctx.clone(), e))?;
            for t in tags {
                put.execute(params![pk, t.key, t.value]).map_err(|e| {
                    TrackingError::db(format!("setting tag '{}' of run {run_id}", t.key), e)
                })?;
                // As in MLflow, the run-name tag and the run_name attribute stay in step.
                if t.key == TAG_RUN_NAME {
                    tx.execute(
                        "UPDATE runs SET run_name = ?1 WHERE id = ?2",
                        params![t.value, pk],
                    )
                    .map_err(|e| TrackingError::db(format!("renaming run {run_id}"), e))?;
                }
            }
        }
        if !metrics.is_empty() {
            let mut hist = tx
                .prepare_cached(
                    "INSERT INTO metrics (run_pk, key, value, is_nan, timestamp, step) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(|e| TrackingError::db(ctx.clone(), e))?;
            for m in metrics {
                let (v, is_nan) = stored_value(m.value);
                hist.execute(params![pk, m.key, v, is_nan, m.timestamp, m.step])
                    .map_err(|e| {
                        TrackingError::db(format!("logging metric '{}' of run {run_id}", m.key), e)
                    })?;
            }
            // Row-value comparison encodes MLflow's (step, timestamp, value) order.
            let mut up = tx
                .prepare_cached(
                    "INSERT INTO latest_metrics (run_pk, key, value, is_nan, timestamp, step) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT(run_pk, key) DO UPDATE SET value = excluded.value, \
                       is_nan = excluded.is_nan, timestamp = excluded.timestamp, step = excluded.step \
                     WHERE (excluded.step, excluded.timestamp, excluded.value) > \
                           (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)",
                )
                .map_err(|e| TrackingError::db(ctx.clone(), e))?;
            for m in latest.values() {
                let (v, is_nan) = stored_value(m.value);
                up.execute(params![pk, m.key, v, is_nan, m.timestamp, m.step])
                    .map_err(|e| {
                        TrackingError::db(
                            format!("updating latest metric '{}' of run {run_id}", m.key),
                            e,
                        )
                    })?;
            }
        }
        commit(tx, &ctx)
    }

    fn update_run(&self, run_id: &str, status: RunStatus, end_time_ms: Option<i64>) -> Result<()> {
        let conn = self.lock();
        let n = conn
            .prepare_cached(
                "UPDATE runs SET status = ?1, end_time = COALESCE(?2, end_time) WHERE run_id = ?3",
            )
            .and_then(|mut s| s.execute(params![status.as_str(), end_time_ms, run_id]))
            .map_err(|e| TrackingError::db(format!("updating run {run_id}"), e))?;
        if n == 0 {
            return Err(TrackingError::RunNotFound {
                run_id: run_id.to_string(),
            });
        }
        Ok(())
    }

    fn get_run(&self, run_id: &str) -> Result<Run> {
        let conn = self.lock();
        let pk = run_pk(&conn, run_id)?;
        load_runs(&conn, &[pk])?
            .pop()
            .ok_or_else(|| TrackingError::RunNotFound {
                run_id: run_id.to_string(),
            })
    }

    fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        let conn = self.lock();
        let pk = run_pk(&conn, run_id)?;
        let ctx = || format!("reading history of metric '{key}' of run {run_id}");
        let mut stmt = conn
            .prepare_cached(
                "SELECT key, value, is_nan, timestamp, step FROM metrics \
                 WHERE run_pk = ?1 AND key = ?2 ORDER BY step, timestamp, rowid",
            )
            .map_err(|e| TrackingError::db(ctx(), e))?;
        let rows = stmt
            .query_map(params![pk, key], |r| {
                Ok(metric_from_row(
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| TrackingError::db(ctx(), e))?;
        Ok(rows)
    }

    fn search_runs(
        &self,
        experiment_ids: &[String],
        filter: &str,
        order_by: &[String],
        max_results: usize,
    ) -> Result<Vec<Run>> {
        let parsed = Filter::parse(filter)?;
        let order = OrderBy::parse_all(order_by)?;
        let limit = max_results.min(MAX_SEARCH_RESULTS);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (joins, mut bound, order_sql) = order_by_sql(&order);
        let (where_sql, where_params) = parsed.to_sql();
        let experiment_clause = if experiment_ids.is_empty() {
            "1".to_string()
        } else {
            let ids: Vec<i64> = experiment_ids
                .iter()
                .filter_map(|id| parse_experiment_id(id))
                .collect();
            let json = serde_json::to_string(&ids)
                .map_err(|e| TrackingError::InvalidArgument(e.to_string()))?;
            bound.push(SqlValue::Text(json));
            "r.experiment_id IN (SELECT value FROM json_each(?))".to_string()
        };
        bound.extend(where_params);
        bound.push(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        let sql = format!(
            "SELECT r.id FROM runs r{joins} \
             WHERE {experiment_clause} AND r.lifecycle_stage = 'active' AND ({where_sql}) \
             ORDER BY {order_sql} LIMIT ?"
        );
        let ctx = || format!("searching runs with filter '{filter}'");
        let conn = self.lock();
        let pks: Vec<i64> = conn
            .prepare_cached(&sql)
            .and_then(|mut s| {
                s.query_map(params_from_iter(bound.iter()), |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()
            })
            .map_err(|e| TrackingError::db(ctx(), e))?;
        load_runs(&conn, &pks)
    }

    fn log_artifact(&self, run_id: &str, local_file: &Path, artifact_path: &str) -> Result<()> {
        let path = normalize_artifact_path(artifact_path)?;
        if path.is_empty() {
            return Err(TrackingError::InvalidArtifactPath {
                path: artifact_path.to_string(),
                reason: "must name a file inside the run's artifact root".into(),
            });
        }
        if !local_file.is_file() {
            return Err(TrackingError::io(
                local_file,
                std::io::Error::new(std::io::ErrorKind::NotFound, "not a regular file"),
            ));
        }
        run_pk(&self.lock(), run_id)?;
        let (hash, size) = self.store_object(local_file)?;
        let ctx = format!("recording artifact '{path}' of run {run_id}");
        let mut conn = self.lock();
        let tx = immediate(&mut conn, &ctx)?;
        let pk = run_pk(&tx, run_id)?;
        // A path cannot be both a file and a directory.
        let mut ancestors = Vec::new();
        let mut rest = path.as_str();
        while let Some((parent, _)) = rest.rsplit_once('/') {
            ancestors.push(parent.to_string());
            rest = parent;
        }
        let conflict = {
            let mut stmt = tx
                .prepare_cached("SELECT 1 FROM artifacts WHERE run_pk = ?1 AND path = ?2")
                .map_err(|e| TrackingError::db(ctx.clone(), e))?;
            let mut hit = None;
            for a in &ancestors {
                if stmt
                    .exists(params![pk, a])
                    .map_err(|e| TrackingError::db(ctx.clone(), e))?
                {
                    hit = Some(format!("'{a}' is already a file"));
                    break;
                }
            }
            hit
        };
        let conflict = match conflict {
            Some(c) => Some(c),
            None => {
                let under = tx
                    .prepare_cached(
                        "SELECT 1 FROM artifacts WHERE run_pk = ?1 AND path >= ?2 AND path < ?3 LIMIT 1",
                    )
                    .and_then(|mut s| s.exists(params![pk, format!("{path}/"), format!("{path}0")]))
                    .map_err(|e| TrackingError::db(ctx.clone(), e))?;
                under.then(|| format!("'{path}' is already a directory"))
            }
        };
        if let Some(reason) = conflict {
            return Err(TrackingError::InvalidArtifactPath {
                path: artifact_path.to_string(),
                reason: format!("{reason} in run {run_id}"),
            });
        }
        tx.prepare_cached(
            "INSERT INTO artifacts (run_pk, path, hash, size) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT(run_pk, path) DO UPDATE SET hash = excluded.hash, size = excluded.size",
        )
        .and_then(|mut s| {
            s.execute(params![
                pk,
                path,
                hash,
                i64::try_from(size).unwrap_or(i64::MAX)
            ])
        })
        .map_err(|e| TrackingError::db(ctx.clone(), e))?;
        commit(tx, &ctx)
    }

    fn list_artifacts(&self, run_id: &str, dir: Option<&str>) -> Result<Vec<FileInfo>> {
        let dir = normalize_artifact_path(dir.unwrap_or(""))?;
        let rows = {
            let conn = self.lock();
            let pk = run_pk(&conn, run_id)?;
            artifact_rows(&conn, pk, &dir)?
        };
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let mut children: BTreeMap<String, FileInfo> = BTreeMap::new();
        for (path, _, size) in rows {
            let Some(rest) = path.strip_prefix(&prefix) else {
                continue; // the path itself is a file: MLflow lists nothing
            };
            match rest.split_once('/') {
                Some((first, _)) => {
                    let p = format!("{prefix}{first}");
                    children.entry(p.clone()).or_insert(FileInfo {
                        path: p,
                        is_dir: true,
                        file_size: None,
                    });
                }
                None => {
                    children.insert(
                        path.clone(),
                        FileInfo {
                            path,
                            is_dir: false,
                            file_size: Some(size),
                        },
                    );
                }
            }
        }
        Ok(children.into_values().collect())
    }

    fn download_artifact(&self, run_id: &str, path: &str, dest: &Path) -> Result<()> {
        let norm = normalize_artifact_path(path)?;
        let rows = {
            let conn = self.lock();
            let pk = run_pk(&conn, run_id)?;
            artifact_rows(&conn, pk, &norm)?
        };
        if let Some((_, hash, _)) = rows.iter().find(|(p, _, _)| *p == norm && !norm.is_empty()) {
            return self.copy_object_verified(hash, dest);
        }
        if rows.is_empty() {
            return Err(TrackingError::ArtifactNotFound {
                run_id: run_id.to_string(),
                path: path.to_string(),
            });
        }
        fs::create_dir_all(dest).map_err(|e| TrackingError::io(dest, e))?;
        let skip = if norm.is_empty() { 0 } else { norm.len() + 1 };
        for (p, hash, _) in &rows {
            let rel = p.get(skip..).unwrap_or(p.as_str());
            let mut target = dest.to_path_buf();
            target.extend(rel.split('/'));
            self.copy_object_verified(hash, &target)?;
        }
        Ok(())
    }

    fn create_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        validate_model_name(name)?;
        let ctx = format!("creating registered model '{name}'");
        let mut conn = self.lock();
        let tx = immediate(&mut conn, &ctx)?;
        if registered_model_exists(&tx, name)? {
            return Err(TrackingError::AlreadyExists(format!(
                "registered model '{name}'"
            )));
        }
        let now = now_ms();
        tx.execute(
            "INSERT INTO registered_models (name, creation_time, last_updated_time) VALUES (?1, ?2, ?2)",
            params![name, now],
        )
        .map_err(|e| TrackingError::db(ctx.clone(), e))?;
        commit(tx, &ctx)?;
        Ok(RegisteredModel {
            name: name.to_string(),
            creation_time: now,
            latest_versions: Vec::new(),
            aliases: Vec::new(),
        })
    }

    fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
    ) -> Result<ModelVersion> {
        if source.is_empty() {
            return Err(TrackingError::InvalidArgument(format!(
                "model version source for '{name}' must not be empty"
            )));
        }
        let ctx = format!("creating a version of registered model '{name}'");
        let mut conn = self.lock();
        let tx = immediate(&mut conn, &ctx)?;
        require_model(&tx, name)?;
        if let Some(r) = run_id {
            run_pk(&tx, r)?;
        }
        let next: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .map_err(|e| TrackingError::db(ctx.clone(), e))?;
        let now = now_ms();
        tx.execute(
            "INSERT INTO model_versions (name, version, source, run_id, creation_time) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, next, source, run_id, now],
        )
        .and_then(|_| {
            tx.execute(
                "UPDATE registered_models SET last_updated_time = ?2 WHERE name = ?1",
                params![name, now],
            )
        })
        .map_err(|e| TrackingError::db(ctx.clone(), e))?;
        commit(tx, &ctx)?;
        Ok(ModelVersion {
            name: name.to_string(),
            version: version_u64(next),
            source: source.to_string(),
            run_id: run_id.map(str::to_string),
            creation_time: now,
        })
    }

    fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        model_version_conn(&self.lock(), name, version)
    }

    fn latest_model_version(&self, name: &str) -> Result<ModelVersion> {
        let conn = self.lock();
        match latest_version_conn(&conn, name)? {
            Some(mv) => Ok(mv),
            None => {
                require_model(&conn, name)?;
                Err(TrackingError::NoModelVersions {
                    name: name.to_string(),
                })
            }
        }
    }

    fn set_model_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        validate_alias(alias)?;
        let ctx = format!("setting alias '{alias}' of registered model '{name}'");
        let mut conn = self.lock();
        let tx = immediate(&mut conn, &ctx)?;
        model_version_conn(&tx, name, version)?;
        tx.execute(
            "INSERT INTO model_aliases (name, alias, version) VALUES (?1, ?2, ?3) \
             ON CONFLICT(name, alias) DO UPDATE SET version = excluded.version",
            params![name, alias, version_i64(name, version)?],
        )
        .and_then(|_| {
            tx.execute(
                "UPDATE registered_models SET last_updated_time = ?2 WHERE name = ?1",
                params![name, now_ms()],
            )
        })
        .map_err(|e| TrackingError::db(ctx.clone(), e))?;
        commit(tx, &ctx)
    }

    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        let conn = self.lock();
        let version: Option<i64> = conn
            .prepare_cached("SELECT version FROM model_aliases WHERE name = ?1 AND alias = ?2")
            .and_then(|mut s| s.query_row(params![name, alias], |r| r.get(0)).optional())
            .map_err(|e| {
                TrackingError::db(format!("reading alias '{alias}' of model '{name}'"), e)
            })?;
        match version {
            Some(v) => model_version_conn(&conn, name, version_u64(v)),
            None => {
                require_model(&conn, name)?;
                Err(TrackingError::AliasNotFound {
                    name: name.to_string(),
                    alias: alias.to_string(),
                })
            }
        }
    }

    fn list_registered_models(&self) -> Result<Vec<RegisteredModel>> {
        let conn = self.lock();
        let names: Vec<String> = conn
            .prepare_cached("SELECT name FROM registered_models ORDER BY name")
            .and_then(|mut s| {
                s.query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .map_err(|e| TrackingError::db("listing registered models", e))?;
        names
            .iter()
            .map(|n| registered_model_conn(&conn, n))
            .collect()
    }

    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        registered_model_conn(&self.lock(), name)
    }

    fn mark_abandoned_runs(&self, is_alive: &dyn Fn(&Run) -> bool) -> Result<Vec<String>> {
        let running = {
            let conn = self.lock();
            let pks: Vec<i64> = conn
                .prepare_cached(
                    "SELECT id FROM runs WHERE status = 'RUNNING' AND lifecycle_stage = 'active'",
                )
                .and_then(|mut s| {
                    s.query_map([], |r| r.get(0))?
                        .collect::<rusqlite::Result<Vec<i64>>>()
                })
                .map_err(|e| TrackingError::db("finding running runs", e))?;
            load_runs(&conn, &pks)?
        };
        // The liveness check may be slow (process probes), so no lock here.
        let dead: Vec<&Run> = running.iter().filter(|r| !is_alive(r)).collect();
        if dead.is_empty() {
            return Ok(Vec::new());
        }
        let ctx = "marking abandoned runs as KILLED";
        let mut conn = self.lock();
        let tx = immediate(&mut conn, ctx)?;
        let now = now_ms();
        let mut killed = Vec::new();
        {
            // Re-checking the status avoids killing a run that finished meanwhile.
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE runs SET status = 'KILLED', end_time = ?1 \
                     WHERE run_id = ?2 AND status = 'RUNNING'",
                )
                .map_err(|e| TrackingError::db(ctx, e))?;
            for run in dead {
                let n = stmt.execute(params![now, run.info.run_id]).map_err(|e| {
                    TrackingError::db(format!("killing run {}", run.info.run_id), e)
                })?;
                if n == 1 {
                    killed.push(run.info.run_id.clone());
                }
            }
        }
        commit(tx, ctx)?;
        Ok(killed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_upgrade_an_old_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        {
            let conn = Connection::open(&db).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1u32).unwrap();
            conn.execute(
                "INSERT INTO runs (run_id, experiment_id, run_name, status, start_time, artifact_uri) \
                 VALUES ('old', 0, 'old', 'FINISHED', 1, 'runs:/old')",
                [],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&db, &dir.path().join("objects")).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.get_run("old").unwrap().info.run_name, "old");
        store.create_registered_model("m").unwrap();
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        {
            let conn = Connection::open(&db).unwrap();
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        let err = SqliteStore::open(&db, &dir.path().join("objects")).unwrap_err();
        assert!(matches!(err, TrackingError::SchemaTooNew { .. }), "{err}");
    }

    #[test]
    fn search_plan_uses_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db"), &dir.path().join("o")).unwrap();
        let filter = Filter::parse("metrics.acc > 0.9 AND params.depth = '10'").unwrap();
        let (joins, mut bound, order) =
            order_by_sql(&[OrderBy::parse("metrics.acc DESC").unwrap()]);
        let (w, p) = filter.to_sql();
        bound.extend(p);
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT r.id FROM runs r{joins} WHERE ({w}) ORDER BY {order} LIMIT 10"
        );
        let conn = store.lock();
        let mut stmt = conn.prepare(&sql).unwrap();
        let plan: Vec<String> = stmt
            .query_map(params_from_iter(bound.iter()), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let text = plan.join("\n");
        assert!(
            text.contains("PRIMARY KEY") || text.contains("INDEX"),
            "{text}"
        );
    }
}
