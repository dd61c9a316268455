//! Artifact bytes of the embedded store live in the workspace's one content store
//! ([`crate::cas`]), beside pipeline outputs and versioned data: the same temp names, the same
//! sweep, the same verification on the way out. This file adapts its errors to the tracking ones.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{db_err, SqliteStore};
use crate::cas::{CasError, ContentStore};
use crate::tracking::error::{Result, TrackingError};

impl SqliteStore {
    /// Every object hash an artifact refers to: what `gc` must keep in a shared cache.
    pub fn artifact_hashes(&self) -> Result<HashSet<String>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT hash FROM artifacts UNION SELECT hash FROM logged_model_artifacts")
            .map_err(|e| db_err("listing artifact objects", e))?;
        let hashes = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<HashSet<String>>>())
            .map_err(|e| db_err("listing artifact objects", e))?;
        Ok(hashes)
    }

    /// [`artifact_hashes`](Self::artifact_hashes) of the database at `db_path` without opening
    /// it for writing: no WAL switch, no migration, no file created where avoidable, so `gc`
    /// can free space on a full disk. When SQLite cannot even set up its shared memory for a
    /// read, and the database has no write-ahead log pending, it is read as immutable.
    pub fn read_artifact_hashes(db_path: &Path) -> Result<HashSet<String>> {
        use rusqlite::{Connection, OpenFlags};
        let query = |conn: &Connection| -> rusqlite::Result<HashSet<String>> {
            let mut hashes = HashSet::new();
            // An older database may lack either table.
            for table in ["artifacts", "logged_model_artifacts"] {
                let present: i64 = conn.query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    [table],
                    |r| r.get(0),
                )?;
                if present == 0 {
                    continue;
                }
                let mut stmt = conn.prepare(&format!("SELECT DISTINCT hash FROM {table}"))?;
                for hash in stmt.query_map([], |r| r.get::<_, String>(0))? {
                    hashes.insert(hash?);
                }
            }
            Ok(hashes)
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let first = Connection::open_with_flags(db_path, flags).and_then(|conn| {
            conn.busy_timeout(super::BUSY_TIMEOUT)?;
            query(&conn)
        });
        let context = || format!("reading artifact objects of {}", db_path.display());
        match first {
            Ok(hashes) => Ok(hashes),
            Err(e) => {
                let mut wal = db_path.as_os_str().to_owned();
                wal.push("-wal");
                let pending = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
                if pending {
                    return Err(db_err(context(), e));
                }
                let uri = format!("file:{}?immutable=1", uri_path(db_path));
                Connection::open_with_flags(uri, flags)
                    .and_then(|conn| query(&conn))
                    .map_err(|e| db_err(context(), e))
            }
        }
    }

    /// Where the object with this SHA-256 hex digest lives:
    /// `objects_dir/<first two hex chars>/<remaining 62>`.
    pub fn object_path(&self, hash: &str) -> PathBuf {
        object_path(&self.objects_dir, hash)
    }
}

/// `path` percent-encoded for a `file:` URI.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for byte in path.as_os_str().as_encoded_bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                out.push(*byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn content_store(objects: &Path) -> ContentStore {
    ContentStore::new(objects.to_path_buf())
}

/// Where the object with this hash lives in the shared content store.
pub(super) fn object_path(objects: &Path, hash: &str) -> PathBuf {
    content_store(objects).object_path(hash)
}

/// Stores a file's bytes under their hash (no-op if already present) and returns
/// `(hash, size)`.
pub(super) fn store_object(objects: &Path, local_file: &Path) -> Result<(String, u64)> {
    content_store(objects)
        .write_file(local_file)
        .map_err(|e| from_cas(objects, e))
}

/// Copies an object to `dest`, verified on the way; a mismatch leaves `dest` untouched, names
/// the object, and removes it from the store so it never spreads.
pub(super) fn copy_object_verified(objects: &Path, hash: &str, dest: &Path) -> Result<()> {
    content_store(objects)
        .copy_to(hash, hash, dest)
        .map_err(|e| from_cas(objects, e))
}

fn from_cas(objects: &Path, error: CasError) -> TrackingError {
    match error {
        CasError::Io { path, source } => TrackingError::io(&path, source),
        CasError::Missing { hash, .. } => TrackingError::CorruptObject {
            object: object_path(objects, &hash),
            expected: hash,
            actual: "nothing (object file is missing)".into(),
        },
        // `copy_object_verified` names the object by its hash.
        CasError::Corrupt {
            object,
            path: expected,
            actual,
        } => TrackingError::CorruptObject {
            object,
            expected,
            actual,
        },
        CasError::BadHash { path, problem } => {
            TrackingError::InvalidArgument(format!("artifact `{path}`: {problem}"))
        }
        CasError::BadManifest { object, message } => TrackingError::CorruptObject {
            object,
            expected: String::new(),
            actual: message,
        },
    }
}
