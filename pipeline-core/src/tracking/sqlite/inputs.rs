//! Data sets a run read, in the embedded store: each data set stored once per experiment (by
//! name and digest), linked to the runs that used it with the context of the use.

use rusqlite::params;

use super::{commit, db_err, immediate, run_pk, SqliteStore};
use crate::tracking::error::{Result, TrackingError};
use crate::tracking::model::{Dataset, DatasetInput, MAX_KEY_LEN, MAX_TAG_VALUE_LEN};

fn check(input: &DatasetInput) -> Result<()> {
    let d = &input.dataset;
    let too_long = |what: &str, len: usize, max: usize| {
        (len == 0 || len > max).then(|| {
            TrackingError::InvalidArgument(format!(
                "dataset {what} must be 1 to {max} characters (dataset `{}`)",
                d.name
            ))
        })
    };
    if let Some(e) = too_long("name", d.name.len(), MAX_KEY_LEN)
        .or_else(|| too_long("digest", d.digest.len(), 36))
        .or_else(|| too_long("source", d.source.len(), MAX_TAG_VALUE_LEN))
    {
        return Err(e);
    }
    Ok(())
}

pub(super) fn log_inputs(store: &SqliteStore, run_id: &str, inputs: &[DatasetInput]) -> Result<()> {
    inputs.iter().try_for_each(check)?;
    let ctx = format!("logging the inputs of run {run_id}");
    let mut conn = store.lock();
    let tx = immediate(&mut conn, &ctx)?;
    let pk = run_pk(&tx, run_id)?;
    let experiment: i64 = tx
        .query_row("SELECT experiment_id FROM runs WHERE id = ?1", [pk], |r| {
            r.get(0)
        })
        .map_err(|e| db_err(ctx.clone(), e))?;
    for input in inputs {
        let d = &input.dataset;
        tx.execute(
            "INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(experiment_id, name, digest) DO NOTHING",
            params![
                experiment,
                d.name,
                d.digest,
                d.source_type,
                d.source,
                d.schema
            ],
        )
        .map_err(|e| db_err(ctx.clone(), e))?;
        let id: i64 = tx
            .query_row(
                "SELECT id FROM datasets WHERE experiment_id = ?1 AND name = ?2 AND digest = ?3",
                params![experiment, d.name, d.digest],
                |r| r.get(0),
            )
            .map_err(|e| db_err(ctx.clone(), e))?;
        tx.execute(
            "INSERT INTO run_inputs (run_pk, dataset_id, context) VALUES (?1, ?2, ?3) \
             ON CONFLICT(run_pk, dataset_id) DO UPDATE SET context = excluded.context",
            params![pk, id, input.context],
        )
        .map_err(|e| db_err(ctx.clone(), e))?;
    }
    commit(tx, &ctx)
}

pub(super) fn run_inputs(store: &SqliteStore, run_id: &str) -> Result<Vec<DatasetInput>> {
    let conn = store.lock();
    let pk = run_pk(&conn, run_id)?;
    let ctx = || format!("reading the inputs of run {run_id}");
    let mut stmt = conn
        .prepare_cached(
            "SELECT d.name, d.digest, d.source_type, d.source, d.schema, i.context \
             FROM run_inputs i JOIN datasets d ON d.id = i.dataset_id \
             WHERE i.run_pk = ?1 ORDER BY d.name, d.digest",
        )
        .map_err(|e| db_err(ctx(), e))?;
    let rows = stmt
        .query_map([pk], |r| {
            Ok(DatasetInput {
                dataset: Dataset {
                    name: r.get(0)?,
                    digest: r.get(1)?,
                    source_type: r.get(2)?,
                    source: r.get(3)?,
                    schema: r.get(4)?,
                },
                context: r.get(5)?,
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| db_err(ctx(), e))?;
    Ok(rows)
}
