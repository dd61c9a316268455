//! The ASCII drawing of `dag`: each stage once, in a box, in layers from the sources down, with
//! edges drawn as `*` lines (the look of `dvc dag`). A tree would repeat a stage reached by two
//! paths and read as two stages; a layered drawing shows the graph as it is.
//!
//! The layout is a small Sugiyama pass: a stage's layer is its longest path from a source; an
//! edge spanning several layers goes through a one-column placeholder in each layer between, so
//! it never crosses a box; layers are ordered by the mean position of their upstream nodes
//! (fewer crossings); each node then sits as close as it can under the middle of its upstream
//! nodes, so a chain draws as a straight column.

use super::Dag;

/// Blank rows between two layers, where edges run.
const GAP_ROWS: usize = 3;
/// Columns between two neighbouring nodes of a layer.
const GAP_COLUMNS: usize = 3;

/// A node of the layout: a stage's box or a placeholder an edge passes through.
struct Node {
    label: Option<String>,
    layer: usize,
    width: usize,
    /// Column of the left edge, once placed.
    left: usize,
}

impl Node {
    fn center(&self) -> usize {
        self.left + self.width / 2
    }
}

/// Draws `dag`, each stage's box holding `label(stage)`.
pub(crate) fn draw(dag: &Dag, label: &dyn Fn(usize) -> String) -> String {
    if dag.stages().is_empty() {
        return String::new();
    }
    let (mut nodes, edges) = build(dag, label);
    let layers = order_layers(&nodes, &edges);
    place(&mut nodes, &edges, &layers);
    paint(&nodes, &edges, &layers)
}

/// Nodes (stages first, indexed as in the dag, then placeholders) and edges between adjacent
/// layers.
fn build(dag: &Dag, label: &dyn Fn(usize) -> String) -> (Vec<Node>, Vec<(usize, usize)>) {
    let mut layer = vec![0usize; dag.stages().len()];
    for &i in dag.order() {
        layer[i] = dag
            .upstream(i)
            .iter()
            .map(|&u| layer[u] + 1)
            .max()
            .unwrap_or(0);
    }
    let mut nodes: Vec<Node> = (0..dag.stages().len())
        .map(|i| {
            let text = label(i);
            Node {
                width: text.chars().count() + 4,
                label: Some(text),
                layer: layer[i],
                left: 0,
            }
        })
        .collect();
    let mut edges = Vec::new();
    for &to in dag.order() {
        for &from in dag.upstream(to) {
            let mut previous = from;
            for between in layer[from] + 1..layer[to] {
                nodes.push(Node {
                    label: None,
                    layer: between,
                    width: 1,
                    left: 0,
                });
                edges.push((previous, nodes.len() - 1));
                previous = nodes.len() - 1;
            }
            edges.push((previous, to));
        }
    }
    (nodes, edges)
}

/// Node indices per layer, left to right: first in order of creation, then by the mean position
/// of their upstream neighbours (a few downward sweeps settle small graphs).
fn order_layers(nodes: &[Node], edges: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let depth = nodes.iter().map(|n| n.layer).max().unwrap_or(0) + 1;
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for (i, node) in nodes.iter().enumerate() {
        layers[node.layer].push(i);
    }
    for _ in 0..4 {
        let mut position = vec![0.0f64; nodes.len()];
        for layer in &layers {
            for (p, &i) in layer.iter().enumerate() {
                position[i] = p as f64;
            }
        }
        for layer in layers.iter_mut().skip(1) {
            let key = |i: usize| {
                let ups: Vec<f64> = edges
                    .iter()
                    .filter(|e| e.1 == i)
                    .map(|e| position[e.0])
                    .collect();
                if ups.is_empty() {
                    position[i]
                } else {
                    ups.iter().sum::<f64>() / ups.len() as f64
                }
            };
            let mut keyed: Vec<(f64, usize)> = layer.iter().map(|&i| (key(i), i)).collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            *layer = keyed.into_iter().map(|(_, i)| i).collect();
            for (p, &i) in layer.iter().enumerate() {
                position[i] = p as f64;
            }
        }
    }
    layers
}

/// Columns: the first layer packed; every later node as near the middle of its upstream nodes as
/// the node to its left allows, the layer then centred on where its nodes wanted to be. Then the
/// whole drawing is shifted to start at column 0.
fn place(nodes: &mut [Node], edges: &[(usize, usize)], layers: &[Vec<usize>]) {
    // Work in signed columns so a node may want to start left of 0.
    let mut left = vec![0i64; nodes.len()];
    for layer in layers {
        let mut next_free = i64::MIN;
        // How far packing pushed each node from where it wanted to be.
        let mut pushed = Vec::new();
        for &i in layer {
            let ups: Vec<i64> = edges
                .iter()
                .filter(|e| e.1 == i)
                .map(|e| left[e.0] + (nodes[e.0].width / 2) as i64)
                .collect();
            let width = nodes[i].width as i64;
            let wanted = if ups.is_empty() {
                next_free.max(0)
            } else {
                ups.iter().sum::<i64>() / ups.len() as i64 - width / 2
            };
            left[i] = if next_free == i64::MIN {
                wanted
            } else {
                wanted.max(next_free)
            };
            if !ups.is_empty() {
                pushed.push(left[i] - wanted);
            }
            next_free = left[i] + width + GAP_COLUMNS as i64;
        }
        // Packing only pushes right; moving the whole layer back by the mean push centres
        // branches under the stage they fan out from (gaps within the layer are kept).
        if !pushed.is_empty() {
            let back = pushed.iter().sum::<i64>() / pushed.len() as i64;
            for &i in layer {
                left[i] -= back;
            }
        }
    }
    let min = left.iter().copied().min().unwrap_or(0);
    for (node, l) in nodes.iter_mut().zip(left) {
        node.left = usize::try_from(l - min).unwrap_or(0);
    }
}

/// The character grid: boxes, placeholders as vertical `*`, edges as `*` lines between layers.
fn paint(nodes: &[Node], edges: &[(usize, usize)], layers: &[Vec<usize>]) -> String {
    let width = nodes.iter().map(|n| n.left + n.width).max().unwrap_or(0);
    let height = layers.len() * 3 + (layers.len() - 1) * GAP_ROWS;
    let mut grid = vec![vec![' '; width]; height];
    let top = |layer: usize| layer * (3 + GAP_ROWS);
    for &(from, to) in edges {
        let (x0, x1) = (nodes[from].center() as f64, nodes[to].center() as f64);
        let first = top(nodes[from].layer) + 3;
        for k in 0..GAP_ROWS {
            // The part of the straight line from (x0, just below the upper box) to (x1, just
            // above the lower one) that crosses this row.
            let at = |t: f64| (x0 + (x1 - x0) * t).round() as usize;
            let (a, b) = (
                at(k as f64 / GAP_ROWS as f64),
                at((k + 1) as f64 / GAP_ROWS as f64),
            );
            let (lo, hi) = if a == b {
                (a, a)
            } else if a < b {
                (a, b - 1)
            } else {
                (b + 1, a)
            };
            for cell in &mut grid[first + k][lo..=hi] {
                *cell = '*';
            }
        }
    }
    for node in nodes {
        let row = top(node.layer);
        match &node.label {
            None => {
                for line in &mut grid[row..row + 3] {
                    line[node.left] = '*';
                }
            }
            Some(text) => {
                let border: Vec<char> = format!("+{}+", "-".repeat(node.width - 2))
                    .chars()
                    .collect();
                let middle: Vec<char> = format!("| {text} |").chars().collect();
                for (r, chars) in [&border, &middle, &border].into_iter().enumerate() {
                    grid[row + r][node.left..node.left + node.width].copy_from_slice(chars);
                }
            }
        }
    }
    let mut out = String::new();
    for line in grid {
        let text: String = line.into_iter().collect();
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{OutKind, Pipeline, StageDef};

    fn dag(stages: Vec<StageDef>) -> Dag {
        Dag::new(Pipeline::new("p", stages)).unwrap()
    }

    fn s(n: &str) -> StageDef {
        StageDef::new(n, "c", |_, _| Ok(())).out("o", n, OutKind::Out)
    }

    fn name(d: &Dag) -> impl Fn(usize) -> String + '_ {
        |i| d.stage(i).name.clone()
    }

    #[test]
    fn a_stage_reached_by_two_paths_is_drawn_once() {
        let d = dag(vec![
            s("prepare"),
            s("train").dep_output("prepare", "o", "prepare"),
            StageDef::new("evaluate", "c", |_, _| Ok(()))
                .dep_output("train", "o", "train")
                .dep_output("prepare", "o", "prepare"),
        ]);
        let text = draw(&d, &name(&d));
        assert_eq!(text.matches("evaluate").count(), 1, "{text}");
        assert_eq!(text.matches("prepare").count(), 1, "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_chain_is_one_straight_column() {
        let d = dag(vec![
            s("a"),
            s("b").dep_output("a", "o", "a"),
            s("c").dep_output("b", "o", "b"),
        ]);
        let text = draw(&d, &name(&d));
        assert_eq!(
            text,
            "+---+\n| a |\n+---+\n  *\n  *\n  *\n+---+\n| b |\n+---+\n  *\n  *\n  *\n+---+\n| c |\n+---+\n"
        );
    }

    #[test]
    fn a_diamond_has_two_branches_and_one_join() {
        let d = dag(vec![
            s("a"),
            s("b").dep_output("a", "o", "a"),
            s("c").dep_output("a", "o", "a"),
            StageDef::new("d", "c", |_, _| Ok(()))
                .dep_output("b", "o", "b")
                .dep_output("c", "o", "c"),
        ]);
        let text = draw(&d, &name(&d));
        for stage in ["a", "b", "c", "d"] {
            assert_eq!(text.matches(&format!("| {stage} |")).count(), 1, "{text}");
        }
        insta::assert_snapshot!(text);
    }

    #[test]
    fn independent_stages_sit_side_by_side() {
        let d = dag(vec![s("left"), s("right")]);
        assert_eq!(
            draw(&d, &name(&d)),
            "+------+   +-------+\n| left |   | right |\n+------+   +-------+\n"
        );
    }
}
