//! `predict --model URI --input CSV [--output CSV]`: batch predictions with a logged model.

use super::Printer;
use crate::predict::Predictor;
use crate::serve::ModelSource;
use crate::tracking::recorder::Target;
use crate::workspace::Workspace;
use anyhow::{bail, Context as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

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
    predictor: Option<Arc<dyn Predictor>>,
    args: Args,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let Some(predictor) = predictor else {
        bail!("this pipeline binary has no predictor: build it with `App::new(…).predictor(…)`");
    };
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;
    let source = ModelSource::new(&args.model, ws.root(), tracking.clone(), predictor.clone())?;
    let model = source.fetch(&source.designate()?, scratch.path())?;
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
