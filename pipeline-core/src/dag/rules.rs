//! The graph rules, defined once: the `#[pipeline]` macro applies them at compile time (it
//! includes this very file, so it must use nothing but `std`) and `Dag::new` applies
//! them at run time to pipelines built by hand or generated, so the two can never disagree.
//!
//! A pipeline is described by indices only; each [`Violation`] names the stage, output or
//! dependency at fault by index, and each side turns it into its own error: a `syn::Error` spanned
//! at the tokens to fix, or a `DagError`. Every rule runs, the cycle search included, so one build
//! reports every mistake.

use std::collections::HashMap;

/// One stage as the rules see it.
pub struct RuleStage<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its outputs: (name, workspace path).
    pub outs: Vec<(&'a str, &'a str)>,
    /// Its dependencies.
    pub deps: Vec<RuleDep<'a>>,
}

/// A dependency as the rules see it.
pub enum RuleDep<'a> {
    /// A file or directory given by path.
    File(&'a str),
    /// Output `output` of stage `stage`.
    Output {
        /// The producing stage's name.
        stage: &'a str,
        /// The output's name.
        output: &'a str,
    },
}

/// What kind of path a [`Violation::BadPath`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathRole {
    /// An output path.
    Output,
    /// A file dependency.
    Dependency,
}

/// A broken rule. Indices are into the stages, and into a stage's `outs` or `deps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Stage `stage` has the name of an earlier stage.
    DuplicateStage {
        /// The later stage.
        stage: usize,
    },
    /// A path is unusable.
    BadPath {
        /// The stage.
        stage: usize,
        /// Which output or dependency (by role).
        index: usize,
        /// Output or dependency.
        role: PathRole,
        /// Why, as a phrase following the path.
        why: String,
    },
    /// Two outputs of one stage share a name.
    DuplicateOutputName {
        /// The stage.
        stage: usize,
        /// The later output.
        out: usize,
    },
    /// Two outputs share a path, or one sits inside the other.
    OutputClash {
        /// The earlier writer (stage, output).
        first: (usize, usize),
        /// The later writer.
        second: (usize, usize),
        /// Same path (rather than one inside the other).
        same: bool,
    },
    /// `stage::output` names no stage.
    UnknownStage {
        /// The dependent stage.
        stage: usize,
        /// The dependency.
        dep: usize,
    },
    /// `stage::output` names no output of that stage.
    UnknownOutput {
        /// The dependent stage.
        stage: usize,
        /// The dependency.
        dep: usize,
        /// The producing stage.
        producer: usize,
    },
    /// A file dependency is (or is inside) another stage's output: it must be declared as that
    /// output, or the stages could run in the wrong order.
    FileDepIsOutput {
        /// The dependent stage.
        stage: usize,
        /// The dependency.
        dep: usize,
        /// The producer (stage, output).
        producer: (usize, usize),
    },
    /// The stages form a cycle; `closing` is the dependency (stage, dep) that closes it.
    Cycle {
        /// Stage indices along the cycle, the first repeated at the end.
        path: Vec<usize>,
        /// The dependency closing it.
        closing: (usize, usize),
    },
}

/// Why a workspace path is unusable, as a phrase about it, if it is.
pub fn path_problem(path: &str) -> Option<String> {
    if path.is_empty() {
        return Some("is empty".into());
    }
    if path.starts_with('/') || path.starts_with('\\') || path.get(1..2) == Some(":") {
        return Some(format!(
            "`{path}` is absolute; paths are relative to the workspace"
        ));
    }
    if path.split(['/', '\\']).any(|part| part == "..") {
        return Some(format!("`{path}` escapes the workspace through `..`"));
    }
    if path.split('/').any(|part| part.is_empty() || part == ".") {
        return Some(format!(
            "`{path}` is not normalized: no empty or `.` components, no trailing `/`"
        ));
    }
    if path == ".pipeline" || path.starts_with(".pipeline/") {
        return Some(format!(
            "`{path}` is inside `.pipeline/`, which the runtime owns"
        ));
    }
    None
}

/// Whether `path` lies strictly inside directory `dir`.
pub fn is_inside(path: &str, dir: &str) -> bool {
    path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
}

/// Every violation of every rule, in a stable order.
pub fn check(stages: &[RuleStage<'_>]) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, stage) in stages.iter().enumerate() {
        if index.contains_key(stage.name) {
            found.push(Violation::DuplicateStage { stage: i });
        } else {
            index.insert(stage.name, i);
        }
    }
    check_paths(stages, &mut found);
    check_outputs(stages, &mut found);
    check_deps(stages, &index, &mut found);
    if let Some(cycle) = find_cycle(stages, &index) {
        found.push(cycle);
    }
    found
}

fn check_paths(stages: &[RuleStage<'_>], found: &mut Vec<Violation>) {
    for (i, stage) in stages.iter().enumerate() {
        for (o, (_, path)) in stage.outs.iter().enumerate() {
            if let Some(why) = path_problem(path) {
                found.push(Violation::BadPath {
                    stage: i,
                    index: o,
                    role: PathRole::Output,
                    why,
                });
            }
        }
        for (d, dep) in stage.deps.iter().enumerate() {
            if let RuleDep::File(path) = dep {
                if let Some(why) = path_problem(path) {
                    found.push(Violation::BadPath {
                        stage: i,
                        index: d,
                        role: PathRole::Dependency,
                        why,
                    });
                }
            }
        }
    }
}

fn check_outputs(stages: &[RuleStage<'_>], found: &mut Vec<Violation>) {
    let mut seen: Vec<(&str, (usize, usize))> = Vec::new();
    for (i, stage) in stages.iter().enumerate() {
        for (o, (name, path)) in stage.outs.iter().enumerate() {
            if stage.outs[..o].iter().any(|(n, _)| n == name) {
                found.push(Violation::DuplicateOutputName { stage: i, out: o });
            }
            for (other, first) in &seen {
                let same = other == path;
                if same || is_inside(path, other) || is_inside(other, path) {
                    found.push(Violation::OutputClash {
                        first: *first,
                        second: (i, o),
                        same,
                    });
                }
            }
            seen.push((path, (i, o)));
        }
    }
}

fn check_deps(stages: &[RuleStage<'_>], index: &HashMap<&str, usize>, found: &mut Vec<Violation>) {
    for (i, stage) in stages.iter().enumerate() {
        for (d, dep) in stage.deps.iter().enumerate() {
            match dep {
                RuleDep::Output {
                    stage: from,
                    output,
                } => match index.get(from) {
                    None => found.push(Violation::UnknownStage { stage: i, dep: d }),
                    Some(&p) => {
                        if !stages[p].outs.iter().any(|(n, _)| n == output) {
                            found.push(Violation::UnknownOutput {
                                stage: i,
                                dep: d,
                                producer: p,
                            });
                        }
                    }
                },
                RuleDep::File(path) => {
                    for (p, producer) in stages.iter().enumerate() {
                        for (o, (_, out)) in producer.outs.iter().enumerate() {
                            if out == path || is_inside(path, out) {
                                found.push(Violation::FileDepIsOutput {
                                    stage: i,
                                    dep: d,
                                    producer: (p, o),
                                });
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Depth-first search over `stage::output` edges that resolve (unknown names are reported
/// elsewhere and simply skipped here, so a cycle is found whatever else is wrong).
fn find_cycle(stages: &[RuleStage<'_>], index: &HashMap<&str, usize>) -> Option<Violation> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        at: usize,
        stages: &[RuleStage<'_>],
        index: &HashMap<&str, usize>,
        marks: &mut Vec<Mark>,
        path: &mut Vec<usize>,
    ) -> Option<Violation> {
        marks[at] = Mark::Active;
        path.push(at);
        for (d, dep) in stages[at].deps.iter().enumerate() {
            let RuleDep::Output { stage: from, .. } = dep else {
                continue;
            };
            let Some(&next) = index.get(from) else {
                continue;
            };
            match marks[next] {
                Mark::Active => {
                    let start = path.iter().position(|&s| s == next).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(next);
                    return Some(Violation::Cycle {
                        path: cycle,
                        closing: (at, d),
                    });
                }
                Mark::New => {
                    if let Some(found) = visit(next, stages, index, marks, path) {
                        return Some(found);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks[at] = Mark::Done;
        None
    }
    let mut marks = vec![Mark::New; stages.len()];
    for start in 0..stages.len() {
        if marks[start] == Mark::New {
            if let Some(found) = visit(start, stages, index, &mut marks, &mut Vec::new()) {
                return Some(found);
            }
        }
    }
    None
}
