//! The web UI driven in Debian's Chromium by Playwright (`playwright-core` from npm, which
//! `.ci/run` installs under `$HOME/.cache/pipeline-ci/npm`): the scripts in `tests/browser/`
//! click through the pages as a person would and save screenshots to `target/ui-screenshots/`.
//! With `CI` set, a missing browser or Playwright fails the test; elsewhere it is skipped with a
//! note.

use iris_project::pipeline::iris;
use pipeline_core::dag::Dag;
use pipeline_core::session::Session;
use pipeline_core::testing::TestWorkspace;
use pipeline_core::tracking::recorder::Target;
use pipeline_core::ui::{serve, UiState};
use pipeline_core::workspace::Workspace;
use std::path::PathBuf;
use std::process::Command;

const PARAMS: &str = include_str!("fixtures/params.toml");

fn cli(ws: &TestWorkspace, args: &[&str]) -> String {
    ws.run(iris::pipeline(), args)
        .unwrap_or_else(|e| panic!("{args:?}: {e:#}"))
}

/// Chromium and the `node_modules` holding `playwright-core`, or why they are missing.
fn tools() -> Result<(PathBuf, PathBuf), String> {
    let browser = ["chromium", "chromium-browser"]
        .iter()
        .find_map(|name| {
            let out = Command::new("which").arg(name).output().ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
        .ok_or("no chromium (`.ci/run` installs Debian's `chromium`)")?;
    let modules = std::env::var_os("PLAYWRIGHT_NODE_MODULES")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".cache/pipeline-ci/npm/node_modules"))
        })
        .filter(|dir| dir.join("playwright-core/package.json").is_file())
        .ok_or("no playwright-core (`.ci/run` installs it with npm)")?;
    Ok((browser, modules))
}

/// A workspace with a pipeline run and two experiments, and the UI over it; the experiment id.
fn start() -> (TestWorkspace, String, String) {
    let ws = TestWorkspace::new()
        .and_then(|w| w.with_file("params.toml", PARAMS))
        .unwrap();
    cli(&ws, &["repro"]);
    cli(&ws, &["exp", "run", "--grid", "train.max_depth=2,3"]);
    let workspace = Workspace::at(ws.path());
    let target = Target::choose(&workspace, None).unwrap();
    let store = target.open().unwrap();
    let experiment = store
        .get_experiment_by_name("iris")
        .unwrap()
        .unwrap()
        .experiment_id;
    let state = UiState::new(
        store,
        Session::new(workspace, Dag::new(iris::pipeline()).unwrap(), target),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let addr = "127.0.0.1:0".parse().unwrap();
        let _ = serve(state, addr, |bound| {
            let _ = tx.send(bound);
        });
    });
    let addr = rx.recv().unwrap();
    (ws, format!("http://{addr}"), experiment)
}

/// Runs `tests/browser/{script}` against the UI; returns what it printed.
fn drive(script: &str) -> Option<String> {
    let (browser, modules) = match tools() {
        Ok(tools) => tools,
        Err(missing) => {
            // CI must prove the UI works in a browser: there a missing tool is a failure.
            assert!(std::env::var_os("CI").is_none(), "in CI: {missing}");
            eprintln!("skipping: {missing}");
            return None;
        }
    };
    let (_ws, base, experiment) = start();
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .arg(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/browser")
                .join(script),
        )
        .args([&base, &experiment])
        .arg(&shots)
        .env("NODE_PATH", &modules)
        .env("CHROMIUM", &browser)
        .output()
        .expect("node runs the browser script");
    assert!(
        out.status.success(),
        "{script}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn the_runs_table_filters_expands_chooses_columns_and_compares_a_selection() {
    let Some(seen) = drive("runs_table.cjs") else {
        return;
    };
    let seen: serde_json::Value = serde_json::from_str(seen.trim()).unwrap();
    assert_eq!(
        seen["stages"],
        serde_json::json!(["prepare", "train", "evaluate"])
    );
    assert_eq!(seen["selected"], "3 runs selected");
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
    for name in [
        "runs-filtered",
        "runs-expanded",
        "runs-columns",
        "compare-selected",
    ] {
        let png = std::fs::read(shots.join(format!("{name}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{name}");
    }
}

#[test]
fn charts_show_tooltips_naming_runs_hide_runs_and_compare_in_parallel_coordinates() {
    let Some(seen) = drive("charts.cjs") else {
        return;
    };
    let seen: serde_json::Value = serde_json::from_str(seen.trim()).unwrap();
    assert_eq!(seen["scatterPoints"], 3);
    assert_eq!(seen["parallelLines"], 3);
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
    for name in ["charts-hover", "compare-charts"] {
        let png = std::fs::read(shots.join(format!("{name}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{name}");
    }
}

#[test]
fn a_run_page_previews_artifacts_and_the_dag_links_each_stage_to_its_last_run() {
    let Some(seen) = drive("run_page.cjs") else {
        return;
    };
    let seen: serde_json::Value = serde_json::from_str(seen.trim()).unwrap();
    assert_eq!(seen["heatmapCells"], 9);
    assert_eq!(seen["trainPage"], "Run train");
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
    for name in ["run-preview-json", "run-preview-svg", "dag-to-run"] {
        let png = std::fs::read(shots.join(format!("{name}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{name}");
    }
}
