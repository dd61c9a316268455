//! The validated stage graph. The macro already rejects bad graphs at compile time; this checks
//! again for pipelines built by hand (or generated), and gives the executor its edges and a
//! topological order that follows declaration order where the graph leaves a choice.

mod layered;
pub mod render;
pub mod rules;

use crate::pipeline::{DepDef, Pipeline, StageDef};
use rules::{RuleDep, RuleStage, Violation};
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
    /// A path is absolute, leaves the workspace or enters `.pipeline/`.
    #[error("stage `{stage}`: path {why}")]
    BadPath {
        /// The stage.
        stage: String,
        /// What is wrong, path included.
        why: String,
    },
    /// A file dependency is another stage's output, undeclared as such.
    #[error("stage `{stage}` depends on `{path}` as a file, but stage `{producer}` writes it; depend on it as `{producer}::{output}`")]
    FileDepIsOutput {
        /// The dependent stage.
        stage: String,
        /// The path.
        path: String,
        /// The stage writing it.
        producer: String,
        /// The output's name.
        output: String,
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
    /// Validates `pipeline` into a graph, with the rules the macro applies at compile time.
    pub fn new(pipeline: Pipeline) -> Result<Dag, DagError> {
        let stages = &pipeline.stages;
        if let Some(violation) = rules::check(&rule_stages(stages)).into_iter().next() {
            return Err(error_of(stages, violation));
        }
        let mut index = HashMap::new();
        for (i, stage) in stages.iter().enumerate() {
            index.insert(stage.name.clone(), i);
        }
        let mut upstream = vec![Vec::new(); stages.len()];
        let mut downstream = vec![Vec::new(); stages.len()];
        for (i, stage) in stages.iter().enumerate() {
            for dep in &stage.deps {
                if let DepDef::Output { stage: from, .. } = dep {
                    let j = index[from];
                    if !upstream[i].contains(&j) {
                        upstream[i].push(j);
                        downstream[j].push(i);
                    }
                }
            }
        }
        let order = topological(&upstream);
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

fn rule_stages(stages: &[StageDef]) -> Vec<RuleStage<'_>> {
    stages
        .iter()
        .map(|stage| RuleStage {
            name: &stage.name,
            outs: stage
                .outs
                .iter()
                .map(|o| (o.name.as_str(), o.path.as_str()))
                .collect(),
            deps: stage
                .deps
                .iter()
                .map(|dep| match dep {
                    DepDef::File(path) => RuleDep::File(path),
                    DepDef::Output { stage, name, .. } => RuleDep::Output {
                        stage,
                        output: name,
                    },
                })
                .collect(),
        })
        .collect()
}

fn error_of(stages: &[StageDef], violation: Violation) -> DagError {
    let name = |i: usize| stages[i].name.clone();
    let dep = |i: usize, d: usize| match &stages[i].deps[d] {
        DepDef::File(path) => path.clone(),
        DepDef::Output { stage, name, .. } => format!("{stage}::{name}"),
    };
    match violation {
        Violation::DuplicateStage { stage } => DagError::DuplicateStage(name(stage)),
        Violation::BadPath { stage, why, .. } => DagError::BadPath {
            stage: name(stage),
            why,
        },
        Violation::DuplicateOutputName { stage, out }
        | Violation::OutputClash {
            second: (stage, out),
            ..
        } => {
            let first = match violation {
                Violation::OutputClash { first, .. } => first.0,
                _ => stage,
            };
            DagError::DuplicateOutput {
                path: stages[stage].outs[out].path.clone(),
                first: name(first),
                second: name(stage),
            }
        }
        Violation::UnknownStage { stage, dep: d }
        | Violation::UnknownOutput { stage, dep: d, .. } => DagError::UnknownOutput {
            stage: name(stage),
            dep: dep(stage, d),
        },
        Violation::FileDepIsOutput {
            stage,
            dep: d,
            producer: (p, o),
        } => DagError::FileDepIsOutput {
            stage: name(stage),
            path: dep(stage, d),
            producer: name(p),
            output: stages[p].outs[o].name.clone(),
        },
        Violation::Cycle { path, .. } => DagError::Cycle(path.into_iter().map(name).collect()),
    }
}

/// Kahn's algorithm, always taking the earliest-declared ready stage, so the order is stable.
/// The rules have ruled out cycles.
fn topological(upstream: &[Vec<usize>]) -> Vec<usize> {
    let n = upstream.len();
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
    order
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
                stage("b")
                    .dep_output("a", "o", "a.txt")
                    .out("o", "b.txt", OutKind::Out),
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
        let owned = Dag::new(Pipeline::new(
            "p",
            vec![stage("a").out("o", ".pipeline/x", OutKind::Out)],
        ));
        assert!(matches!(owned, Err(DagError::BadPath { .. })));
    }

    #[test]
    fn a_file_dependency_written_by_a_stage_is_refused_as_the_macro_does() {
        let hidden = Dag::new(Pipeline::new(
            "p",
            vec![
                stage("a").out("o", "data", OutKind::Out),
                stage("b")
                    .dep_file("data/x.csv")
                    .out("o", "b", OutKind::Out),
            ],
        ));
        let error = hidden.err().expect("refused").to_string();
        assert_eq!(
            error,
            "stage `b` depends on `data/x.csv` as a file, but stage `a` writes it; depend on it as `a::o`"
        );
    }
}
