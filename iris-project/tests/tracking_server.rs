//! The pipeline binary as a drop-in MLflow tracking server: MLflow's own Python client logs
//! into the embedded store through the `ui` server's API, next to `repro`'s runs; requests are
//! checked (errors in MLflow's shape, never a panic) and credentials are required when asked.

use iris_project::pipeline::iris;
use pipeline_core::dag::Dag;
use pipeline_core::mlflow_api::Auth;
use pipeline_core::session::Session;
use pipeline_core::testing::TestWorkspace;
use pipeline_core::tracking::recorder::Target;
use pipeline_core::ui::{serve_guarded, UiState};
use pipeline_core::workspace::Workspace;
use serde_json::{json, Value};

/// The tests' own params (not the workspace's `params.toml`, which users edit).
const PARAMS: &str = include_str!("fixtures/params.toml");

fn cli(ws: &TestWorkspace, args: &[&str]) -> String {
    ws.run(iris::pipeline(), args)
        .unwrap_or_else(|e| panic!("{args:?}: {e:#}"))
}

/// A workspace after `repro`, with the UI and API served over its store.
fn start(auth: Option<Auth>) -> (TestWorkspace, String) {
    let ws = TestWorkspace::new()
        .and_then(|w| w.with_file("params.toml", PARAMS))
        .unwrap();
    cli(&ws, &["repro"]);
    let workspace = Workspace::at(ws.path());
    let target = Target::choose(&workspace, None).unwrap();
    let store = target.open().unwrap();
    let state = UiState::new(
        store,
        Session::new(workspace, Dag::new(iris::pipeline()).unwrap(), target),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = serve_guarded(state, auth, "127.0.0.1:0".parse().unwrap(), |bound| {
            let _ = tx.send(bound);
        });
    });
    (ws, format!("http://{}", rx.recv().unwrap()))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Status and JSON body of a request (`body` None: a GET).
fn call(url: &str, method: &str, body: Option<Value>, auth: Option<&str>) -> (u16, Value) {
    let agent = agent();
    let response = match (method, body) {
        ("GET", _) => {
            let mut req = agent.get(url);
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            req.call()
        }
        (_, body) => {
            let mut req = match method {
                "PUT" => agent.put(url),
                "PATCH" => agent.patch(url),
                _ => agent.post(url),
            };
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            req.send_json(body.unwrap_or(json!({})))
        }
    };
    let mut response = response.unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn bad_requests_get_mlflow_errors_and_artifact_paths_stay_in_their_run() {
    let (_ws, base) = start(None);
    let api = |path: &str| format!("{base}/api/2.0/mlflow/{path}");
    let (status, body) = call(&api("runs/get?run_id=nope"), "GET", None, None);
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("RESOURCE_DOES_NOT_EXIST")),
        "{body}"
    );
    let (status, body) = call(
        &api("experiments/get-by-name?experiment_name=none"),
        "GET",
        None,
        None,
    );
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("RESOURCE_DOES_NOT_EXIST")),
        "{body}"
    );
    let (status, body) = call(
        &api("runs/create"),
        "POST",
        Some(json!({ "experiment_id": "0", "start_time": "soon" })),
        None,
    );
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("start_time"),
        "{body}"
    );
    let (status, run) = call(
        &api("runs/create"),
        "POST",
        Some(json!({ "experiment_id": "0" })),
        None,
    );
    assert_eq!(status, 200, "{run}");
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let artifact_uri = run["run"]["info"]["artifact_uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        artifact_uri,
        format!("mlflow-artifacts:/0/{run_id}/artifacts")
    );
    let metrics: Vec<Value> = (0..1001)
        .map(|i| json!({ "key": "m", "value": i, "timestamp": 0, "step": i }))
        .collect();
    let (status, body) = call(
        &api("runs/log-batch"),
        "POST",
        Some(json!({ "run_id": run_id, "metrics": metrics })),
        None,
    );
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE")),
        "{body}"
    );
    let long_key = "k".repeat(251);
    let (status, body) = call(
        &api("runs/log-parameter"),
        "POST",
        Some(json!({ "run_id": run_id, "key": long_key, "value": "v" })),
        None,
    );
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE")),
        "{body}"
    );
    let (status, body) = call(
        &api("runs/log-metric"),
        "POST",
        Some(json!({ "run_id": run_id, "key": "loss", "value": "NaN", "timestamp": 1, "step": 0 })),
        None,
    );
    assert_eq!(status, 200, "{body}");
    // Not JSON at all.
    let mut response = agent()
        .post(&api("runs/log-batch"))
        .header("Content-Type", "application/json")
        .send("{not json")
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["error_code"], "BAD_REQUEST");
    let (status, body) = call(&api("no/such/endpoint"), "GET", None, None);
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("ENDPOINT_NOT_FOUND")),
        "{body}"
    );

    // Uploads and downloads through the proxy, confined to the run.
    let proxy = format!("{base}/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts");
    let bytes: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let response = agent()
        .put(&format!("{proxy}/data/blob.bin"))
        .send(&bytes[..])
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let mut response = agent()
        .get(&format!("{proxy}/data/blob.bin"))
        .call()
        .unwrap();
    assert_eq!(
        response
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .unwrap(),
        bytes
    );
    let (status, listing) = call(
        &format!("{base}/api/2.0/mlflow-artifacts/artifacts?path=0/{run_id}/artifacts/data"),
        "GET",
        None,
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(
        listing["files"],
        json!([{ "path": "blob.bin", "is_dir": false, "file_size": 300_000 }])
    );
    for escape in [
        "data/../../../../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "%2Fetc%2Fpasswd",
    ] {
        let response = agent().put(&format!("{proxy}/{escape}")).send("x").unwrap();
        assert_eq!(response.status().as_u16(), 400, "{escape}");
    }
    // Another experiment's path to this run is not this run's.
    let response = agent()
        .get(&format!(
            "{base}/api/2.0/mlflow-artifacts/artifacts/1/{run_id}/artifacts/data/blob.bin"
        ))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
}

#[test]
fn credentials_are_required_on_every_request_when_an_auth_file_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("auth.toml");
    std::fs::write(
        &file,
        "tokens = [\"0123456789abcdef0123\"]\n[users]\nalice = \"wonderland\"\n",
    )
    .unwrap();
    let (_ws, base) = start(Some(Auth::load(&file).unwrap()));
    let search = format!("{base}/api/2.0/mlflow/experiments/search?max_results=10");
    let (status, body) = call(&search, "GET", None, None);
    assert_eq!(
        (status, body["error_code"].as_str()),
        (401, Some("UNAUTHENTICATED")),
        "{body}"
    );
    let (status, _) = call(&format!("{base}/"), "GET", None, None);
    assert_eq!(status, 401, "the UI is guarded too");
    // `alice:wonderland` and `alice:nope`, base64-encoded.
    let basic = "Basic YWxpY2U6d29uZGVybGFuZA==".to_string();
    let (status, body) = call(&search, "GET", None, Some(&basic));
    assert_eq!(status, 200, "{body}");
    let wrong = "Basic YWxpY2U6bm9wZQ==".to_string();
    assert_eq!(call(&search, "GET", None, Some(&wrong)).0, 401);
    assert_eq!(
        call(&search, "GET", None, Some("Bearer 0123456789abcdef0123")).0,
        200
    );
    assert_eq!(call(&format!("{base}/"), "GET", None, Some(&basic)).0, 200);

    // The engine's own client reads MLflow's variables.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iris-project"))
        .args(["--tracking-uri", &base, "experiments", "list"])
        .env("MLFLOW_TRACKING_USERNAME", "alice")
        .env("MLFLOW_TRACKING_PASSWORD", "wonderland")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("iris"));
}

#[test]
fn many_clients_logging_at_once_lose_nothing() {
    let (ws, base) = start(None);
    let store = pipeline_core::tracking::RestStore::new(&base).unwrap();
    use pipeline_core::tracking::{Metric, Param, TrackingStore};
    let experiment = store.get_or_create_experiment("concurrent").unwrap();
    std::thread::scope(|scope| {
        for client in 0..8 {
            let base = base.clone();
            let experiment = experiment.clone();
            scope.spawn(move || {
                let store = pipeline_core::tracking::RestStore::new(&base).unwrap();
                for r in 0..10 {
                    let run = store
                        .create_run(&experiment, &format!("c{client}-r{r}"), None, &[], 0)
                        .unwrap();
                    let metrics: Vec<Metric> = (0..100)
                        .map(|s| Metric::new("loss", s as f64, 0, s))
                        .collect();
                    let params: Vec<Param> =
                        (0..10).map(|p| Param::new(format!("p{p}"), "v")).collect();
                    store
                        .log_batch(&run.run_id, &metrics, &params, &[])
                        .unwrap();
                }
            });
        }
    });
    let out = cli(
        &ws,
        &[
            "runs",
            "list",
            "--experiment",
            "concurrent",
            "--json",
            "--max-results",
            "1000",
        ],
    );
    let runs: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(runs.len(), 80);
    for run in &runs {
        let id = run["info"]["run_id"].as_str().unwrap();
        assert_eq!(store.metric_history(id, "loss").unwrap().len(), 100);
        assert_eq!(run["params"].as_array().unwrap().len(), 10);
    }
}

#[test]
#[ignore = "needs MLFLOW_VENV (the venv with mlflow that .ci/run creates)"]
fn mlflows_python_client_logs_into_the_embedded_store() {
    let venv = std::env::var("MLFLOW_VENV").expect("MLFLOW_VENV must name the venv with mlflow");
    let (ws, base) = start(None);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mlflow_client.py"
    );
    let out = python_command(&venv)
        .args([script, &base, "iris"])
        .current_dir(ws.path())
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Value = serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap();

    // Python's runs sit beside the pipeline's, in the CLI.
    let listed = cli(&ws, &["runs", "list"]);
    assert!(listed.contains("notebook-beside-pipeline"), "{listed}");
    assert!(listed.contains("repro"), "{listed}");
    let notebook = cli(
        &ws,
        &[
            "runs",
            "list",
            "--experiment",
            "py-notebook",
            "--all",
            "--json",
        ],
    );
    let runs: Vec<Value> = serde_json::from_str(&notebook).unwrap();
    let ids: Vec<&str> = runs
        .iter()
        .map(|r| r["info"]["run_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&summary["parent"].as_str().unwrap()),
        "{notebook}"
    );
    assert!(
        !ids.contains(&summary["child"].as_str().unwrap()),
        "the deleted child is not listed"
    );
    let shown = cli(&ws, &["runs", "show", summary["child"].as_str().unwrap()]);
    assert!(shown.to_lowercase().contains("deleted"), "{shown}");
    let compared = cli(
        &ws,
        &[
            "runs",
            "compare",
            summary["beside"].as_str().unwrap(),
            summary["parent"].as_str().unwrap(),
        ],
    );
    assert!(compared.contains("accuracy"), "{compared}");
    // And in the UI's runs page of the pipeline's experiment.
    let (_, experiment) = call(
        &format!("{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=iris"),
        "GET",
        None,
        None,
    );
    let id = experiment["experiment"]["experiment_id"].as_str().unwrap();
    let mut page = ureq::get(&format!("{base}/experiments/{id}"))
        .call()
        .unwrap();
    let page = page.body_mut().read_to_string().unwrap();
    assert!(page.contains("notebook-beside-pipeline"), "{page}");
    let models = cli(&ws, &["models", "show", "py-iris", "--json"]);
    let models: Value = serde_json::from_str(&models).unwrap();
    let versions = models["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{models}");
    assert!(
        versions
            .iter()
            .all(|v| v["model_id"] == summary["model_id"]),
        "{models}"
    );
    assert_eq!(
        models["aliases"],
        json!([["prod", summary["version"]]]),
        "{models}"
    );
}

#[test]
#[ignore = "needs MLFLOW_VENV (the venv with mlflow that .ci/run creates)"]
fn mlflows_python_client_sends_the_credentials_the_server_asks_for() {
    let venv = std::env::var("MLFLOW_VENV").expect("MLFLOW_VENV must name the venv with mlflow");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("auth.toml");
    std::fs::write(&file, "[users]\nalice = \"wonderland\"\n").unwrap();
    let (_ws, base) = start(Some(Auth::load(&file).unwrap()));
    let script = format!(
        "import mlflow\nmlflow.set_tracking_uri({base:?})\n\
         print([e.name for e in mlflow.search_experiments()])\n"
    );
    let python = |user: Option<(&str, &str)>| {
        let mut command = python_command(&venv);
        command
            .args(["-c", &script])
            .env_remove("MLFLOW_TRACKING_USERNAME")
            .env_remove("MLFLOW_TRACKING_PASSWORD")
            .env_remove("MLFLOW_TRACKING_TOKEN");
        if let Some((name, password)) = user {
            command
                .env("MLFLOW_TRACKING_USERNAME", name)
                .env("MLFLOW_TRACKING_PASSWORD", password);
        }
        command.output().unwrap()
    };
    let allowed = python(Some(("alice", "wonderland")));
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    assert!(String::from_utf8_lossy(&allowed.stdout).contains("iris"));
    let refused = python(None);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("UNAUTHENTICATED"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// MLflow's Python, with its usage reporting off: traffic stays on loopback.
fn python_command(venv: &str) -> std::process::Command {
    let mut command = std::process::Command::new(format!("{venv}/bin/python"));
    command
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true");
    command
}
