//! Bringing outputs up to date. For each selected stage, in dependency order and in parallel
//! where the graph allows: hash its dependencies, build its fingerprint, then skip it (up to
//! date), restore its outputs from the cache (seen before), or run it and store what it wrote.
//!
//! Order of writes for a stage that runs, so that a kill at any point is harmless: outputs are
//! written to a staging area → copied into the object cache → the run cache records them → they
//! are renamed into the workspace → the lock file is rewritten. Each step is atomic, and each
//! later step can be redone from the earlier ones.

pub(crate) mod fingerprint;
mod outputs;
mod plan;
pub(crate) mod run_cache;
pub mod scheduler;

pub use plan::{StageState, StageStatus};

use crate::cas::{CasError, ContentStore};
use crate::context::StageContext;
use crate::dag::Dag;
use crate::engine::fingerprint::{Reason, StageFingerprint};
use crate::engine::run_cache::{RunCache, RunRecord, RunSource};
use crate::entry::PathEntry;
use crate::lockfile::{LockError, LockFile};
use crate::params::ParamValues;
use crate::state::{HashError, StateCache};
use crate::tracking::recorder::Recorder;
use crate::tracking::TrackingError;
use crate::workspace::Workspace;
use scheduler::Finished;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why a stage could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// A dependency could not be hashed.
    #[error("dependency {0}")]
    Dep(#[source] HashError),
    /// The stage function returned an error.
    #[error("{0:#}")]
    Failed(anyhow::Error),
    /// The stage function panicked.
    #[error("panicked: {0}")]
    Panicked(String),
    /// The stage finished without writing a declared output.
    #[error("did not write its output `{0}`")]
    OutputNotWritten(String),
    /// Storing or restoring outputs failed.
    #[error(transparent)]
    Cache(#[from] CasError),
    /// Writing the lock file or run cache failed.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// Recording the run in the tracking store failed.
    #[error("tracking: {0}")]
    Tracking(#[from] TrackingError),
    /// Another filesystem error.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// What happened to a stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to do.
    UpToDate,
    /// Outputs restored from the cache without running.
    Restored,
    /// The stage ran.
    Ran,
    /// The stage is frozen and was not checked.
    Frozen,
}

/// What the engine knows about one stage before deciding.
#[derive(Clone, Debug)]
pub struct Check {
    /// The stage's fingerprint inputs.
    pub fingerprint: StageFingerprint,
    /// Its hashed dependencies.
    pub deps: Vec<PathEntry>,
    /// Why it must be brought up to date; empty when it is.
    pub reasons: Vec<Reason>,
    /// A cached run with this fingerprint whose objects are all present.
    pub cached: Option<RunRecord>,
    /// Whether the remote run cache has a run with this fingerprint (asked only when the local
    /// cache has none).
    pub remote: bool,
}

/// Options of `repro`.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Run the selected stages even when up to date (`-f`).
    pub force: bool,
    /// Parallel stages at most (`-j`); 0 means one per CPU.
    pub jobs: usize,
}

/// A stage's progress, as the engine reports it.
#[derive(Debug)]
pub enum Event<'a> {
    /// The stage is about to run, for these reasons.
    Running(&'a str, &'a [Reason]),
    /// The stage finished.
    Finished(&'a str, &'a Outcome, Duration),
    /// A cached run was unusable (a corrupt object, a remote that failed); the stage will run
    /// instead.
    CacheWarning(&'a str, &'a str),
}

/// The outcome of one stage in a `repro`.
#[derive(Debug)]
pub struct StageReport {
    /// The stage.
    pub name: String,
    /// What happened, or why it did not complete.
    pub result: Result<Outcome, Failure>,
}

/// Why a stage did not complete.
#[derive(Debug)]
pub enum Failure {
    /// It failed with this error.
    Error(String),
    /// It did not start because this upstream stage failed.
    Skipped(String),
}

impl std::fmt::Display for StageReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = &self.name;
        match &self.result {
            Ok(outcome) => write!(f, "stage `{name}`: {outcome:?}"),
            Err(Failure::Error(error)) => write!(f, "stage `{name}` failed: {error}"),
            Err(Failure::Skipped(up)) => {
                write!(f, "stage `{name}` skipped: upstream stage `{up}` failed")
            }
        }
    }
}

/// The engine for one workspace and pipeline.
pub struct Engine<'a> {
    ws: &'a Workspace,
    dag: &'a Dag,
    params: &'a ParamValues,
    state: StateCache,
    store: ContentStore,
    runs: RunCache,
    lockfile: Mutex<LockState>,
    recorder: Option<&'a Recorder>,
    remote: Option<&'a dyn RunSource>,
}

/// The lock file in memory, and when it was last written. Writes are spaced out: each one
/// rewrites the whole file, and the run cache already makes a lagging lock file harmless after
/// a kill, since the next `repro` restores instead of rerunning.
struct LockState {
    file: LockFile,
    dirty: bool,
    saved: Instant,
}

/// How stale the lock file on disk may get during a `repro`.
const LOCK_SAVE_INTERVAL: Duration = Duration::from_millis(200);

impl<'a> Engine<'a> {
    /// Loads the lock file and caches of `ws`.
    pub fn new(
        ws: &'a Workspace,
        dag: &'a Dag,
        params: &'a ParamValues,
    ) -> Result<Self, LockError> {
        Ok(Engine {
            ws,
            dag,
            params,
            state: StateCache::load(&ws.layout().state_cache()),
            store: ContentStore::new(ws.layout().objects_dir()),
            runs: RunCache::new(ws.layout().run_cache_dir()),
            lockfile: Mutex::new(LockState {
                file: LockFile::load(ws.root())?,
                dirty: false,
                saved: Instant::now(),
            }),
            recorder: None,
            remote: None,
        })
    }

    /// Looks up stale stages in `remote` when the local run cache has no run for them.
    pub fn with_remote(mut self, remote: &'a dyn RunSource) -> Self {
        self.remote = Some(remote);
        self
    }

    /// Records every stage that runs or is restored with `recorder`.
    pub fn with_recorder(mut self, recorder: &'a Recorder) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// The lock file as currently held.
    pub fn lock_file(&self) -> LockFile {
        guard(&self.lockfile).file.clone()
    }

    /// Hashes stage `i`'s dependencies and compares with the lock file.
    pub fn check(&self, i: usize) -> Result<Check, StageError> {
        let stage = self.dag.stage(i);
        let root = self.ws.root();
        let mut deps = Vec::with_capacity(stage.deps.len());
        for dep in &stage.deps {
            deps.push(
                self.state
                    .hash_path(root, dep.path())
                    .map_err(StageError::Dep)?,
            );
        }
        let fingerprint = StageFingerprint {
            name: stage.name.clone(),
            code: stage.code.clone(),
            params: self
                .params
                .subset(stage.params.iter().map(|p| p.name.as_str())),
            deps: deps
                .iter()
                .map(|d| (d.path.clone(), d.hash.clone()))
                .collect(),
            outs: stage.outs.iter().map(|o| o.path.clone()).collect(),
        };
        let digest = fingerprint.digest();
        let locked = guard(&self.lockfile).file.stages.get(&stage.name).cloned();
        let mut reasons = Vec::new();
        match &locked {
            None => reasons.push(Reason::NeverRun),
            Some(entry) if entry.fingerprint != digest => reasons = fingerprint.explain(entry),
            Some(entry) => {
                for out in &entry.outs {
                    match self.state.hash_path(root, &out.path) {
                        Ok(now) if now.hash == out.hash => {}
                        Ok(_) => reasons.push(Reason::OutModified(out.path.clone())),
                        Err(HashError::Missing(_)) => {
                            reasons.push(Reason::OutMissing(out.path.clone()))
                        }
                        Err(e) => return Err(StageError::Dep(e)),
                    }
                }
            }
        }
        if stage.always_run {
            reasons.push(Reason::AlwaysRun);
        }
        let from_lock = locked
            .filter(|entry| entry.fingerprint == digest)
            .map(|entry| RunRecord {
                stage: stage.name.clone(),
                outs: entry.outs,
            });
        // An always_run stage is never replayed from the cache.
        let declared: Vec<&str> = stage.outs.iter().map(|o| o.path.as_str()).collect();
        let cached = self
            .runs
            .get(&digest, &stage.name, &declared)
            .or(from_lock.filter(|r| r.matches(&stage.name, &declared)))
            .filter(|_| !stage.always_run)
            .filter(|record| record.outs.iter().all(|o| self.store.contains(o)));
        let remote = cached.is_none()
            && !reasons.is_empty()
            && !stage.always_run
            && self.remote.is_some_and(|r| r.has(&digest));
        Ok(Check {
            fingerprint,
            deps,
            reasons,
            cached,
            remote,
        })
    }

    /// Brings stage `i` up to date.
    pub fn process(
        &self,
        i: usize,
        options: &Options,
        events: &(dyn Fn(Event) + Sync),
    ) -> Result<Outcome, StageError> {
        let stage = self.dag.stage(i);
        if stage.frozen {
            return Ok(Outcome::Frozen);
        }
        let mut check = self.check(i)?;
        if options.force {
            check.reasons.push(Reason::Forced);
        }
        if check.reasons.is_empty() {
            // The fingerprint matched, so the inputs are what the lock entry was written for; its
            // recorded dependency hashes may still have been edited by hand: rewrite them from
            // what was just hashed.
            let outs = guard(&self.lockfile)
                .file
                .stages
                .get(&stage.name)
                .map(|entry| entry.outs.clone());
            if let Some(outs) = outs {
                self.record(&check, outs)?;
            }
            return Ok(Outcome::UpToDate);
        }
        let replayable = !options.force && !stage.always_run;
        if let (true, None, true, Some(remote)) =
            (replayable, &check.cached, check.remote, self.remote)
        {
            let declared: Vec<&str> = stage.outs.iter().map(|o| o.path.as_str()).collect();
            match remote.bring(&check.fingerprint.digest(), &stage.name, &declared) {
                Ok(record) => check.cached = Some(record),
                Err(e) => events(Event::CacheWarning(&stage.name, &e)),
            }
        }
        if let (true, Some(record)) = (replayable, &check.cached) {
            let started = Instant::now();
            match self.restore(record) {
                Ok(()) => {
                    self.record(&check, record.outs.clone())?;
                    if let Some(recorder) = self.recorder {
                        recorder.restored(&stage.name, &check.fingerprint.digest())?;
                    }
                    events(Event::Finished(
                        &stage.name,
                        &Outcome::Restored,
                        started.elapsed(),
                    ));
                    return Ok(Outcome::Restored);
                }
                Err(StageError::Cache(e)) => {
                    events(Event::CacheWarning(&stage.name, &e.to_string()))
                }
                Err(e) => return Err(e),
            }
        }
        events(Event::Running(&stage.name, &check.reasons));
        let started = Instant::now();
        let outs = self.run(i, &check)?;
        self.record(&check, outs)?;
        events(Event::Finished(
            &stage.name,
            &Outcome::Ran,
            started.elapsed(),
        ));
        Ok(Outcome::Ran)
    }

    /// Puts every output of `record` that differs back from the cache.
    fn restore(&self, record: &RunRecord) -> Result<(), StageError> {
        let root = self.ws.root();
        for out in &record.outs {
            let same =
                matches!(self.state.hash_path(root, &out.path), Ok(now) if now.hash == out.hash);
            if !same {
                self.store.restore(root, out, &self.state)?;
            }
        }
        Ok(())
    }

    /// Runs the stage function in a staging area, then caches and places its outputs.
    fn run(&self, i: usize, check: &Check) -> Result<Vec<PathEntry>, StageError> {
        let stage = self.dag.stage(i);
        let tmp = self.ws.layout().staging_dir();
        fs::create_dir_all(&tmp).map_err(|source| StageError::Io {
            path: tmp.display().to_string(),
            source,
        })?;
        let staging = tempfile::Builder::new()
            .prefix(&format!("{}-", stage.name))
            .tempdir_in(&tmp)
            .map_err(|source| StageError::Io {
                path: tmp.display().to_string(),
                source,
            })?;
        let run_id = match self.recorder {
            Some(recorder) => {
                let params = crate::params::flat_params(&check.fingerprint.params);
                Some(recorder.start_stage(&stage.name, &check.fingerprint.digest(), &params)?)
            }
            None => None,
        };
        let mut ctx = StageContext::new(&stage.name, self.ws.root(), staging.path())
            .with_run(run_id.clone())
            .with_reads(self.reads(stage));
        let result = panic::catch_unwind(AssertUnwindSafe(|| (stage.run)(&mut ctx, self.params)));
        let outcome = match result {
            Ok(Ok(())) => self.store_outputs(i, staging.path()),
            Ok(Err(error)) => Err(StageError::Failed(error)),
            Err(payload) => Err(StageError::Panicked(crate::panics::describe(
                payload.as_ref(),
            ))),
        };
        // The tracking writes come before anything reaches the workspace: if they fail, the
        // previous outputs and lock entry stay as they were.
        let outcome = match (self.recorder, &run_id, outcome) {
            (Some(recorder), Some(run_id), Ok(entries)) => {
                let (metrics, artifacts) = self.reported_outputs(i, staging.path());
                let data: Vec<(String, String)> = check
                    .deps
                    .iter()
                    .map(|d| (d.path.clone(), d.hash.clone()))
                    .collect();
                match recorder.finish_stage(run_id, ctx.take_log(), &metrics, &artifacts, &data) {
                    Ok(()) => Ok(entries),
                    Err(error) => {
                        let error = StageError::Tracking(error);
                        recorder.fail_stage(run_id, &error.to_string());
                        Err(error)
                    }
                }
            }
            (Some(recorder), Some(run_id), Err(error)) => {
                recorder.fail_stage(run_id, &error.to_string());
                Err(error)
            }
            (_, _, outcome) => outcome,
        };
        let entries = outcome?;
        self.commit_outputs(i, check, staging.path(), &entries)?;
        Ok(entries)
    }

    /// What `stage` may read: its declared dependencies; every output, to name a producer.
    fn reads(&self, stage: &crate::pipeline::StageDef) -> crate::context::Reads {
        crate::context::Reads {
            deps: stage.deps.iter().map(|d| d.path().to_string()).collect(),
            outputs: self
                .dag
                .stages()
                .iter()
                .flat_map(|s| {
                    s.outs
                        .iter()
                        .map(move |o| (o.path.clone(), s.name.clone(), o.name.clone()))
                })
                .collect(),
        }
    }

    /// Writes the stage's new lock entry.
    fn record(&self, check: &Check, outs: Vec<PathEntry>) -> Result<(), StageError> {
        let entry = check.fingerprint.to_lock(check.deps.clone(), outs);
        let mut state = guard(&self.lockfile);
        if state.file.stages.get(&check.fingerprint.name) != Some(&entry) {
            state
                .file
                .stages
                .insert(check.fingerprint.name.clone(), entry);
            state.dirty = true;
        }
        if state.dirty && state.saved.elapsed() >= LOCK_SAVE_INTERVAL {
            state.file.save(self.ws.root())?;
            state.dirty = false;
            state.saved = Instant::now();
        }
        Ok(())
    }

    /// Drops lock entries of stages the pipeline no longer has.
    pub fn prune_lock(&self) {
        let known: BTreeSet<&str> = self.dag.stages().iter().map(|s| s.name.as_str()).collect();
        let mut state = guard(&self.lockfile);
        let before = state.file.stages.len();
        state
            .file
            .stages
            .retain(|name, _| known.contains(name.as_str()));
        if state.file.stages.len() != before {
            state.dirty = true;
        }
    }

    /// Writes what is pending: the lock file, then the state cache (a lost state cache only
    /// costs rehashing).
    pub fn finish(&self) -> Result<(), LockError> {
        let mut state = guard(&self.lockfile);
        if state.dirty {
            state.file.save(self.ws.root())?;
            state.dirty = false;
        }
        drop(state);
        let _ = self.state.save();
        let _ = fs::remove_dir(self.ws.layout().staging_dir());
        Ok(())
    }

    /// Brings `selected` up to date, in parallel where the graph allows.
    pub fn repro(
        &self,
        selected: &BTreeSet<usize>,
        options: &Options,
        events: &(dyn Fn(Event) + Sync),
    ) -> Vec<StageReport> {
        let jobs = if options.jobs == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            options.jobs
        };
        let finished = scheduler::run(self.dag, selected, jobs, |i| {
            self.process(i, options, events)
        });
        let mut reports: BTreeMap<usize, StageReport> = BTreeMap::new();
        for (i, finished) in finished {
            let name = self.dag.stage(i).name.clone();
            let result = match finished {
                Finished::Done(Ok(outcome)) => Ok(outcome),
                Finished::Done(Err(error)) => Err(Failure::Error(error.to_string())),
                Finished::Skipped(upstream) => Err(Failure::Skipped(upstream)),
            };
            reports.insert(i, StageReport { name, result });
        }
        self.dag
            .order()
            .iter()
            .filter_map(|i| reports.remove(i))
            .collect()
    }
}

fn guard<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
