//! MLflow 3's logged models in the embedded store: the entity with its params and tags; its
//! files go through [`super::artifact_tree`] like a run's, and the metrics linked to it are the
//! rows of `metrics` that carry its id.

use rusqlite::{params, Connection, OptionalExtension};

use super::runs::parse_experiment_id;
use super::{commit, db_err, immediate, run_pk, SqliteStore};
use crate::tracking::error::{Result, TrackingError};
use crate::tracking::model::{
    new_model_id, now_ms, validate_batch, validate_model_id, LoggedModel, LoggedModelPage,
    LoggedModelStatus, Metric, NewLoggedModel, Param, Tag,
};
use crate::tracking::query::MAX_PAGE_SIZE;

/// The row id of a logged model.
pub(super) fn model_pk(conn: &Connection, model_id: &str) -> Result<i64> {
    conn.prepare_cached("SELECT id FROM logged_models WHERE model_id = ?1")
        .and_then(|mut s| s.query_row([model_id], |r| r.get(0)).optional())
        .map_err(|e| db_err(format!("looking up logged model {model_id}"), e))?
        .ok_or_else(|| TrackingError::LoggedModelNotFound {
            model_id: model_id.to_string(),
        })
}

pub(super) fn create(store: &SqliteStore, new: &NewLoggedModel) -> Result<LoggedModel> {
    let model_id = match &new.model_id {
        Some(id) => {
            validate_model_id(id)?;
            id.clone()
        }
        None => new_model_id(),
    };
    let name = if new.name.is_empty() {
        format!("model-{}", &model_id[2..10])
    } else {
        new.name.clone()
    };
    validate_batch(&model_id, &[], &new.params, &new.tags)?;
    let experiment = parse_experiment_id(&new.experiment_id).ok_or_else(|| {
        TrackingError::ExperimentNotFound {
            experiment: new.experiment_id.clone(),
        }
    })?;
    let ctx = format!("creating logged model {model_id}");
    let mut conn = store.lock();
    let tx = immediate(&mut conn, &ctx)?;
    let exists: bool = tx
        .query_row(
            "SELECT count(*) FROM experiments WHERE experiment_id = ?1",
            [experiment],
            |r| r.get::<_, i64>(0),
        )
        .map_err(|e| db_err(ctx.clone(), e))?
        > 0;
    if !exists {
        return Err(TrackingError::ExperimentNotFound {
            experiment: new.experiment_id.clone(),
        });
    }
    if let Some(run) = &new.source_run_id {
        run_pk(&tx, run)?;
    }
    let now = now_ms();
    let inserted = tx.execute(
        "INSERT INTO logged_models (model_id, experiment_id, name, source_run_id, model_type, \
         status, creation_time, last_updated_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) \
         ON CONFLICT(model_id) DO NOTHING",
        params![
            model_id,
            experiment,
            name,
            new.source_run_id,
            new.model_type,
            LoggedModelStatus::Pending.as_str(),
            now
        ],
    );
    if inserted.map_err(|e| db_err(ctx.clone(), e))? == 0 {
        return Err(TrackingError::AlreadyExists(format!(
            "logged model {model_id}"
        )));
    }
    let pk = tx.last_insert_rowid();
    for (table, pairs) in [
        (
            "logged_model_params",
            new.params
                .iter()
                .map(|p| (&p.key, &p.value))
                .collect::<Vec<_>>(),
        ),
        (
            "logged_model_tags",
            new.tags.iter().map(|t| (&t.key, &t.value)).collect(),
        ),
    ] {
        let mut put = tx
            .prepare_cached(&format!(
                "INSERT INTO {table} (model_pk, key, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(model_pk, key) DO UPDATE SET value = excluded.value"
            ))
            .map_err(|e| db_err(ctx.clone(), e))?;
        for (key, value) in pairs {
            put.execute(params![pk, key, value])
                .map_err(|e| db_err(ctx.clone(), e))?;
        }
    }
    commit(tx, &ctx)?;
    get(&conn, &model_id)
}

pub(super) fn set_tags(store: &SqliteStore, model_id: &str, tags: &[Tag]) -> Result<()> {
    validate_batch(model_id, &[], &[], tags)?;
    let ctx = format!("tagging logged model {model_id}");
    let mut conn = store.lock();
    let tx = immediate(&mut conn, &ctx)?;
    let pk = model_pk(&tx, model_id)?;
    for tag in tags {
        tx.execute(
            "INSERT INTO logged_model_tags (model_pk, key, value) VALUES (?1, ?2, ?3) \
             ON CONFLICT(model_pk, key) DO UPDATE SET value = excluded.value",
            params![pk, tag.key, tag.value],
        )
        .map_err(|e| db_err(ctx.clone(), e))?;
    }
    commit(tx, &ctx)
}

pub(super) fn log_params(store: &SqliteStore, model_id: &str, new: &[Param]) -> Result<()> {
    validate_batch(model_id, &[], new, &[])?;
    let ctx = format!("logging params of logged model {model_id}");
    let mut conn = store.lock();
    let tx = immediate(&mut conn, &ctx)?;
    let pk = model_pk(&tx, model_id)?;
    for param in new {
        let old: Option<String> = tx
            .query_row(
                "SELECT value FROM logged_model_params WHERE model_pk = ?1 AND key = ?2",
                params![pk, param.key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| db_err(ctx.clone(), e))?;
        match old {
            Some(old) if old == param.value => {}
            Some(old) => {
                return Err(TrackingError::ParamChanged {
                    run_id: model_id.to_string(),
                    key: param.key.clone(),
                    old_value: old,
                    new_value: param.value.clone(),
                })
            }
            None => {
                tx.execute(
                    "INSERT INTO logged_model_params (model_pk, key, value) VALUES (?1, ?2, ?3)",
                    params![pk, param.key, param.value],
                )
                .map_err(|e| db_err(ctx.clone(), e))?;
            }
        }
    }
    commit(tx, &ctx)
}

pub(super) fn finalize(
    store: &SqliteStore,
    model_id: &str,
    status: LoggedModelStatus,
) -> Result<LoggedModel> {
    let ctx = format!("finalizing logged model {model_id}");
    let mut conn = store.lock();
    let tx = immediate(&mut conn, &ctx)?;
    let pk = model_pk(&tx, model_id)?;
    tx.execute(
        "UPDATE logged_models SET status = ?2, last_updated_time = ?3 WHERE id = ?1",
        params![pk, status.as_str(), now_ms()],
    )
    .map_err(|e| db_err(ctx.clone(), e))?;
    commit(tx, &ctx)?;
    get(&conn, model_id)
}

const COLUMNS: &str = "id, model_id, experiment_id, name, source_run_id, model_type, status, \
                       creation_time, last_updated_time";

/// A model row without its params, tags and metrics, plus its row id.
fn model_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, LoggedModel, String)> {
    Ok((
        r.get(0)?,
        LoggedModel {
            model_id: r.get(1)?,
            experiment_id: r.get::<_, i64>(2)?.to_string(),
            name: r.get(3)?,
            artifact_uri: format!("models:/{}", r.get::<_, String>(1)?),
            status: LoggedModelStatus::Pending,
            creation_time: r.get(7)?,
            last_updated_time: r.get(8)?,
            source_run_id: r.get(4)?,
            model_type: r.get(5)?,
            params: Vec::new(),
            tags: Vec::new(),
            metrics: Vec::new(),
        },
        r.get(6)?,
    ))
}

/// Fills in a row's status, params, tags and linked metrics.
fn complete(
    conn: &Connection,
    (pk, mut model, status): (i64, LoggedModel, String),
) -> Result<LoggedModel> {
    let ctx = || format!("reading logged model {}", model.model_id);
    model.status = status.parse()?;
    let pairs = |table: &str| -> Result<Vec<(String, String)>> {
        conn.prepare_cached(&format!(
            "SELECT key, value FROM {table} WHERE model_pk = ?1 ORDER BY key"
        ))
        .and_then(|mut s| {
            s.query_map([pk], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(|e| db_err(ctx(), e))
    };
    model.params = pairs("logged_model_params")?
        .into_iter()
        .map(|(k, v)| Param::new(k, v))
        .collect();
    model.tags = pairs("logged_model_tags")?
        .into_iter()
        .map(|(k, v)| Tag::new(k, v))
        .collect();
    // The latest value of each key, by MLflow's (step, timestamp, value) order.
    let mut stmt = conn
        .prepare_cached(
            "SELECT key, value, is_nan, timestamp, step FROM metrics WHERE model_id = ?1 \
             ORDER BY key, step, timestamp, value",
        )
        .map_err(|e| db_err(ctx(), e))?;
    let points = stmt
        .query_map([&model.model_id], |r| {
            let nan: bool = r.get(2)?;
            let mut metric = Metric::new(
                r.get::<_, String>(0)?,
                if nan { f64::NAN } else { r.get(1)? },
                r.get(3)?,
                r.get(4)?,
            );
            metric.model_id = Some(model.model_id.clone());
            Ok(metric)
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| db_err(ctx(), e))?;
    for point in points {
        match model.metrics.last_mut() {
            Some(last) if last.key == point.key => *last = point,
            _ => model.metrics.push(point),
        }
    }
    Ok(model)
}

pub(super) fn get(conn: &Connection, model_id: &str) -> Result<LoggedModel> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM logged_models WHERE model_id = ?1"
        ))
        .and_then(|mut s| s.query_row([model_id], model_row).optional())
        .map_err(|e| db_err(format!("reading logged model {model_id}"), e))?
        .ok_or_else(|| TrackingError::LoggedModelNotFound {
            model_id: model_id.to_string(),
        })?;
    complete(conn, row)
}

pub(super) fn of_run(conn: &Connection, run_id: &str) -> Result<Vec<LoggedModel>> {
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM logged_models WHERE source_run_id = ?1 ORDER BY creation_time, id"
        ))
        .and_then(|mut s| {
            s.query_map([run_id], model_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(|e| db_err(format!("reading the logged models of run {run_id}"), e))?;
    rows.into_iter().map(|row| complete(conn, row)).collect()
}

pub(super) fn search(
    store: &SqliteStore,
    experiment_ids: &[String],
    max_results: usize,
    page_token: Option<&str>,
) -> Result<LoggedModelPage> {
    let offset: usize = match page_token {
        None | Some("") => 0,
        Some(token) => token
            .parse()
            .map_err(|_| TrackingError::InvalidArgument(format!("invalid page token '{token}'")))?,
    };
    let mut ids = Vec::with_capacity(experiment_ids.len());
    for id in experiment_ids {
        ids.push(
            parse_experiment_id(id).ok_or_else(|| TrackingError::ExperimentNotFound {
                experiment: id.clone(),
            })?,
        );
    }
    let limit = max_results.min(MAX_PAGE_SIZE);
    let scope = if ids.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        format!("WHERE experiment_id IN ({})", list.join(","))
    };
    let conn = store.lock();
    let rows = conn
        .prepare(&format!(
            "SELECT {COLUMNS} FROM logged_models {scope} \
             ORDER BY creation_time DESC, model_id LIMIT ?1 OFFSET ?2"
        ))
        .and_then(|mut s| {
            s.query_map(
                params![
                    i64::try_from(limit + 1).unwrap_or(i64::MAX),
                    i64::try_from(offset).unwrap_or(i64::MAX)
                ],
                model_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(|e| db_err("searching logged models", e))?;
    let more = rows.len() > limit;
    let models = rows
        .into_iter()
        .take(limit)
        .map(|row| complete(&conn, row))
        .collect::<Result<Vec<_>>>()?;
    Ok(LoggedModelPage {
        models,
        next_page_token: more.then(|| (offset + limit).to_string()),
    })
}
