//! What a pipeline is made of, as the `#[pipeline]` macro (or code building one by hand) hands it
//! to the runtime: stages with their dependencies, outputs, params sections and entry point.

use crate::context::StageContext;
use crate::params::{ParamSection, ParamValues};
use std::fmt;

/// A stage's entry point: the user's function wrapped to load its params sections.
pub type StageFn = dyn Fn(&mut StageContext, &ParamValues) -> anyhow::Result<()> + Send + Sync;

/// A named set of stages. Validated into a [`crate::dag::Dag`] before anything runs.
pub struct Pipeline {
    /// The pipeline's name (the module name under `#[pipeline]`).
    pub name: String,
    /// Stages in declaration order.
    pub stages: Vec<StageDef>,
}

impl Pipeline {
    /// A pipeline from its stages.
    pub fn new(name: impl Into<String>, stages: Vec<StageDef>) -> Self {
        Pipeline {
            name: name.into(),
            stages,
        }
    }
}

/// What kind of output a path is; metrics and plots are also regular cached outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutKind {
    /// A plain output.
    Out,
    /// A JSON metrics file.
    Metrics,
    /// A plot (SVG, HTML, or data to plot).
    Plots,
}

/// A declared output.
#[derive(Clone, Debug)]
pub struct OutDef {
    /// Its name, as in `prepare::train`.
    pub name: String,
    /// Its path relative to the workspace.
    pub path: String,
    /// Its kind.
    pub kind: OutKind,
}

/// A declared dependency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DepDef {
    /// A file or directory that no stage produces.
    File(String),
    /// Another stage's output.
    Output {
        /// The producing stage.
        stage: String,
        /// The output's name in that stage.
        name: String,
        /// The output's path.
        path: String,
    },
}

impl DepDef {
    /// The dependency's path relative to the workspace.
    pub fn path(&self) -> &str {
        match self {
            DepDef::File(path) | DepDef::Output { path, .. } => path,
        }
    }
}

/// One stage: metadata plus the function that does the work.
pub struct StageDef {
    /// Unique name within the pipeline.
    pub name: String,
    /// Fingerprint of the stage function's tokens.
    pub code: String,
    /// What it reads.
    pub deps: Vec<DepDef>,
    /// What it writes.
    pub outs: Vec<OutDef>,
    /// The params sections it is bound to.
    pub params: Vec<ParamSection>,
    /// Run on every `repro`.
    pub always_run: bool,
    /// Never run; recorded outputs are trusted.
    pub frozen: bool,
    /// The work itself.
    pub run: Box<StageFn>,
}

impl fmt::Debug for StageDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StageDef")
            .field("name", &self.name)
            .field("deps", &self.deps)
            .field("outs", &self.outs)
            .finish_non_exhaustive()
    }
}

impl StageDef {
    /// A stage with no dependencies or outputs yet.
    pub fn new<F>(name: impl Into<String>, code: impl Into<String>, run: F) -> Self
    where
        F: Fn(&mut StageContext, &ParamValues) -> anyhow::Result<()> + Send + Sync + 'static,
    {
        StageDef {
            name: name.into(),
            code: code.into(),
            deps: Vec::new(),
            outs: Vec::new(),
            params: Vec::new(),
            always_run: false,
            frozen: false,
            run: Box::new(run),
        }
    }

    /// Adds a file dependency.
    pub fn dep_file(mut self, path: impl Into<String>) -> Self {
        self.deps.push(DepDef::File(path.into()));
        self
    }

    /// Adds a dependency on another stage's output.
    pub fn dep_output(
        mut self,
        stage: impl Into<String>,
        name: impl Into<String>,
        path: impl Into<String>,
    ) -> Self {
        self.deps.push(DepDef::Output {
            stage: stage.into(),
            name: name.into(),
            path: path.into(),
        });
        self
    }

    /// Adds an output.
    pub fn out(mut self, name: impl Into<String>, path: impl Into<String>, kind: OutKind) -> Self {
        self.outs.push(OutDef {
            name: name.into(),
            path: path.into(),
            kind,
        });
        self
    }

    /// Binds a params section.
    pub fn params(mut self, section: ParamSection) -> Self {
        self.params.push(section);
        self
    }

    /// Sets `always_run`.
    pub fn always_run(mut self, yes: bool) -> Self {
        self.always_run = yes;
        self
    }

    /// Sets `frozen`.
    pub fn frozen(mut self, yes: bool) -> Self {
        self.frozen = yes;
        self
    }
}

/// What a stage function may return: `()` or any `Result<(), E>` whose error converts to
/// `anyhow::Error`.
pub trait IntoStageResult {
    /// Normalizes the return value.
    fn into_stage_result(self) -> anyhow::Result<()>;
}

impl IntoStageResult for () {
    fn into_stage_result(self) -> anyhow::Result<()> {
        Ok(())
    }
}

impl<E: Into<anyhow::Error>> IntoStageResult for Result<(), E> {
    fn into_stage_result(self) -> anyhow::Result<()> {
        self.map_err(Into::into)
    }
}
