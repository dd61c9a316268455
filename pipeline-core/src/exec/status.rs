//! Status without side effects: each selected stage's check, where a stage downstream of a stale
//! one is reported stale because of it, without hashing outputs that are about to change.

use super::{Check, Engine, StageError};
use crate::fingerprint::{Reason, StageFingerprint};
use crate::pipeline::DepDef;
use crate::state::HashError;
use std::collections::{BTreeMap, BTreeSet};

impl Engine<'_> {
    /// The statuses of `selected` without changing anything: a stage downstream of a stale one
    /// is stale because of it, without hashing outputs that are about to change.
    pub fn status(&self, selected: &BTreeSet<usize>) -> Vec<(usize, Result<Check, StageError>)> {
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
    }
}
