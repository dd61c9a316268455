//! What a running stage sees: where to read its dependencies and where to write its outputs.
//! Outputs go to a staging area, not the workspace, so a stage that fails or is killed half-way
//! never leaves a half-written output where the next stage or the user would read it.

use crate::tracking::model::now_ms;
use crate::tracking::recorder::{LoggedModelFiles, StageLog};
use crate::tracking::{Metric, Param};
use std::fs;
use std::path::{Path, PathBuf};

/// Why a stage asked for a path it may not use.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The output belongs to another stage.
    #[error("stage `{stage}` cannot write `{path}`: it is an output of stage `{owner}`")]
    NotMine {
        /// The running stage.
        stage: String,
        /// The output's path.
        path: String,
        /// Its stage.
        owner: String,
    },
    /// The stage reads a path it did not declare in `deps`: it could run before (or in
    /// parallel with) the stage writing it, and a change to it would not rerun this stage.
    #[error("stage `{stage}` reads `{path}`{owner} without declaring it: add {fix} to its `deps`")]
    Undeclared {
        /// The running stage.
        stage: String,
        /// The path it asked for.
        path: String,
        /// ", an output of stage `x`," when another stage writes it.
        owner: String,
        /// What to add to `deps`.
        fix: String,
    },
    /// The output's directory could not be created.
    #[error("{path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// The handle a stage function receives.
#[derive(Debug)]
pub struct StageContext {
    stage: String,
    root: PathBuf,
    staging: PathBuf,
    run_id: Option<String>,
    log: StageLog,
    reads: Option<Reads>,
}

/// What a stage may read: its declared dependencies, and who writes what (to name the stage
/// whose output is read undeclared).
#[derive(Debug, Default)]
pub(crate) struct Reads {
    /// Declared dependency paths (a directory covers what is inside it).
    pub deps: Vec<String>,
    /// Every output of the pipeline: (path, stage, output name).
    pub outputs: Vec<(String, String, String)>,
}

fn covers(dir: &str, path: &str) -> bool {
    path == dir
        || (path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/')
}

impl StageContext {
    /// A context for `stage` reading from `root` and writing below `staging`.
    pub fn new(
        stage: impl Into<String>,
        root: impl Into<PathBuf>,
        staging: impl Into<PathBuf>,
    ) -> Self {
        StageContext {
            stage: stage.into(),
            root: root.into(),
            staging: staging.into(),
            run_id: None,
            log: StageLog::default(),
            reads: None,
        }
    }

    /// Restricts reads to what the stage declared; the engine always does.
    pub(crate) fn with_reads(mut self, reads: Reads) -> Self {
        self.reads = Some(reads);
        self
    }

    /// Checks that `rel` is a declared dependency (or inside one).
    fn check_read(&self, rel: &str) -> Result<(), ContextError> {
        let Some(reads) = &self.reads else {
            return Ok(());
        };
        if reads.deps.iter().any(|dep| covers(dep, rel)) {
            return Ok(());
        }
        let producer = reads
            .outputs
            .iter()
            .find(|(path, _, _)| covers(path, rel) || covers(rel, path));
        let (owner, fix) = match producer {
            Some((_, stage, name)) if stage != &self.stage => (
                format!(", an output of stage `{stage}`,"),
                format!("`{stage}::{name}`"),
            ),
            _ => (String::new(), format!("\"{rel}\"")),
        };
        Err(ContextError::Undeclared {
            stage: self.stage.clone(),
            path: rel.to_string(),
            owner,
            fix,
        })
    }

    /// Attaches the tracking run this execution is recorded in.
    pub fn with_run(mut self, run_id: Option<String>) -> Self {
        self.run_id = run_id;
        self
    }

    /// The id of the tracking run recording this execution, when tracking is on.
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// `runs:/<run id>/<path>`: where an artifact of this run can be found again.
    pub fn run_uri(&self, path: &str) -> Option<String> {
        self.run_id.as_ref().map(|id| format!("runs:/{id}/{path}"))
    }

    /// Logs a param on the stage's run (declared params sections are logged already).
    pub fn log_param(&mut self, key: &str, value: impl ToString) {
        self.log.params.push(Param::new(key, value.to_string()));
    }

    /// Logs a metric value at `step`; every value is kept, as a history.
    pub fn log_metric(&mut self, key: &str, value: f64, step: i64) {
        self.log
            .metrics
            .push(Metric::new(key, value, now_ms(), step));
    }

    /// Logs a file as an artifact of the stage's run, under its file name.
    pub fn log_artifact(&mut self, path: impl AsRef<Path>) -> anyhow::Result<()> {
        let path = path.as_ref();
        let name = path
            .file_name()
            .ok_or_else(|| anyhow::anyhow!("{}: not a file", path.display()))?
            .to_string_lossy()
            .into_owned();
        if !path.is_file() {
            anyhow::bail!("{}: no such file to log", path.display());
        }
        self.log.artifacts.push((path.to_path_buf(), name));
        Ok(())
    }

    /// Logs `model` as the model directory `name/` of the stage's run (`MLmodel` plus
    /// `model.json`), loadable with `predict --model runs:/<run id>/<name>`.
    pub fn log_model<M: serde::Serialize>(&mut self, model: &M, name: &str) -> anyhow::Result<()> {
        if name.is_empty() || name.contains(['/', '\\']) || name == ".." {
            anyhow::bail!("model name `{name}`: use a plain name such as `model`");
        }
        let dir = self.staging.join(".pipeline-models").join(name);
        let info = crate::predict::save_model(model, &dir, name)?;
        for file in [crate::predict::MLMODEL_FILE, crate::predict::MODEL_FILE] {
            self.log
                .artifacts
                .push((dir.join(file), format!("{name}/{file}")));
        }
        self.log.models.push(LoggedModelFiles {
            name: name.to_string(),
            dir,
            model_type: info.model_type().to_string(),
        });
        Ok(())
    }

    /// What the stage logged, for the engine to record once it succeeded.
    pub(crate) fn take_log(&mut self) -> StageLog {
        std::mem::take(&mut self.log)
    }

    /// The running stage's name.
    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// The workspace root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where to read a dependency: `ctx.input(prepare::train)` or `ctx.input("data/raw.csv")`.
    /// Only declared dependencies (or files inside a declared directory) may be read: anything
    /// else is [`ContextError::Undeclared`], naming the stage that writes it.
    pub fn input(&self, dep: impl WorkspacePath) -> Result<PathBuf, ContextError> {
        let rel = dep.workspace_path();
        self.check_read(rel)?;
        Ok(self.root.join(rel))
    }

    /// Where to write one of this stage's outputs. The parent directory exists on return.
    pub fn output(&self, out: OutputRef) -> Result<PathBuf, ContextError> {
        if out.stage != self.stage {
            return Err(ContextError::NotMine {
                stage: self.stage.clone(),
                path: out.path.to_string(),
                owner: out.stage.to_string(),
            });
        }
        let path = self.staging.join(out.path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|source| ContextError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        Ok(path)
    }

    /// Writes a whole output at once.
    pub fn write(&self, out: OutputRef, bytes: impl AsRef<[u8]>) -> anyhow::Result<()> {
        let path = self.output(out)?;
        fs::write(&path, bytes).map_err(|e| anyhow::anyhow!("writing {}: {e}", out.path))
    }

    /// Reads a whole dependency as text (a declared one: see [`input`](Self::input)).
    pub fn read_to_string(&self, dep: impl WorkspacePath) -> anyhow::Result<String> {
        let rel = dep.workspace_path().to_string();
        fs::read_to_string(self.input(dep)?).map_err(|e| anyhow::anyhow!("reading {rel}: {e}"))
    }

    /// Reads a whole dependency as bytes (a declared one: see [`input`](Self::input)).
    pub fn read(&self, dep: impl WorkspacePath) -> anyhow::Result<Vec<u8>> {
        let rel = dep.workspace_path().to_string();
        fs::read(self.input(dep)?).map_err(|e| anyhow::anyhow!("reading {rel}: {e}"))
    }
}

/// A typed handle on a stage output, generated by the macro as `stage::output`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputRef {
    /// The producing stage.
    pub stage: &'static str,
    /// The output's name.
    pub name: &'static str,
    /// The output's path relative to the workspace.
    pub path: &'static str,
}

impl OutputRef {
    /// Used by generated code.
    pub const fn new(stage: &'static str, name: &'static str, path: &'static str) -> Self {
        OutputRef { stage, name, path }
    }
}

/// Something naming a path in the workspace: an output handle or a plain file path.
pub trait WorkspacePath {
    /// The path relative to the workspace root.
    fn workspace_path(&self) -> &str;
}

impl WorkspacePath for OutputRef {
    fn workspace_path(&self) -> &str {
        self.path
    }
}

impl WorkspacePath for &str {
    fn workspace_path(&self) -> &str {
        self
    }
}
