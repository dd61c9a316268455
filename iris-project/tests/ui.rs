//! The web UI over a real Iris workspace: every page through HTTP, and (where Debian's `chromium`
//! is installed, as `.ci/run` does) rendered in headless Chromium with screenshots written to
//! `target/ui-screenshots/`.

use iris_project::pipeline::iris;
use pipeline_core::dag::Dag;
use pipeline_core::session::Session;
use pipeline_core::testing::TestWorkspace;
use pipeline_core::tracking::recorder::Target;
use pipeline_core::ui::{serve, UiState};
use pipeline_core::workspace::Workspace;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The tests' own params (not the workspace's `params.toml`, which users edit).
const PARAMS: &str = include_str!("fixtures/params.toml");

fn cli(ws: &TestWorkspace, args: &[&str]) -> String {
    ws.run(iris::pipeline(), args)
        .unwrap_or_else(|e| panic!("{args:?}: {e:#}"))
}

/// A workspace with a pipeline run, two experiments and a registered model, and the UI over it.
fn start() -> (TestWorkspace, String) {
    let ws = TestWorkspace::new()
        .and_then(|w| w.with_file("params.toml", PARAMS))
        .unwrap();
    cli(&ws, &["repro"]);
    cli(&ws, &["exp", "run", "--grid", "train.max_depth=2,3"]);
    let metadata: serde_json::Value =
        serde_json::from_str(&ws.read("models/metadata.json").unwrap()).unwrap();
    cli(
        &ws,
        &[
            "models",
            "register",
            metadata["model_uri"].as_str().unwrap(),
            "--name",
            "iris",
        ],
    );
    cli(&ws, &["models", "alias", "iris", "champion", "1"]);
    let workspace = Workspace::at(ws.path());
    let target = Target::choose(&workspace, None).unwrap();
    let store = target.open().unwrap();
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
    (ws, format!("http://{addr}"))
}

fn get(url: &str) -> (u16, String) {
    match ureq::get(url).call() {
        Ok(mut response) => (
            response.status().as_u16(),
            response.body_mut().read_to_string().unwrap(),
        ),
        Err(ureq::Error::StatusCode(code)) => (code, String::new()),
        Err(e) => panic!("{url}: {e}"),
    }
}

fn runs_json(ws: &TestWorkspace, all: bool) -> Vec<serde_json::Value> {
    let mut args = vec!["runs", "list", "--json"];
    if all {
        args.push("--all");
    }
    serde_json::from_str::<serde_json::Value>(&cli(ws, &args))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn every_page_over_http() {
    let (ws, base) = start();
    let (code, home) = get(&format!("{base}/"));
    assert_eq!(code, 200);
    assert!(home.contains(">iris</a>"), "{home}");

    let experiment =
        serde_json::from_str::<serde_json::Value>(&cli(&ws, &["experiments", "list", "--json"]))
            .unwrap();
    let id = experiment
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "iris")
        .unwrap()["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, runs) = get(&format!("{base}/experiments/{id}"));
    assert_eq!(code, 200);
    assert!(
        runs.contains("3 runs"),
        "a repro and two experiments: {runs}"
    );
    let filtered = get(&format!(
        "{base}/experiments/{id}?filter=params.max_depth+%3D+%272%27"
    ))
    .1;
    assert!(filtered.contains("1 run;"), "{filtered}");
    let bad = get(&format!(
        "{base}/experiments/{id}?filter=metrics.accuracy+%3E%3E+1"
    ))
    .1;
    assert!(bad.contains("invalid filter at column 19"), "{bad}");
    let sorted = get(&format!(
        "{base}/experiments/{id}?order_by=metrics.%60accuracy%60+ASC"
    ))
    .1;
    assert!(sorted.contains("accuracy ▲"), "{sorted}");
    let with_stages = get(&format!("{base}/experiments/{id}?all=1")).1;
    assert!(with_stages.contains(">evaluate</a>"), "{with_stages}");

    let parent = runs_json(&ws, false)
        .into_iter()
        .find(|r| r["info"]["run_name"] == "repro")
        .unwrap();
    let run_id = parent["info"]["run_id"].as_str().unwrap();
    let (code, run) = get(&format!("{base}/runs/{run_id}"));
    assert_eq!(code, 200);
    for part in [
        "<h2>Params</h2>",
        "<h2>Metrics</h2>",
        "<h2>Plots</h2>",
        "models/confusion_matrix.svg",
        "<th>Stage runs</th>",
        ">evaluate</a>",
        "model/model.json",
        "<h2>Registered versions</h2>",
        ">iris version 1</a>",
        "<p class=\"crumbs\"><a href=\"/\">Experiments</a> › ",
    ] {
        assert!(run.contains(part), "{part} missing from the run page");
    }
    let svg = ureq::get(&format!(
        "{base}/runs/{run_id}/artifacts/models/confusion_matrix.svg?download=1"
    ))
    .call()
    .unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(
        svg.headers()["x-content-type-options"],
        "nosniff",
        "every response"
    );
    // The logged model is a directory: its page lists its files.
    let (code, model_dir) = get(&format!("{base}/runs/{run_id}/artifacts/model"));
    assert_eq!(code, 200, "{model_dir}");
    assert!(
        model_dir.contains(&format!(
            "href=\"/runs/{run_id}/artifacts/model/model.json\">model.json</a>"
        )),
        "{model_dir}"
    );
    assert_eq!(
        get(&format!("{base}/runs/{run_id}/artifacts/nope.txt")).0,
        404
    );
    assert_eq!(get(&format!("{base}/runs/0123/")).0, 404);

    let ids: Vec<String> = runs_json(&ws, false)
        .iter()
        .map(|r| format!("runs={}", r["info"]["run_id"].as_str().unwrap()))
        .collect();
    let (code, compare) = get(&format!("{base}/compare?{}", ids.join("&")));
    assert_eq!(code, 200);
    // The charts are drawn by the page's script from this data block, one entry per run.
    let data = compare
        .split("<script type=\"application/json\" id=\"compare-data\">")
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .expect("the comparison's data block");
    let data: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(
        data["runs"].as_array().unwrap().len(),
        3,
        "one entry per run"
    );
    assert!(compare.contains("<div id=\"compare-charts\"></div>"));
    assert!(
        compare.contains("class=\"diff\""),
        "differing rows are marked"
    );
    assert_eq!(get(&format!("{base}/compare?{}", ids[0])).0, 400);

    let dag = get(&format!("{base}/dag")).1;
    assert_eq!(dag.matches("data-state=\"up to date\"").count(), 3, "{dag}");
    ws.write(
        "params.toml",
        PARAMS.replace("n_estimators = 100", "n_estimators = 7"),
    )
    .unwrap();
    let dag = get(&format!("{base}/dag")).1;
    assert_eq!(
        dag.matches("data-state=\"stale\"").count(),
        2,
        "train and evaluate: {dag}"
    );

    let models = get(&format!("{base}/models")).1;
    assert!(
        models.contains("@champion") && models.contains("models:/m-"),
        "{models}"
    );
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let out = Command::new("which").arg(name).output().ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
}

fn headless(browser: &Path, profile: &Path, args: &[&str], url: &str) -> String {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn pages_render_in_headless_chromium() {
    let Some(browser) = chromium() else {
        // CI must prove the pages render: there a missing browser is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "no chromium in CI: `.ci/run` installs Debian's `chromium`"
        );
        eprintln!("skipping: no chromium on this machine (`.ci/run` installs Debian's `chromium`)");
        return;
    };
    let (ws, base) = start();
    let run_id = runs_json(&ws, false)[0]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let ids: Vec<String> = runs_json(&ws, false)
        .iter()
        .map(|r| format!("runs={}", r["info"]["run_id"].as_str().unwrap()))
        .collect();
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = tempfile::tempdir().unwrap();
    for (name, path) in [
        ("experiments", "/".to_string()),
        ("runs", "/experiments/1".to_string()),
        ("run", format!("/runs/{run_id}")),
        ("compare", format!("/compare?{}", ids.join("&"))),
        ("dag", "/dag".to_string()),
        ("models", "/models".to_string()),
    ] {
        let url = format!("{base}{path}");
        // The DOM after rendering: the page's own content, charts included.
        let dom = headless(&browser, profile.path(), &["--dump-dom"], &url);
        assert!(dom.contains("<main>"), "{name}: {dom}");
        if name == "compare" || name == "dag" {
            assert!(dom.contains("<svg"), "{name} draws its chart");
        }
        let file = shots.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&file);
        headless(
            &browser,
            profile.path(),
            &[&format!("--screenshot={}", file.display())],
            &url,
        );
        let png = std::fs::read(&file).unwrap_or_else(|e| panic!("{name}: no screenshot: {e}"));
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{name}: {} bytes",
            png.len()
        );
    }
}
