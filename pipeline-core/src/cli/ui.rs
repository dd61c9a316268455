//! `ui [--host 127.0.0.1] [--port 5000]`: the web UI.

use super::Printer;
use crate::session::Session;
use crate::tracking::recorder::Target;
use crate::ui::{serve, UiState};
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
}

pub fn run(session: Session, args: Args, out: &Printer) -> anyhow::Result<ExitCode> {
    let store = session
        .tracking()
        .open()
        .context("opening the tracking store")?;
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
    serve(
        UiState::new(store, session).with_readers(readers),
        std::net::SocketAddr::new(args.host, args.port),
        |addr| {
            out.line(format!("Serving the UI on http://{addr}/ (Ctrl-C to stop)"));
        },
    )?;
    Ok(ExitCode::SUCCESS)
}
