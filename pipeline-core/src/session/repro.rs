//! `repro` and the plan behind `status` and `repro --dry`.

use super::{Scope, Session, SessionError};
use crate::data::remote::runs::RemoteRuns;
use crate::engine::{Engine, Event, Failure, Options, Outcome, StageReport, StageStatus};
use crate::params::flat_params;
use crate::tracking::recorder::Recorder;

/// What `repro` is asked to do.
#[derive(Clone, Debug, Default)]
pub struct ReproRequest {
    /// Stages named by the user (none: all).
    pub stages: Vec<String>,
    /// Which other stages come along.
    pub scope: Scope,
    /// Run even what is up to date (`-f`).
    pub force: bool,
    /// Parallel stages at most; 0 means one per CPU.
    pub jobs: usize,
    /// Never look up stale stages in the default remote's run cache (`--no-remote`).
    pub no_remote: bool,
}

/// What a `repro` did.
#[derive(Debug)]
pub struct ReproReport {
    /// Each selected stage's outcome, in topological order.
    pub stages: Vec<StageReport>,
    /// The pipeline run recorded in the tracking store, when anything ran or was restored.
    pub run_id: Option<String>,
    /// The tracking experiment it was recorded in (the pipeline's name).
    pub experiment: String,
    /// Why the default remote's run cache could not be used, if it could not.
    pub remote_warning: Option<String>,
}

impl ReproReport {
    /// Whether nothing had to be done.
    pub fn all_up_to_date(&self) -> bool {
        self.stages
            .iter()
            .all(|r| matches!(r.result, Ok(Outcome::UpToDate | Outcome::Frozen)))
    }

    /// The stages that failed or were skipped because an upstream stage failed.
    pub fn failures(&self) -> impl Iterator<Item = &StageReport> {
        self.stages.iter().filter(|r| r.result.is_err())
    }

    /// Whether every stage completed.
    pub fn succeeded(&self) -> bool {
        self.failures().next().is_none()
    }

    /// The first stage that failed with an error (not merely skipped), as a message.
    pub fn first_error(&self) -> Option<String> {
        self.stages.iter().find_map(|r| match &r.result {
            Err(Failure::Error(e)) => Some(format!("stage `{}` failed: {e}", r.name)),
            _ => None,
        })
    }
}

impl Session {
    /// What `repro` would do for `request`, stage by stage, changing nothing: the one
    /// stale/up-to-date decision, shown by `status`, `repro --dry` and the UI.
    pub fn plan(&self, request: &ReproRequest) -> Result<Vec<StageStatus>, SessionError> {
        let params = self.params(&[])?;
        let selected = self.select(&request.stages, request.scope)?;
        let remote = self.remote_runs(request);
        let mut engine = Engine::new(&self.ws, &self.dag, &params)?;
        if let Some(remote) = &remote {
            engine = engine.with_remote(remote);
        }
        let plan = engine.plan(&selected, request.force);
        // Hashes computed on the way are worth keeping; the lock file is not touched.
        engine.finish()?;
        Ok(plan)
    }

    /// `status`: the plan of the named stages (all when none) with what they depend on.
    pub fn status(&self, stages: &[String]) -> Result<Vec<StageStatus>, SessionError> {
        self.plan(&ReproRequest {
            stages: stages.to_vec(),
            ..ReproRequest::default()
        })
    }

    /// Brings the selected stages up to date, recording the run in the tracking store.
    /// `events` sees each stage start and finish; `waiting` is called if another process
    /// holds the workspace lock. A failing stage is reported in [`ReproReport::stages`], not as
    /// an error: independent stages still complete.
    pub fn repro(
        &self,
        request: &ReproRequest,
        events: &(dyn Fn(Event) + Sync),
        waiting: &dyn Fn(&str),
    ) -> Result<ReproReport, SessionError> {
        let params = self.params(&[])?;
        let selected = self.select(&request.stages, request.scope)?;
        let _guard = self.lock(waiting)?;
        self.recover()?;
        let recorder = Recorder::new(
            self.tracking.clone(),
            self.dag.name(),
            "repro",
            "repro",
            self.ws.root(),
        );
        let remote = self.remote_runs(request);
        let mut engine = Engine::new(&self.ws, &self.dag, &params)?.with_recorder(&recorder);
        if let Some(remote) = &remote {
            engine = engine.with_remote(remote);
        }
        let options = Options {
            force: request.force,
            jobs: request.jobs,
        };
        let stages = engine.repro(&selected, &options, events);
        if let Some(remote) = &remote {
            remote.bring_pipeline_runs();
        }
        if request.stages.is_empty() {
            engine.prune_lock();
        }
        engine.finish()?;
        // Only a run that started (some stage ran or was restored) has anything to record; a
        // no-op `repro` skips reading the metrics files again.
        let mut run_id = None;
        if recorder.parent_run_id().is_some() {
            let ok = stages.iter().all(|r| r.result.is_ok());
            let snapshot = crate::compare::workspace(&self.ws, &self.dag).unwrap_or_default();
            let metrics = snapshot.metrics.into_values().flatten().collect();
            let flat = flat_params(params.sections());
            run_id = recorder.finish(ok, &flat, &metrics, &[])?;
        }
        Ok(ReproReport {
            stages,
            run_id,
            experiment: self.dag.name().to_string(),
            remote_warning: remote.and_then(|r| r.warning()),
        })
    }

    /// The default remote's run cache, unless the request turns it off.
    fn remote_runs(&self, request: &ReproRequest) -> Option<RemoteRuns> {
        (!request.no_remote).then(|| RemoteRuns::of_default(&self.ws))
    }
}
