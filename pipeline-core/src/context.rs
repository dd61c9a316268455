//! What a running stage sees: where to read its dependencies and where to write its outputs.
//! Outputs go to a staging area, not the workspace, so a stage that fails or is killed half-way
//! never leaves a half-written output where the next stage or the user would read it.

use crate::pipeline::{OutputRef, WorkspacePath};
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
        }
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
    pub fn input(&self, dep: impl WorkspacePath) -> PathBuf {
        self.root.join(dep.workspace_path())
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

    /// Reads a whole dependency as text.
    pub fn read_to_string(&self, dep: impl WorkspacePath) -> anyhow::Result<String> {
        let rel = dep.workspace_path().to_string();
        fs::read_to_string(self.input(dep)).map_err(|e| anyhow::anyhow!("reading {rel}: {e}"))
    }
}
