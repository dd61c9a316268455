//! The Iris binary as a person meets it in a terminal: what `--help` says, the drawn graph, the
//! closing line of `repro`, `metrics diff` and `params diff` against the last commit, the runs
//! table, colour only on a terminal and never with `NO_COLOR`.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

const PARAMS: &str = include_str!("fixtures/params.toml");

fn iris(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iris-project"))
        .arg("-C")
        .arg(dir)
        .args(args)
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

fn stdout(dir: &Path, args: &[&str]) -> String {
    let out = iris(dir, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("params.toml"), PARAMS).unwrap();
    dir
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

#[test]
fn help_describes_the_iris_binary_not_the_library() {
    let dir = workspace();
    let help = stdout(dir.path(), &["--help"]);
    assert!(help.starts_with("Iris species classifier"), "{help}");
    assert!(!help.contains("Reproducible ML pipelines"), "{help}");
    assert!(help.contains("Usage: iris-project"), "{help}");
}

#[test]
fn dag_draws_each_stage_once() {
    let dir = workspace();
    let dag = stdout(dir.path(), &["dag"]);
    for stage in ["prepare", "train", "evaluate"] {
        assert_eq!(dag.matches(&format!("| {stage} |")).count(), 1, "{dag}");
    }
    let row = |name: &str| dag.lines().position(|l| l.contains(name)).unwrap();
    assert!(
        row("prepare") < row("train") && row("train") < row("evaluate"),
        "{dag}"
    );
}

#[test]
fn repro_ends_with_a_summary_and_diffs_compare_with_the_last_commit() {
    let dir = workspace();
    let ws = dir.path();
    let first = stdout(ws, &["repro"]);
    let last = first.lines().last().unwrap();
    assert!(
        last.starts_with("3 stages ran, 0 restored, 0 up to date · accuracy "),
        "{first}"
    );
    assert!(last.contains("(new)"), "{last}");
    // Not a git repository yet: the default baseline says so.
    let out = iris(ws, &["metrics", "diff"]);
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && error.contains("not in a git repository"),
        "{error}"
    );
    git(ws, &["init", "-q"]);
    let out = iris(ws, &["params", "diff"]);
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && error.contains("no commit yet"),
        "{error}"
    );
    git(
        ws,
        &[
            "add",
            "-f",
            "params.toml",
            "pipeline.lock",
            "models/metrics.json",
        ],
    );
    git(ws, &["commit", "-q", "-m", "baseline"]);
    assert!(stdout(ws, &["metrics", "diff"])
        .starts_with("No metric differs between HEAD and workspace"));

    // One stump cannot separate three species: accuracy falls.
    let params = PARAMS
        .replace("max_depth = 10", "max_depth = 1")
        .replace("n_estimators = 100", "n_estimators = 1");
    fs::write(ws.join("params.toml"), params).unwrap();
    let second = stdout(ws, &["repro"]);
    let last = second.lines().last().unwrap();
    assert!(
        last.starts_with("2 stages ran, 0 restored, 1 up to date · accuracy "),
        "{second}"
    );
    assert!(
        last.contains("accuracy ") && last.contains("(-0."),
        "{last}"
    );
    // Right after `repro` the lock file equals the workspace; HEAD is what a person compares with.
    let metrics = stdout(ws, &["metrics", "diff"]);
    assert!(
        metrics.lines().next().unwrap().contains("HEAD"),
        "{metrics}"
    );
    assert!(
        metrics.contains("models/metrics.json  accuracy"),
        "{metrics}"
    );
    let params = stdout(ws, &["params", "diff"]);
    assert!(params.contains("train.max_depth     10    1"), "{params}");
    assert!(stdout(ws, &["metrics", "diff", "lock"]).starts_with("No metric differs"));
}

#[test]
fn runs_list_shows_each_param_once_with_stage_runs_under_their_pipeline_run() {
    let dir = workspace();
    stdout(dir.path(), &["repro"]);
    let list = stdout(dir.path(), &["runs", "list", "--all"]);
    let header = list.lines().next().unwrap();
    assert_eq!(header.matches("max_depth").count(), 1, "{list}");
    assert!(header.contains("train.max_depth"), "{list}");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(
        lines.len(),
        5,
        "a pipeline run and its three stage runs: {list}"
    );
    assert!(!lines[1].starts_with(' '), "{list}");
    for (line, stage) in lines[2..].iter().zip(["prepare", "train", "evaluate"]) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert!(line.starts_with("  ") && cells[1] == stage, "{list}");
    }
}

/// Runs the binary under `script`, which gives it a terminal, and returns what it printed.
fn on_a_terminal(dir: &Path, args: &str, no_color: bool) -> String {
    let command = format!(
        "{} -C {} {args}",
        env!("CARGO_BIN_EXE_iris-project"),
        dir.display()
    );
    let mut script = Command::new("script");
    script.args(["-qec", &command, "/dev/null"]);
    script
        .env_remove("MLFLOW_TRACKING_URI")
        .env("TERM", "xterm");
    if no_color {
        script.env("NO_COLOR", "1");
    } else {
        script.env_remove("NO_COLOR");
    }
    let out = script
        .output()
        .expect("`script` (util-linux) runs a command on a terminal");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn colour_on_a_terminal_unless_no_color_and_never_in_a_pipe() {
    let dir = workspace();
    let coloured = on_a_terminal(dir.path(), "status", false);
    assert!(coloured.contains("\x1b[33mstale\x1b[0m"), "{coloured:?}");
    let plain = on_a_terminal(dir.path(), "status", true);
    assert!(
        plain.contains("stale") && !plain.contains('\x1b'),
        "{plain:?}"
    );
    let piped = stdout(dir.path(), &["status"]);
    assert!(
        piped.contains("stale") && !piped.contains('\x1b'),
        "{piped:?}"
    );
}
