//! Runtime of the pipeline engine.
//!
//! A pipeline (built by `#[pipeline]` from `pipeline-macros`) is validated into a [`dag::Dag`];
//! [`exec::Engine`] hashes each stage's inputs into a [`fingerprint::StageFingerprint`], compares
//! it with [`lock::LockFile`], and skips, restores from [`cache`] or runs each stage, in parallel
//! where the graph allows. [`cli`] puts all of it behind one function call.

#![deny(missing_docs)]

pub mod atomic;
pub mod cas;
pub mod cli;
pub mod compare;
pub mod context;
pub mod dag;
pub mod data;
pub mod display;
pub mod entry;
pub mod exec;
pub mod exp;
pub mod fingerprint;
pub mod hash;
pub mod layout;
pub mod lockfile;
pub mod metrics;
mod panics;
pub mod params;
pub mod pipeline;
pub mod predict;
pub mod run_cache;
pub mod session;
pub mod state;
pub mod testing;
pub mod tracking;
pub mod ui;
pub mod workspace;

pub use context::{OutputRef, StageContext, WorkspacePath};
pub use params::{Invalid, ParamSection, ParamValues, ParamsSection};
pub use pipeline::{IntoStageResult, OutKind, Pipeline, StageDef};
pub use pipeline_macros::{pipeline, stage};

/// What a stage file usually needs.
pub mod prelude {
    pub use crate::{pipeline, stage, Invalid, ParamsSection, StageContext};
    pub use anyhow::{bail, Context as _, Result};
}
