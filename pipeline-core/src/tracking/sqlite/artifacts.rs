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
            .prepare("SELECT DISTINCT hash FROM artifacts")
            .map_err(|e| db_err("listing artifact objects", e))?;
        let hashes = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<HashSet<String>>>())
            .map_err(|e| db_err("listing artifact objects", e))?;
        Ok(hashes)
    }

    /// Where the object with this SHA-256 hex digest lives:
    /// `objects_dir/<first two hex chars>/<remaining 62>`.
    pub fn object_path(&self, hash: &str) -> PathBuf {
        object_path(&self.objects_dir, hash)
    }
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
        CasError::BadManifest { object, message } => TrackingError::CorruptObject {
            object,
            expected: String::new(),
            actual: message,
        },
    }
}
