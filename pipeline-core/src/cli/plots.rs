//! `plots show`: the declared plots of the workspace gathered into one HTML page (SVG inline,
//! other formats as text), written next to the workspace in `pipeline_plots/index.html`.

use super::Printer;
use crate::atomic;
use crate::dag::Dag;
use crate::pipeline::OutKind;
use crate::workspace::Workspace;
use anyhow::Context as _;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// `plots` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Render every declared plot into one HTML page.
    Show(ShowArgs),
}

/// Arguments of `plots show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Where to write the page (default: pipeline_plots/index.html in the workspace).
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(ws: &Workspace, dag: &Dag, command: Command, out: &Printer) -> anyhow::Result<ExitCode> {
    let Command::Show(args) = command;
    let mut body = String::new();
    let mut count = 0;
    for stage in dag.stages() {
        for plot in stage.outs.iter().filter(|o| o.kind == OutKind::Plots) {
            let path = ws.path(&plot.path);
            let _ = writeln!(body, "<section><h2>{}</h2>", escape(&plot.path));
            match std::fs::read_to_string(&path) {
                Ok(text) if plot.path.ends_with(".svg") => {
                    body.push_str(&text);
                    count += 1;
                }
                Ok(text) => {
                    let _ = write!(body, "<pre>{}</pre>", escape(&text));
                    count += 1;
                }
                Err(_) => {
                    let _ = write!(
                        body,
                        "<p>missing: run <code>repro</code> (stage <code>{}</code>)</p>",
                        escape(&stage.name)
                    );
                }
            }
            body.push_str("</section>\n");
        }
    }
    if count == 0 && body.is_empty() {
        out.line("This pipeline declares no plots.");
        return Ok(ExitCode::SUCCESS);
    }
    let page = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{name} plots</title>\
         <style>body{{font-family:sans-serif;margin:2em}}section{{margin-bottom:2em}}</style></head>\
         <body><h1>{name} plots</h1>\n{body}</body></html>\n",
        name = escape(dag.name())
    );
    let target = args
        .out
        .unwrap_or_else(|| ws.path("pipeline_plots/index.html"));
    atomic::write(&target, page.as_bytes())
        .with_context(|| format!("writing {}", target.display()))?;
    out.line(format!(
        "{} written to {}",
        super::style::count(count, "plot"),
        target.display()
    ));
    Ok(ExitCode::SUCCESS)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
