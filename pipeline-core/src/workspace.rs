//! The workspace: its root directory and the process lock that keeps two writers (`repro`,
//! `exp run`, `add`, `gc`, …) from interleaving their writes. Paths below `.pipeline/` are the
//! [`Layout`]'s business.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::layout::{Layout, STATE_DIR};

/// Why the workspace could not be opened or locked.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// A filesystem error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Another process holds the lock and we were told not to wait.
    #[error("the workspace is locked by another process ({holder}); lock file {path}")]
    Locked {
        /// Who holds it, as it wrote itself into the lock file.
        holder: String,
        /// The lock file.
        path: PathBuf,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> WorkspaceError + '_ {
    move |source| WorkspaceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A workspace rooted at a directory.
#[derive(Clone, Debug)]
pub struct Workspace {
    layout: Layout,
}

impl Workspace {
    /// The workspace at `root` exactly.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Workspace {
            layout: Layout::new(root.into()),
        }
    }

    /// A scratch workspace at `root` that shares `main`'s caches, so what it produces lands in
    /// (and is restored from) the same object and run caches.
    pub(crate) fn sharing_caches(main: &Workspace, root: impl Into<PathBuf>) -> Self {
        Workspace {
            layout: Layout::sharing(&main.layout, root.into()),
        }
    }

    /// The nearest directory at or above `start` holding `params.toml`, `pipeline.lock` or
    /// `.pipeline/`; `start` itself when there is none, so a new project just works.
    pub fn discover(start: &Path) -> Self {
        let found = start.ancestors().find(|dir| {
            dir.join(crate::params::PARAMS_FILE).is_file()
                || dir.join(crate::lockfile::LOCK_FILE).is_file()
                || dir.join(STATE_DIR).is_dir()
        });
        Workspace::at(found.unwrap_or(start))
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        self.layout.root()
    }

    /// A workspace-relative path made absolute.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// Where things live below `.pipeline/`.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Takes the workspace lock, waiting for its holder when `wait`, after calling `on_wait`
    /// once with the holder's description.
    pub fn lock(
        &self,
        wait: bool,
        on_wait: impl FnOnce(&str),
    ) -> Result<WorkspaceLock, WorkspaceError> {
        let dir = self.layout.state_dir();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let path = self.layout.process_lock();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = if holder.trim().is_empty() {
                    "unknown process".to_string()
                } else {
                    holder.trim().to_string()
                };
                if !wait {
                    return Err(WorkspaceError::Locked { holder, path });
                }
                on_wait(&holder);
                file.lock().map_err(io_err(&path))?;
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_err(&path)(e)),
        }
        // Who holds the lock is only a courtesy for whoever waits: on a full disk (where `gc`
        // must still run) failing to write it is no reason to fail.
        let me = format!("pid {}", std::process::id());
        let _ = file
            .set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(me.as_bytes()));
        Ok(WorkspaceLock { _file: file })
    }
}

/// Held while a process writes to the workspace; released on drop (or when the process dies).
#[derive(Debug)]
pub struct WorkspaceLock {
    _file: File,
}
