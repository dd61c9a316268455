//! Snapshot testing of pipelines: run a pipeline (or some of its stages) in a throwaway
//! workspace and read back its outputs, ready to hand to `insta`.
//!
//! ```ignore
//! let ws = TestWorkspace::new()?.with_file("params.toml", PARAMS)?;
//! ws.repro(my_pipeline::pipeline(), &["train"])?;
//! insta::assert_snapshot!(ws.read("models/metrics.json")?);
//! ```

use crate::cli::{App, Printer};
use crate::pipeline::Pipeline;
use anyhow::{bail, Context as _};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

/// A temporary workspace, deleted on drop.
pub struct TestWorkspace {
    dir: tempfile::TempDir,
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl TestWorkspace {
    /// An empty workspace.
    pub fn new() -> anyhow::Result<Self> {
        Ok(TestWorkspace {
            dir: tempfile::tempdir().context("creating a temp workspace")?,
        })
    }

    /// Adds a file (e.g. `params.toml` or an input) before running.
    pub fn with_file(self, rel: &str, contents: impl AsRef<[u8]>) -> anyhow::Result<Self> {
        self.write(rel, contents)?;
        Ok(self)
    }

    /// Writes a file in the workspace.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> anyhow::Result<()> {
        let path = self.dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents).with_context(|| format!("writing {rel}"))
    }

    /// The workspace root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Reads a file of the workspace as text.
    pub fn read(&self, rel: &str) -> anyhow::Result<String> {
        std::fs::read_to_string(self.dir.path().join(rel)).with_context(|| format!("reading {rel}"))
    }

    /// Runs any command of the CLI (`["status", "--json"]`) and returns what it printed.
    pub fn run(&self, pipeline: Pipeline, args: &[&str]) -> anyhow::Result<String> {
        self.run_app(App::new(pipeline), args)
    }

    /// Like [`run`](Self::run), for an app with a predictor (to test `predict`).
    pub fn run_app(&self, app: App, args: &[&str]) -> anyhow::Result<String> {
        let captured = Captured::default();
        let printer = Printer::new(Box::new(captured.clone()));
        let root = self.dir.path().to_string_lossy().into_owned();
        let argv = ["-C", root.as_str()]
            .into_iter()
            .chain(args.iter().copied());
        let code = app.run_args(argv, &printer)?;
        let text = String::from_utf8_lossy(&captured.0.lock().unwrap_or_else(|p| p.into_inner()))
            .into_owned();
        if code != ExitCode::SUCCESS {
            bail!("command {args:?} failed:\n{text}");
        }
        Ok(text)
    }

    /// `repro` of `stages` (all when empty) and what it printed.
    pub fn repro(&self, pipeline: Pipeline, stages: &[&str]) -> anyhow::Result<String> {
        let mut args = vec!["repro"];
        args.extend_from_slice(stages);
        self.run(pipeline, &args)
    }

    /// Every text file under `dir` (workspace-relative), by path; binary files as their hash.
    pub fn files_under(&self, dir: &str) -> anyhow::Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let base = self.dir.path().join(dir);
        let mut stack = vec![base.clone()];
        while let Some(at) = stack.pop() {
            for entry in
                std::fs::read_dir(&at).with_context(|| format!("listing {}", at.display()))?
            {
                let path = entry?.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let rel = path
                    .strip_prefix(self.dir.path())
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                let bytes = std::fs::read(&path)?;
                let text = String::from_utf8(bytes.clone()).unwrap_or_else(|_| {
                    format!(
                        "<binary, {} bytes, sha256 {}>",
                        bytes.len(),
                        crate::hash::bytes(&bytes)
                    )
                });
                out.insert(rel, text);
            }
        }
        Ok(out)
    }
}
