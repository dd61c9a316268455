//! The command line, as a library: a pipeline binary's `main` is
//! `pipeline_core::cli::main(my_pipeline::pipeline())`. Parsing is clap's; each command lives in
//! its own file; errors become one `error: …` line and a non-zero exit, never a panic.

mod dag;
mod data;
mod exp;
mod metrics;
mod models;
mod params;
mod plots;
mod predict;
mod progress;
mod repro;
mod runs;
mod runs_list;
mod serve;
mod status;
mod style;
mod summary;
pub mod table;
mod ui;

use crate::pipeline::Pipeline;
use crate::predict::Predictor;
use crate::session::Session;
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

/// Reproducible ML pipelines: versioned outputs, cached stages, parallel runs.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// Run as if started in DIR.
    #[arg(short = 'C', long = "cwd", value_name = "DIR", global = true)]
    pub cwd: Option<PathBuf>,
    /// Record runs on this MLflow server (default: MLFLOW_TRACKING_URI, else the embedded
    /// store in .pipeline/tracking.db).
    #[arg(long, value_name = "URI", global = true)]
    pub tracking_uri: Option<String>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bring outputs up to date: run what changed, restore what was seen before.
    Repro(repro::Args),
    /// Show which stages are stale and why.
    Status(status::Args),
    /// Show the pipeline graph.
    Dag(dag::Args),
    /// Experiments: run variants in isolation, compare them, apply one.
    #[command(subcommand)]
    Exp(exp::Command),
    /// Compare parameters.
    #[command(subcommand)]
    Params(params::Command),
    /// Show and compare metrics.
    #[command(subcommand)]
    Metrics(metrics::Command),
    /// Render declared plots.
    #[command(subcommand)]
    Plots(plots::Command),
    /// Predict with a logged model: batch predictions for the rows of a CSV file.
    Predict(predict::Args),
    /// Serve a logged model over HTTP with MLflow's scoring protocol (`POST /invocations`).
    Serve(serve::Args),
    /// Experiments of the tracking store.
    #[command(subcommand)]
    Experiments(runs::ExperimentsCommand),
    /// Tracked runs: list, search, show, compare.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    /// The model registry.
    #[command(subcommand)]
    Models(models::Command),
    /// The web UI: experiments, runs, comparisons, the pipeline, the model registry.
    Ui(ui::Args),
    /// Version data files or directories by hash: a pointer file for git, the data in the cache.
    Add {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Hard-link into the cache and mark read-only instead of copying (no second copy
        /// written; an in-place edit as root would alter the cached object).
        #[arg(long)]
        link: bool,
    },
    /// Put versioned data and stage outputs back as pointer files and the lock file say.
    Checkout {
        /// Only these paths.
        paths: Vec<PathBuf>,
    },
    /// Remove cache objects nothing refers to.
    Gc {
        /// Also forget run-cache records the lock file does not use.
        #[arg(long)]
        workspace: bool,
        /// Remove nothing: list what would be removed.
        #[arg(long)]
        dry: bool,
    },
    /// Remotes to share the cache with.
    #[command(subcommand)]
    Remote(data::RemoteCommand),
    /// Send versioned data, stage outputs, run records and tracking runs to a remote: only what
    /// it lacks.
    Push(data::TransferArgs),
    /// Bring versioned data, run records and tracking runs from a remote into the cache.
    Fetch(data::TransferArgs),
    /// `fetch`, then `checkout`.
    Pull(data::TransferArgs),
}

/// Where commands write: stdout in the binary, a buffer in tests. Shared by parallel stages.
pub struct Printer {
    sink: Mutex<Box<dyn Write + Send>>,
    color: bool,
}

impl Printer {
    /// A printer writing plain text to `sink`.
    pub fn new(sink: Box<dyn Write + Send>) -> Self {
        Printer {
            sink: Mutex::new(sink),
            color: false,
        }
    }

    /// A printer to standard output, coloured when that is a terminal and `NO_COLOR` is unset.
    pub fn stdout() -> Self {
        Printer {
            sink: Mutex::new(Box::new(std::io::stdout())),
            color: style::stdout_wants_color(),
        }
    }

    /// Whether this printer colours.
    pub(crate) fn color(&self) -> bool {
        self.color
    }

    /// `text` in `paint` when this printer colours, else unchanged.
    pub(crate) fn paint(&self, paint: style::Paint, text: &str) -> String {
        paint.apply(self.color, text)
    }

    /// Writes one line.
    pub fn line(&self, text: impl AsRef<str>) {
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(sink, "{}", text.as_ref());
        let _ = sink.flush();
    }
}

/// A pipeline binary: the pipeline, how to load its models for `predict`, and how it
/// introduces itself in `--help`.
pub struct App {
    pipeline: Pipeline,
    predictor: Option<std::sync::Arc<dyn Predictor>>,
    name: Option<&'static str>,
    about: Option<String>,
    version: Option<&'static str>,
}

impl App {
    /// An app for `pipeline`.
    pub fn new(pipeline: Pipeline) -> Self {
        App {
            pipeline,
            predictor: None,
            name: None,
            about: None,
            version: None,
        }
    }

    /// The program name `--version` shows (default: the binary's file name; usage lines always
    /// show the name the binary was started as, so they can be copied).
    pub fn name(mut self, name: &'static str) -> Self {
        self.name = Some(name);
        self
    }

    /// The version `--version` shows (default: the engine's): the pipeline binary's own, e.g.
    /// `env!("CARGO_PKG_VERSION")` in its `main`.
    pub fn version(mut self, version: &'static str) -> Self {
        self.version = Some(version);
        self
    }

    /// What `--help` says this binary is, in one line (default: names the pipeline). A user
    /// types `--help` to learn what the program in front of them does, not which library it
    /// was built with.
    pub fn about(mut self, about: impl Into<String>) -> Self {
        self.about = Some(about.into());
        self
    }

    /// The command line this app parses: the engine's commands under the pipeline's name and
    /// description.
    pub fn command(&self) -> clap::Command {
        use clap::CommandFactory as _;
        let about = self.about.clone().unwrap_or_else(|| {
            format!(
                "The `{}` pipeline: run its stages reproducibly, track its runs and serve its models.",
                self.pipeline.name
            )
        });
        let mut command = Cli::command().about(about);
        if let Some(name) = self.name {
            command = command.name(name);
        }
        if let Some(version) = self.version {
            command = command.version(version);
        }
        command
    }

    fn parse<I, S>(&self, argv: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString> + Clone,
    {
        use clap::FromArgMatches as _;
        let matches = self.command().try_get_matches_from(argv)?;
        Cli::from_arg_matches(&matches)
    }

    /// Enables `predict` and `serve` with models this predictor understands.
    pub fn predictor(mut self, predictor: impl Predictor + 'static) -> Self {
        self.predictor = Some(std::sync::Arc::new(predictor));
        self
    }

    /// Parses the process arguments, runs the command and returns the exit code.
    pub fn main(self) -> ExitCode {
        // Panics are caught (a stage's is that stage's failure) and reported in one line.
        crate::panics::install_hook();
        let cli = match self.parse(std::env::args_os()) {
            Ok(cli) => cli,
            Err(error) => {
                let _ = error.print();
                return if error.use_stderr() {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
        };
        let printer = Printer::stdout();
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run(cli, &printer)));
        match result {
            Ok(Ok(code)) => code,
            Ok(Err(error)) => {
                let label = style::Paint::Red.apply(style::stderr_wants_color(), "error:");
                eprintln!("{label} {error:#}");
                ExitCode::FAILURE
            }
            Err(payload) => {
                let what = crate::panics::describe(payload.as_ref());
                eprintln!("error: internal error (a bug): {what}");
                ExitCode::FAILURE
            }
        }
    }

    /// Runs a parsed command.
    pub fn run(self, cli: Cli, out: &Printer) -> anyhow::Result<ExitCode> {
        let start = match &cli.cwd {
            Some(dir) => dir.clone(),
            None => std::env::current_dir().context("reading the current directory")?,
        };
        let session = Session::open(self.pipeline, &start, cli.tracking_uri.as_deref())?;
        let (ws, dag, tracking) = (session.workspace(), session.dag(), session.tracking());
        match cli.command {
            Command::Repro(args) => repro::run(&session, args, out),
            Command::Status(args) => status::run(&session, args, out),
            Command::Dag(args) => dag::run(ws, dag, args, out),
            Command::Exp(command) => exp::run(&session, command, out),
            Command::Params(command) => params::run(ws, dag, tracking, command, out),
            Command::Metrics(command) => metrics::run(ws, dag, tracking, command, out),
            Command::Plots(command) => plots::run(ws, dag, command, out),
            Command::Experiments(command) => runs::experiments(tracking, command, out),
            Command::Runs(command) => runs::runs(dag, tracking, command, out),
            Command::Models(command) => models::run(tracking, command, out),
            Command::Ui(args) => ui::run(session, args, out),
            Command::Add { paths, link } => data::add(&session, &start, &paths, link, out),
            Command::Checkout { paths } => data::checkout(&session, &start, &paths, out),
            Command::Gc { workspace, dry } => data::collect(&session, workspace, dry, out),
            Command::Remote(command) => data::remotes(ws, command, out),
            Command::Push(args) => data::push(&session, &args.options(), out),
            Command::Fetch(args) => data::fetch(&session, &args.options(), out),
            Command::Pull(args) => data::pull(&session, &args.options(), out),
            Command::Predict(args) => predict::run(ws, tracking, self.predictor, args, out),
            Command::Serve(args) => serve::run(ws, tracking, self.predictor, args, out),
        }
    }

    /// Parses `args` (without the program name) and runs them, for tests and embedding.
    pub fn run_args<I, S>(self, args: I, out: &Printer) -> anyhow::Result<ExitCode>
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString> + Clone,
    {
        let argv = std::iter::once(std::ffi::OsString::from("pipeline"))
            .chain(args.into_iter().map(Into::into));
        let cli = self.parse(argv)?;
        self.run(cli, out)
    }
}

/// `App::new(pipeline).main()`: the whole `main` of a pipeline binary without models to serve.
pub fn main(pipeline: Pipeline) -> ExitCode {
    App::new(pipeline).main()
}

/// `App::new(pipeline).run_args(args, out)`.
pub fn run_args<I, S>(pipeline: Pipeline, args: I, out: &Printer) -> anyhow::Result<ExitCode>
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    App::new(pipeline).run_args(args, out)
}

/// What a command prints while it waits for another process's workspace lock.
fn waiting(out: &Printer) -> impl Fn(&str) + '_ {
    move |holder| out.line(format!("waiting for the workspace lock held by {holder}…"))
}
