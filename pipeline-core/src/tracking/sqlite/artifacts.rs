//! Artifact bytes of the embedded store: content-addressed objects in a directory shared with
//! the pipeline's output cache, written through a temp file and a rename so a crash never
//! leaves a partial object under a real name, and verified against their hash when read.
//!
//! Everything that touches object files is in this file, behind [`store_object`],
//! [`copy_object_verified`] and [`object_path`], so the object layout can change (or move to a
//! shared store) without touching the database side.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{db_err, SqliteStore};
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

/// Where the object with this SHA-256 hex digest lives:
/// `objects/<first two hex chars>/<remaining 62>`.
pub(super) fn object_path(objects: &Path, hash: &str) -> PathBuf {
    match (hash.get(..2), hash.get(2..)) {
        (Some(dir), Some(rest)) if !rest.is_empty() => objects.join(dir).join(rest),
        _ => objects.join(hash),
    }
}

/// Stores a file's bytes under their hash (no-op if already present) and
/// returns `(hash, size)`.
pub(super) fn store_object(objects: &Path, local_file: &Path) -> Result<(String, u64)> {
    let mut src = File::open(local_file).map_err(|e| TrackingError::io(local_file, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".incoming-")
        .tempfile_in(objects)
        .map_err(|e| TrackingError::io(objects, e))?;
    let mut sha = Sha256::new();
    let mut size: u64 = 0;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = src
            .read(&mut buf)
            .map_err(|e| TrackingError::io(local_file, e))?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        tmp.write_all(&buf[..n])
            .map_err(|e| TrackingError::io(tmp.path(), e))?;
        size += n as u64;
    }
    let hash = to_hex(&sha.finalize());
    let dest = object_path(objects, &hash);
    if dest.is_file() {
        return Ok((hash, size));
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| TrackingError::io(tmp.path(), e))?;
    let dir = dest.parent().unwrap_or(objects).to_path_buf();
    fs::create_dir_all(&dir).map_err(|e| TrackingError::io(&dir, e))?;
    tmp.persist(&dest)
        .map_err(|e| TrackingError::io(&dest, e.error))?;
    // Make the rename itself durable; failure here only weakens crash safety.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok((hash, size))
}

/// Copies an object to `dest`, hashing on the way; a mismatch leaves
/// `dest` untouched and names the corrupt object.
pub(super) fn copy_object_verified(objects: &Path, hash: &str, dest: &Path) -> Result<()> {
    let object = object_path(objects, hash);
    let mut src = match File::open(&object) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(TrackingError::CorruptObject {
                object,
                expected: hash.to_string(),
                actual: "nothing (object file is missing)".into(),
            })
        }
        Err(e) => return Err(TrackingError::io(&object, e)),
    };
    let parent = match dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => p.to_path_buf(),
        None => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| TrackingError::io(&parent, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".download-")
        .tempfile_in(&parent)
        .map_err(|e| TrackingError::io(&parent, e))?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = src
            .read(&mut buf)
            .map_err(|e| TrackingError::io(&object, e))?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        tmp.write_all(&buf[..n])
            .map_err(|e| TrackingError::io(tmp.path(), e))?;
    }
    let actual = to_hex(&sha.finalize());
    if actual != hash {
        return Err(TrackingError::CorruptObject {
            object,
            expected: hash.to_string(),
            actual,
        });
    }
    tmp.persist(dest)
        .map_err(|e| TrackingError::io(dest, e.error))?;
    Ok(())
}

/// Lowercase hex encoding.
fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}
