//! The default remote as a run cache for `repro` and `status`: a stale stage whose fingerprint
//! the remote has run before is restored from there instead of running. Nothing is asked of the
//! remote until a stage would otherwise run, so an up-to-date `repro` never touches the network;
//! then one listing of `runs/` answers for every stage.

use super::transfer::{self, get_small, Meter};
use super::{objects_of, open, Opened, Transfer};
use crate::cas::ContentStore;
use crate::engine::run_cache::{RunCache, RunRecord, RunSource};
use crate::workspace::Workspace;
use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};

/// The default remote's run cache, opened on first use.
pub struct RemoteRuns {
    ws: Workspace,
    remote: OnceLock<Result<Opened, String>>,
    listing: OnceLock<BTreeSet<String>>,
    warning: Mutex<Option<String>>,
    /// The pipeline runs of the stage runs brought, to bring once the stages are done.
    parents: Mutex<BTreeSet<String>>,
}

impl RemoteRuns {
    /// The default remote of `ws`, if one is configured.
    /// The config is read only when a stage would otherwise run: an up-to-date `repro` or
    /// `status` reads nothing more than before remotes existed.
    pub fn of_default(ws: &Workspace) -> RemoteRuns {
        RemoteRuns {
            ws: ws.clone(),
            remote: OnceLock::new(),
            listing: OnceLock::new(),
            warning: Mutex::new(None),
            parents: Mutex::new(BTreeSet::new()),
        }
    }

    /// Why the remote could not be used, if it could not (shown once, after the fact).
    pub fn warning(&self) -> Option<String> {
        self.warning
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Brings the pipeline runs the restored stages' runs belong to, so `runs list` shows the
    /// teammate's runs. Call once every stage is done.
    pub fn bring_pipeline_runs(&self) {
        let parents: Vec<String> =
            std::mem::take(&mut *self.parents.lock().unwrap_or_else(|p| p.into_inner()))
                .into_iter()
                .collect();
        if parents.is_empty() {
            return;
        }
        let Ok(remote) = self.remote() else { return };
        let store = ContentStore::new(self.ws.layout().objects_dir());
        match super::tracking::bring_runs(&self.ws, remote, &parents, &store) {
            Ok(()) => transfer::sync_local(store.dir()),
            Err(e) => self.warn(e.to_string()),
        }
    }

    fn warn(&self, message: String) {
        let mut slot = self.warning.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(message);
    }

    fn remote(&self) -> Result<&Opened, String> {
        self.remote
            .get_or_init(|| open(&self.ws, None).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn listing(&self) -> &BTreeSet<String> {
        self.listing.get_or_init(|| {
            match super::config::default_remote(&self.ws) {
                Ok(Some(_)) => {}
                // No default remote: nothing to look up, nothing to say.
                Ok(None) => return BTreeSet::new(),
                Err(e) => {
                    self.warn(e.to_string());
                    return BTreeSet::new();
                }
            }
            let listed = self
                .remote()
                .and_then(|r| r.backend.list("runs/").map_err(|e| r.error(e).to_string()));
            match listed {
                Ok(keys) => transfer::listed_records(keys),
                Err(e) => {
                    self.warn(e);
                    BTreeSet::new()
                }
            }
        })
    }
}

impl RunSource for RemoteRuns {
    fn has(&self, fingerprint: &str) -> bool {
        self.listing().contains(fingerprint)
    }

    fn bring(
        &self,
        fingerprint: &str,
        stage: &str,
        declared: &[&str],
    ) -> Result<RunRecord, String> {
        let remote = self.remote()?;
        let fail = |e| remote.error(e).to_string();
        let key = transfer::record_key(fingerprint);
        let bytes = get_small(&*remote.backend, &key, 16 << 20).map_err(fail)?;
        let record: RunRecord = serde_json::from_slice(&bytes)
            .map_err(|e| format!("run record {key} on remote `{}`: {e}", remote.name))?;
        if !record.matches(stage, declared) {
            return Err(format!(
                "run record {key} on remote `{}` is not a run of `{stage}` with its declared outputs; not used",
                remote.name
            ));
        }
        let store = ContentStore::new(self.ws.layout().objects_dir());
        let mut t = Transfer::default();
        let meter = Meter::new(stage);
        let manifests: BTreeSet<String> = record
            .outs
            .iter()
            .filter(|o| o.dir)
            .map(|o| o.hash.clone())
            .collect();
        let jobs = remote.jobs;
        let got =
            transfer::download(remote, jobs, &store, &manifests, &meter, &mut t).and_then(|()| {
                let rest = objects_of(&store, &record.outs);
                transfer::download(remote, jobs, &store, &rest, &meter, &mut t)
            });
        meter.finish();
        got.map_err(fail)?;
        if let Some(problem) = t.problems.first() {
            return Err(problem.clone());
        }
        if !record.outs.iter().all(|o| store.contains(o)) {
            return Err(format!(
                "remote `{}` lacks some outputs of the run of `{stage}`",
                remote.name
            ));
        }
        transfer::sync_local(store.dir());
        RunCache::new(self.ws.layout().run_cache_dir())
            .put(fingerprint, &record)
            .map_err(|e| e.to_string())?;
        // The tracking run that produced these outputs comes along, so the restored stage links
        // to it; without it the restore still stands.
        match super::tracking::bring_stage_run(&self.ws, remote, fingerprint, &store) {
            Ok(Some(parent)) => {
                self.parents
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(parent);
            }
            Ok(None) => {}
            Err(e) => self.warn(e.to_string()),
        }
        Ok(record)
    }
}
