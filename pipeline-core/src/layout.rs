//! Where everything the runtime keeps lives, and how its temp files are named. No other module
//! joins a path below `.pipeline/` or invents a temp-file name: that way one [`sweep`] finds
//! every leftover of a killed process, whichever writer left it.

use std::fs;
use std::path::{Path, PathBuf};

/// The directory the runtime owns inside a workspace.
pub const STATE_DIR: &str = ".pipeline";

/// Every temp file or directory the runtime creates starts with this, so that leftovers of a
/// killed process can be recognised and swept without touching anything of the user's.
pub const TMP_PREFIX: &str = ".pipeline-tmp-";

/// The paths of one workspace's `.pipeline/`.
///
/// `shared` is where the content store, the run cache and experiment records live: the
/// workspace's own `.pipeline/`, or the main workspace's for an experiment running in a scratch
/// workspace, so what an experiment produces lands in (and is restored from) the same caches.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
    shared: PathBuf,
}

impl Layout {
    /// The layout of the workspace at `root`.
    pub(crate) fn new(root: PathBuf) -> Self {
        let shared = root.join(STATE_DIR);
        Layout { root, shared }
    }

    /// A scratch workspace's layout that shares `main`'s caches.
    pub(crate) fn sharing(main: &Layout, root: PathBuf) -> Self {
        Layout {
            root,
            shared: main.shared.clone(),
        }
    }

    /// The workspace root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `.pipeline/` of this workspace.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    /// `.pipeline/cache/`: the content-addressed objects.
    pub fn objects_dir(&self) -> PathBuf {
        self.shared.join("cache")
    }

    /// `.pipeline/runs/`: the run cache, fingerprint → outputs.
    pub fn run_cache_dir(&self) -> PathBuf {
        self.shared.join("runs")
    }

    /// `.pipeline/exps/`: scratch workspaces of running experiments.
    pub fn exps_dir(&self) -> PathBuf {
        self.shared.join("exps")
    }

    /// `.pipeline/tmp/`: staging areas of running stages.
    pub fn staging_dir(&self) -> PathBuf {
        self.state_dir().join("tmp")
    }

    /// `.pipeline/lock`: held by the process writing to the workspace.
    pub fn process_lock(&self) -> PathBuf {
        self.state_dir().join("lock")
    }

    /// `.pipeline/state.json`: the state cache, (path, size, mtime, inode) → hash.
    pub fn state_cache(&self) -> PathBuf {
        self.state_dir().join("state.json")
    }

    /// `.pipeline/tracking.db`: the embedded tracking store.
    pub fn tracking_db(&self) -> PathBuf {
        self.state_dir().join("tracking.db")
    }

    /// `.pipeline/active-runs/`: a marker per tracking run this workspace has open.
    pub fn active_runs_dir(&self) -> PathBuf {
        self.state_dir().join("active-runs")
    }

    /// `.pipeline/config.toml`: remotes.
    pub fn config_file(&self) -> PathBuf {
        self.state_dir().join("config.toml")
    }

    /// A scratch workspace for an experiment of this process: the pid in the name lets a later
    /// process tell a dead owner's leftovers from a running one's.
    pub(crate) fn exp_scratch(&self, id: &str) -> PathBuf {
        self.exps_dir()
            .join(format!("{TMP_PREFIX}{}-{id}", std::process::id()))
    }

    /// Removes what killed processes left behind in the places the runtime writes: staging
    /// areas, temp files in the caches, in `.pipeline/`, at the root and in `output_dirs` (the
    /// directories holding declared outputs and versioned data), and scratch workspaces of
    /// experiments whose process is gone. Only call it while holding the workspace lock: a
    /// running process's temp files look the same.
    pub(crate) fn sweep(&self, output_dirs: impl IntoIterator<Item = PathBuf>) {
        let _ = fs::remove_dir_all(self.staging_dir());
        let mut dirs: std::collections::BTreeSet<PathBuf> = output_dirs.into_iter().collect();
        dirs.extend([
            self.objects_dir(),
            self.run_cache_dir(),
            self.state_dir(),
            self.root.clone(),
        ]);
        for dir in dirs {
            sweep(&dir);
        }
        self.sweep_exp_scratch();
    }

    /// Removes scratch workspaces of experiment processes that died; those of running processes
    /// (this one included) are left alone.
    fn sweep_exp_scratch(&self) {
        let Ok(entries) = fs::read_dir(self.exps_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(TMP_PREFIX) else {
                continue;
            };
            let pid = rest.split('-').next().unwrap_or_default();
            if !pid.is_empty() && !process_alive(pid) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Whether the process with this pid runs on this machine.
pub(crate) fn process_alive(pid: &str) -> bool {
    pid == std::process::id().to_string() || Path::new("/proc").join(pid).exists()
}

/// Whether a file name is one of the runtime's temp names.
pub(crate) fn is_temp_name(name: &str) -> bool {
    name.starts_with(TMP_PREFIX)
}

/// Removes leftovers of killed processes directly inside `dir`.
pub(crate) fn sweep(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if is_temp_name(&entry.file_name().to_string_lossy()) {
            let path = entry.path();
            let _ = fs::remove_dir_all(&path).or_else(|_| fs::remove_file(&path));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_temp_files_and_only_scratch_of_dead_processes() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().to_path_buf());
        let exps = layout.exps_dir();
        let mine = layout.exp_scratch("exp-1");
        let dead = exps.join(format!("{TMP_PREFIX}{}-exp-2", u32::MAX));
        let other = exps.join("keep-me");
        for d in [&mine, &dead, &other, &layout.objects_dir()] {
            fs::create_dir_all(d).unwrap();
        }
        let leftover = layout.objects_dir().join(format!("{TMP_PREFIX}x"));
        let users = dir.path().join("data.csv");
        fs::write(&leftover, "partial").unwrap();
        fs::write(&users, "mine").unwrap();
        layout.sweep([]);
        assert!(mine.exists() && other.exists() && !dead.exists());
        assert!(!leftover.exists() && users.exists());
    }
}
