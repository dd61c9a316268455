//! Crash-safe file writes: everything the runtime owns (cache objects, lock file, state cache,
//! outputs put into the workspace) is written to a temp file in the target's directory, fsynced
//! and renamed into place, so a killed process leaves either the old file or the new one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use crate::layout::TMP_PREFIX;

/// Writes `bytes` to `path` atomically, creating parent directories.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent_dir(path)?;
    write_via(dir, path, bytes)
}

/// Like [`write`], with the temp file in `tmp_dir` (same filesystem): stores that spread files
/// over many subdirectories keep their leftovers in one place to sweep.
pub fn write_via(tmp_dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    fs::create_dir_all(tmp_dir)?;
    let dir = parent_dir(path)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .tempfile_in(tmp_dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir);
    Ok(())
}

/// Creates `path`'s parent directory and returns it.
pub fn parent_dir(path: &Path) -> io::Result<&Path> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    Ok(dir)
}

/// Makes a rename durable. Best effort: some filesystems refuse to open directories.
pub fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}
