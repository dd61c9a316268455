//! The model registry in the embedded store: registered models, numbered versions, aliases.

use rusqlite::{params, Connection, OptionalExtension};

use super::{commit, db_err, immediate, run_pk, SqliteStore};
use crate::tracking::error::{Result, TrackingError};
use crate::tracking::model::{
    now_ms, validate_alias, validate_model_name, validate_tag, ModelVersion, RegisteredModel, Tag,
};

fn version_i64(name: &str, version: u64) -> Result<i64> {
    i64::try_from(version).map_err(|_| TrackingError::ModelVersionNotFound {
        name: name.to_string(),
        version,
    })
}

fn version_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn model_version_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ModelVersion> {
    Ok(ModelVersion {
        name: r.get(0)?,
        version: version_u64(r.get(1)?),
        source: r.get(2)?,
        run_id: r.get(3)?,
        creation_time: r.get(4)?,
        description: r.get(5)?,
        model_id: r.get(6)?,
        tags: Vec::new(),
    })
}

const MODEL_VERSION_COLUMNS: &str =
    "name, version, source, run_id, creation_time, description, model_id";

/// Tags of a model (`version` None) or of one version, sorted by key.
fn tags_of(conn: &Connection, name: &str, version: Option<u64>) -> Result<Vec<Tag>> {
    let ctx = || format!("reading tags of model '{name}'");
    let rows = match version {
        None => conn
            .prepare_cached(
                "SELECT key, value FROM registered_model_tags WHERE name = ?1 ORDER BY key",
            )
            .and_then(|mut s| {
                s.query_map([name], |r| Ok(Tag::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            }),
        Some(v) => conn
            .prepare_cached(
                "SELECT key, value FROM model_version_tags WHERE name = ?1 AND version = ?2 ORDER BY key",
            )
            .and_then(|mut s| {
                s.query_map(params![name, version_i64(name, v).unwrap_or(-1)], |r| {
                    Ok(Tag::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            }),
    };
    rows.map_err(|e| db_err(ctx(), e))
}

fn with_tags(conn: &Connection, mut mv: ModelVersion) -> Result<ModelVersion> {
    mv.tags = tags_of(conn, &mv.name, Some(mv.version))?;
    Ok(mv)
}

fn registered_model_exists(conn: &Connection, name: &str) -> Result<bool> {
    conn.prepare_cached("SELECT 1 FROM registered_models WHERE name = ?1")
        .and_then(|mut s| s.exists([name]))
        .map_err(|e| db_err(format!("looking up registered model '{name}'"), e))
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
        .map_err(|e| db_err(format!("reading version {version} of model '{name}'"), e))?;
    match found {
        Some(mv) => with_tags(conn, mv),
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
    .map_err(|e| db_err(format!("reading the latest version of model '{name}'"), e))?
    .map(|mv| with_tags(conn, mv))
    .transpose()
}

fn registered_model_conn(conn: &Connection, name: &str) -> Result<RegisteredModel> {
    let (creation_time, description): (i64, String) = conn
        .prepare_cached("SELECT creation_time, description FROM registered_models WHERE name = ?1")
        .and_then(|mut s| {
            s.query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(|e| db_err(format!("reading registered model '{name}'"), e))?
        .ok_or_else(|| TrackingError::ModelNotFound {
            name: name.to_string(),
        })?;
    let latest_versions = latest_version_conn(conn, name)?.into_iter().collect();
    let mut stmt = conn
        .prepare_cached("SELECT alias, version FROM model_aliases WHERE name = ?1 ORDER BY alias")
        .map_err(|e| db_err(format!("reading aliases of model '{name}'"), e))?;
    let aliases = stmt
        .query_map([name], |r| {
            Ok((r.get::<_, String>(0)?, version_u64(r.get(1)?)))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| db_err(format!("reading aliases of model '{name}'"), e))?;
    Ok(RegisteredModel {
        name: name.to_string(),
        creation_time,
        latest_versions,
        aliases,
        description,
        tags: tags_of(conn, name, None)?,
    })
}

pub(super) fn create_registered_model(store: &SqliteStore, name: &str) -> Result<RegisteredModel> {
    validate_model_name(name)?;
    let ctx = format!("creating registered model '{name}'");
    let mut conn = store.lock();
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
    .map_err(|e| db_err(ctx.clone(), e))?;
    commit(tx, &ctx)?;
    Ok(RegisteredModel {
        name: name.to_string(),
        creation_time: now,
        latest_versions: Vec::new(),
        aliases: Vec::new(),
        description: String::new(),
        tags: Vec::new(),
    })
}

pub(super) fn create_model_version(
    store: &SqliteStore,
    name: &str,
    source: &str,
    run_id: Option<&str>,
    model_id: Option<&str>,
) -> Result<ModelVersion> {
    if source.is_empty() {
        return Err(TrackingError::InvalidArgument(format!(
            "model version source for '{name}' must not be empty"
        )));
    }
    let ctx = format!("creating a version of registered model '{name}'");
    let mut conn = store.lock();
    let tx = immediate(&mut conn, &ctx)?;
    require_model(&tx, name)?;
    if let Some(r) = run_id {
        run_pk(&tx, r)?;
    }
    if let Some(m) = model_id {
        super::logged_models::model_pk(&tx, m)?;
    }
    // Past every version ever made, deleted ones included: a number never names two models.
    let next: i64 = tx
        .query_row(
            "SELECT MAX(last_version, (SELECT COALESCE(MAX(version), 0) FROM model_versions WHERE name = ?1)) + 1 \
             FROM registered_models WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .map_err(|e| db_err(ctx.clone(), e))?;
    let now = now_ms();
    tx.execute(
        "INSERT INTO model_versions (name, version, source, run_id, creation_time, model_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![name, next, source, run_id, now, model_id],
    )
    .and_then(|_| {
        tx.execute(
            "UPDATE registered_models SET last_updated_time = ?2, last_version = ?3 WHERE name = ?1",
            params![name, now, next],
        )
    })
    .map_err(|e| db_err(ctx.clone(), e))?;
    commit(tx, &ctx)?;
    Ok(ModelVersion {
        name: name.to_string(),
        version: version_u64(next),
        source: source.to_string(),
        run_id: run_id.map(str::to_string),
        model_id: model_id.map(str::to_string),
        creation_time: now,
        description: String::new(),
        tags: Vec::new(),
    })
}

pub(super) fn get_model_version(
    store: &SqliteStore,
    name: &str,
    version: u64,
) -> Result<ModelVersion> {
    model_version_conn(&store.lock(), name, version)
}

pub(super) fn latest_model_version(store: &SqliteStore, name: &str) -> Result<ModelVersion> {
    let conn = store.lock();
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

pub(super) fn set_model_alias(
    store: &SqliteStore,
    name: &str,
    alias: &str,
    version: u64,
) -> Result<()> {
    validate_alias(alias)?;
    let ctx = format!("setting alias '{alias}' of registered model '{name}'");
    let mut conn = store.lock();
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
    .map_err(|e| db_err(ctx.clone(), e))?;
    commit(tx, &ctx)
}

pub(super) fn get_model_version_by_alias(
    store: &SqliteStore,
    name: &str,
    alias: &str,
) -> Result<ModelVersion> {
    let conn = store.lock();
    let version: Option<i64> = conn
        .prepare_cached("SELECT version FROM model_aliases WHERE name = ?1 AND alias = ?2")
        .and_then(|mut s| s.query_row(params![name, alias], |r| r.get(0)).optional())
        .map_err(|e| db_err(format!("reading alias '{alias}' of model '{name}'"), e))?;
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

pub(super) fn list_registered_models(store: &SqliteStore) -> Result<Vec<RegisteredModel>> {
    let conn = store.lock();
    let names: Vec<String> = conn
        .prepare_cached("SELECT name FROM registered_models ORDER BY name")
        .and_then(|mut s| {
            s.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(|e| db_err("listing registered models", e))?;
    names
        .iter()
        .map(|n| registered_model_conn(&conn, n))
        .collect()
}

pub(super) fn get_registered_model(store: &SqliteStore, name: &str) -> Result<RegisteredModel> {
    registered_model_conn(&store.lock(), name)
}

pub(super) fn model_versions(store: &SqliteStore, name: &str) -> Result<Vec<ModelVersion>> {
    let conn = store.lock();
    require_model(&conn, name)?;
    conn.prepare_cached(&format!(
        "SELECT {MODEL_VERSION_COLUMNS} FROM model_versions WHERE name = ?1 ORDER BY version"
    ))
    .and_then(|mut s| {
        s.query_map([name], model_version_row)?
            .collect::<rusqlite::Result<Vec<_>>>()
    })
    .map_err(|e| db_err(format!("listing versions of model '{name}'"), e))?
    .into_iter()
    .map(|mv| with_tags(&conn, mv))
    .collect()
}

pub(super) fn delete_model_version(store: &SqliteStore, name: &str, version: u64) -> Result<()> {
    let ctx = format!("deleting version {version} of registered model '{name}'");
    let mut conn = store.lock();
    let tx = immediate(&mut conn, &ctx)?;
    model_version_conn(&tx, name, version)?;
    let v = version_i64(name, version)?;
    tx.execute(
        "DELETE FROM model_version_tags WHERE name = ?1 AND version = ?2",
        params![name, v],
    )
    .and_then(|_| {
        tx.execute(
            "DELETE FROM model_aliases WHERE name = ?1 AND version = ?2",
            params![name, v],
        )
    })
    .and_then(|_| {
        tx.execute(
            "DELETE FROM model_versions WHERE name = ?1 AND version = ?2",
            params![name, v],
        )
    })
    .and_then(|_| {
        tx.execute(
            "UPDATE registered_models SET last_updated_time = ?2 WHERE name = ?1",
            params![name, now_ms()],
        )
    })
    .map_err(|e| db_err(ctx.clone(), e))?;
    commit(tx, &ctx)
}

pub(super) fn delete_registered_model(store: &SqliteStore, name: &str) -> Result<()> {
    let ctx = format!("deleting registered model '{name}'");
    let mut conn = store.lock();
    let tx = immediate(&mut conn, &ctx)?;
    require_model(&tx, name)?;
    for table in [
        "model_version_tags",
        "registered_model_tags",
        "model_aliases",
        "model_versions",
        "registered_models",
    ] {
        tx.execute(&format!("DELETE FROM {table} WHERE name = ?1"), [name])
            .map_err(|e| db_err(ctx.clone(), e))?;
    }
    commit(tx, &ctx)
}

pub(super) fn delete_model_alias(store: &SqliteStore, name: &str, alias: &str) -> Result<()> {
    let ctx = format!("deleting alias '{alias}' of registered model '{name}'");
    let mut conn = store.lock();
    let tx = immediate(&mut conn, &ctx)?;
    require_model(&tx, name)?;
    let removed = tx
        .execute(
            "DELETE FROM model_aliases WHERE name = ?1 AND alias = ?2",
            params![name, alias],
        )
        .map_err(|e| db_err(ctx.clone(), e))?;
    if removed == 0 {
        return Err(TrackingError::AliasNotFound {
            name: name.to_string(),
            alias: alias.to_string(),
        });
    }
    commit(tx, &ctx)
}

/// Runs `model_sql` on a registered model (parameters: its name, then `extra`) or, with a
/// version, `version_sql` on that version (name, version, then `extra`), once it is known to
/// exist, in one write transaction.
fn write_model_or_version(
    store: &SqliteStore,
    ctx: &str,
    name: &str,
    version: Option<u64>,
    (model_sql, version_sql): (&str, &str),
    extra: &[&dyn rusqlite::ToSql],
) -> Result<()> {
    let mut conn = store.lock();
    let tx = immediate(&mut conn, ctx)?;
    let v = match version {
        None => {
            require_model(&tx, name)?;
            None
        }
        Some(v) => {
            model_version_conn(&tx, name, v)?;
            Some(version_i64(name, v)?)
        }
    };
    let mut bound: Vec<&dyn rusqlite::ToSql> = vec![&name];
    if let Some(v) = &v {
        bound.push(v);
    }
    bound.extend_from_slice(extra);
    let sql = if v.is_some() { version_sql } else { model_sql };
    tx.execute(sql, rusqlite::params_from_iter(bound))
        .map_err(|e| db_err(ctx.to_string(), e))?;
    commit(tx, ctx)
}

pub(super) fn set_model_description(
    store: &SqliteStore,
    name: &str,
    version: Option<u64>,
    text: &str,
) -> Result<()> {
    write_model_or_version(
        store,
        &format!("describing model '{name}'"),
        name,
        version,
        (
            "UPDATE registered_models SET description = ?2 WHERE name = ?1",
            "UPDATE model_versions SET description = ?3 WHERE name = ?1 AND version = ?2",
        ),
        &[&text],
    )
}

pub(super) fn set_model_tag(
    store: &SqliteStore,
    name: &str,
    version: Option<u64>,
    tag: &Tag,
) -> Result<()> {
    validate_tag(tag)?;
    write_model_or_version(
        store,
        &format!("tagging model '{name}'"),
        name,
        version,
        (
            "INSERT INTO registered_model_tags (name, key, value) VALUES (?1, ?2, ?3) \
             ON CONFLICT(name, key) DO UPDATE SET value = excluded.value",
            "INSERT INTO model_version_tags (name, version, key, value) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT(name, version, key) DO UPDATE SET value = excluded.value",
        ),
        &[&tag.key, &tag.value],
    )
}

pub(super) fn delete_model_tag(
    store: &SqliteStore,
    name: &str,
    version: Option<u64>,
    key: &str,
) -> Result<()> {
    write_model_or_version(
        store,
        &format!("removing tag '{key}' of model '{name}'"),
        name,
        version,
        (
            "DELETE FROM registered_model_tags WHERE name = ?1 AND key = ?2",
            "DELETE FROM model_version_tags WHERE name = ?1 AND version = ?2 AND key = ?3",
        ),
        &[&key],
    )
}
