//! Behaviour of `repro` and `status` through the CLI, in temp workspaces.

use pipeline_core::testing::TestWorkspace;
use pipeline_tests::{numbers, read_trace, PARAMS};
use std::fs;

fn workspace() -> TestWorkspace {
    TestWorkspace::new()
        .and_then(|ws| ws.with_file("params.toml", PARAMS))
        .and_then(|ws| ws.with_file("inputs/extra.txt", "ok\n"))
        .unwrap()
}

fn runs(ws: &TestWorkspace) -> Vec<String> {
    read_trace(ws.path())
        .into_iter()
        .map(|(s, _, _)| s)
        .collect()
}

fn repro(ws: &TestWorkspace, args: &[&str]) -> String {
    ws.repro(numbers::pipeline(), args).unwrap()
}

#[test]
fn second_repro_runs_nothing() {
    let ws = workspace();
    repro(&ws, &[]);
    let mut first = runs(&ws);
    first.sort();
    assert_eq!(first, ["generate", "scale", "slow_a", "slow_b", "total"]);
    assert_eq!(ws.read("results/summary.json").unwrap(), "{\"sum\": 45}\n");
    let out = repro(&ws, &[]);
    assert_eq!(out.trim(), "Everything is up to date.");
    assert_eq!(runs(&ws).len(), 5);
    let status = ws.run(numbers::pipeline(), &["status"]).unwrap();
    assert_eq!(status.trim(), "Everything is up to date.");
}

#[test]
fn param_change_reruns_downstream_and_going_back_restores() {
    let ws = workspace();
    repro(&ws, &[]);
    let lock_before = ws.read("pipeline.lock").unwrap();
    let summary_before = ws.read("results/summary.json").unwrap();

    ws.write("params.toml", "[numbers]\ncount = 5\nfactor = 4\n")
        .unwrap();
    let status = ws.run(numbers::pipeline(), &["status"]).unwrap();
    assert!(status.contains("generate: stale"), "{status}");
    assert!(status.contains("param numbers.factor: 3 -> 4"), "{status}");
    assert!(
        status.contains("total: stale\n    upstream stage `scale` changed"),
        "{status}"
    );
    repro(&ws, &[]);
    // generate binds [numbers] too, so it reruns, but writes identical bytes: total still
    // reruns because scale's output changed.
    assert_eq!(runs(&ws)[5..], ["generate", "scale", "total"]);
    assert_eq!(ws.read("results/summary.json").unwrap(), "{\"sum\": 60}\n");

    ws.write("params.toml", PARAMS).unwrap();
    let out = repro(&ws, &[]);
    assert_eq!(runs(&ws).len(), 8, "nothing may run when going back: {out}");
    assert!(out.contains("Restored stage `scale`"), "{out}");
    assert_eq!(ws.read("results/summary.json").unwrap(), summary_before);
    assert_eq!(ws.read("pipeline.lock").unwrap(), lock_before);
}

#[test]
fn early_cutoff_keeps_downstream_cached() {
    let ws = workspace();
    repro(&ws, &[]);
    // Same numbers, different formatting of the dependency file of `total`? No: touch a stage
    // output back to identical bytes and check that nothing downstream reruns.
    fs::write(ws.path().join("data/numbers.txt"), "1\n2\n3\n4\n5\n").unwrap();
    let out = repro(&ws, &[]);
    assert_eq!(runs(&ws).len(), 5, "{out}");
}

#[test]
fn deleted_output_is_restored_without_running() {
    let ws = workspace();
    repro(&ws, &[]);
    fs::remove_file(ws.path().join("data/scaled.txt")).unwrap();
    fs::remove_dir_all(ws.path().join("results")).unwrap();
    let status = ws.run(numbers::pipeline(), &["status"]).unwrap();
    assert!(
        status
            .contains("scale: stale (restorable from cache)\n    output missing: data/scaled.txt"),
        "{status}"
    );
    let out = repro(&ws, &[]);
    assert_eq!(runs(&ws).len(), 5, "{out}");
    assert_eq!(ws.read("data/scaled.txt").unwrap(), "3\n6\n9\n12\n15\n");
    assert_eq!(ws.read("results/summary.json").unwrap(), "{\"sum\": 45}\n");
}

#[test]
fn modified_output_is_put_back() {
    let ws = workspace();
    repro(&ws, &[]);
    fs::write(ws.path().join("data/scaled.txt"), "hand edit\n").unwrap();
    let status = ws.run(numbers::pipeline(), &["status"]).unwrap();
    assert!(
        status.contains("output modified: data/scaled.txt"),
        "{status}"
    );
    repro(&ws, &[]);
    assert_eq!(ws.read("data/scaled.txt").unwrap(), "3\n6\n9\n12\n15\n");
    assert_eq!(runs(&ws).len(), 5);
}

#[test]
fn failure_stops_downstream_and_names_the_stage() {
    let ws = workspace();
    ws.write("inputs/extra.txt", "fail\n").unwrap();
    let err = ws.repro(numbers::pipeline(), &[]).unwrap_err().to_string();
    assert!(err.contains("failed"), "{err}");
    let mut done = runs(&ws);
    done.sort();
    assert_eq!(done, ["generate", "scale", "slow_a", "slow_b"]);
    assert!(
        !ws.path().join("results").exists(),
        "a failed stage leaves no output"
    );
    let lock = ws.read("pipeline.lock").unwrap();
    assert!(!lock.contains("total:"), "{lock}");
    ws.write("inputs/extra.txt", "ok\n").unwrap();
    repro(&ws, &[]);
    assert_eq!(runs(&ws).last().map(String::as_str), Some("total"));
}

#[test]
fn missing_dependency_is_named() {
    let ws = workspace();
    fs::remove_file(ws.path().join("inputs/extra.txt")).unwrap();
    let err = format!(
        "{:#}",
        ws.repro(numbers::pipeline(), &["total"]).unwrap_err()
    );
    assert!(
        err.contains("inputs/extra.txt: no such file or directory"),
        "{err}"
    );
}

#[test]
fn selection_force_single_and_downstream() {
    let ws = workspace();
    repro(&ws, &["scale"]);
    assert_eq!(runs(&ws), ["generate", "scale"]);
    repro(&ws, &["-f", "-s", "generate"]);
    assert_eq!(runs(&ws), ["generate", "scale", "generate"]);
    repro(&ws, &["--downstream", "scale"]);
    assert_eq!(runs(&ws).last().map(String::as_str), Some("total"));
    let err = ws
        .repro(numbers::pipeline(), &["nope"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown stage `nope`"), "{err}");
}

#[test]
fn dry_run_changes_nothing() {
    let ws = workspace();
    let out = repro(&ws, &["--dry"]);
    assert!(out.contains("would run `generate` (never ran)"), "{out}");
    assert!(runs(&ws).is_empty());
    assert!(!ws.path().join("pipeline.lock").exists());
}

#[test]
fn bad_params_change_nothing() {
    let ws = workspace();
    ws.write("params.toml", "[numbers]\ncount = 0\nfactor = 3\n")
        .unwrap();
    let err = format!("{:#}", ws.repro(numbers::pipeline(), &[]).unwrap_err());
    assert!(
        err.contains("params.toml: [numbers] count = 0: must be at least 1"),
        "{err}"
    );
    ws.write("params.toml", "[numbers]\ncount = 2\nfactr = 3\n")
        .unwrap();
    let err = format!("{:#}", ws.repro(numbers::pipeline(), &[]).unwrap_err());
    assert!(err.contains("unknown field `factr`"), "{err}");
    ws.write("params.toml", "[numbers\ncount = 2\n").unwrap();
    let err = format!("{:#}", ws.repro(numbers::pipeline(), &[]).unwrap_err());
    assert!(
        err.contains("params.toml") && err.contains("line 1"),
        "{err}"
    );
    assert!(runs(&ws).is_empty());
    assert!(!ws.path().join("pipeline.lock").exists());
}

#[test]
fn lock_file_is_deterministic_and_sorted() {
    let a = workspace();
    let b = workspace();
    repro(&a, &["-j", "1"]);
    repro(&b, &["-j", "2"]);
    let lock = a.read("pipeline.lock").unwrap();
    assert_eq!(lock, b.read("pipeline.lock").unwrap());
    let parsed: serde_yaml::Value = serde_yaml::from_str(&lock).unwrap();
    let stages: Vec<&str> = parsed["stages"]
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(|k| k.as_str())
        .collect();
    assert_eq!(stages, ["generate", "scale", "slow_a", "slow_b", "total"]);
    assert_eq!(parsed["stages"]["scale"]["params"]["numbers"]["factor"], 3);
    assert_eq!(
        parsed["stages"]["scale"]["deps"][0]["path"],
        "data/numbers.txt"
    );
    assert_eq!(parsed["stages"]["total"]["outs"][0]["size"], 12);
}

#[test]
fn corrupt_cache_object_is_reported_and_never_copied() {
    let ws = workspace();
    repro(&ws, &[]);
    let lock: serde_yaml::Value = serde_yaml::from_str(&ws.read("pipeline.lock").unwrap()).unwrap();
    let hash = lock["stages"]["scale"]["outs"][0]["hash"]
        .as_str()
        .unwrap()
        .to_string();
    let object = ws
        .path()
        .join(".pipeline/cache")
        .join(&hash[..2])
        .join(&hash[2..]);
    fs::write(&object, "garbage\n").unwrap();
    fs::remove_file(ws.path().join("data/scaled.txt")).unwrap();
    let out = repro(&ws, &[]);
    assert!(out.contains("is corrupt"), "{out}");
    assert_eq!(ws.read("data/scaled.txt").unwrap(), "3\n6\n9\n12\n15\n");
    assert_eq!(
        runs(&ws).last().map(String::as_str),
        Some("scale"),
        "the stage reran instead"
    );
    assert_eq!(
        fs::read_to_string(&object).unwrap(),
        "3\n6\n9\n12\n15\n",
        "the object was rebuilt"
    );
}

#[test]
fn status_json_and_dag_formats() {
    let ws = workspace();
    let json = ws.run(numbers::pipeline(), &["status", "--json"]).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["stages"][0]["stage"], "generate");
    assert_eq!(value["stages"][0]["state"], "stale");
    assert_eq!(value["stages"][0]["reasons"][0], "never ran");
    let dag: serde_json::Value = serde_json::from_str(
        &ws.run(numbers::pipeline(), &["dag", "--format", "json"])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(dag["stages"][2]["name"], "total");
    assert_eq!(dag["stages"][2]["upstream"][0], "scale");
    assert_eq!(dag["stages"][2]["outs"][0]["kind"], "metrics");
    insta::assert_snapshot!("dag_ascii", ws.run(numbers::pipeline(), &["dag"]).unwrap());
    insta::assert_snapshot!(
        "dag_mermaid",
        ws.run(numbers::pipeline(), &["dag", "--format", "mermaid"])
            .unwrap()
    );
    insta::assert_snapshot!(
        "dag_dot",
        ws.run(numbers::pipeline(), &["dag", "--format", "dot"])
            .unwrap()
    );
}

#[test]
fn changed_stage_code_reruns_only_that_stage_and_its_consumers() {
    use pipeline_core::{OutKind, OutputRef, Pipeline, StageDef};
    const A: OutputRef = OutputRef::new("a", "o", "a.txt");
    const B: OutputRef = OutputRef::new("b", "o", "b.txt");
    let build = |code_a: &str, text_a: &'static str| {
        Pipeline::new(
            "p",
            vec![
                StageDef::new("a", code_a, move |ctx, _| ctx.write(A, text_a)).out(
                    "o",
                    A.path,
                    OutKind::Out,
                ),
                StageDef::new("b", "b1", |ctx, _| {
                    let text = ctx.read_to_string(A)?;
                    ctx.write(B, text.to_uppercase())
                })
                .dep_output("a", "o", A.path)
                .out("o", B.path, OutKind::Out),
            ],
        )
    };
    let ws = TestWorkspace::new().unwrap();
    ws.repro(build("a1", "x"), &[]).unwrap();
    let status = ws.run(build("a2", "y"), &["status"]).unwrap();
    assert!(status.contains("a: stale\n    code changed"), "{status}");
    let out = ws.repro(build("a2", "y"), &[]).unwrap();
    assert!(out.contains("Running stage `a` (code changed)"), "{out}");
    assert!(
        out.contains("Running stage `b` (dep changed: a.txt)"),
        "{out}"
    );
    assert_eq!(ws.read("b.txt").unwrap(), "Y");
    // New code, same output bytes: `b` stays cached (early cutoff).
    let out = ws.repro(build("a3", "y"), &[]).unwrap();
    assert!(
        out.contains("Running stage `a`") && !out.contains("stage `b`"),
        "{out}"
    );
}

/// A pipeline built by hand: a directory output, an `always_run` stage and a `frozen` one.
fn flags_pipeline(frozen: bool) -> pipeline_core::Pipeline {
    use pipeline_core::{OutKind, OutputRef, Pipeline, StageDef};
    const DIR: OutputRef = OutputRef::new("shards", "dir", "out/shards");
    const STAMP: OutputRef = OutputRef::new("stamp", "file", "out/stamp.txt");
    const COUNT: OutputRef = OutputRef::new("count", "file", "out/count.txt");
    Pipeline::new(
        "flags",
        vec![
            StageDef::new("shards", "s1", |ctx, _| {
                let dir = ctx.output(DIR)?;
                std::fs::create_dir_all(dir.join("deep"))?;
                std::fs::write(dir.join("a.txt"), "a")?;
                std::fs::write(dir.join("deep/b.txt"), "bb")?;
                Ok(())
            })
            .out("dir", DIR.path, OutKind::Out),
            StageDef::new("stamp", "t1", |ctx, _| {
                let runs =
                    std::fs::read_to_string(ctx.root().join("stamp-runs")).unwrap_or_default();
                std::fs::write(ctx.root().join("stamp-runs"), format!("{runs}x"))?;
                ctx.write(STAMP, "same bytes every time")
            })
            .out("file", STAMP.path, OutKind::Out)
            .always_run(true),
            StageDef::new("count", "c1", |ctx, _| {
                let files = std::fs::read_dir(ctx.input(DIR)?)?.count();
                ctx.write(COUNT, files.to_string())
            })
            .dep_output("shards", "dir", DIR.path)
            .out("file", COUNT.path, OutKind::Out)
            .frozen(frozen),
        ],
    )
}

#[test]
fn directory_outputs_always_run_and_frozen() {
    let ws = TestWorkspace::new().unwrap();
    ws.repro(flags_pipeline(false), &[]).unwrap();
    assert_eq!(ws.read("out/shards/deep/b.txt").unwrap(), "bb");
    assert_eq!(ws.read("out/count.txt").unwrap(), "2");
    let lock: serde_yaml::Value = serde_yaml::from_str(&ws.read("pipeline.lock").unwrap()).unwrap();
    assert_eq!(lock["stages"]["shards"]["outs"][0]["dir"], true);
    assert_eq!(lock["stages"]["shards"]["outs"][0]["size"], 3);

    // A deleted directory comes back from the cache; a stray file in it is noticed and removed.
    fs::remove_dir_all(ws.path().join("out/shards")).unwrap();
    let out = ws.repro(flags_pipeline(false), &["shards"]).unwrap();
    assert!(out.contains("Restored stage `shards`"), "{out}");
    assert_eq!(ws.read("out/shards/a.txt").unwrap(), "a");
    fs::write(ws.path().join("out/shards/stray.txt"), "?").unwrap();
    let status = ws
        .run(flags_pipeline(false), &["status", "shards"])
        .unwrap();
    assert!(status.contains("output modified: out/shards"), "{status}");
    ws.repro(flags_pipeline(false), &["shards"]).unwrap();
    assert!(!ws.path().join("out/shards/stray.txt").exists());

    // always_run runs every time, never from the run cache.
    ws.repro(flags_pipeline(false), &[]).unwrap();
    assert_eq!(ws.read("stamp-runs").unwrap(), "xx", "once per full repro");
    let status = ws.run(flags_pipeline(false), &["status"]).unwrap();
    assert!(status.contains("stamp: stale\n    always_run"), "{status}");

    // A frozen stage is neither checked nor run, even when its input changed.
    fs::write(ws.path().join("out/shards/a.txt"), "changed").unwrap();
    let out = ws.repro(flags_pipeline(true), &["count"]).unwrap();
    assert!(!out.contains("stage `count`"), "{out}");
    assert_eq!(ws.read("out/count.txt").unwrap(), "2");
}

#[test]
fn reading_an_undeclared_output_is_an_error_naming_both_stages() {
    use pipeline_core::{OutKind, OutputRef, Pipeline, StageDef};
    const PRODUCED: OutputRef = OutputRef::new("producer", "out", "out/p.txt");
    const READ: OutputRef = OutputRef::new("consumer", "out", "out/c.txt");
    let pipeline = || {
        Pipeline::new(
            "undeclared",
            vec![
                StageDef::new("producer", "p1", |ctx, _| ctx.write(PRODUCED, "made")).out(
                    "out",
                    PRODUCED.path,
                    OutKind::Out,
                ),
                StageDef::new("consumer", "c1", |ctx, _| {
                    let text = ctx.read_to_string(PRODUCED)?;
                    ctx.write(READ, text)
                })
                .out("out", READ.path, OutKind::Out),
            ],
        )
    };
    let ws = TestWorkspace::new().unwrap();
    let err = ws
        .run(pipeline(), &["repro", "-j", "2"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "stage `consumer` reads `out/p.txt`, an output of stage `producer`, without declaring it: add `producer::out` to its `deps`"
        ),
        "{err}"
    );
    assert!(!ws.path().join("out/c.txt").exists());
}

#[test]
fn a_dependency_hash_edited_in_the_lock_file_is_corrected() {
    let ws = workspace();
    repro(&ws, &[]);
    let lock = ws.read("pipeline.lock").unwrap();
    let extra_hash = pipeline_core::hash::bytes(b"ok\n");
    assert!(lock.contains(&extra_hash), "{lock}");
    let edited = lock.replace(&extra_hash, &"0".repeat(64));
    ws.write("pipeline.lock", &edited).unwrap();
    let out = repro(&ws, &[]);
    assert_eq!(out.trim(), "Everything is up to date.");
    assert_eq!(
        ws.read("pipeline.lock").unwrap(),
        lock,
        "rewritten from the files"
    );
}

#[test]
fn a_failing_tracking_write_leaves_the_previous_outputs_and_lock() {
    use pipeline_core::{OutKind, OutputRef, Pipeline, StageDef};
    const OUT: OutputRef = OutputRef::new("report", "out", "out/report.txt");
    let pipeline = || {
        Pipeline::new(
            "consistent",
            vec![StageDef::new("report", "r1", |ctx, _| {
                let version = ctx.read_to_string("inputs/version.txt")?;
                ctx.write(OUT, &version)?;
                if version.trim() == "v2" {
                    // An artifact that is gone by the time the run is recorded: the tracking
                    // write fails after the stage function succeeded.
                    let extra = ctx.output(OUT)?.with_file_name("extra.txt");
                    std::fs::write(&extra, "x")?;
                    ctx.log_artifact(&extra)?;
                    std::fs::remove_file(&extra)?;
                }
                Ok(())
            })
            .dep_file("inputs/version.txt")
            .out("out", OUT.path, OutKind::Out)],
        )
    };
    let ws = TestWorkspace::new()
        .and_then(|ws| ws.with_file("inputs/version.txt", "v1"))
        .unwrap();
    ws.run(pipeline(), &["repro"]).unwrap();
    let lock = ws.read("pipeline.lock").unwrap();
    ws.write("inputs/version.txt", "v2").unwrap();
    let err = ws.run(pipeline(), &["repro"]).unwrap_err().to_string();
    assert!(err.contains("tracking"), "{err}");
    assert_eq!(ws.read("out/report.txt").unwrap(), "v1");
    assert_eq!(ws.read("pipeline.lock").unwrap(), lock);
}

#[test]
fn a_non_http_tracking_uri_fails_only_the_commands_that_need_the_store() {
    let ws = workspace();
    let status = ws
        .run(
            numbers::pipeline(),
            &["--tracking-uri", "sqlite:///x.db", "status"],
        )
        .unwrap();
    assert!(status.contains("generate: stale"), "{status}");
    let err = ws
        .run(
            numbers::pipeline(),
            &["--tracking-uri", "sqlite:///x.db", "runs", "list"],
        )
        .unwrap_err();
    let line = format!("{err:#}");
    assert!(
        line.contains("sqlite:///x.db") && line.contains("http:// or https://"),
        "{line}"
    );
}
