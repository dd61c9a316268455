//! The stage fingerprint: the single list of everything that makes a stage stale. It is
//! serialized canonically (sorted keys) and hashed; `status` compares its fields one by one with
//! the lock file to explain why a stage must run.

use crate::entry::PathEntry;
use crate::hash;
use crate::lockfile::StageLock;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Every input of a stage's hash.
#[derive(Clone, Debug, Serialize)]
pub struct StageFingerprint {
    /// The stage name.
    pub name: String,
    /// The stage function's token fingerprint.
    pub code: String,
    /// Declared params sections, canonical.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Dependency path → content hash.
    pub deps: BTreeMap<String, String>,
    /// Output paths: moving an output reruns its stage.
    pub outs: Vec<String>,
}

impl StageFingerprint {
    /// The fingerprint's hash.
    pub fn digest(&self) -> String {
        hash::bytes(&serde_json::to_vec(self).unwrap_or_default())
    }

    /// The lock entry a successful run with these inputs and `outs` records.
    pub fn to_lock(&self, deps: Vec<PathEntry>, mut outs: Vec<PathEntry>) -> StageLock {
        let mut deps = deps;
        deps.sort_by(|a, b| a.path.cmp(&b.path));
        outs.sort_by(|a, b| a.path.cmp(&b.path));
        StageLock {
            fingerprint: self.digest(),
            code: self.code.clone(),
            params: self.params.clone(),
            deps,
            outs,
        }
    }

    /// Why this fingerprint differs from what the lock recorded, field by field.
    pub fn explain(&self, lock: &StageLock) -> Vec<Reason> {
        let mut reasons = Vec::new();
        if self.code != lock.code {
            reasons.push(Reason::Code);
        }
        let mut sections: Vec<&String> = self.params.keys().chain(lock.params.keys()).collect();
        sections.sort();
        sections.dedup();
        for section in sections {
            let now = self.params.get(section);
            let then = lock.params.get(section);
            if now != then {
                diff_values(section, then, now, &mut reasons);
            }
        }
        let recorded: BTreeMap<&str, &str> = lock
            .deps
            .iter()
            .map(|d| (d.path.as_str(), d.hash.as_str()))
            .collect();
        for (path, hash) in &self.deps {
            match recorded.get(path.as_str()) {
                None => reasons.push(Reason::DepAdded(path.clone())),
                Some(old) if old != hash => reasons.push(Reason::DepChanged(path.clone())),
                Some(_) => {}
            }
        }
        for path in recorded.keys() {
            if !self.deps.contains_key(*path) {
                reasons.push(Reason::DepRemoved(path.to_string()));
            }
        }
        let recorded_outs: Vec<&str> = lock.outs.iter().map(|o| o.path.as_str()).collect();
        let mut outs: Vec<&str> = self.outs.iter().map(String::as_str).collect();
        outs.sort_unstable();
        if outs != recorded_outs {
            reasons.push(Reason::OutsChanged);
        }
        if reasons.is_empty() && self.digest() != lock.fingerprint {
            reasons.push(Reason::Unexplained);
        }
        reasons
    }
}

fn diff_values(
    key: &str,
    then: Option<&serde_json::Value>,
    now: Option<&serde_json::Value>,
    out: &mut Vec<Reason>,
) {
    use serde_json::Value;
    match (then, now) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let (x, y) = (a.get(k), b.get(k));
                if x != y {
                    diff_values(&format!("{key}.{k}"), x, y, out);
                }
            }
        }
        _ => out.push(Reason::Param {
            key: key.to_string(),
            old: then.map(ToString::to_string),
            new: now.map(ToString::to_string),
        }),
    }
}

/// One reason a stage is stale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// Never ran (or its lock entry is gone).
    NeverRun,
    /// The stage function changed.
    Code,
    /// A params value changed.
    Param {
        /// `section.key`.
        key: String,
        /// The recorded value.
        old: Option<String>,
        /// The current value.
        new: Option<String>,
    },
    /// A dependency's content changed.
    DepChanged(String),
    /// A dependency was added to the stage.
    DepAdded(String),
    /// A dependency was removed from the stage.
    DepRemoved(String),
    /// A dependency is missing from the workspace.
    DepMissing(String),
    /// The declared outputs changed.
    OutsChanged,
    /// An output is missing from the workspace.
    OutMissing(String),
    /// An output differs from what the last run wrote.
    OutModified(String),
    /// An upstream stage will run first.
    Upstream(String),
    /// The stage is marked `always_run`.
    AlwaysRun,
    /// Forced with `-f`.
    Forced,
    /// The fingerprint format changed.
    Unexplained,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NeverRun => write!(f, "never ran"),
            Reason::Code => write!(f, "code changed"),
            Reason::Param { key, old, new } => write!(
                f,
                "param {key}: {} -> {}",
                old.as_deref().unwrap_or("(none)"),
                new.as_deref().unwrap_or("(none)")
            ),
            Reason::DepChanged(p) => write!(f, "dep changed: {p}"),
            Reason::DepAdded(p) => write!(f, "dep added: {p}"),
            Reason::DepRemoved(p) => write!(f, "dep removed: {p}"),
            Reason::DepMissing(p) => write!(f, "dep missing: {p}"),
            Reason::OutsChanged => write!(f, "declared outputs changed"),
            Reason::OutMissing(p) => write!(f, "output missing: {p}"),
            Reason::OutModified(p) => write!(f, "output modified: {p}"),
            Reason::Upstream(s) => write!(f, "upstream stage `{s}` changed"),
            Reason::AlwaysRun => write!(f, "always_run"),
            Reason::Forced => write!(f, "forced"),
            Reason::Unexplained => write!(f, "fingerprint changed"),
        }
    }
}
