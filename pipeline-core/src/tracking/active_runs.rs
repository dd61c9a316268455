//! Markers of the runs this workspace has open, so runs of a process that died can be marked
//! KILLED without asking the store which runs are RUNNING.
//!
//! Each open run (a pipeline or experiment run, and each stage run) has an empty-ish file
//! `.pipeline/active-runs/<pid>-<run id>`, written when the run starts and removed when it
//! ends. A later `repro` finds the markers of processes that no longer exist and marks exactly
//! those runs KILLED (if still RUNNING): one directory read when there is nothing to do, and no
//! search of the store, which against a shared MLflow server would read every team's runs.

use std::path::{Path, PathBuf};

use super::model::now_ms;
use super::target::Target;
use super::TrackingError;

fn marker_dir(root: &Path) -> PathBuf {
    crate::layout::Layout::new(root.to_path_buf()).active_runs_dir()
}

fn marker(root: &Path, run_id: &str) -> PathBuf {
    marker_dir(root).join(format!("{}-{run_id}", std::process::id()))
}

/// Notes that this process has `run_id` open. Best effort: without the marker, a crash leaves
/// the run RUNNING, which is what a store without markers shows anyway.
pub(crate) fn opened(root: &Path, run_id: &str, label: &str) {
    let _ = std::fs::create_dir_all(marker_dir(root));
    let _ = std::fs::write(marker(root, run_id), label);
}

/// Notes that this process has ended `run_id`.
pub(crate) fn closed(root: &Path, run_id: &str) {
    let _ = std::fs::remove_file(marker(root, run_id));
}

/// Marks the runs of processes that died mid-way as KILLED, if any left a marker. Costs one
/// directory read when there is nothing to do, so every `repro` can afford it.
pub fn sweep_abandoned(target: &Target, root: &Path) -> Result<(), TrackingError> {
    let Ok(entries) = std::fs::read_dir(marker_dir(root)) else {
        return Ok(());
    };
    let own = std::process::id().to_string();
    let dead: Vec<(PathBuf, String)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let (pid, run_id) = name.split_once('-')?;
            let gone = pid != own && !Path::new("/proc").join(pid).exists();
            gone.then(|| (e.path(), run_id.to_string()))
        })
        .collect();
    if dead.is_empty() {
        return Ok(());
    }
    let store = target.open()?;
    let now = now_ms();
    for (path, run_id) in dead {
        match store.kill_if_running(&run_id, now) {
            // A run the store no longer has (a deleted database) has nothing left to mark.
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}
