//! `serve` over HTTP: every request shape of MLflow's scoring protocol answers what `predict`
//! answers, every bad request gets a named error, an alias that moves is followed under load,
//! and the binary does the whole flow and stops on SIGTERM.

use iris_project::{pipeline::iris, predict::IrisPredictor};
use pipeline_core::cli::App;
use pipeline_core::serve::{serve, ModelSource, ServeOptions};
use pipeline_core::testing::TestWorkspace;
use pipeline_core::tracking::Target;
use pipeline_core::workspace::Workspace;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const PARAMS: &str = include_str!("fixtures/params.toml");
const FEATURES: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

fn workspace() -> TestWorkspace {
    TestWorkspace::new()
        .and_then(|ws| ws.with_file("params.toml", PARAMS))
        .unwrap()
}

fn run(ws: &TestWorkspace, args: &[&str]) -> String {
    ws.run_app(App::new(iris::pipeline()).predictor(IrisPredictor), args)
        .unwrap_or_else(|e| panic!("{args:?}: {e:#}"))
}

/// The test split: feature rows and labels.
fn test_split(ws: &TestWorkspace) -> Vec<Vec<f64>> {
    let text = ws.read("data/processed/test.csv").unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[..4], FEATURES);
    lines
        .map(|l| l.split(',').take(4).map(|v| v.parse().unwrap()).collect())
        .collect()
}

/// The `predict` command's prediction column for the test split with `model`.
fn predicted(ws: &TestWorkspace, model: &str) -> Vec<String> {
    run(
        ws,
        &[
            "predict",
            "--model",
            model,
            "--input",
            "data/processed/test.csv",
            "--output",
            "p.csv",
        ],
    );
    let text = ws.read("p.csv").unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().to_string())
        .collect()
}

/// `repro`, the model's `runs:/` URI.
fn trained() -> (TestWorkspace, String) {
    let ws = workspace();
    run(&ws, &["repro"]);
    let metadata: Value = serde_json::from_str(&ws.read("models/metadata.json").unwrap()).unwrap();
    let uri = metadata["model_uri"].as_str().unwrap().to_string();
    (ws, uri)
}

/// Serves `uri` of `ws` in this process on a free port.
fn start(
    ws: &TestWorkspace,
    uri: &str,
    max_body_bytes: usize,
    reload: Option<Duration>,
) -> SocketAddr {
    let target = Target::choose(&Workspace::at(ws.path()), None).unwrap();
    let source = ModelSource::new(uri, ws.path(), target, Arc::new(IrisPredictor)).unwrap();
    let options = ServeOptions {
        addr: ([127, 0, 0, 1], 0).into(),
        workers: 2,
        max_body_bytes,
        reload_interval: reload,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = serve(
            source,
            options,
            |addr, _| tx.send(addr).unwrap(),
            |_| {},
            std::future::pending(),
        );
        if let Err(e) = result {
            panic!("serve: {e:#}");
        }
    });
    rx.recv().expect("the server started")
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Status and body of a POST.
fn post(addr: SocketAddr, path: &str, content_type: Option<&str>, body: &str) -> (u16, String) {
    let mut request = agent().post(format!("http://{addr}{path}"));
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    let mut response = request.send(body).unwrap();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (response.status().as_u16(), text)
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut response = agent().get(format!("http://{addr}{path}")).call().unwrap();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (response.status().as_u16(), text)
}

/// The labels of a successful `/invocations` answer.
fn labels(addr: SocketAddr, content_type: &str, body: &str) -> Vec<String> {
    let (status, text) = post(addr, "/invocations", Some(content_type), body);
    assert_eq!(status, 200, "{body}: {text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    answer["predictions"]
        .as_array()
        .unwrap_or_else(|| panic!("{text}"))
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

fn split_body(rows: &[Vec<f64>]) -> String {
    json!({"dataframe_split": {"columns": FEATURES, "data": rows}}).to_string()
}

#[test]
fn every_mlflow_request_shape_answers_what_predict_answers_row_for_row() {
    let (ws, uri) = trained();
    let want = predicted(&ws, &uri);
    let rows = test_split(&ws);
    assert_eq!(want.len(), rows.len());
    let addr = start(&ws, &uri, 10 << 20, None);

    // Columns in another order than the model's, matched by name.
    let order = [2, 0, 3, 1];
    let shuffled: Vec<Vec<f64>> = rows.iter().map(|r| order.map(|i| r[i]).to_vec()).collect();
    let records: Vec<Value> = rows
        .iter()
        .map(|r| json!({"petal_width": r[3], "sepal_length": r[0], "petal_length": r[2], "sepal_width": r[1]}))
        .collect();
    let columns: serde_json::Map<String, Value> = order
        .iter()
        .map(|&c| {
            (
                FEATURES[c].to_string(),
                json!(rows.iter().map(|r| r[c]).collect::<Vec<_>>()),
            )
        })
        .collect();
    let bodies = [
        split_body(&rows),
        json!({"dataframe_split": {"columns": order.map(|i| FEATURES[i]), "data": shuffled}}).to_string(),
        json!({"dataframe_split": {"index": (0..rows.len()).collect::<Vec<_>>(), "columns": FEATURES, "data": rows}}).to_string(),
        json!({"dataframe_records": records}).to_string(),
        json!({"instances": records}).to_string(),
        json!({"instances": rows}).to_string(),
        json!({"inputs": rows}).to_string(),
        json!({"inputs": records, "params": {"unused": 1}}).to_string(),
        json!({"inputs": columns}).to_string(),
    ];
    for body in &bodies {
        assert_eq!(labels(addr, "application/json", body), want, "{body}");
    }
    assert_eq!(
        labels(addr, "application/json; charset=utf-8", &bodies[0]),
        want
    );
    let mut csv = "petal_length,sepal_length,petal_width,sepal_width\n".to_string();
    for r in &rows {
        csv.push_str(&format!("{},{},{},{}\n", r[2], r[0], r[3], r[1]));
    }
    assert_eq!(labels(addr, "text/csv", &csv), want);
    // One row at a time gives the same as the batch.
    for (row, label) in rows.iter().zip(&want).take(5) {
        assert_eq!(
            labels(
                addr,
                "application/json",
                &split_body(std::slice::from_ref(row))
            ),
            std::slice::from_ref(label)
        );
    }

    // Probabilities: the label is the most probable class; they sum to one.
    let (status, text) = post(
        addr,
        "/invocations?output=proba",
        Some("application/json"),
        &bodies[0],
    );
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    let predictions = answer["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), want.len());
    for (p, label) in predictions.iter().zip(&want) {
        assert_eq!(p["label"], json!(label));
        let probabilities = p["probabilities"].as_object().unwrap();
        assert_eq!(
            probabilities.keys().collect::<Vec<_>>(),
            ["setosa", "versicolor", "virginica"]
        );
        let sum: f64 = probabilities.values().map(|v| v.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-9, "{p}");
        let best = probabilities[label.as_str()].as_f64().unwrap();
        assert!(
            probabilities.values().all(|v| v.as_f64().unwrap() <= best),
            "{p}"
        );
    }
}

#[test]
fn bad_requests_get_mlflow_errors_naming_what_is_wrong() {
    let (ws, uri) = trained();
    let addr = start(&ws, &uri, 4096, None);
    let row = "5.1, 3.5, 1.4, 0.2";
    let json_type = Some("application/json");
    let cases: Vec<(Option<&str>, String, u16, &str)> = vec![
        (
            json_type,
            format!(
                r#"{{"dataframe_split": {{"columns": ["sepal_length", "sepal_width", "petal_length", "petal_girth"], "data": [[{row}]]}}}}"#
            ),
            400,
            "unknown column `petal_girth`",
        ),
        (
            json_type,
            r#"{"dataframe_records": [{"sepal_length": 1, "sepal_width": 2, "petal_length": 3}]}"#
                .into(),
            400,
            "missing column `petal_width`",
        ),
        (
            json_type,
            r#"{"instances": [[5.1, "wide", 1.4, 0.2]]}"#.into(),
            400,
            "wrong type: row 0, value 1: expected a number, got a string (\"wide\")",
        ),
        (
            json_type,
            format!(r#"{{"instances": [[{row}], [1, 2, 3]]}}"#),
            400,
            "ragged rows: row 1 has 3 values, expected 4",
        ),
        (
            json_type,
            r#"{"instances": [[5.1, NaN, 1.4, 0.2]]}"#.into(),
            400,
            "not valid JSON",
        ),
        (
            Some("text/csv"),
            format!("sepal_length,sepal_width,petal_length,petal_width\n{row}\n1,2,nan,4\n"),
            400,
            "row 1, column `petal_length`: NaN is not a finite number",
        ),
        (
            Some("text/csv"),
            "sepal_length,sepal_width,petal_length,petal_width\n1,2,inf,4\n".into(),
            400,
            "not a finite number",
        ),
        (json_type, String::new(), 400, "empty body"),
        (
            json_type,
            r#"{"rows": [[1, 2, 3, 4]]}"#.into(),
            400,
            "exactly one of the fields",
        ),
        (
            json_type,
            format!(
                r#"{{"instances": [[{row}]], "pad": "{}"}}"#,
                "x".repeat(5000)
            ),
            413,
            "over the server's limit",
        ),
        (
            Some("text/plain"),
            format!("[[{row}]]"),
            415,
            "unsupported content type `text/plain`",
        ),
        (
            None,
            format!(r#"{{"instances": [[{row}]]}}"#),
            415,
            "no Content-Type",
        ),
        (
            Some("application/json; format=pandas-split"),
            format!(r#"{{"instances": [[{row}]]}}"#),
            415,
            "unrecognized content type parameter `format`",
        ),
    ];
    for (content_type, body, status, message) in &cases {
        let (got, text) = post(addr, "/invocations", *content_type, body);
        let error: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(got, *status, "{body:.80}: {text}");
        let code = if *status == 413 {
            "RESOURCE_LIMIT_EXCEEDED"
        } else {
            "BAD_REQUEST"
        };
        assert_eq!(error["error_code"], code, "{text}");
        assert!(
            error["message"].as_str().unwrap().contains(message),
            "{body:.80}: {text}"
        );
    }
    let (status, text) = post(
        addr,
        "/invocations?output=everything",
        json_type,
        &format!(r#"{{"instances": [[{row}]]}}"#),
    );
    assert_eq!(
        (status, text.contains("unknown output `everything`")),
        (400, true),
        "{text}"
    );
    // Paths are endpoints, never files.
    for path in ["/../../etc/passwd", "/models/model.json", "/invocations/x"] {
        let (status, text) = get(addr, path);
        assert_eq!(status, 404, "{path}: {text}");
        assert!(text.contains("ENDPOINT_NOT_FOUND"), "{text}");
    }
    // Still serving, and every error was counted.
    assert_eq!(
        labels(
            addr,
            "application/json",
            &format!(r#"{{"instances": [[{row}]]}}"#)
        ),
        ["setosa"]
    );
    let (_, metrics) = get(addr, "/metrics");
    let errors = cases.len() + 1 + 3;
    assert!(
        metrics
            .lines()
            .any(|l| l == format!("serve_errors_total {errors}")),
        "{metrics}"
    );
    assert!(
        metrics.contains("serve_requests_total{endpoint=\"/invocations\",status=\"415\"} 3"),
        "{metrics}"
    );
}

#[test]
fn ping_health_version_and_metadata() {
    let (ws, uri) = trained();
    run(&ws, &["models", "register", &uri, "--name", "iris"]);
    run(&ws, &["models", "alias", "iris", "champion", "1"]);
    let addr = start(&ws, "models:/iris@champion", 10 << 20, None);
    for path in ["/ping", "/health"] {
        assert_eq!(get(addr, path), (200, "\n".to_string()));
    }
    assert_eq!(
        get(addr, "/version"),
        (200, env!("CARGO_PKG_VERSION").to_string())
    );
    let (status, text) = get(addr, "/metadata");
    assert_eq!(status, 200);
    let metadata: Value = serde_json::from_str(&text).unwrap();
    let run_id = uri
        .strip_prefix("runs:/")
        .unwrap()
        .strip_suffix("/model")
        .unwrap();
    assert_eq!(metadata["model_uri"], "models:/iris@champion");
    // The version registers the run's logged model (MLflow 3), by id.
    let model_id = metadata["model_id"].as_str().unwrap();
    assert!(model_id.starts_with("m-"), "{metadata}");
    assert_eq!(metadata["source"], json!(format!("models:/{model_id}")));
    assert_eq!(metadata["run_id"], run_id);
    assert_eq!(
        (
            metadata["name"].clone(),
            metadata["version"].clone(),
            metadata["alias"].clone()
        ),
        (json!("iris"), json!(1), json!("champion"))
    );
    assert_eq!(metadata["features"], json!(FEATURES));
    assert_eq!(
        metadata["classes"],
        json!(["setosa", "versicolor", "virginica"])
    );
    let accuracy: Value = serde_json::from_str(&ws.read("models/metrics.json").unwrap()).unwrap();
    assert_eq!(
        metadata["metrics"]["accuracy"], accuracy["accuracy"],
        "{text}"
    );
    let (_, metrics) = get(addr, "/metrics");
    assert!(metrics.contains("serve_model_version 1"), "{metrics}");
}

/// A second version that predicts differently: one depth-1 tree can tell at most two classes.
fn second_version(ws: &TestWorkspace) -> String {
    run(
        ws,
        &[
            "exp",
            "run",
            "-S",
            "train.n_estimators=1",
            "-S",
            "train.max_depth=1",
        ],
    );
    let runs: Value = serde_json::from_str(&run(ws, &["runs", "list", "--json"])).unwrap();
    let exp = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["params"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["key"] == "train.n_estimators" && p["value"] == "1")
        })
        .unwrap_or_else(|| panic!("{runs:#}"));
    let uri = format!("runs:/{}/model", exp["info"]["run_id"].as_str().unwrap());
    let out = run(ws, &["models", "register", &uri, "--name", "iris"]);
    assert!(out.contains("models:/iris/2"), "{out}");
    uri
}

#[test]
fn an_alias_moving_under_load_switches_without_a_wrong_or_dropped_answer() {
    let (ws, uri) = trained();
    run(&ws, &["models", "register", &uri, "--name", "iris"]);
    second_version(&ws);
    run(&ws, &["models", "alias", "iris", "champion", "1"]);
    let v1 = predicted(&ws, "models:/iris/1");
    let v2 = predicted(&ws, "models:/iris/2");
    assert_ne!(v1, v2, "the two versions must predict differently");
    let rows = test_split(&ws);
    let addr = start(
        &ws,
        "models:/iris@champion",
        10 << 20,
        Some(Duration::from_millis(20)),
    );

    const CLIENTS: usize = 4;
    const REQUESTS: usize = 150;
    let done = Arc::new(AtomicUsize::new(0));
    let switched = Arc::new(AtomicBool::new(false));
    let body = Arc::new(split_body(&rows));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (done, switched, body, v1, v2) = (
                done.clone(),
                switched.clone(),
                body.clone(),
                v1.clone(),
                v2.clone(),
            );
            std::thread::spawn(move || {
                let mut answers = (0, 0);
                for _ in 0..REQUESTS {
                    let after_switch = switched.load(Ordering::SeqCst);
                    let got = labels(addr, "application/json", &body);
                    if got == v2 {
                        answers.1 += 1;
                    } else {
                        assert_eq!(got, v1, "an answer from neither version");
                        assert!(
                            !after_switch,
                            "version 1 answered after the switch was seen"
                        );
                        answers.0 += 1;
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                }
                answers
            })
        })
        .collect();
    while done.load(Ordering::SeqCst) < 100 {
        std::thread::sleep(Duration::from_millis(1));
    }
    run(&ws, &["models", "alias", "iris", "champion", "2"]);
    // The reload thread notices within a few of its 20 ms checks; bounded, not timed.
    for _ in 0..1000 {
        let (_, text) = get(addr, "/metadata");
        if serde_json::from_str::<Value>(&text).unwrap()["version"] == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    switched.store(true, Ordering::SeqCst);
    let (mut old, mut new) = (0, 0);
    for client in clients {
        let (a, b) = client.join().expect("a client failed");
        old += a;
        new += b;
    }
    assert_eq!(old + new, CLIENTS * REQUESTS);
    assert!(
        old >= 100,
        "the first 100 answers came before the alias moved: {old}"
    );
    assert_eq!(labels(addr, "application/json", &body), v2);
    let (_, metrics) = get(addr, "/metrics");
    assert!(metrics.contains("serve_model_reloads_total 1"), "{metrics}");
    assert!(metrics.contains("serve_model_version 2"), "{metrics}");
}

/// The done-when flow through the binary: repro, register, alias, serve, move the alias, SIGTERM.
#[cfg(unix)]
#[test]
fn the_binary_serves_the_champion_follows_the_alias_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let (ws, uri) = trained();
    run(&ws, &["models", "register", &uri, "--name", "iris"]);
    run(&ws, &["models", "alias", "iris", "champion", "1"]);
    second_version(&ws);
    let v1 = predicted(&ws, "models:/iris@champion");
    let rows = test_split(&ws);
    let mut child = Command::new(env!("CARGO_BIN_EXE_iris-project"))
        .args([
            "-C",
            &ws.path().display().to_string(),
            "serve",
            "--model",
            "models:/iris@champion",
            "--port",
            "0",
            "--reload-interval",
            "0.05",
        ])
        .env_remove("MLFLOW_TRACKING_URI")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("Serving iris version 1 ("), "{line}");
    let addr: SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap();
    assert_eq!(labels(addr, "application/json", &split_body(&rows)), v1);

    run(&ws, &["models", "alias", "iris", "champion", "2"]);
    let v2 = predicted(&ws, "models:/iris@champion");
    let mut seen = Vec::new();
    for _ in 0..1000 {
        seen = labels(addr, "application/json", &split_body(&rows));
        if seen == v2 {
            break;
        }
        assert_eq!(seen, v1);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(seen, v2, "the alias move was picked up without a restart");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(exit.success(), "{exit:?}: {rest}");
    assert_eq!(rest.trim(), "stopped");
}
