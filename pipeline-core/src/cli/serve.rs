//! `serve --model URI [--host 127.0.0.1] [--port 5001] [--workers N] [--max-body-bytes 10MB]
//! [--reload-interval SECS]`: a logged model behind MLflow's scoring protocol.

use super::Printer;
use crate::predict::Predictor;
use crate::serve::{describe, serve, stop_signal, ModelSource, ServeOptions};
use crate::tracking::recorder::Target;
use crate::workspace::Workspace;
use anyhow::bail;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model: `runs:/<run id>/model`, `models:/<name>/<version>`, `models:/<name>/latest`,
    /// `models:/<name>@<alias>`, or a local model directory or file.
    #[arg(long, value_name = "URI")]
    pub model: String,
    /// Address to listen on; keep the default unless others must reach it.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 5001)]
    pub port: u16,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Larger request bodies get a 413: bytes, or with a KB, MB or GB suffix (powers of 1024).
    #[arg(long, value_name = "SIZE", default_value = "10MB", value_parser = parse_size)]
    pub max_body_bytes: usize,
    /// With `models:/name@alias` or `models:/name/latest`: how often (seconds) to check whether
    /// it moved to another version, and switch to it without a restart; 0 never checks.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub reload_interval: f64,
}

pub fn run(
    ws: &Workspace,
    tracking: &Target,
    predictor: Option<Arc<dyn Predictor>>,
    args: Args,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let Some(predictor) = predictor else {
        bail!("this pipeline binary has no predictor: build it with `App::new(…).predictor(…)`");
    };
    if !args.reload_interval.is_finite() || args.reload_interval < 0.0 {
        bail!(
            "--reload-interval {}: expected a number of seconds, 0 or more",
            args.reload_interval
        );
    }
    let workers = match args.workers {
        Some(0) => bail!("--workers 0: at least one worker is needed"),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let source = ModelSource::new(&args.model, ws.root(), tracking.clone(), predictor)?;
    let options = ServeOptions {
        addr: std::net::SocketAddr::new(args.host, args.port),
        workers,
        max_body_bytes: args.max_body_bytes,
        reload_interval: (args.reload_interval > 0.0)
            .then(|| Duration::from_secs_f64(args.reload_interval)),
    };
    serve(
        source,
        options,
        |addr, served| {
            out.line(format!(
                "Serving {} on http://{addr}/invocations with {workers} workers (Ctrl-C to stop)",
                describe(&served.designation)
            ));
        },
        |line| eprintln!("{line}"),
        stop_signal(),
    )?;
    out.line("stopped");
    Ok(ExitCode::SUCCESS)
}

/// `10MB`, `512KB`, `1GB`, `1048576`.
fn parse_size(text: &str) -> Result<usize, String> {
    let upper = text.trim().to_ascii_uppercase();
    let (digits, unit) = match upper.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => upper.split_at(i),
        None => (upper.as_str(), ""),
    };
    let unit: usize = match unit.trim() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        other => return Err(format!("unknown unit `{other}` (use KB, MB or GB)")),
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size like 10MB"))?;
    match n.checked_mul(unit) {
        Some(0) | None => Err(format!("`{text}`: expected a size above 0")),
        Some(bytes) => Ok(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("10MB"), Ok(10 << 20));
        assert_eq!(parse_size("512kb"), Ok(512 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("10XB").is_err());
        assert!(parse_size("MB").is_err());
        assert!(parse_size("99999999999999999999GB").is_err());
    }
}
