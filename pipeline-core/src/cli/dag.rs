//! `dag`: the pipeline graph as an ASCII tree, Graphviz dot or Mermaid.

use super::Printer;
use crate::dag::render::{render, Format};
use crate::dag::Dag;
use crate::workspace::Workspace;
use std::process::ExitCode;

/// Arguments of `dag`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Ascii)]
    pub format: FormatArg,
}

/// `--format` values.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum FormatArg {
    /// Boxes in layers, each stage once, like `dvc dag`.
    Ascii,
    /// Graphviz dot.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
    /// JSON: stages with their dependencies and outputs, and edges.
    Json,
}

pub fn run(_ws: &Workspace, dag: &Dag, args: Args, out: &Printer) -> anyhow::Result<ExitCode> {
    let format = match args.format {
        FormatArg::Ascii => Format::Ascii,
        FormatArg::Dot => Format::Dot,
        FormatArg::Mermaid => Format::Mermaid,
        FormatArg::Json => {
            out.line(serde_json::to_string_pretty(&json(dag))?);
            return Ok(ExitCode::SUCCESS);
        }
    };
    let text = render(dag, format, &|_| None);
    out.line(text.trim_end());
    Ok(ExitCode::SUCCESS)
}

fn json(dag: &Dag) -> serde_json::Value {
    let stages: Vec<_> = dag
        .order()
        .iter()
        .map(|&i| {
            let stage = dag.stage(i);
            serde_json::json!({
                "name": stage.name,
                "deps": stage.deps.iter().map(|d| d.path()).collect::<Vec<_>>(),
                "outs": stage.outs.iter().map(|o| serde_json::json!({
                    "name": o.name, "path": o.path, "kind": o.kind,
                })).collect::<Vec<_>>(),
                "params": stage.params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
                "upstream": dag.upstream(i).iter().map(|&u| dag.stage(u).name.as_str()).collect::<Vec<_>>(),
                "always_run": stage.always_run,
                "frozen": stage.frozen,
            })
        })
        .collect();
    serde_json::json!({ "pipeline": dag.name(), "stages": stages })
}
