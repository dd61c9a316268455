//! The artifact tree of a run, or of a logged model, in the embedded store: which path holds
//! which object. The bytes themselves are in [`super::artifacts`].

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use rusqlite::{params, Connection};

use super::artifacts::{copy_object_verified, store_object};
use super::{commit, db_err, immediate, run_pk, SqliteStore};
use crate::tracking::error::{Result, TrackingError};
use crate::tracking::model::{artifact_file_path, normalize_artifact_path, FileInfo};

/// Whose files a tree holds: a run's artifacts, or a logged model's (MLflow 3 keeps those
/// apart from any run).
#[derive(Clone, Copy, Debug)]
pub(super) enum Owner<'a> {
    /// A run, by id.
    Run(&'a str),
    /// A logged model, by id.
    Model(&'a str),
}

impl Owner<'_> {
    fn table(self) -> &'static str {
        match self {
            Owner::Run(_) => "artifacts",
            Owner::Model(_) => "logged_model_artifacts",
        }
    }

    fn column(self) -> &'static str {
        match self {
            Owner::Run(_) => "run_pk",
            Owner::Model(_) => "model_pk",
        }
    }

    fn id(self) -> &'static str {
        match self {
            Owner::Run(_) => "run",
            Owner::Model(_) => "logged model",
        }
    }

    fn name(&self) -> &str {
        match self {
            Owner::Run(id) | Owner::Model(id) => id,
        }
    }

    pub(super) fn pk(self, conn: &Connection) -> Result<i64> {
        match self {
            Owner::Run(id) => run_pk(conn, id),
            Owner::Model(id) => super::logged_models::model_pk(conn, id),
        }
    }

    fn not_found(self, path: &str) -> TrackingError {
        TrackingError::ArtifactNotFound {
            run_id: self.name().to_string(),
            path: path.to_string(),
        }
    }
}

/// Rows `(path, hash, size)` of an owner's artifacts at or under `path`.
pub(super) fn artifact_rows(
    conn: &Connection,
    owner: Owner<'_>,
    pk: i64,
    path: &str,
) -> Result<Vec<(String, String, u64)>> {
    let (table, column) = (owner.table(), owner.column());
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
            .prepare_cached(&format!(
                "SELECT path, hash, size FROM {table} WHERE {column} = ?1 ORDER BY path"
            ))
            .map_err(|e| db_err(ctx(), e))?;
        let rows = stmt
            .query_map([pk], map)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| db_err(ctx(), e))?;
        return Ok(rows);
    }
    // Everything strictly under "path/" sorts between "path/" and "path0"
    // ('0' follows '/' in byte order), which lets the primary key serve the scan.
    let lower = format!("{path}/");
    let upper = format!("{path}0");
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT path, hash, size FROM {table} WHERE {column} = ?1 \
             AND (path = ?2 OR (path >= ?3 AND path < ?4)) ORDER BY path"
        ))
        .map_err(|e| db_err(ctx(), e))?;
    let rows = stmt
        .query_map(params![pk, path, lower, upper], map)
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| db_err(ctx(), e))?;
    Ok(rows)
}

pub(super) fn log_artifact(
    store: &SqliteStore,
    owner: Owner<'_>,
    local_file: &Path,
    artifact_path: &str,
) -> Result<()> {
    let path = artifact_file_path(artifact_path)?;
    if !local_file.is_file() {
        return Err(TrackingError::io(
            local_file,
            std::io::Error::new(std::io::ErrorKind::NotFound, "not a regular file"),
        ));
    }
    owner.pk(&store.lock())?;
    let (hash, size) = store_object(&store.objects_dir, local_file)?;
    record_artifact(store, owner, artifact_path, &path, &hash, size)
}

/// Records that artifact `path` of `owner` is the stored object `hash`, unless `path` clashes
/// with a file or directory it already has.
pub(super) fn record_artifact(
    store: &SqliteStore,
    owner: Owner<'_>,
    artifact_path: &str,
    path: &str,
    hash: &str,
    size: u64,
) -> Result<()> {
    let (table, column) = (owner.table(), owner.column());
    let ctx = format!(
        "recording artifact '{path}' of {} {}",
        owner.id(),
        owner.name()
    );
    let mut conn = store.lock();
    let tx = immediate(&mut conn, &ctx)?;
    let pk = owner.pk(&tx)?;
    // A path cannot be both a file and a directory.
    let mut ancestors = Vec::new();
    let mut rest = path;
    while let Some((parent, _)) = rest.rsplit_once('/') {
        ancestors.push(parent.to_string());
        rest = parent;
    }
    let conflict = {
        let mut stmt = tx
            .prepare_cached(&format!(
                "SELECT 1 FROM {table} WHERE {column} = ?1 AND path = ?2"
            ))
            .map_err(|e| db_err(ctx.clone(), e))?;
        let mut hit = None;
        for a in &ancestors {
            if stmt
                .exists(params![pk, a])
                .map_err(|e| db_err(ctx.clone(), e))?
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
                .prepare_cached(&format!(
                    "SELECT 1 FROM {table} WHERE {column} = ?1 AND path >= ?2 AND path < ?3 LIMIT 1"
                ))
                .and_then(|mut s| s.exists(params![pk, format!("{path}/"), format!("{path}0")]))
                .map_err(|e| db_err(ctx.clone(), e))?;
            under.then(|| format!("'{path}' is already a directory"))
        }
    };
    if let Some(reason) = conflict {
        return Err(TrackingError::InvalidArtifactPath {
            path: artifact_path.to_string(),
            reason: format!("{reason} in {} {}", owner.id(), owner.name()),
        });
    }
    tx.prepare_cached(&format!(
        "INSERT INTO {table} ({column}, path, hash, size) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT({column}, path) DO UPDATE SET hash = excluded.hash, size = excluded.size"
    ))
    .and_then(|mut s| {
        s.execute(params![
            pk,
            path,
            hash,
            i64::try_from(size).unwrap_or(i64::MAX)
        ])
    })
    .map_err(|e| db_err(ctx.clone(), e))?;
    commit(tx, &ctx)
}

pub(super) fn list_artifacts(
    store: &SqliteStore,
    owner: Owner<'_>,
    dir: Option<&str>,
) -> Result<Vec<FileInfo>> {
    let dir = normalize_artifact_path(dir.unwrap_or(""))?;
    let rows = {
        let conn = store.lock();
        let pk = owner.pk(&conn)?;
        artifact_rows(&conn, owner, pk, &dir)?
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

pub(super) fn download_artifact(
    store: &SqliteStore,
    owner: Owner<'_>,
    path: &str,
    dest: &Path,
) -> Result<()> {
    let norm = normalize_artifact_path(path)?;
    let rows = {
        let conn = store.lock();
        let pk = owner.pk(&conn)?;
        artifact_rows(&conn, owner, pk, &norm)?
    };
    if let Some((_, hash, _)) = rows.iter().find(|(p, _, _)| *p == norm && !norm.is_empty()) {
        return copy_object_verified(&store.objects_dir, hash, dest);
    }
    if rows.is_empty() {
        return Err(owner.not_found(path));
    }
    fs::create_dir_all(dest).map_err(|e| TrackingError::io(dest, e))?;
    let skip = if norm.is_empty() { 0 } else { norm.len() + 1 };
    for (p, hash, _) in &rows {
        let rel = p.get(skip..).unwrap_or(p.as_str());
        let mut target = dest.to_path_buf();
        target.extend(rel.split('/'));
        copy_object_verified(&store.objects_dir, hash, &target)?;
    }
    Ok(())
}
