//! The one decision of what a stage needs ([`StageState`]), shown alike by `status`, `repro --dry`
//! and the UI: each selected stage's check without side effects, where a stage downstream of a
//! stale one is stale because of it, without hashing outputs that are about to change.

use super::{Check, Engine, StageError};
use crate::engine::fingerprint::{Reason, StageFingerprint};
use crate::pipeline::DepDef;
use crate::state::HashError;
use std::collections::{BTreeMap, BTreeSet};

/// What a stage needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StageState {
    /// Its outputs match what its inputs would produce.
    UpToDate,
    /// Stale for these reasons, and a cached run with the same fingerprint can be restored
    /// without running it.
    Restorable(Vec<Reason>),
    /// Stale for these reasons, and the default remote's run cache has a run with the same
    /// fingerprint: `repro` restores it from there without running.
    RestorableFromRemote(Vec<Reason>),
    /// Stale for these reasons: it must run.
    Stale(Vec<Reason>),
    /// Frozen: never run, not checked.
    Frozen,
    /// It could not be checked (a missing dependency, an unreadable file).
    Error(String),
}

impl StageState {
    /// From an engine check: what the stage would need, with `force` meaning `-f`.
    fn of(check: Result<Check, StageError>, force: bool, always_run: bool) -> StageState {
        match check {
            Err(error) => StageState::Error(error.to_string()),
            Ok(check) if check.reasons.is_empty() && !force => StageState::UpToDate,
            Ok(mut check) => {
                if force {
                    check.reasons.push(Reason::Forced);
                }
                if check.cached.is_some() && !force && !always_run {
                    StageState::Restorable(check.reasons)
                } else if check.remote && !force && !always_run {
                    StageState::RestorableFromRemote(check.reasons)
                } else {
                    StageState::Stale(check.reasons)
                }
            }
        }
    }

    /// Why the stage is not up to date (empty when it is, or frozen, or in error).
    pub fn reasons(&self) -> &[Reason] {
        match self {
            StageState::Restorable(reasons)
            | StageState::RestorableFromRemote(reasons)
            | StageState::Stale(reasons) => reasons,
            _ => &[],
        }
    }

    /// Whether `repro` would do something for it.
    pub fn is_stale(&self) -> bool {
        matches!(
            self,
            StageState::Restorable(_) | StageState::RestorableFromRemote(_) | StageState::Stale(_)
        )
    }

    /// A short label for people: `up to date`, `restorable`, `stale`, `frozen`, `error`.
    pub fn label(&self) -> &'static str {
        match self {
            StageState::UpToDate => "up to date",
            StageState::Restorable(_) => "restorable",
            StageState::RestorableFromRemote(_) => "restorable from remote",
            StageState::Stale(_) => "stale",
            StageState::Frozen => "frozen",
            StageState::Error(_) => "error",
        }
    }
}

/// One stage's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageStatus {
    /// The stage's index in the graph.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// What it needs.
    pub state: StageState,
}

impl Engine<'_> {
    /// The state of every stage of `selected`, in topological order, without changing
    /// anything; `force` says what `repro -f` would do.
    pub fn plan(&self, selected: &BTreeSet<usize>, force: bool) -> Vec<StageStatus> {
        let mut checks: BTreeMap<usize, Result<Check, StageError>> =
            self.checks(selected).into_iter().collect();
        self.dag
            .order()
            .iter()
            .filter(|i| selected.contains(i))
            .map(|&i| {
                let stage = self.dag.stage(i);
                let state = match checks.remove(&i) {
                    None => StageState::Frozen,
                    Some(check) => StageState::of(check, force, stage.always_run),
                };
                StageStatus {
                    index: i,
                    name: stage.name.clone(),
                    state,
                }
            })
            .collect()
    }

    /// The checks of `selected` without changing anything: a stage downstream of a stale one
    /// is stale because of it, without hashing outputs that are about to change.
    fn checks(&self, selected: &BTreeSet<usize>) -> Vec<(usize, Result<Check, StageError>)> {
        let mut stale: Vec<bool> = vec![false; self.dag.stages().len()];
        let mut out = Vec::new();
        for &i in self.dag.order() {
            if !selected.contains(&i) {
                continue;
            }
            let stage = self.dag.stage(i);
            if stage.frozen {
                continue;
            }
            let upstream = self
                .dag
                .upstream(i)
                .iter()
                .find(|&&u| stale[u])
                .map(|&u| self.dag.stage(u).name.clone());
            let result = match self.check(i) {
                Ok(mut check) => {
                    if let Some(up) = upstream {
                        check
                            .reasons
                            .retain(|r| !matches!(r, Reason::DepChanged(_)));
                        check.reasons.insert(0, Reason::Upstream(up));
                        // What the stage will see depends on what upstream produces.
                        check.cached = None;
                    }
                    Ok(check)
                }
                Err(StageError::Dep(HashError::Missing(path))) if is_output_dep(stage, &path) => {
                    upstream.map_or_else(
                        || Err(StageError::Dep(HashError::Missing(path.clone()))),
                        |up| Ok(placeholder(stage.name.clone(), Reason::Upstream(up))),
                    )
                }
                Err(e) => Err(e),
            };
            stale[i] = !matches!(&result, Ok(c) if c.reasons.is_empty());
            out.push((i, result));
        }
        out
    }
}

fn is_output_dep(stage: &crate::pipeline::StageDef, path: &str) -> bool {
    stage
        .deps
        .iter()
        .any(|d| matches!(d, DepDef::Output { path: p, .. } if p == path))
}

fn placeholder(name: String, reason: Reason) -> Check {
    Check {
        fingerprint: StageFingerprint {
            name,
            code: String::new(),
            params: BTreeMap::new(),
            deps: BTreeMap::new(),
            outs: Vec::new(),
        },
        deps: Vec::new(),
        reasons: vec![reason],
        cached: None,
        remote: false,
    }
}
