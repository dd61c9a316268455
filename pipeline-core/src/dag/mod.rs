//! The validated stage graph. The macro already rejects bad graphs at compile time; this checks
//! again for pipelines built by hand (or generated), and gives the executor its edges and a
//! topological order that follows declaration order where the graph leaves a choice.

pub mod render;

use crate::pipeline::{DepDef, Pipeline, StageDef};
use std::collections::{BTreeSet, HashMap};

/// Why a pipeline is not a valid graph.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DagError {
    /// Two stages share a name.
    #[error("stage `{0}` is listed twice")]
    DuplicateStage(String),
    /// Two outputs share or nest a path.
    #[error("stages `{first}` and `{second}` both write `{path}`")]
    DuplicateOutput {
        /// The path.
        path: String,
        /// One writer.
        first: String,
        /// The other.
        second: String,
    },
    /// A dependency names an output that does not exist.
    #[error("stage `{stage}` depends on `{dep}`, which no stage produces")]
    UnknownOutput {
        /// The dependent stage.
        stage: String,
        /// The dependency as written.
        dep: String,
    },
    /// A path is absolute or leaves the workspace.
    #[error("stage `{stage}`: path `{path}` {why}")]
    BadPath {
        /// The stage.
        stage: String,
        /// The path.
        path: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The graph has a cycle.
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
}

/// A validated pipeline.
pub struct Dag {
    pipeline: Pipeline,
    upstream: Vec<Vec<usize>>,
    downstream: Vec<Vec<usize>>,
    order: Vec<usize>,
    index: HashMap<String, usize>,
}

impl Dag {
    /// Validates `pipeline` into a graph.
    pub fn new(pipeline: Pipeline) -> Result<Dag, DagError> {
        let stages = &pipeline.stages;
        let mut index = HashMap::new();
        for (i, stage) in stages.iter().enumerate() {
            if index.insert(stage.name.clone(), i).is_some() {
                return Err(DagError::DuplicateStage(stage.name.clone()));
            }
        }
        let mut writers: HashMap<&str, usize> = HashMap::new();
        for (i, stage) in stages.iter().enumerate() {
            for out in &stage.outs {
                check_path(stage, &out.path)?;
                if let Some(&j) = writers.get(out.path.as_str()) {
                    return Err(DagError::DuplicateOutput {
                        path: out.path.clone(),
                        first: stages[j].name.clone(),
                        second: stage.name.clone(),
                    });
                }
                writers.insert(&out.path, i);
            }
        }
        check_nesting(stages)?;
        let mut upstream = vec![Vec::new(); stages.len()];
        let mut downstream = vec![Vec::new(); stages.len()];
        for (i, stage) in stages.iter().enumerate() {
            for dep in &stage.deps {
                check_path(stage, dep.path())?;
                let producer = match dep {
                    DepDef::Output {
                        stage: from, name, ..
                    } => {
                        let found = index
                            .get(from)
                            .filter(|&&j| stages[j].outs.iter().any(|o| &o.name == name));
                        Some(*found.ok_or_else(|| DagError::UnknownOutput {
                            stage: stage.name.clone(),
                            dep: format!("{from}::{name}"),
                        })?)
                    }
                    DepDef::File(path) => writers.get(path.as_str()).copied(),
                };
                if let Some(j) = producer {
                    if !upstream[i].contains(&j) {
                        upstream[i].push(j);
                        downstream[j].push(i);
                    }
                }
            }
        }
        let order = topological(stages, &upstream)?;
        Ok(Dag {
            pipeline,
            upstream,
            downstream,
            order,
            index,
        })
    }

    /// The pipeline's name.
    pub fn name(&self) -> &str {
        &self.pipeline.name
    }

    /// All stages in declaration order.
    pub fn stages(&self) -> &[StageDef] {
        &self.pipeline.stages
    }

    /// Stage `i`.
    pub fn stage(&self, i: usize) -> &StageDef {
        &self.pipeline.stages[i]
    }

    /// The index of the stage called `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Stages `i` depends on directly.
    pub fn upstream(&self, i: usize) -> &[usize] {
        &self.upstream[i]
    }

    /// Stages depending directly on `i`.
    pub fn downstream(&self, i: usize) -> &[usize] {
        &self.downstream[i]
    }

    /// Every stage, dependencies first.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// `targets` plus everything they depend on, transitively.
    pub fn with_upstream(&self, targets: &[usize]) -> BTreeSet<usize> {
        self.closure(targets, &self.upstream)
    }

    /// `targets` plus everything depending on them, transitively.
    pub fn with_downstream(&self, targets: &[usize]) -> BTreeSet<usize> {
        self.closure(targets, &self.downstream)
    }

    fn closure(&self, targets: &[usize], edges: &[Vec<usize>]) -> BTreeSet<usize> {
        let mut seen: BTreeSet<usize> = BTreeSet::new();
        let mut todo: Vec<usize> = targets.to_vec();
        while let Some(i) = todo.pop() {
            if seen.insert(i) {
                todo.extend(&edges[i]);
            }
        }
        seen
    }
}

fn check_path(stage: &StageDef, path: &str) -> Result<(), DagError> {
    let bad = |why| {
        Err(DagError::BadPath {
            stage: stage.name.clone(),
            path: path.to_string(),
            why,
        })
    };
    if path.is_empty() {
        return bad("is empty");
    }
    if path.starts_with('/') || path.starts_with('\\') || path.get(1..2) == Some(":") {
        return bad("is absolute");
    }
    if path.split(['/', '\\']).any(|p| p == "..") {
        return bad("escapes the workspace");
    }
    if path.split('/').any(|p| p.is_empty() || p == ".") {
        return bad("is not normalized");
    }
    Ok(())
}

fn check_nesting(stages: &[StageDef]) -> Result<(), DagError> {
    let mut all: Vec<(&str, &str)> = stages
        .iter()
        .flat_map(|s| {
            s.outs
                .iter()
                .map(move |o| (o.path.as_str(), s.name.as_str()))
        })
        .collect();
    all.sort_unstable();
    for pair in all.windows(2) {
        let ((dir, first), (path, second)) = (pair[0], pair[1]);
        if path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/') {
            return Err(DagError::DuplicateOutput {
                path: path.to_string(),
                first: first.to_string(),
                second: second.to_string(),
            });
        }
    }
    Ok(())
}

/// Kahn's algorithm, always taking the earliest-declared ready stage, so the order is stable.
fn topological(stages: &[StageDef], upstream: &[Vec<usize>]) -> Result<Vec<usize>, DagError> {
    let n = stages.len();
    let mut pending: Vec<usize> = upstream.iter().map(Vec::len).collect();
    let mut downstream = vec![Vec::new(); n];
    for (i, ups) in upstream.iter().enumerate() {
        for &j in ups {
            downstream[j].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &k in &downstream[i] {
            pending[k] -= 1;
            if pending[k] == 0 {
                ready.insert(k);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Walk upstream edges from a stage left over until one repeats: that is a cycle.
    let mut at = (0..n).find(|&i| pending[i] > 0).unwrap_or(0);
    let mut path = vec![at];
    loop {
        let next = upstream[at]
            .iter()
            .copied()
            .find(|&j| pending[j] > 0)
            .unwrap_or(at);
        if let Some(pos) = path.iter().position(|&p| p == next) {
            let mut cycle: Vec<String> = path[pos..]
                .iter()
                .rev()
                .map(|&i| stages[i].name.clone())
                .collect();
            cycle.push(cycle[0].clone());
            return Err(DagError::Cycle(cycle));
        }
        path.push(next);
        at = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{OutKind, StageDef};

    fn stage(name: &str) -> StageDef {
        StageDef::new(name, "code", |_, _| Ok(()))
    }

    #[test]
    fn order_and_closures() {
        let dag = Dag::new(Pipeline::new(
            "p",
            vec![
                stage("c")
                    .dep_output("b", "o", "b.txt")
                    .out("o", "c.txt", OutKind::Out),
                stage("a").out("o", "a.txt", OutKind::Out),
                stage("b").dep_file("a.txt").out("o", "b.txt", OutKind::Out),
            ],
        ))
        .unwrap();
        let names: Vec<&str> = dag
            .order()
            .iter()
            .map(|&i| dag.stage(i).name.as_str())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(dag.with_upstream(&[2]).len(), 2);
        assert_eq!(dag.with_downstream(&[1]).len(), 3);
    }

    #[test]
    fn rejects_bad_graphs() {
        let cycle = Dag::new(Pipeline::new(
            "p",
            vec![
                stage("a")
                    .dep_output("b", "o", "b")
                    .out("o", "a", OutKind::Out),
                stage("b")
                    .dep_output("a", "o", "a")
                    .out("o", "b", OutKind::Out),
            ],
        ));
        assert!(matches!(cycle, Err(DagError::Cycle(_))));
        let twice = Dag::new(Pipeline::new(
            "p",
            vec![
                stage("a").out("o", "x", OutKind::Out),
                stage("b").out("o", "x", OutKind::Out),
            ],
        ));
        assert!(matches!(twice, Err(DagError::DuplicateOutput { .. })));
        let nested = Dag::new(Pipeline::new(
            "p",
            vec![
                stage("a").out("o", "d", OutKind::Out),
                stage("b").out("o", "d/x", OutKind::Out),
            ],
        ));
        assert!(matches!(nested, Err(DagError::DuplicateOutput { .. })));
        let escape = Dag::new(Pipeline::new(
            "p",
            vec![stage("a").out("o", "../x", OutKind::Out)],
        ));
        assert!(matches!(escape, Err(DagError::BadPath { .. })));
    }
}
