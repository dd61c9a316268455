//! The embedded store's schema and its migrations: `PRAGMA user_version` counts the steps
//! applied, steps are only ever appended, and a database newer than this build is refused
//! rather than misread.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::db_err;
use crate::tracking::error::{Result, TrackingError};

/// Schema migrations, in order. Step `i` takes the database from
/// `PRAGMA user_version = i` to `i + 1`; steps are only ever appended.
///
/// Table layout relied on by the filter translation: `runs r` with integer
/// primary key `id`; `params`, `tags` and `latest_metrics` keyed by
/// `(run_pk, key)` with a `value` column (and `is_nan` for metrics).
pub(crate) const MIGRATIONS: &[&str] = &[
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
    // 4: version numbers are never reused once a version is deleted, as in MLflow.
    r#"
    ALTER TABLE registered_models ADD COLUMN last_version INTEGER NOT NULL DEFAULT 0;
    UPDATE registered_models SET last_version =
        (SELECT COALESCE(MAX(version), 0) FROM model_versions WHERE model_versions.name = registered_models.name);
    "#,
    // 5: data sets a run read (MLflow's dataset inputs).
    r#"
    CREATE TABLE datasets (
        id            INTEGER PRIMARY KEY,
        experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
        name          TEXT NOT NULL,
        digest        TEXT NOT NULL,
        source_type   TEXT NOT NULL,
        source        TEXT NOT NULL,
        schema        TEXT,
        UNIQUE (experiment_id, name, digest)
    );
    CREATE TABLE run_inputs (
        run_pk     INTEGER NOT NULL REFERENCES runs(id),
        dataset_id INTEGER NOT NULL REFERENCES datasets(id),
        context    TEXT,
        PRIMARY KEY (run_pk, dataset_id)
    );
    CREATE INDEX run_inputs_dataset ON run_inputs(dataset_id);
    "#,
    // 6: descriptions and tags of registered models and their versions.
    r#"
    ALTER TABLE registered_models ADD COLUMN description TEXT NOT NULL DEFAULT '';
    ALTER TABLE model_versions ADD COLUMN description TEXT NOT NULL DEFAULT '';
    CREATE TABLE registered_model_tags (
        name  TEXT NOT NULL,
        key   TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (name, key)
    );
    CREATE TABLE model_version_tags (
        name    TEXT NOT NULL,
        version INTEGER NOT NULL,
        key     TEXT NOT NULL,
        value   TEXT NOT NULL,
        PRIMARY KEY (name, version, key)
    );
    "#,
    // 7: MLflow 3's logged models: their params, tags and files; metrics and registered
    // versions that point at one.
    r#"
    CREATE TABLE logged_models (
        id                INTEGER PRIMARY KEY,
        model_id          TEXT NOT NULL UNIQUE,
        experiment_id     INTEGER NOT NULL REFERENCES experiments(experiment_id),
        name              TEXT NOT NULL,
        source_run_id     TEXT,
        model_type        TEXT NOT NULL DEFAULT '',
        status            TEXT NOT NULL,
        creation_time     INTEGER NOT NULL,
        last_updated_time INTEGER NOT NULL
    );
    CREATE INDEX logged_models_by_experiment ON logged_models(experiment_id, creation_time);
    CREATE INDEX logged_models_by_run ON logged_models(source_run_id);
    CREATE TABLE logged_model_params (
        model_pk INTEGER NOT NULL REFERENCES logged_models(id),
        key      TEXT NOT NULL,
        value    TEXT NOT NULL,
        PRIMARY KEY (model_pk, key)
    ) WITHOUT ROWID;
    CREATE TABLE logged_model_tags (
        model_pk INTEGER NOT NULL REFERENCES logged_models(id),
        key      TEXT NOT NULL,
        value    TEXT NOT NULL,
        PRIMARY KEY (model_pk, key)
    ) WITHOUT ROWID;
    CREATE TABLE logged_model_artifacts (
        model_pk INTEGER NOT NULL REFERENCES logged_models(id),
        path     TEXT NOT NULL,
        hash     TEXT NOT NULL,
        size     INTEGER NOT NULL,
        PRIMARY KEY (model_pk, path)
    ) WITHOUT ROWID;
    CREATE INDEX logged_model_artifacts_by_hash ON logged_model_artifacts(hash);
    ALTER TABLE metrics ADD COLUMN model_id TEXT;
    CREATE INDEX metrics_by_model ON metrics(model_id) WHERE model_id IS NOT NULL;
    ALTER TABLE model_versions ADD COLUMN model_id TEXT;
    "#,
    // 8: experiment tags.
    r#"
    CREATE TABLE experiment_tags (
        experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
        key           TEXT NOT NULL,
        value         TEXT NOT NULL,
        PRIMARY KEY (experiment_id, key)
    ) WITHOUT ROWID;
    "#,
    // 9: a metric point is stored once (MLflow's key for it), checked by the index itself.
    r#"
    DELETE FROM metrics WHERE rowid NOT IN
        (SELECT MIN(rowid) FROM metrics GROUP BY run_pk, key, step, timestamp, value, is_nan);
    DROP INDEX metrics_history;
    CREATE UNIQUE INDEX metrics_points ON metrics(run_pk, key, step, timestamp, value, is_nan);
    "#,
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

pub(super) fn migrate(conn: &mut Connection, db_path: &Path) -> Result<()> {
    let ctx = |what: &str| format!("{what} {}", db_path.display());
    let read_version = |c: &Connection| -> Result<u32> {
        c.query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| db_err(ctx("reading the schema version of"), e))
    };
    // Fast path without taking the write lock: already current.
    let current = read_version(conn)?;
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| db_err(ctx("locking for migration"), e))?;
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
            .map_err(|e| db_err(ctx(&format!("applying migration {} to", i + 1)), e))?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(|e| db_err(ctx("recording the schema version of"), e))?;
    tx.commit()
        .map_err(|e| db_err(ctx("committing migrations of"), e))
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use super::*;
    use crate::tracking::TrackingStore;

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
}
