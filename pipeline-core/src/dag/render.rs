//! Text renderings of the graph for `dag`: an ASCII tree (like `cargo tree`), Graphviz dot and
//! Mermaid. All follow the graph's topological order, so the output is stable.

use super::Dag;
use std::fmt::Write;

/// Output formats of `dag`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// An indented tree from each source stage; a stage reached again is marked `(*)`.
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
    let mut out = String::new();
    let mut shown = vec![false; dag.stages().len()];
    for &root in dag.order() {
        if dag.upstream(root).is_empty() {
            branch(dag, root, "", None, &mut shown, label, &mut out);
        }
    }
    out
}

fn branch(
    dag: &Dag,
    i: usize,
    prefix: &str,
    last: Option<bool>,
    shown: &mut [bool],
    label: &dyn Fn(usize) -> Option<String>,
    out: &mut String,
) {
    let (lead, child_prefix) = match last {
        None => (String::new(), String::new()),
        Some(true) => (format!("{prefix}└── "), format!("{prefix}    ")),
        Some(false) => (format!("{prefix}├── "), format!("{prefix}│   ")),
    };
    let seen = shown[i];
    let mark = if seen && !dag.downstream(i).is_empty() {
        " (*)"
    } else {
        ""
    };
    let _ = writeln!(out, "{lead}{}{mark}", name_with(dag, i, label));
    if seen {
        return;
    }
    shown[i] = true;
    let mut children: Vec<usize> = dag.downstream(i).to_vec();
    children.sort_by_key(|c| dag.order().iter().position(|o| o == c));
    let count = children.len();
    for (n, child) in children.into_iter().enumerate() {
        branch(
            dag,
            child,
            &child_prefix,
            Some(n + 1 == count),
            shown,
            label,
            out,
        );
    }
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
    fn ascii_tree_marks_repeats() {
        let text = render(&diamond(), Format::Ascii, &|_| None);
        assert_eq!(text, "a\n├── b\n│   └── d\n└── c\n    └── d\n");
    }

    #[test]
    fn dot_and_mermaid_list_every_edge() {
        let dot = render(&diamond(), Format::Dot, &|_| None);
        assert!(dot.contains("\"b\" -> \"d\";") && dot.contains("\"c\" -> \"d\";"));
        let mermaid = render(&diamond(), Format::Mermaid, &|_| None);
        assert!(mermaid.starts_with("flowchart TD\n") && mermaid.contains("  a --> b\n"));
    }
}
