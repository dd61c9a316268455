//! The attribute keys `#[stage(...)]` understands, named once so that parsing, error messages and
//! the "unknown key" hint cannot drift apart.

/// Files or stage outputs the stage reads.
pub const DEPS: &str = "deps";
/// Files the stage writes, cached and restored by content hash.
pub const OUTS: &str = "outs";
/// Outputs that are metrics files (JSON), shown by `metrics show`.
pub const METRICS: &str = "metrics";
/// Outputs that are plots, rendered by `plots show`.
pub const PLOTS: &str = "plots";
/// Sections of `params.toml` the stage is bound to.
pub const PARAMS: &str = "params";
/// Source files or directories (relative to the crate) whose content joins the stage's code
/// fingerprint: helper code the stage calls.
pub const CODE: &str = "code";
/// The stage runs on every `repro`, even when nothing changed.
pub const ALWAYS_RUN: &str = "always_run";
/// The stage never runs; its recorded outputs are trusted as they are.
pub const FROZEN: &str = "frozen";

/// Every key, in the order the "expected one of" hint lists them.
pub const ALL: &[&str] = &[DEPS, OUTS, METRICS, PLOTS, PARAMS, CODE, ALWAYS_RUN, FROZEN];
