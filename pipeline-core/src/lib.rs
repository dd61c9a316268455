//! Runtime of the pipeline engine.
//!
//! A pipeline author writes stages with [`pipeline`] and [`stage`] (everything a stage file needs
//! is in [`prelude`]) and hands the result to [`cli::main`]: the binary then has every command
//! (`repro`, `status`, `exp`, `runs`, `ui`, …). Programs that drive the engine themselves use a
//! [`session::Session`], the one path through it that the CLI and the UI use too; [`tracking`]
//! is the MLflow-shaped store behind runs and models; `testing` (feature `testing`) runs a
//! pipeline in a temporary workspace for snapshot tests.
//!
//! Inside, a pipeline is validated into a [`dag::Dag`]; the engine hashes each stage's inputs
//! into a fingerprint, compares it with `pipeline.lock`, and skips, restores from the content
//! store or runs each stage, in parallel where the graph allows.

#![deny(missing_docs)]

pub(crate) mod atomic;
pub(crate) mod cas;
pub mod cli;
pub(crate) mod compare;
pub(crate) mod context;
pub mod dag;
pub(crate) mod data;
pub(crate) mod display;
pub(crate) mod engine;
pub(crate) mod entry;
pub(crate) mod exp;
pub mod hash;
pub(crate) mod layout;
pub(crate) mod lockfile;
pub(crate) mod metrics;
pub mod mlflow_api;
mod panics;
pub(crate) mod params;
pub(crate) mod pipeline;
pub mod predict;
pub mod serve;
pub mod session;
pub(crate) mod state;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tracking;
pub mod ui;
pub mod workspace;

pub use context::{ContextError, OutputRef, StageContext, WorkspacePath};
pub use params::{Invalid, ParamSection, ParamValues, ParamsSection};
pub use pipeline::{IntoStageResult, OutKind, Pipeline, StageDef};
pub use pipeline_macros::{pipeline, stage};

pub use engine::fingerprint::Reason;
pub use engine::{Event, Outcome, StageReport, StageState, StageStatus};
pub use exp::ExpRecord;

/// What a stage file needs: the two attributes, the context a stage receives, params sections
/// and their validation, and `anyhow`'s `Result` for stage bodies.
pub mod prelude {
    pub use crate::{pipeline, stage, Invalid, ParamsSection, StageContext};
    pub use anyhow::{bail, Context as _, Result};
}
