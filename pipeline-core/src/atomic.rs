//! Crash-safe file writes: everything the runtime owns (cache objects, lock file, state cache,
//! outputs put into the workspace) is written to a temp file in the target's directory, fsynced
//! and renamed into place, so a killed process leaves either the old file or the new one. Files
//! are created with the user's umask (0644 by default), like any other program's, not with the
//! temp file's private 0600.
//!
//! Reading goes through [`read_limited`]: only regular files, at most a given size, so a lock
//! file replaced by a FIFO or a link to `/dev/urandom` is an error instead of a hang.

use std::fs::{self, File};
use std::io::{self, Read, Write};
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
        .permissions(default_permissions())
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

/// Makes everything written to the filesystem holding `dir` durable, in one call: a transfer of
/// many files syncs once at the end instead of once a file (`syncfs(2)`). Objects are verified
/// whenever they are read, so one torn by a crash before this call is found and dropped.
pub fn sync_filesystem(dir: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let handle = File::open(dir)?;
    // SAFETY: `syncfs` takes an open descriptor, which `handle` keeps open for the call.
    if unsafe { libc::syncfs(handle.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Permissions for a new file: read and write for everyone, less the process umask (which the
/// system applies when the file is created), so 0644 by default.
pub fn default_permissions() -> fs::Permissions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::Permissions::from_mode(0o666)
    }
    #[cfg(not(unix))]
    {
        fs::metadata(".")
            .map(|m| m.permissions())
            .unwrap_or_else(|_| unreachable!("the current directory has permissions"))
    }
}

/// Permissions for a new directory: 0755 by default, as for [`default_permissions`].
pub fn default_dir_permissions() -> fs::Permissions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::Permissions::from_mode(0o777)
    }
    #[cfg(not(unix))]
    {
        default_permissions()
    }
}

/// Reads the file at `path` if it is a regular file (after following links) of at most `limit`
/// bytes; `None` when it does not exist. A FIFO, device, socket or directory is refused before
/// it is opened, so reading can neither block nor run forever; the size is checked again while
/// reading, in case the file grows.
pub fn read_limited(path: &Path, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, device or directory is never read)",
        ));
    }
    let too_big = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than the {limit} bytes allowed for this file"),
        )
    };
    if meta.len() > limit {
        return Err(too_big());
    }
    let file = File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_big());
    }
    Ok(Some(bytes))
}

/// [`read_limited`] as UTF-8 text.
pub fn read_text_limited(path: &Path, limit: u64) -> io::Result<Option<String>> {
    read_limited(path, limit)?
        .map(|bytes| {
            String::from_utf8(bytes)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
        })
        .transpose()
}

/// Whether `path` (which exists, links followed) lies inside `root`.
pub fn resolves_inside(root: &Path, path: &Path) -> bool {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    path.canonicalize().is_ok_and(|p| p.starts_with(root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_small_regular_files_and_writes_with_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        write(&file, b"hello").unwrap();
        assert_eq!(read_limited(&file, 5).unwrap().unwrap(), b"hello");
        assert!(read_limited(&file, 4).is_err());
        assert!(read_limited(&dir.path().join("none"), 4).unwrap().is_none());
        assert!(read_limited(Path::new("/dev/zero"), 4).is_err());
        assert!(read_limited(dir.path(), 4).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let plain = dir.path().join("plain");
            fs::write(&plain, "x").unwrap();
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&file), mode(&plain));
        }
    }
}
