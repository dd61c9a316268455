//! A remote that is a directory: a local path, a mounted share, `file://…`. Writes go through a
//! temp file in the remote's root and a rename; the remote's `lock` file is held while a
//! transfer works, and what killed transfers left there is swept when the next one starts.

use super::backend::{Backend, BackendError};
use crate::layout::{is_temp_name, TMP_PREFIX};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A directory remote, locked for the life of the value.
pub(crate) struct Directory {
    root: PathBuf,
    _lock: File,
}

fn io_error(path: &Path, e: io::Error) -> BackendError {
    match e.kind() {
        io::ErrorKind::NotFound => BackendError::NotFound,
        io::ErrorKind::PermissionDenied => BackendError::Denied(path.display().to_string()),
        _ => BackendError::Other(format!("{}: {e}", path.display())),
    }
}

impl Directory {
    /// Opens (creating it if needed) the remote at `root`, waits for its lock and sweeps.
    pub fn open(root: PathBuf) -> Result<Self, BackendError> {
        fs::create_dir_all(&root).map_err(|e| io_error(&root, e))?;
        let lock_path = root.join("lock");
        let lock = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| io_error(&lock_path, e))?;
        lock.lock().map_err(|e| io_error(&lock_path, e))?;
        for dir in [root.clone(), root.join("cache"), root.join("runs")] {
            crate::layout::sweep(&dir);
        }
        Ok(Directory { root, _lock: lock })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    fn temp(&self) -> Result<tempfile::NamedTempFile, BackendError> {
        tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .permissions(crate::atomic::default_permissions())
            .tempfile_in(&self.root)
            .map_err(|e| io_error(&self.root, e))
    }

    fn place(&self, tmp: tempfile::NamedTempFile, key: &str) -> Result<(), BackendError> {
        let dest = self.path(key);
        crate::atomic::parent_dir(&dest).map_err(|e| io_error(&dest, e))?;
        tmp.persist(&dest).map_err(|e| io_error(&dest, e.error))?;
        Ok(())
    }
}

/// Every file under `dir`, as `/`-separated paths prefixed with `prefix`; temp files left out.
fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_temp_name(&name) {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), &format!("{prefix}{name}/"), out)?;
        } else if kind.is_file() {
            out.push(format!("{prefix}{name}"));
        }
    }
    Ok(())
}

impl Backend for Directory {
    fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let mut out = Vec::new();
        let dir = self.path(prefix);
        walk(&dir, prefix, &mut out).map_err(|e| io_error(&dir, e))?;
        Ok(out)
    }

    fn get(&self, key: &str, into: &mut dyn Write) -> Result<u64, BackendError> {
        let path = self.path(key);
        let meta = fs::symlink_metadata(&path).map_err(|e| io_error(&path, e))?;
        if !meta.is_file() {
            return Err(BackendError::Other(format!(
                "{}: not a regular file",
                path.display()
            )));
        }
        let mut file = File::open(&path).map_err(|e| io_error(&path, e))?;
        io::copy(&mut file, into).map_err(|e| io_error(&path, e))
    }

    fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<(), BackendError> {
        let mut tmp = self.temp()?;
        tmp.write_all(&bytes)
            .map_err(|e| io_error(&self.path(key), e))?;
        self.place(tmp, key)
    }

    fn put_file(&self, key: &str, src: &Path) -> Result<(), BackendError> {
        let mut tmp = self.temp()?;
        let mut input = File::open(src).map_err(|e| io_error(src, e))?;
        io::copy(&mut input, tmp.as_file_mut()).map_err(|e| io_error(&self.path(key), e))?;
        self.place(tmp, key)
    }

    fn flush(&self) -> Result<(), BackendError> {
        crate::atomic::sync_filesystem(&self.root).map_err(|e| io_error(&self.root, e))
    }
}
