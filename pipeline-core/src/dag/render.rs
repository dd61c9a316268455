//! Text renderings of the graph for `dag`: layered ASCII boxes (`layered.rs`), Graphviz dot and
//! Mermaid. All follow the graph's topological order, so the output is stable.

use super::Dag;
use std::fmt::Write;

/// Output formats of `dag`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Boxes in layers from the sources down, each stage once, edges as `*` lines.
    Ascii,
    /// Graphviz dot.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
}

/// Renders `dag`, optionally with a state label per stage (e.g. "up to date").
pub fn render(dag: &Dag, format: Format, label: &dyn Fn(usize) -> Option<String>) -> String {
    match format {
        Format::Ascii => ascii(dag, label),
        Format::Dot => dot(dag, label),
        Format::Mermaid => mermaid(dag, label),
    }
}

fn name_with(dag: &Dag, i: usize, label: &dyn Fn(usize) -> Option<String>) -> String {
    match label(i) {
        Some(state) => format!("{} [{state}]", dag.stage(i).name),
        None => dag.stage(i).name.clone(),
    }
}

fn ascii(dag: &Dag, label: &dyn Fn(usize) -> Option<String>) -> String {
    super::layered::draw(dag, &|i| name_with(dag, i, label))
}

fn edges(dag: &Dag) -> Vec<(usize, usize)> {
    let mut all = Vec::new();
    for &i in dag.order() {
        let mut ups: Vec<usize> = dag.upstream(i).to_vec();
        ups.sort_by_key(|u| dag.order().iter().position(|o| o == u));
        all.extend(ups.into_iter().map(|u| (u, i)));
    }
    all
}

fn dot(dag: &Dag, label: &dyn Fn(usize) -> Option<String>) -> String {
    let mut out = format!(
        "digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box];\n",
        dag.name()
    );
    for &i in dag.order() {
        let _ = writeln!(
            out,
            "  \"{}\" [label=\"{}\"];",
            dag.stage(i).name,
            name_with(dag, i, label).replace('"', "\\\"")
        );
    }
    for (from, to) in edges(dag) {
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\";",
            dag.stage(from).name,
            dag.stage(to).name
        );
    }
    out.push_str("}\n");
    out
}

fn mermaid(dag: &Dag, label: &dyn Fn(usize) -> Option<String>) -> String {
    let mut out = String::from("flowchart TD\n");
    for &i in dag.order() {
        let _ = writeln!(
            out,
            "  {}[\"{}\"]",
            dag.stage(i).name,
            name_with(dag, i, label).replace('"', "#quot;")
        );
    }
    for (from, to) in edges(dag) {
        let _ = writeln!(out, "  {} --> {}", dag.stage(from).name, dag.stage(to).name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{OutKind, Pipeline, StageDef};

    fn diamond() -> Dag {
        let s = |n: &str| StageDef::new(n, "c", |_, _| Ok(()));
        Dag::new(Pipeline::new(
            "p",
            vec![
                s("a").out("o", "a", OutKind::Out),
                s("b").dep_output("a", "o", "a").out("o", "b", OutKind::Out),
                s("c").dep_output("a", "o", "a").out("o", "c", OutKind::Out),
                s("d").dep_output("b", "o", "b").dep_output("c", "o", "c"),
            ],
        ))
        .unwrap()
    }

    #[test]
    fn ascii_draws_each_stage_once_with_its_label() {
        let text = render(&diamond(), Format::Ascii, &|i| {
            (i == 3).then(|| "stale".into())
        });
        assert_eq!(text.matches("| d [stale] |").count(), 1, "{text}");
    }

    #[test]
    fn dot_and_mermaid_list_every_edge() {
        let dot = render(&diamond(), Format::Dot, &|_| None);
        assert!(dot.contains("\"b\" -> \"d\";") && dot.contains("\"c\" -> \"d\";"));
        let mermaid = render(&diamond(), Format::Mermaid, &|_| None);
        assert!(mermaid.starts_with("flowchart TD\n") && mermaid.contains("  a --> b\n"));
    }
}
