//! The params and metrics of a point in a project's history, for `params diff` and
//! `metrics diff`: the workspace, the last `repro` (the lock file), an experiment, or a git
//! revision (its `params.toml` and `pipeline.lock`, metrics read from the cache by hash).

use crate::cas::ContentStore;
use crate::dag::Dag;
use crate::exp::ExperimentLog;
use crate::lockfile::{LockFile, LOCK_FILE};
use crate::metrics::{self, Flat};
use crate::params::flat_params;
use crate::params::{self, PARAMS_FILE};
use crate::pipeline::OutKind;
use crate::tracking::recorder::Target;
use crate::workspace::Workspace;
use anyhow::{bail, Context as _};
use std::collections::BTreeMap;
use std::process::Command;

/// Params and metrics at one point.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// `section.key` → value text.
    pub params: BTreeMap<String, String>,
    /// Metrics file → metric → value.
    pub metrics: BTreeMap<String, Flat>,
}

/// Resolves `spec`: `workspace`, `lock`, an experiment id (or unique prefix), a tracking run id,
/// or a git revision.
pub fn resolve(
    ws: &Workspace,
    dag: &Dag,
    log: &dyn ExperimentLog,
    tracking: &Target,
    spec: &str,
) -> anyhow::Result<Snapshot> {
    match spec {
        "workspace" => workspace(ws, dag),
        "lock" => {
            let lock = LockFile::load(ws.root())?;
            Ok(from_lock(ws, dag, &lock))
        }
        _ => {
            if spec.len() == 32 && spec.bytes().all(|b| b.is_ascii_hexdigit()) {
                if let Ok(run) = tracking.open()?.get_run(spec) {
                    return Ok(Snapshot {
                        params: run.params.into_iter().map(|p| (p.key, p.value)).collect(),
                        metrics: BTreeMap::from([(
                            format!("runs:/{spec}"),
                            run.metrics.into_iter().map(|m| (m.key, m.value)).collect(),
                        )]),
                    });
                }
            }
            if spec.starts_with("exp-") {
                let record = log.get(spec)?;
                return Ok(Snapshot {
                    params: record.flat_params(),
                    metrics: record.metrics,
                });
            }
            git_revision(ws, dag, spec)
        }
    }
}

/// The workspace as it is: `params.toml` and the metrics files on disk.
pub fn workspace(ws: &Workspace, dag: &Dag) -> anyhow::Result<Snapshot> {
    let table = params::read_file(ws.root())?;
    let mut out = Snapshot {
        params: flat_params(&toml_sections(&table)),
        ..Snapshot::default()
    };
    for path in metrics_paths(dag) {
        match std::fs::read(ws.path(&path)) {
            Ok(bytes) => {
                out.metrics.insert(
                    path.clone(),
                    metrics::parse(&path, &bytes).map_err(anyhow::Error::msg)?,
                );
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {path}")),
        }
    }
    Ok(out)
}

/// What a lock file recorded: its stages' params, and metrics read from the cache.
pub fn from_lock(ws: &Workspace, dag: &Dag, lock: &LockFile) -> Snapshot {
    let mut sections = BTreeMap::new();
    for stage in lock.stages.values() {
        for (name, value) in &stage.params {
            sections.insert(name.clone(), value.clone());
        }
    }
    let store = ContentStore::new(ws.layout().objects_dir());
    let wanted = metrics_paths(dag);
    let mut metrics_by_path = BTreeMap::new();
    for stage in lock.stages.values() {
        for out in stage.outs.iter().filter(|o| wanted.contains(&o.path)) {
            if let Ok(bytes) = std::fs::read(store.object_path(&out.hash)) {
                if let Ok(flat) = metrics::parse(&out.path, &bytes) {
                    metrics_by_path.insert(out.path.clone(), flat);
                }
            }
        }
    }
    Snapshot {
        params: flat_params(&sections),
        metrics: metrics_by_path,
    }
}

/// What git says about the workspace before a revision is read from it, so that "not a git
/// repository" and "no commit yet" are said in those words rather than as a bad revision.
fn check_git(ws: &Workspace, rev: &str) -> anyhow::Result<()> {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(ws.root())
            .args(args)
            .output()
            .context("running git")
    };
    if !git(&["rev-parse", "--is-inside-work-tree"])?
        .status
        .success()
    {
        bail!(
            "`{rev}`: {} is not in a git repository, so there is no commit to compare with; \
             name a baseline instead: `lock` (the last `repro`), `workspace` or an experiment id",
            ws.root().display()
        );
    }
    if rev == "HEAD"
        && !git(&["rev-parse", "--verify", "--quiet", "HEAD"])?
            .status
            .success()
    {
        bail!(
            "`HEAD`: the git repository has no commit yet; commit once, or name a baseline \
             instead: `lock` (the last `repro`), `workspace` or an experiment id"
        );
    }
    Ok(())
}

/// A git revision: its `pipeline.lock` and `params.toml`, and its metrics files as committed
/// (when they are not committed, as the lock file's outputs read from the cache).
fn git_revision(ws: &Workspace, dag: &Dag, rev: &str) -> anyhow::Result<Snapshot> {
    check_git(ws, rev)?;
    let show = |file: &str| -> anyhow::Result<Option<String>> {
        let output = Command::new("git")
            .arg("-C")
            .arg(ws.root())
            .arg("show")
            .arg(format!("{rev}:./{file}"))
            .output()
            .context("running git")?;
        if output.status.success() {
            return Ok(Some(String::from_utf8_lossy(&output.stdout).into_owned()));
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("exists on disk, but not in") || stderr.contains("does not exist in") {
            return Ok(None);
        }
        bail!(
            "`{rev}` is neither `workspace`, `lock`, an experiment id nor a git revision: {}",
            stderr.lines().next().unwrap_or("git failed")
        )
    };
    let lock_text = show(LOCK_FILE)?;
    let mut snapshot = match lock_text {
        Some(text) => {
            let lock: LockFile =
                serde_yaml::from_str(&text).with_context(|| format!("{rev}:{LOCK_FILE}"))?;
            from_lock(ws, dag, &lock)
        }
        None => Snapshot::default(),
    };
    if let Some(text) = show(PARAMS_FILE)? {
        let table: toml::Table = text
            .parse()
            .with_context(|| format!("{rev}:{PARAMS_FILE}"))?;
        snapshot.params = flat_params(&toml_sections(&table));
    }
    for path in metrics_paths(dag) {
        if let Some(text) = show(&path)? {
            let flat = metrics::parse(&path, text.as_bytes()).map_err(anyhow::Error::msg)?;
            snapshot.metrics.insert(path, flat);
        }
    }
    Ok(snapshot)
}

fn toml_sections(table: &toml::Table) -> BTreeMap<String, serde_json::Value> {
    table
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), serde_json::to_value(v).ok()?)))
        .collect()
}

/// Every declared metrics output.
pub fn metrics_paths(dag: &Dag) -> Vec<String> {
    dag.stages()
        .iter()
        .flat_map(|s| s.outs.iter())
        .filter(|o| o.kind == OutKind::Metrics)
        .map(|o| o.path.clone())
        .collect()
}
