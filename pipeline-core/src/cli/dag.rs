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
    /// An indented tree.
    Ascii,
    /// Graphviz dot.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
}

pub fn run(_ws: &Workspace, dag: &Dag, args: Args, out: &Printer) -> anyhow::Result<ExitCode> {
    let format = match args.format {
        FormatArg::Ascii => Format::Ascii,
        FormatArg::Dot => Format::Dot,
        FormatArg::Mermaid => Format::Mermaid,
    };
    let text = render(dag, format, &|_| None);
    out.line(text.trim_end());
    Ok(ExitCode::SUCCESS)
}
