//! Logging to a run in the embedded store: params (immutable), tags, metric history and the
//! latest-metrics table, all of one batch in one transaction.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};

use super::runs::metric_from_row;
use super::{commit, db_err, immediate, run_pk, SqliteStore};
use crate::tracking::error::{Result, TrackingError};
use crate::tracking::model::{validate_batch, Metric, Param, Tag, TAG_RUN_NAME};

/// NaN cannot be stored in SQLite, so it becomes 0 plus a flag, as in MLflow.
fn stored_value(v: f64) -> (f64, bool) {
    if v.is_nan() {
        (0.0, true)
    } else {
        (v, false)
    }
}

pub(super) fn log_batch(
    store: &SqliteStore,
    run_id: &str,
    metrics: &[Metric],
    params: &[Param],
    tags: &[Tag],
) -> Result<()> {
    validate_batch(run_id, metrics, params, tags)?;
    if metrics.is_empty() && params.is_empty() && tags.is_empty() {
        run_pk(&store.lock(), run_id)?;
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
    let mut conn = store.lock();
    let tx = immediate(&mut conn, &ctx)?;
    let pk = run_pk(&tx, run_id)?;
    {
        let mut get = tx
            .prepare_cached("SELECT value FROM params WHERE run_pk = ?1 AND key = ?2")
            .map_err(|e| db_err(ctx.clone(), e))?;
        let mut put = tx
            .prepare_cached("INSERT INTO params (run_pk, key, value) VALUES (?1, ?2, ?3)")
            .map_err(|e| db_err(ctx.clone(), e))?;
        for p in params {
            let pctx = || format!("logging param '{}' of run {run_id}", p.key);
            let old: Option<String> = get
                .query_row(params![pk, p.key], |r| r.get(0))
                .optional()
                .map_err(|e| db_err(pctx(), e))?;
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
                        .map_err(|e| db_err(pctx(), e))?;
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
            .map_err(|e| db_err(ctx.clone(), e))?;
        for t in tags {
            put.execute(params![pk, t.key, t.value])
                .map_err(|e| db_err(format!("setting tag '{}' of run {run_id}", t.key), e))?;
            // As in MLflow, the run-name tag and the run_name attribute stay in step.
            if t.key == TAG_RUN_NAME {
                tx.execute(
                    "UPDATE runs SET run_name = ?1 WHERE id = ?2",
                    params![t.value, pk],
                )
                .map_err(|e| db_err(format!("renaming run {run_id}"), e))?;
            }
        }
    }
    if !metrics.is_empty() {
        // A point already recorded (same key, step, timestamp and value) is not recorded
        // twice, as in MLflow: the unique index on those columns says so as part of the insert.
        // Logging it again with a model id links it to that model.
        let mut hist = tx
            .prepare_cached(
                "INSERT INTO metrics (run_pk, key, value, is_nan, timestamp, step, model_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT(run_pk, key, step, timestamp, value, is_nan) \
                 DO UPDATE SET model_id = COALESCE(metrics.model_id, excluded.model_id)",
            )
            .map_err(|e| db_err(ctx.clone(), e))?;
        for m in metrics {
            let (v, is_nan) = stored_value(m.value);
            hist.execute(params![
                pk,
                m.key,
                v,
                is_nan,
                m.timestamp,
                m.step,
                m.model_id
            ])
            .map_err(|e| db_err(format!("logging metric '{}' of run {run_id}", m.key), e))?;
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
            .map_err(|e| db_err(ctx.clone(), e))?;
        for m in latest.values() {
            let (v, is_nan) = stored_value(m.value);
            up.execute(params![pk, m.key, v, is_nan, m.timestamp, m.step])
                .map_err(|e| {
                    db_err(
                        format!("updating latest metric '{}' of run {run_id}", m.key),
                        e,
                    )
                })?;
        }
    }
    commit(tx, &ctx)
}

pub(super) fn metric_history(store: &SqliteStore, run_id: &str, key: &str) -> Result<Vec<Metric>> {
    let conn = store.lock();
    let pk = run_pk(&conn, run_id)?;
    let ctx = || format!("reading history of metric '{key}' of run {run_id}");
    let mut stmt = conn
        .prepare_cached(
            "SELECT key, value, is_nan, timestamp, step, model_id FROM metrics \
             WHERE run_pk = ?1 AND key = ?2 ORDER BY step, timestamp, rowid",
        )
        .map_err(|e| db_err(ctx(), e))?;
    let rows = stmt
        .query_map(params![pk, key], |r| {
            let mut metric = metric_from_row(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
            metric.model_id = r.get(5)?;
            Ok(metric)
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| db_err(ctx(), e))?;
    Ok(rows)
}

pub(super) fn delete_tag(store: &SqliteStore, run_id: &str, key: &str) -> Result<()> {
    let ctx = format!("deleting tag '{key}' of run {run_id}");
    let mut conn = store.lock();
    let tx = super::immediate(&mut conn, &ctx)?;
    let pk = super::run_pk(&tx, run_id)?;
    let deleted = tx
        .execute(
            "DELETE FROM tags WHERE run_pk = ?1 AND key = ?2",
            params![pk, key],
        )
        .map_err(|e| db_err(ctx.clone(), e))?;
    if deleted == 0 {
        return Err(TrackingError::TagNotFound {
            run_id: run_id.to_string(),
            key: key.to_string(),
        });
    }
    super::commit(tx, &ctx)
}
