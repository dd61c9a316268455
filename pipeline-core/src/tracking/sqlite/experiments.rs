//! Experiments in the embedded store.

use rusqlite::{params, Connection, OptionalExtension};

use super::{commit, db_err, immediate, SqliteStore};
use crate::tracking::error::{Result, TrackingError};
use crate::tracking::model::{now_ms, validate_experiment_name, validate_tag, Experiment, Tag};

pub(super) fn experiment_by(
    conn: &Connection,
    column: &str,
    value: &dyn rusqlite::ToSql,
) -> Result<Option<Experiment>> {
    conn.prepare_cached(&format!(
        "SELECT experiment_id, name, lifecycle_stage, creation_time FROM experiments WHERE {column} = ?1"
    ))
    .and_then(|mut s| s.query_row([value], experiment_row).optional())
    .map_err(|e| db_err(format!("looking up experiment by {column}"), e))?
    .map(|e| with_tags(conn, e))
    .transpose()
}

fn experiment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Experiment> {
    Ok(Experiment {
        experiment_id: r.get::<_, i64>(0)?.to_string(),
        name: r.get(1)?,
        lifecycle_stage: r.get(2)?,
        creation_time: r.get(3)?,
        tags: Vec::new(),
    })
}

fn with_tags(conn: &Connection, mut experiment: Experiment) -> Result<Experiment> {
    let ctx = || format!("reading tags of experiment {}", experiment.experiment_id);
    experiment.tags = conn
        .prepare_cached(
            "SELECT key, value FROM experiment_tags WHERE experiment_id = ?1 ORDER BY key",
        )
        .and_then(|mut s| {
            s.query_map(
                [experiment.experiment_id.parse::<i64>().unwrap_or(-1)],
                |r| Ok(Tag::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(|e| db_err(ctx(), e))?;
    Ok(experiment)
}

/// Creates an experiment; a name in use (even by a deleted one) is
/// [`TrackingError::AlreadyExists`], as in MLflow.
pub(super) fn create_experiment(store: &SqliteStore, name: &str, tags: &[Tag]) -> Result<String> {
    validate_experiment_name(name)?;
    tags.iter().try_for_each(validate_tag)?;
    let ctx = format!("creating experiment '{name}'");
    let mut conn = store.lock();
    let tx = immediate(&mut conn, &ctx)?;
    if experiment_by(&tx, "name", &name)?.is_some() {
        return Err(TrackingError::AlreadyExists(format!("experiment '{name}'")));
    }
    tx.execute(
        "INSERT INTO experiments (name, lifecycle_stage, creation_time) VALUES (?1, 'active', ?2)",
        params![name, now_ms()],
    )
    .map_err(|e| db_err(ctx.clone(), e))?;
    let id = tx.last_insert_rowid();
    for tag in tags {
        put_tag(&tx, id, tag, &ctx)?;
    }
    commit(tx, &ctx)?;
    Ok(id.to_string())
}

fn put_tag(conn: &Connection, id: i64, tag: &Tag, ctx: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?1, ?2, ?3) \
         ON CONFLICT(experiment_id, key) DO UPDATE SET value = excluded.value",
        params![id, tag.key, tag.value],
    )
    .map_err(|e| db_err(ctx.to_string(), e))?;
    Ok(())
}

/// One experiment, active or deleted.
pub(super) fn get_experiment(store: &SqliteStore, id: &str) -> Result<Experiment> {
    let not_found = || TrackingError::ExperimentNotFound {
        experiment: id.to_string(),
    };
    let pk: i64 = id.parse().map_err(|_| not_found())?;
    experiment_by(&store.lock(), "experiment_id", &pk)?.ok_or_else(not_found)
}

pub(super) fn set_experiment_tag(store: &SqliteStore, id: &str, tag: &Tag) -> Result<()> {
    validate_tag(tag)?;
    get_experiment(store, id)?;
    let ctx = format!("tagging experiment {id}");
    let mut conn = store.lock();
    let tx = immediate(&mut conn, &ctx)?;
    put_tag(&tx, id.parse().unwrap_or(-1), tag, &ctx)?;
    commit(tx, &ctx)
}

/// Every experiment, deleted ones included, ordered by id.
pub(super) fn all_experiments(store: &SqliteStore) -> Result<Vec<Experiment>> {
    let conn = store.lock();
    let rows = conn
        .prepare_cached(
            "SELECT experiment_id, name, lifecycle_stage, creation_time FROM experiments \
             ORDER BY experiment_id",
        )
        .and_then(|mut s| {
            s.query_map([], experiment_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(|e| db_err("listing experiments", e))?;
    rows.into_iter().map(|e| with_tags(&conn, e)).collect()
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
        .query_map([], experiment_row)
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| db_err("listing experiments", e))?;
    drop(stmt);
    rows.into_iter().map(|e| with_tags(&conn, e)).collect()
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
