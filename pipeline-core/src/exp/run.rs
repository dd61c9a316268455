//! Running experiments: each point gets a scratch workspace under `.pipeline/exps/` that shares
//! the main workspace's caches. Stages whose fingerprint was seen before are restored from the
//! run cache instead of running; whatever runs is stored in the object cache. The scratch
//! workspace is deleted afterwards; the record keeps everything needed to apply the experiment.

use super::{new_id, ExpError, ExpRecord, RECORD_ARTIFACT};
use crate::dag::Dag;
use crate::engine::{Engine, Event, Failure, Options};
use crate::metrics;
use crate::params::ParamValues;
use crate::pipeline::{DepDef, OutKind};
use crate::tracking::model::now_ms;
use crate::tracking::recorder::{Recorder, Target};
use crate::workspace::Workspace;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// One validated point of an `exp run`.
pub struct Point {
    /// Its `-S` overrides.
    pub overrides: Vec<String>,
    /// The params they give.
    pub params: ParamValues,
}

/// Runs `points`, up to `jobs` at a time, each recorded as a tracking run. `say` receives
/// progress lines.
pub fn run_points(
    ws: &Workspace,
    dag: &Dag,
    points: Vec<Point>,
    jobs: usize,
    tracking: &Target,
    say: &(dyn Fn(String) + Sync),
) -> Result<Vec<ExpRecord>, ExpError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| ExpError::ThreadPool(e.to_string()))?;
    pool.install(|| {
        points
            .into_par_iter()
            .map(|point| run_one(ws, dag, point, tracking, say))
            .collect()
    })
}

fn run_one(
    ws: &Workspace,
    dag: &Dag,
    point: Point,
    tracking: &Target,
    say: &(dyn Fn(String) + Sync),
) -> Result<ExpRecord, ExpError> {
    let id = new_id(&point.overrides.join(" "));
    let scratch = ws.layout().exp_scratch(&id);
    let result = run_in(ws, dag, &point, &id, &scratch, tracking, say);
    let _ = fs::remove_dir_all(&scratch);
    result
}

fn run_in(
    ws: &Workspace,
    dag: &Dag,
    point: &Point,
    id: &str,
    scratch: &Path,
    tracking: &Target,
    say: &(dyn Fn(String) + Sync),
) -> Result<ExpRecord, ExpError> {
    let exp_ws = Workspace::sharing_caches(ws, scratch);
    fs::create_dir_all(scratch).map_err(io(scratch))?;
    for stage in dag.stages() {
        for dep in &stage.deps {
            if let DepDef::File(path) = dep {
                copy_into(ws.root(), scratch, path)?;
            }
        }
    }
    let created_ms = now_ms();
    let recorder = Recorder::new(tracking.clone(), dag.name(), id, "exp", ws.root());
    let run_id = recorder.ensure_started()?;
    let engine = Engine::new(&exp_ws, dag, &point.params)?.with_recorder(&recorder);
    let label = if point.overrides.is_empty() {
        id.to_string()
    } else {
        format!("{id} ({})", point.overrides.join(", "))
    };
    let events = |event: Event| match event {
        Event::Running(name, _) => say(format!("{label}: running stage `{name}`")),
        Event::CacheWarning(name, error) => {
            say(format!("{label}: warning: stage `{name}`: {error}"))
        }
        Event::Finished(..) => {}
    };
    let all = (0..dag.stages().len()).collect();
    let reports = engine.repro(
        &all,
        &Options {
            force: false,
            jobs: 1,
        },
        &events,
    );
    engine.finish()?;
    let error = reports.iter().find_map(|r| match &r.result {
        Err(Failure::Error(e)) => Some(format!("stage `{}` failed: {e}", r.name)),
        _ => None,
    });
    let mut metrics_by_path = BTreeMap::new();
    if error.is_none() {
        for stage in dag.stages() {
            for out in stage.outs.iter().filter(|o| o.kind == OutKind::Metrics) {
                let file = scratch.join(&out.path);
                let bytes = fs::read(&file).map_err(io(&file))?;
                let flat =
                    metrics::parse(&out.path, &bytes).map_err(|message| ExpError::Corrupt {
                        path: out.path.clone().into(),
                        message,
                    })?;
                metrics_by_path.insert(out.path.clone(), flat);
            }
        }
    }
    let record = ExpRecord {
        id: id.to_string(),
        run_id: Some(run_id),
        created_ms,
        overrides: point.overrides.clone(),
        params: point.params.sections().clone(),
        metrics: metrics_by_path,
        lock: engine.lock_file(),
        error,
    };
    let file = scratch.join("exp.json");
    let json = serde_json::to_vec_pretty(&record).map_err(|e| ExpError::Corrupt {
        path: file.clone(),
        message: e.to_string(),
    })?;
    fs::write(&file, json).map_err(io(&file))?;
    let metrics: BTreeMap<String, f64> = record
        .metrics
        .values()
        .flatten()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let params = record.flat_params();
    recorder.finish(
        record.error.is_none(),
        &params,
        &metrics,
        &[(file, RECORD_ARTIFACT.to_string())],
    )?;
    Ok(record)
}

/// Copies a file or directory dependency from the main workspace into the scratch one.
fn copy_into(from_root: &Path, to_root: &Path, rel: &str) -> Result<(), ExpError> {
    let from = from_root.join(rel);
    let to = to_root.join(rel);
    if !from.exists() {
        // The stage reports the missing dependency by name when it is checked.
        return Ok(());
    }
    if from.is_dir() {
        for entry in fs::read_dir(&from).map_err(io(&from))? {
            let name = entry
                .map_err(io(&from))?
                .file_name()
                .to_string_lossy()
                .into_owned();
            copy_into(from_root, to_root, &format!("{rel}/{name}"))?;
        }
        return Ok(());
    }
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    fs::copy(&from, &to).map_err(io(&to))?;
    Ok(())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExpError + '_ {
    move |source| ExpError::Io {
        path: path.to_path_buf(),
        source,
    }
}
