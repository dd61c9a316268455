//! Whole-graph rules, checked once every stage is parsed: they are what makes a broken pipeline a
//! compile error instead of a runtime surprise. Each error is spanned at the tokens to fix.

use crate::ast::{Dep, Pipeline, Stage};
use crate::ctxt::Ctxt;
use std::collections::HashMap;

/// Runs every rule, recording all violations.
pub fn check(cx: &mut Ctxt, pipeline: &Pipeline) {
    let stages = unique_stages(cx, pipeline);
    check_signatures(cx, pipeline);
    check_out_paths(cx, pipeline);
    check_code_paths(cx, pipeline);
    check_output_owners(cx, pipeline);
    check_deps(cx, pipeline, &stages);
    if cx.is_ok() {
        check_cycles(cx, pipeline);
    }
}

/// Stage name → index of its first definition; reports later ones.
fn unique_stages<'a>(cx: &mut Ctxt, pipeline: &'a Pipeline) -> HashMap<String, &'a Stage> {
    let mut by_name: HashMap<String, &Stage> = HashMap::new();
    for stage in &pipeline.stages {
        let name = stage.name.to_string();
        if let std::collections::hash_map::Entry::Vacant(slot) = by_name.entry(name.clone()) {
            slot.insert(stage);
        } else {
            cx.error_spanned_by(
                &stage.name,
                format!("stage `{name}` is listed twice in this pipeline"),
            );
        }
    }
    by_name
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

/// Output paths are relative, normalized paths inside the workspace.
fn check_out_paths(cx: &mut Ctxt, pipeline: &Pipeline) {
    for stage in &pipeline.stages {
        for out in &stage.outs {
            if let Err(why) = path_problem(&out.path.value()) {
                cx.error_spanned_by(&out.path, format!("output path {why}"));
            }
        }
        for dep in &stage.deps {
            if let Dep::File(path) = dep {
                if let Err(why) = path_problem(&path.value()) {
                    cx.error_spanned_by(path, format!("dependency path {why}"));
                }
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

/// Why a workspace path is unusable, if it is.
fn path_problem(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("is empty".into());
    }
    if path.starts_with('/') || path.starts_with('\\') || path.get(1..2) == Some(":") {
        return Err(format!(
            "`{path}` is absolute; paths are relative to the workspace"
        ));
    }
    if path.split(['/', '\\']).any(|part| part == "..") {
        return Err(format!("`{path}` escapes the workspace through `..`"));
    }
    if path.split('/').any(|part| part.is_empty() || part == ".") {
        return Err(format!(
            "`{path}` is not normalized: no empty or `.` components, no trailing `/`"
        ));
    }
    if path == ".pipeline" || path.starts_with(".pipeline/") {
        return Err(format!(
            "`{path}` is inside `.pipeline/`, which the runtime owns"
        ));
    }
    Ok(())
}

/// No two outputs share a path or sit one inside the other, and names are unique per stage.
fn check_output_owners(cx: &mut Ctxt, pipeline: &Pipeline) {
    let mut seen: Vec<(String, &Stage)> = Vec::new();
    for stage in &pipeline.stages {
        for (i, out) in stage.outs.iter().enumerate() {
            if stage.outs[..i].iter().any(|o| o.name == out.name) {
                cx.error_spanned_by(
                    &out.name,
                    format!(
                        "stage `{}` has two outputs named `{}`",
                        stage.name, out.name
                    ),
                );
            }
            let path = out.path.value();
            for (other, owner) in &seen {
                let message = if *other == path && owner.name == stage.name {
                    format!("stage `{}` declares `{path}` twice", stage.name)
                } else if *other == path {
                    format!(
                        "stages `{}` and `{}` both write `{path}`",
                        owner.name, stage.name
                    )
                } else if is_inside(&path, other) || is_inside(other, &path) {
                    format!(
                        "outputs overlap: `{other}` (stage `{}`) and `{path}` (stage `{}`)",
                        owner.name, stage.name
                    )
                } else {
                    continue;
                };
                cx.error_spanned_by(&out.path, message);
            }
            seen.push((path, stage));
        }
    }
}

fn is_inside(path: &str, dir: &str) -> bool {
    path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
}

/// Each `stage::output` names a real output, and a file dependency is not secretly a stage output.
fn check_deps(cx: &mut Ctxt, pipeline: &Pipeline, stages: &HashMap<String, &Stage>) {
    for stage in &pipeline.stages {
        for dep in &stage.deps {
            match dep {
                Dep::Output {
                    stage: from,
                    output,
                } => match stages.get(&from.to_string()) {
                    None => {
                        let mut names: Vec<String> = stages.keys().cloned().collect();
                        names.sort();
                        cx.error_spanned_by(
                            from,
                            format!(
                                "no stage named `{from}` in this pipeline; stages are: {}",
                                names.join(", ")
                            ),
                        );
                    }
                    Some(producer) => {
                        if !producer.outs.iter().any(|o| o.name == *output) {
                            let names: Vec<String> =
                                producer.outs.iter().map(|o| o.name.to_string()).collect();
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
                },
                Dep::File(path) => {
                    let value = path.value();
                    for producer in &pipeline.stages {
                        for out in &producer.outs {
                            let out_path = out.path.value();
                            if out_path == value || is_inside(&value, &out_path) {
                                cx.error_spanned_by(
                                    path,
                                    format!(
                                        "`{value}` is written by stage `{}`; depend on it as `{}::{}`",
                                        producer.name, producer.name, out.name
                                    ),
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Depth-first search for a cycle; reports it once, at the dependency that closes it.
fn check_cycles(cx: &mut Ctxt, pipeline: &Pipeline) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let index: HashMap<String, usize> = pipeline
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.to_string(), i))
        .collect();
    let mut marks = vec![Mark::New; pipeline.stages.len()];
    let mut path: Vec<usize> = Vec::new();

    fn visit(
        cx: &mut Ctxt,
        at: usize,
        pipeline: &Pipeline,
        index: &HashMap<String, usize>,
        marks: &mut Vec<Mark>,
        path: &mut Vec<usize>,
    ) -> bool {
        marks[at] = Mark::Active;
        path.push(at);
        for dep in &pipeline.stages[at].deps {
            let Dep::Output { stage: from, .. } = dep else {
                continue;
            };
            let Some(&next) = index.get(&from.to_string()) else {
                continue;
            };
            match marks[next] {
                Mark::Active => {
                    let start = path.iter().position(|&s| s == next).unwrap_or(0);
                    let mut names: Vec<String> = path[start..]
                        .iter()
                        .map(|&s| pipeline.stages[s].name.to_string())
                        .collect();
                    names.push(from.to_string());
                    cx.error_spanned_by(from, format!("dependency cycle: {}", names.join(" -> ")));
                    return true;
                }
                Mark::New => {
                    if visit(cx, next, pipeline, index, marks, path) {
                        return true;
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks[at] = Mark::Done;
        false
    }

    for start in 0..pipeline.stages.len() {
        if marks[start] == Mark::New && visit(cx, start, pipeline, &index, &mut marks, &mut path) {
            return;
        }
    }
}
