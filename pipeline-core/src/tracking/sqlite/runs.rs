//! Runs in the embedded store: creating them, reading them back whole (info, params, tags,
//! latest metrics) in a fixed number of queries whatever their number, and their status.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use super::experiments::experiment_by;
use super::{commit, db_err, immediate, run_pk, SqliteStore};
use crate::tracking::error::{Result, TrackingError};
use crate::tracking::model::{
    new_run_id, validate_tag, Metric, Param, Run, RunInfo, RunStatus, Tag, TAG_PARENT_RUN_ID,
    TAG_RUN_NAME,
};

/// Run columns in the order [`RunRow::from_row`] reads them.
pub(super) const RUN_COLUMNS: &str =
    "r.id, r.run_id, r.run_name, r.experiment_id, r.status, r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage";

struct RunRow {
    pk: i64,
    run_id: String,
    run_name: String,
    experiment_id: i64,
    status: String,
    start_time: i64,
    end_time: Option<i64>,
    artifact_uri: String,
    lifecycle_stage: String,
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
            lifecycle_stage: row.get(8)?,
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
            lifecycle_stage: self.lifecycle_stage,
        })
    }
}

pub(super) fn metric_from_row(
    key: String,
    value: f64,
    is_nan: bool,
    timestamp: i64,
    step: i64,
) -> Metric {
    Metric {
        key,
        value: if is_nan { f64::NAN } else { value },
        timestamp,
        step,
        model_id: None,
    }
}

pub(super) fn parse_experiment_id(id: &str) -> Option<i64> {
    id.parse::<i64>().ok().filter(|v| *v >= 0)
}

/// Loads full runs (info, params, tags, latest metrics) for the given
/// primary keys, in that order.
pub(super) fn load_runs(conn: &Connection, pks: &[i64]) -> Result<Vec<Run>> {
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
        .map_err(|e| db_err(ctx("runs"), e))?;
    let rows = stmt
        .query_map([&ids], RunRow::from_row)
        .map_err(|e| db_err(ctx("runs"), e))?;
    for row in rows {
        let row = row.map_err(|e| db_err(ctx("runs"), e))?;
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
            .map_err(|e| db_err(ctx(table), e))?;
        let rows = stmt
            .query_map([&ids], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| db_err(ctx(table), e))?;
        for row in rows {
            let (pk, key, value) = row.map_err(|e| db_err(ctx(table), e))?;
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
        .map_err(|e| db_err(ctx("metrics"), e))?;
    let rows = stmt
        .query_map([&ids], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                metric_from_row(r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?),
            ))
        })
        .map_err(|e| db_err(ctx("metrics"), e))?;
    for row in rows {
        let (pk, metric) = row.map_err(|e| db_err(ctx("metrics"), e))?;
        if let Some(run) = index.get(&pk).and_then(|&i| slots[i].as_mut()) {
            run.metrics.push(metric);
        }
    }
    Ok(slots.into_iter().flatten().collect())
}

pub(super) fn create_run_with_id(
    store: &SqliteStore,
    run_id: Option<&str>,
    experiment_id: &str,
    run_name: &str,
    parent_run_id: Option<&str>,
    tags: &[Tag],
    start_time_ms: i64,
) -> Result<RunInfo> {
    tags.iter().try_for_each(validate_tag)?;
    let chosen = run_id.is_some();
    let run_id = match run_id {
        Some(id) if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) => {
            if run_pk(&store.lock(), id).is_ok() {
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
    let exp =
        parse_experiment_id(experiment_id).ok_or_else(|| TrackingError::ExperimentNotFound {
            experiment: experiment_id.to_string(),
        })?;
    let info = RunInfo {
        artifact_uri: format!("runs:/{run_id}"),
        run_id,
        run_name,
        experiment_id: exp.to_string(),
        status: RunStatus::Running,
        start_time: start_time_ms,
        end_time: None,
        lifecycle_stage: "active".to_string(),
    };
    let ctx = format!("creating run {} in experiment {experiment_id}", info.run_id);
    let mut conn = store.lock();
    let tx = immediate(&mut conn, &ctx)?;
    if experiment_by(&tx, "experiment_id", &exp)?.is_none() {
        return Err(TrackingError::ExperimentNotFound {
            experiment: experiment_id.to_string(),
        });
    }
    if let Some(parent) = parent_run_id {
        run_pk(&tx, parent)?;
    }
    // Checked again inside the write transaction: two processes choosing the same id (parallel
    // experiments running one stage fingerprint) both passed the check above.
    if chosen && run_pk(&tx, &info.run_id).is_ok() {
        return Err(TrackingError::AlreadyExists(format!("run {}", info.run_id)));
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
    .map_err(|e| db_err(ctx.clone(), e))?;
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
            .map_err(|e| db_err(ctx.clone(), e))?;
        for (k, v) in all_tags {
            stmt.execute(params![pk, k, v])
                .map_err(|e| db_err(format!("setting tag '{k}' of run {}", info.run_id), e))?;
        }
    }
    commit(tx, &ctx)?;
    Ok(info)
}

pub(super) fn update_run(
    store: &SqliteStore,
    run_id: &str,
    status: RunStatus,
    end_time_ms: Option<i64>,
) -> Result<()> {
    let conn = store.lock();
    let n = conn
        .prepare_cached(
            "UPDATE runs SET status = ?1, end_time = COALESCE(?2, end_time) WHERE run_id = ?3",
        )
        .and_then(|mut s| s.execute(params![status.as_str(), end_time_ms, run_id]))
        .map_err(|e| db_err(format!("updating run {run_id}"), e))?;
    if n == 0 {
        return Err(TrackingError::RunNotFound {
            run_id: run_id.to_string(),
        });
    }
    Ok(())
}

pub(super) fn get_run(store: &SqliteStore, run_id: &str) -> Result<Run> {
    let conn = store.lock();
    let pk = run_pk(&conn, run_id)?;
    load_runs(&conn, &[pk])?
        .pop()
        .ok_or_else(|| TrackingError::RunNotFound {
            run_id: run_id.to_string(),
        })
}

/// The status is re-checked in the UPDATE itself, so a run that finished meanwhile stays
/// finished.
pub(super) fn kill_if_running(store: &SqliteStore, run_id: &str, end_time_ms: i64) -> Result<bool> {
    let n = store
        .lock()
        .prepare_cached(
            "UPDATE runs SET status = 'KILLED', end_time = ?1 WHERE run_id = ?2 AND status = 'RUNNING'",
        )
        .and_then(|mut s| s.execute(params![end_time_ms, run_id]))
        .map_err(|e| db_err(format!("killing run {run_id}"), e))?;
    Ok(n == 1)
}

/// Marks a run deleted (`deleted = true`) or active again; MLflow keeps deleted runs restorable.
pub(super) fn set_run_lifecycle(store: &SqliteStore, run_id: &str, deleted: bool) -> Result<()> {
    let stage = if deleted { "deleted" } else { "active" };
    let ctx = format!("marking run {run_id} {stage}");
    let mut conn = store.lock();
    let tx = immediate(&mut conn, &ctx)?;
    let pk = run_pk(&tx, run_id)?;
    tx.execute(
        "UPDATE runs SET lifecycle_stage = ?2 WHERE id = ?1",
        params![pk, stage],
    )
    .map_err(|e| db_err(ctx.clone(), e))?;
    commit(tx, &ctx)
}
