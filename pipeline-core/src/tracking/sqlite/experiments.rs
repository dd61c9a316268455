//! Experiments in the embedded store.

use rusqlite::{params, Connection, OptionalExtension};

use super::{commit, db_err, immediate, SqliteStore};
use crate::tracking::error::{Result, TrackingError};
use crate::tracking::model::{now_ms, validate_experiment_name, Experiment};

pub(super) fn experiment_by(
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
    .map_err(|e| db_err(format!("looking up experiment by {column}"), e))
}

pub(super) fn get_or_create_experiment(store: &SqliteStore, name: &str) -> Result<String> {
    validate_experiment_name(name)?;
    let mut conn = store.lock();
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
    .map_err(|e| db_err(ctx.clone(), e))?;
    let id = tx.last_insert_rowid();
    commit(tx, &ctx)?;
    Ok(id.to_string())
}

pub(super) fn list_experiments(store: &SqliteStore) -> Result<Vec<Experiment>> {
    let conn = store.lock();
    let mut stmt = conn
        .prepare_cached(
            "SELECT experiment_id, name, lifecycle_stage, creation_time FROM experiments \
             WHERE lifecycle_stage = 'active' ORDER BY experiment_id",
        )
        .map_err(|e| db_err("listing experiments", e))?;
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
        .map_err(|e| db_err("listing experiments", e))?;
    Ok(rows)
}

pub(super) fn get_experiment_by_name(
    store: &SqliteStore,
    name: &str,
) -> Result<Option<Experiment>> {
    experiment_by(&store.lock(), "name", &name)
}

/// Sets an experiment's lifecycle stage (`active` or `deleted`).
pub(super) fn set_experiment_lifecycle(store: &SqliteStore, id: &str, stage: &str) -> Result<()> {
    update_experiment(store, id, "lifecycle_stage", stage)
}

pub(super) fn rename_experiment(store: &SqliteStore, id: &str, new_name: &str) -> Result<()> {
    validate_experiment_name(new_name)?;
    if experiment_by(&store.lock(), "name", &new_name)?.is_some() {
        return Err(TrackingError::AlreadyExists(format!(
            "experiment '{new_name}'"
        )));
    }
    update_experiment(store, id, "name", new_name)
}

fn update_experiment(store: &SqliteStore, id: &str, column: &str, value: &str) -> Result<()> {
    let not_found = || TrackingError::ExperimentNotFound {
        experiment: id.to_string(),
    };
    let pk: i64 = id.parse().map_err(|_| not_found())?;
    let ctx = format!("updating {column} of experiment {id}");
    let mut conn = store.lock();
    let tx = immediate(&mut conn, &ctx)?;
    let changed = tx
        .execute(
            &format!("UPDATE experiments SET {column} = ?2 WHERE experiment_id = ?1"),
            params![pk, value],
        )
        .map_err(|e| db_err(ctx.clone(), e))?;
    if changed == 0 {
        return Err(not_found());
    }
    commit(tx, &ctx)
}
