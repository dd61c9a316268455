//! `ui [--host 127.0.0.1] [--port 5000] [--auth-file FILE]`: the web UI, and MLflow's tracking
//! API on the same port for MLflow's own clients.

use super::Printer;
use crate::session::Session;
use crate::tracking::recorder::Target;
use crate::ui::{serve_guarded, UiState};
use anyhow::Context as _;
use std::process::ExitCode;

/// Arguments of `ui`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on; keep the default unless others must reach it.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 5000)]
    pub port: u16,
    /// Require credentials on every request: a TOML file of `[users]` (name = "password",
    /// for basic auth) and `tokens = [...]` (bearer tokens).
    #[arg(long)]
    pub auth_file: Option<std::path::PathBuf>,
}

pub fn run(session: Session, args: Args, out: &Printer) -> anyhow::Result<ExitCode> {
    let store = session
        .tracking()
        .open()
        .context("opening the tracking store")?;
    let auth = args
        .auth_file
        .as_deref()
        .map(crate::mlflow_api::Auth::load)
        .transpose()?;
    let guarded = if auth.is_some() {
        ", credentials required"
    } else {
        ""
    };
    // More connections for reading, one per core: pages then read in parallel.
    let readers = match session.tracking() {
        Target::Embedded { .. } => {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            (1..cores.max(2))
                .map(|_| session.tracking().open())
                .collect::<Result<Vec<_>, _>>()
                .context("opening the tracking store")?
        }
        _ => Vec::new(),
    };
    serve_guarded(
        UiState::new(store, session).with_readers(readers),
        auth,
        std::net::SocketAddr::new(args.host, args.port),
        |addr| {
            out.line(format!(
                "Serving the UI and MLflow's tracking API on http://{addr}/{guarded} (Ctrl-C to stop)"
            ));
        },
    )?;
    Ok(ExitCode::SUCCESS)
}
