//! `predict --model URI --input CSV [--output CSV]`: batch predictions with a logged model.

use super::Printer;
use crate::predict::Predictor;
use crate::tracking::recorder::Target;
use crate::tracking::ModelUri;
use crate::workspace::Workspace;
use anyhow::{bail, Context as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `predict`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model: `runs:/<run id>/model`, `models:/<name>/<version>`, `models:/<name>/latest`,
    /// `models:/<name>@<alias>`, or a local model directory or file.
    #[arg(long, value_name = "URI")]
    pub model: String,
    /// Rows to predict, as CSV with a header.
    #[arg(long, value_name = "CSV")]
    pub input: PathBuf,
    /// Where to write the predictions (default: standard output).
    #[arg(long, value_name = "CSV")]
    pub output: Option<PathBuf>,
}

pub fn run(
    ws: &Workspace,
    tracking: &Target,
    predictor: Option<&dyn Predictor>,
    args: Args,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let Some(predictor) = predictor else {
        bail!("this pipeline binary has no predictor: build it with `App::new(…).predictor(…)`");
    };
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;
    let model = resolve(ws, tracking, &args.model, scratch.path())?;
    let input = ws.root().join(&args.input);
    let predictions = predictor.predict(&model, &input)?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&predictions.header)?;
    for row in &predictions.rows {
        writer.write_record(row)?;
    }
    let bytes = writer.into_inner().context("writing predictions")?;
    match &args.output {
        Some(path) => {
            crate::atomic::write(&ws.root().join(path), &bytes)
                .with_context(|| format!("writing {}", path.display()))?;
            out.line(format!(
                "{} predictions written to {}",
                predictions.rows.len(),
                path.display()
            ));
        }
        None => out.line(String::from_utf8_lossy(&bytes).trim_end()),
    }
    if let Some(accuracy) = predictions.accuracy {
        let line = format!("accuracy: {accuracy}");
        if args.output.is_some() {
            out.line(line);
        } else {
            eprintln!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Makes the model named by `uri` a local path: downloads a `runs:/` or `models:/` model into
/// `scratch`, or takes a local path as it is (relative to the workspace).
fn resolve(
    ws: &Workspace,
    tracking: &Target,
    uri: &str,
    scratch: &Path,
) -> anyhow::Result<PathBuf> {
    if !uri.starts_with("runs:/") && !uri.starts_with("models:/") {
        let path = ws.root().join(uri);
        if path.exists() {
            return Ok(path);
        }
        bail!("model `{uri}` not found (expected runs:/…, models:/… or a path)");
    }
    let store = tracking.open()?;
    let source = match ModelUri::parse(uri)? {
        ModelUri::Run { .. } => uri.to_string(),
        _ => store.resolve_model_uri(uri)?.source,
    };
    let ModelUri::Run { run_id, path } = ModelUri::parse(&source)? else {
        bail!("model `{uri}` points at `{source}`, which is not a runs:/ URI");
    };
    let dest = scratch.join("model");
    store
        .download_artifact(&run_id, &path, &dest)
        .with_context(|| format!("downloading {source}"))?;
    Ok(dest)
}
