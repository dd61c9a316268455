//! Whole-graph rules, checked once every stage is parsed: they are what makes a broken pipeline a
//! compile error instead of a runtime surprise. Each error is spanned at the tokens to fix.

use crate::ast::{Dep, Pipeline};
use crate::ctxt::Ctxt;
use crate::rules::{self, PathRole, RuleDep, RuleStage, Violation};
use quote::ToTokens;

/// Runs every rule, recording all violations.
pub fn check(cx: &mut Ctxt, pipeline: &Pipeline) {
    let described = describe(pipeline);
    let graph = rule_stages(&described);
    let violations = rules::check(&graph);
    // Reported in the order a reader meets them: names, signatures, paths, code, then the graph.
    for v in &violations {
        if let Violation::DuplicateStage { stage } = v {
            let name = &pipeline.stages[*stage].name;
            cx.error_spanned_by(
                name,
                format!("stage `{name}` is listed twice in this pipeline"),
            );
        }
    }
    check_signatures(cx, pipeline);
    for v in &violations {
        if let Violation::BadPath {
            stage,
            index,
            role,
            why,
        } = v
        {
            let stage = &pipeline.stages[*stage];
            match role {
                PathRole::Output => {
                    cx.error_spanned_by(&stage.outs[*index].path, format!("output path {why}"))
                }
                PathRole::Dependency => {
                    if let Dep::File(path) = &stage.deps[*index] {
                        cx.error_spanned_by(path, format!("dependency path {why}"));
                    }
                }
            }
        }
    }
    check_code_paths(cx, pipeline);
    for v in &violations {
        report_graph(cx, pipeline, &graph, v);
    }
    check_declared_reads(cx, pipeline);
}

/// A stage body that names another stage's output (`producer::out`) must declare it in `deps`:
/// otherwise the two could run in either order, and a change to it would not rerun the stage.
/// The runtime checks every read as well; this catches what the macro can see.
fn check_declared_reads(cx: &mut Ctxt, pipeline: &Pipeline) {
    for stage in &pipeline.stages {
        let mut found = Vec::new();
        output_paths(stage.func.block.to_token_stream(), &mut found);
        for (from, output) in found {
            if from == stage.name {
                continue;
            }
            let Some(producer) = pipeline.stages.iter().find(|s| s.name == from) else {
                continue;
            };
            if !producer.outs.iter().any(|o| o.name == output) {
                continue;
            }
            let declared = stage.deps.iter().any(
                |d| matches!(d, Dep::Output { stage: s, output: o } if *s == from && *o == output),
            );
            if !declared {
                cx.error_spanned_by(
                    &from,
                    format!(
                        "stage `{}` reads `{from}::{output}`, an output of stage `{from}`, without declaring it: add `{from}::{output}` to its `deps`",
                        stage.name
                    ),
                );
            }
        }
    }
}

/// Every `a::b` path of two identifiers in a token stream, groups included.
fn output_paths(stream: proc_macro2::TokenStream, out: &mut Vec<(syn::Ident, syn::Ident)>) {
    use proc_macro2::TokenTree;
    let trees: Vec<TokenTree> = stream.into_iter().collect();
    for (i, tree) in trees.iter().enumerate() {
        if let TokenTree::Group(group) = tree {
            output_paths(group.stream(), out);
            continue;
        }
        let window = (
            trees.get(i),
            trees.get(i + 1),
            trees.get(i + 2),
            trees.get(i + 3),
        );
        if let (
            Some(TokenTree::Ident(a)),
            Some(TokenTree::Punct(p1)),
            Some(TokenTree::Punct(p2)),
            Some(TokenTree::Ident(b)),
        ) = window
        {
            let preceded_by_path =
                i >= 1 && matches!(&trees[i - 1], TokenTree::Punct(p) if p.as_char() == ':');
            if p1.as_char() == ':' && p2.as_char() == ':' && !preceded_by_path {
                out.push((a.clone(), b.clone()));
            }
        }
    }
}

/// A stage's names and paths as plain strings, for the shared rules to borrow.
struct Described {
    name: String,
    outs: Vec<(String, String)>,
    /// (producing stage, output) for `stage::output`, or (path, "") with `file` set.
    deps: Vec<(bool, String, String)>,
}

fn describe(pipeline: &Pipeline) -> Vec<Described> {
    pipeline
        .stages
        .iter()
        .map(|stage| Described {
            name: stage.name.to_string(),
            outs: stage
                .outs
                .iter()
                .map(|o| (o.name.to_string(), o.path.value()))
                .collect(),
            deps: stage
                .deps
                .iter()
                .map(|d| match d {
                    Dep::File(path) => (true, path.value(), String::new()),
                    Dep::Output { stage, output } => (false, stage.to_string(), output.to_string()),
                })
                .collect(),
        })
        .collect()
}

fn rule_stages(described: &[Described]) -> Vec<RuleStage<'_>> {
    described
        .iter()
        .map(|d| RuleStage {
            name: &d.name,
            outs: d
                .outs
                .iter()
                .map(|(n, p)| (n.as_str(), p.as_str()))
                .collect(),
            deps: d
                .deps
                .iter()
                .map(|(file, a, b)| {
                    if *file {
                        RuleDep::File(a)
                    } else {
                        RuleDep::Output {
                            stage: a,
                            output: b,
                        }
                    }
                })
                .collect(),
        })
        .collect()
}

/// Turns a graph violation into an error spanned at the tokens to fix.
fn report_graph(cx: &mut Ctxt, pipeline: &Pipeline, graph: &[RuleStage<'_>], v: &Violation) {
    let stages = &pipeline.stages;
    match v {
        Violation::DuplicateStage { .. } | Violation::BadPath { .. } => {}
        Violation::DuplicateOutputName { stage, out } => {
            let stage = &stages[*stage];
            let out = &stage.outs[*out];
            cx.error_spanned_by(
                &out.name,
                format!(
                    "stage `{}` has two outputs named `{}`",
                    stage.name, out.name
                ),
            );
        }
        Violation::OutputClash {
            first,
            second,
            same,
        } => {
            let (owner, other) = (&stages[first.0], graph[first.0].outs[first.1].1);
            let (stage, out) = (&stages[second.0], &stages[second.0].outs[second.1]);
            let path = out.path.value();
            let message = if *same && first.0 == second.0 {
                format!("stage `{}` declares `{path}` twice", stage.name)
            } else if *same {
                format!(
                    "stages `{}` and `{}` both write `{path}`",
                    owner.name, stage.name
                )
            } else {
                format!(
                    "outputs overlap: `{other}` (stage `{}`) and `{path}` (stage `{}`)",
                    owner.name, stage.name
                )
            };
            cx.error_spanned_by(&out.path, message);
        }
        Violation::UnknownStage { stage, dep } => {
            if let Dep::Output { stage: from, .. } = &stages[*stage].deps[*dep] {
                let mut names: Vec<String> = stages.iter().map(|s| s.name.to_string()).collect();
                names.sort();
                names.dedup();
                cx.error_spanned_by(
                    from,
                    format!(
                        "no stage named `{from}` in this pipeline; stages are: {}",
                        names.join(", ")
                    ),
                );
            }
        }
        Violation::UnknownOutput {
            stage,
            dep,
            producer,
        } => {
            if let Dep::Output {
                stage: from,
                output,
            } = &stages[*stage].deps[*dep]
            {
                let names: Vec<String> = stages[*producer]
                    .outs
                    .iter()
                    .map(|o| o.name.to_string())
                    .collect();
                let list = if names.is_empty() {
                    "it has none".to_string()
                } else {
                    format!("its outputs are: {}", names.join(", "))
                };
                cx.error_spanned_by(
                    output,
                    format!("stage `{from}` has no output `{output}`; {list}"),
                );
            }
        }
        Violation::FileDepIsOutput {
            stage,
            dep,
            producer,
        } => {
            if let Dep::File(path) = &stages[*stage].deps[*dep] {
                let owner = &stages[producer.0];
                cx.error_spanned_by(
                    path,
                    format!(
                        "`{}` is written by stage `{}`; depend on it as `{}::{}`",
                        path.value(),
                        owner.name,
                        owner.name,
                        owner.outs[producer.1].name
                    ),
                );
            }
        }
        Violation::Cycle { path, closing } => {
            if let Dep::Output { stage: from, .. } = &stages[closing.0].deps[closing.1] {
                let names: Vec<String> = path.iter().map(|&s| stages[s].name.to_string()).collect();
                cx.error_spanned_by(from, format!("dependency cycle: {}", names.join(" -> ")));
            }
        }
    }
}

/// Every declared params section needs an argument of the same name, and every argument after the
/// context needs a declared section, so the binding is never ambiguous.
fn check_signatures(cx: &mut Ctxt, pipeline: &Pipeline) {
    for stage in &pipeline.stages {
        let args = crate::expand::param_args(&stage.func);
        if stage.func.sig.inputs.is_empty() {
            cx.error_spanned_by(
                &stage.func.sig,
                "a stage takes `ctx: &mut StageContext` as its first argument",
            );
        }
        for section in &stage.params {
            let count = stage.params.iter().filter(|p| *p == section).count();
            if count > 1 {
                cx.error_spanned_by(
                    section,
                    format!("params section `{section}` is listed twice"),
                );
            }
            if !args.iter().any(|(ident, _)| ident == section) {
                cx.error_spanned_by(
                    section,
                    format!(
                        "params section `{section}` needs an argument `{section}: &T` on `{}`",
                        stage.name
                    ),
                );
            }
        }
        for (ident, _) in &args {
            if !stage.params.iter().any(|p| p == ident) {
                cx.error_spanned_by(
                    ident,
                    format!("argument `{ident}` is not a declared params section: add it to `params = [...]`"),
                );
            }
        }
    }
}

/// Every `code` path names files of the crate.
fn check_code_paths(cx: &mut Ctxt, pipeline: &Pipeline) {
    for stage in &pipeline.stages {
        for path in &stage.code {
            if let Err(why) = crate::code::files(&path.value()) {
                cx.error_spanned_by(path, why);
            }
        }
    }
}
