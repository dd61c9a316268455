//! The Iris pipeline recorded in the tracking store: runs, models, URIs, and (when an MLflow
//! server is given in `MLFLOW_TEST_URI`) the same through MLflow's own REST API.

use iris_project::{pipeline::iris, predict::IrisPredictor};
use pipeline_core::cli::App;
use pipeline_core::testing::TestWorkspace;

/// The tests' own params (not the workspace's `params.toml`, which users edit).
const PARAMS: &str = include_str!("fixtures/params.toml");

fn workspace() -> TestWorkspace {
    TestWorkspace::new()
        .and_then(|ws| ws.with_file("params.toml", PARAMS))
        .unwrap()
}

/// Runs a command of the Iris binary (with its predictor) in `ws`.
fn run(ws: &TestWorkspace, args: &[&str]) -> String {
    try_run(ws, args).unwrap_or_else(|e| panic!("{args:?}: {e:#}"))
}

fn try_run(ws: &TestWorkspace, args: &[&str]) -> anyhow::Result<String> {
    ws.run_app(App::new(iris::pipeline()).predictor(IrisPredictor), args)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn accuracy_of(ws: &TestWorkspace) -> f64 {
    json(&ws.read("models/metrics.json").unwrap())["accuracy"]
        .as_f64()
        .unwrap()
}

#[test]
fn a_repro_and_three_experiments_are_four_runs() {
    let ws = workspace();
    run(&ws, &["repro"]);
    for n in ["10", "20", "30"] {
        run(
            &ws,
            &["exp", "run", "-S", &format!("train.n_estimators={n}")],
        );
    }
    let runs = json(&run(&ws, &["runs", "list", "--json"]));
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 4, "{runs:#?}");
    for r in runs {
        assert_eq!(r["info"]["status"], "FINISHED");
        let shown = run(
            &ws,
            &["runs", "show", r["info"]["run_id"].as_str().unwrap()],
        );
        assert!(
            shown.contains("model/model.json"),
            "the pipeline run carries the model: {shown}"
        );
        let params: Vec<&str> = r["params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["key"].as_str().unwrap())
            .collect();
        assert!(
            params.contains(&"train.n_estimators") && params.contains(&"max_depth"),
            "{params:?}"
        );
        let accuracy = r["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["key"] == "accuracy")
            .unwrap();
        assert!(accuracy["value"].as_f64().unwrap() >= 0.85);
    }
    // Every pipeline run has its stage runs, and the model is an artifact of the train run.
    let all = json(&run(&ws, &["runs", "list", "--all", "--json"]));
    let train_runs: Vec<&serde_json::Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["info"]["run_name"] == "train")
        .collect();
    assert_eq!(train_runs.len(), 4);
    let id = train_runs[0]["info"]["run_id"].as_str().unwrap();
    let shown = run(&ws, &["runs", "show", id]);
    assert!(
        shown.contains("model/model.json") && shown.contains("model/MLmodel"),
        "{shown}"
    );
    let filtered = json(&run(
        &ws,
        &[
            "runs",
            "list",
            "--json",
            "--filter",
            "metrics.accuracy > 0.5 AND params.n_estimators = '20'",
        ],
    ));
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let err = format!(
        "{:#}",
        try_run(&ws, &["runs", "list", "--filter", "metrics.accuracy >> 1"]).unwrap_err()
    );
    assert!(err.contains("column 19"), "{err}");
    // exp show reads the experiments back from the store.
    let exps = json(&run(&ws, &["exp", "show", "--json"]));
    assert_eq!(
        exps.as_array().unwrap().len(),
        4,
        "the workspace and three experiments"
    );
}

#[test]
fn predict_reproduces_the_evaluated_accuracy_through_run_and_model_uris() {
    let ws = workspace();
    run(&ws, &["repro"]);
    let metadata = json(&ws.read("models/metadata.json").unwrap());
    let uri = metadata["model_uri"].as_str().unwrap().to_string();
    let run_id = metadata["run_id"].as_str().unwrap().to_string();
    assert_eq!(uri, format!("runs:/{run_id}/model"));
    let expected = format!("accuracy: {}", accuracy_of(&ws));

    let out = run(
        &ws,
        &[
            "predict",
            "--model",
            &uri,
            "--input",
            "data/processed/test.csv",
            "--output",
            "preds.csv",
        ],
    );
    assert!(out.contains(&expected), "{out}");
    let preds = ws.read("preds.csv").unwrap();
    assert_eq!(preds.lines().count(), 31);
    assert!(
        preds.starts_with("sepal_length,sepal_width,petal_length,petal_width,species,prediction\n")
    );

    let out = run(&ws, &["models", "register", &uri, "--name", "iris"]);
    assert!(out.contains("models:/iris/1"), "{out}");
    run(&ws, &["models", "alias", "iris", "champion", "1"]);
    // The version registers the evaluate run's logged model (MLflow 3), which loads by id too.
    let shown = json(&run(&ws, &["models", "show", "iris", "--json"]));
    let model_id = shown["versions"][0]["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        shown["versions"][0]["source"],
        format!("models:/{model_id}")
    );
    let by_id = format!("models:/{model_id}");
    for model in [
        "models:/iris@champion",
        "models:/iris/1",
        "models:/iris/latest",
        by_id.as_str(),
    ] {
        let out = run(
            &ws,
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
        assert!(out.contains(&expected), "{model}: {out}");
    }
    let listed = run(&ws, &["models", "list"]);
    assert!(listed.contains("champion→1"), "{listed}");
    let err = format!(
        "{:#}",
        try_run(
            &ws,
            &[
                "predict",
                "--model",
                "models:/iris@nobody",
                "--input",
                "x.csv"
            ]
        )
        .unwrap_err()
    );
    assert!(err.contains("nobody"), "{err}");
}

#[test]
fn an_experiment_restored_from_the_cache_still_carries_the_model() {
    let ws = workspace();
    run(&ws, &["repro"]);
    // Same params as the workspace: every stage is restored, none runs.
    let out = run(&ws, &["exp", "run"]);
    assert!(!out.contains("running stage"), "{out}");
    let runs = json(&run(&ws, &["runs", "list", "--json"]));
    let exp = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["info"]["run_name"] != "repro")
        .unwrap();
    let shown = run(
        &ws,
        &["runs", "show", exp["info"]["run_id"].as_str().unwrap()],
    );
    assert!(
        shown.contains("model/model.json") && shown.contains("pipeline.restored.train"),
        "{shown}"
    );
}

#[test]
fn stage_run_ids_follow_fingerprints_so_outputs_stay_identical() {
    let a = workspace();
    let b = workspace();
    run(&a, &["repro"]);
    run(&b, &["repro", "-j", "1"]);
    assert_eq!(
        a.read("models/metadata.json").unwrap(),
        b.read("models/metadata.json").unwrap()
    );
    // Forcing a rerun reuses the same stage run.
    run(&a, &["repro", "-f", "evaluate", "-s"]);
    assert_eq!(
        a.read("models/metadata.json").unwrap(),
        b.read("models/metadata.json").unwrap()
    );
}

/// With an MLflow server (`MLFLOW_TEST_URI`, started by `.ci/run`), the pipeline's run, params,
/// metrics and model artifact are visible through the server's own REST API.
#[test]
#[ignore = "needs MLFLOW_TEST_URI"]
fn recorded_on_a_real_mlflow_server() {
    let uri = std::env::var("MLFLOW_TEST_URI")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("MLFLOW_TEST_URI must name an MLflow server (scripts/mlflow-server.sh start)");
    let ws = workspace();
    let out = run(&ws, &["--tracking-uri", &uri, "repro"]);
    let run_id = out
        .lines()
        .find_map(|l| {
            l.strip_prefix("Recorded as run ")?
                .split_whitespace()
                .next()
        })
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    let get = |path: &str| -> serde_json::Value {
        let text = ureq::get(&format!("{uri}{path}"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        json(&text)
    };
    let parent = get(&format!("/api/2.0/mlflow/runs/get?run_id={run_id}"));
    assert_eq!(parent["run"]["info"]["status"], "FINISHED");
    let user = parent["run"]["info"]["user_id"]
        .as_str()
        .unwrap_or_default();
    assert!(!user.is_empty(), "runs carry their user: {parent}");
    let tags = parent["run"]["data"]["tags"].to_string();
    for key in ["mlflow.source.name", "mlflow.source.type", "mlflow.user"] {
        assert!(tags.contains(key), "{key} in {tags}");
    }
    // MLflow's UI shows which data the pipeline read.
    let inputs = parent["run"]["inputs"]["dataset_inputs"].to_string();
    assert!(inputs.contains("data/processed/train.csv"), "{parent}");
    let params = parent["run"]["data"]["params"].as_array().unwrap();
    assert!(params
        .iter()
        .any(|p| p["key"] == "train.n_estimators" && p["value"] == "100"));
    let metrics = parent["run"]["data"]["metrics"].as_array().unwrap();
    let accuracy = metrics.iter().find(|m| m["key"] == "accuracy").unwrap()["value"]
        .as_f64()
        .unwrap();
    assert_eq!(accuracy, accuracy_of(&ws));
    let listing = get(&format!(
        "/api/2.0/mlflow/artifacts/list?run_id={run_id}&path=model"
    ));
    assert!(
        listing.to_string().contains("model/model.json"),
        "{listing}"
    );
    // The evaluate stage's run carries the model, as metadata.json says.
    let metadata = json(&ws.read("models/metadata.json").unwrap());
    let stage_run = metadata["run_id"].as_str().unwrap();
    let listing = get(&format!(
        "/api/2.0/mlflow/artifacts/list?run_id={stage_run}&path=model"
    ));
    let files: Vec<&str> = listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"model/model.json"), "{listing}");
    // It is an MLflow 3 logged model of that run too: READY, with its metrics linked, listed by
    // the server's logged-models search (MLflow's Models tab).
    let experiment = parent["run"]["info"]["experiment_id"].as_str().unwrap();
    let found = ureq::post(&format!("{uri}/api/2.0/mlflow/logged-models/search"))
        .send_json(serde_json::json!({
            "experiment_ids": [experiment],
            "filter": format!("source_run_id = '{stage_run}'"),
        }))
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let found = json(&found);
    let model = &found["models"][0];
    assert_eq!(model["info"]["name"], "model", "{found}");
    assert_eq!(model["info"]["status"], "LOGGED_MODEL_READY", "{found}");
    let linked = model["data"]["metrics"].to_string();
    assert!(linked.contains("\"accuracy\""), "{found}");
    let model_id = model["info"]["model_id"].as_str().unwrap().to_string();
    let mlmodel = ureq::get(&format!(
        "{uri}/api/2.0/mlflow-artifacts/artifacts/{}/MLmodel",
        model["info"]["artifact_uri"]
            .as_str()
            .unwrap()
            .trim_start_matches("mlflow-artifacts:/")
    ))
    .call()
    .unwrap()
    .body_mut()
    .read_to_string()
    .unwrap();
    assert!(mlmodel.contains("rust_pipeline:"), "{mlmodel}");
    assert!(!mlmodel.contains("python_function"), "{mlmodel}");
    // Registered from here, the version carries the model's id, and both URIs predict.
    let name = format!("iris-logged-{}", std::process::id());
    run(
        &ws,
        &[
            "--tracking-uri",
            &uri,
            "models",
            "register",
            metadata["model_uri"].as_str().unwrap(),
            "--name",
            &name,
        ],
    );
    let version = get(&format!(
        "/api/2.0/mlflow/model-versions/get?name={name}&version=1"
    ));
    assert_eq!(
        version["model_version"]["source"],
        format!("models:/{model_id}"),
        "{version}"
    );
    for model in [format!("models:/{name}/1"), format!("models:/{model_id}")] {
        let out = predict_on(&ws, &uri, &model);
        assert!(
            out.contains(&format!("accuracy: {accuracy}")),
            "{model}: {out}"
        );
    }
    // And it loads back and predicts through the server.
    let out = predict_on(&ws, &uri, metadata["model_uri"].as_str().unwrap());
    assert!(out.contains(&format!("accuracy: {accuracy}")), "{out}");
}

#[test]
fn deleting_a_version_leaves_the_registry_working() {
    let ws = workspace();
    run(&ws, &["repro"]);
    let metadata = json(&ws.read("models/metadata.json").unwrap());
    let uri = metadata["model_uri"].as_str().unwrap().to_string();
    for _ in 0..3 {
        run(&ws, &["models", "register", &uri, "--name", "iris"]);
    }
    run(&ws, &["models", "alias", "iris", "champion", "3"]);
    run(&ws, &["models", "delete", "iris", "--version", "2"]);
    let shown = json(&run(&ws, &["models", "show", "iris", "--json"]));
    let versions: Vec<u64> = shown["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [1, 3], "{shown}");
    let listed = run(&ws, &["models", "list"]);
    assert!(listed.contains("iris"), "{listed}");
    let out = run(
        &ws,
        &[
            "predict",
            "--model",
            "models:/iris@champion",
            "--input",
            "data/processed/test.csv",
        ],
    );
    assert!(out.starts_with("sepal_length,"), "{out}");
    run(
        &ws,
        &[
            "models",
            "describe",
            "iris",
            "Iris species from petal sizes",
        ],
    );
    run(
        &ws,
        &[
            "models",
            "describe",
            "iris",
            "--version",
            "3",
            "the champion",
        ],
    );
    run(
        &ws,
        &[
            "models",
            "tag",
            "iris",
            "--version",
            "3",
            "validated",
            "yes",
        ],
    );
    let shown = json(&run(&ws, &["models", "show", "iris", "--json"]));
    assert_eq!(shown["description"], "Iris species from petal sizes");
    assert_eq!(shown["versions"][1]["description"], "the champion");
    assert_eq!(shown["versions"][1]["tags"][0]["key"], "validated");
    run(
        &ws,
        &[
            "models",
            "tag",
            "iris",
            "--version",
            "3",
            "validated",
            "--delete",
        ],
    );
    let shown = json(&run(&ws, &["models", "show", "iris", "--json"]));
    assert!(shown["versions"][1]["tags"].as_array().unwrap().is_empty());
    run(&ws, &["models", "alias", "iris", "champion", "--delete"]);
    assert!(try_run(
        &ws,
        &[
            "predict",
            "--model",
            "models:/iris@champion",
            "--input",
            "data/processed/test.csv"
        ]
    )
    .is_err());
    run(&ws, &["models", "delete", "iris"]);
    assert!(try_run(&ws, &["models", "show", "iris"]).is_err());
}

#[test]
fn runs_and_experiments_are_deleted_restored_and_renamed_from_the_cli() {
    let ws = workspace();
    run(&ws, &["repro"]);
    let runs = json(&run(&ws, &["runs", "list", "--json"]));
    let id = runs[0]["info"]["run_id"].as_str().unwrap().to_string();
    let history = run(&ws, &["runs", "show", &id, "--metric", "accuracy"]);
    assert!(history.starts_with("Step"), "{history}");
    assert_eq!(history.lines().count(), 2, "{history}");

    run(&ws, &["runs", "delete", &id[..8]]);
    let listed = json(&run(&ws, &["runs", "list", "--json"]));
    assert!(listed.as_array().unwrap().is_empty(), "{listed}");
    let shown = run(&ws, &["runs", "show", &id]);
    assert!(shown.contains("DELETED"), "{shown}");
    run(&ws, &["runs", "restore", &id]);
    assert_eq!(
        json(&run(&ws, &["runs", "list", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );

    run(&ws, &["experiments", "create", "scratch"]);
    assert!(try_run(&ws, &["experiments", "create", "scratch"]).is_err());
    run(&ws, &["experiments", "rename", "scratch", "sandbox"]);
    let names = |ws: &TestWorkspace| run(ws, &["experiments", "list"]);
    assert!(names(&ws).contains("sandbox") && !names(&ws).contains("scratch"));
    run(&ws, &["experiments", "delete", "sandbox"]);
    assert!(!names(&ws).contains("sandbox"));
    run(&ws, &["experiments", "restore", "sandbox"]);
    assert!(names(&ws).contains("sandbox"));
}

#[test]
fn each_stage_run_records_the_data_it_read_as_dataset_inputs() {
    let ws = workspace();
    run(&ws, &["repro"]);
    let runs = json(&run(&ws, &["runs", "list", "--all", "--json"]));
    let stage_run = |stage: &str| -> String {
        runs.as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["key"] == "pipeline.stage" && t["value"] == stage)
            })
            .unwrap_or_else(|| panic!("no {stage} run in {runs}"))["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let shown = json(&run(&ws, &["runs", "show", &stage_run("train"), "--json"]));
    let inputs = shown["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 1, "{shown}");
    assert_eq!(inputs[0]["dataset"]["name"], "data/processed/train.csv");
    assert_eq!(inputs[0]["context"], "training");
    let shown = json(&run(
        &ws,
        &["runs", "show", &stage_run("evaluate"), "--json"],
    ));
    let names: Vec<&str> = shown["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["dataset"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["data/processed/test.csv", "models/model.json"],
        "{shown}"
    );
}

/// A model logged and registered from Python with MLflow's own client: its version's source is
/// the resolved `mlflow-artifacts:/…` URI MLflow 3 stores, and `predict` loads it all the same.
#[test]
#[ignore = "needs MLFLOW_TEST_URI and MLFLOW_VENV"]
fn a_model_registered_from_python_predicts_here() {
    let uri = std::env::var("MLFLOW_TEST_URI")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("MLFLOW_TEST_URI must name an MLflow server (scripts/mlflow-server.sh start)");
    let venv = std::env::var("MLFLOW_VENV").expect("MLFLOW_VENV must name the venv with mlflow");
    let ws = workspace();
    run(&ws, &["repro"]);
    let name = format!("py-iris-{}", std::process::id());
    let script = format!(
        "import mlflow\n\
         mlflow.set_tracking_uri({uri:?})\n\
         import os, shutil\n\
         os.makedirs('py-model', exist_ok=True)\n\
         shutil.copy('models/model.json', 'py-model/model.json')\n\
         open('py-model/MLmodel', 'w').write('model_file: model.json\\n')\n\
         with mlflow.start_run() as run:\n    mlflow.log_artifacts('py-model', artifact_path='model')\n\
         v = mlflow.register_model(f'runs:/{{run.info.run_id}}/model', {name:?})\n\
         print(v.version, v.source)\n"
    );
    let out = python_command(&venv)
        .arg("-c")
        .arg(&script)
        .current_dir(ws.path())
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = printed.trim().lines().last().unwrap_or_default();
    let (version, source) = last.split_once(' ').unwrap();
    assert!(source.starts_with("mlflow-artifacts:"), "{printed}");
    let model = format!("models:/{name}/{version}");
    let out = predict_on(&ws, &uri, &model);
    assert!(
        out.contains(&format!("accuracy: {}", accuracy_of(&ws))),
        "{out}"
    );

    // MLflow 3's way: a logged model of its own, registered by `models:/m-<id>`.
    let logged = format!("{name}-logged");
    let script = format!(
        "import mlflow\n\
         mlflow.set_tracking_uri({uri:?})\n\
         with mlflow.start_run():\n    \
         model = mlflow.initialize_logged_model(name='model')\n    \
         mlflow.MlflowClient().log_model_artifacts(model.model_id, 'py-model')\n    \
         mlflow.finalize_logged_model(model.model_id, 'READY')\n\
         v = mlflow.register_model(f'models:/{{model.model_id}}', {logged:?})\n\
         print(v.version, v.source)\n"
    );
    let out = python_command(&venv)
        .arg("-c")
        .arg(&script)
        .current_dir(ws.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let last = printed.trim().lines().last().unwrap_or_default();
    let (version, source) = last.split_once(' ').unwrap();
    assert!(source.starts_with("models:/m-"), "{printed}");
    for model in [format!("models:/{logged}/{version}"), source.to_string()] {
        let out = predict_on(&ws, &uri, &model);
        assert!(
            out.contains(&format!("accuracy: {}", accuracy_of(&ws))),
            "{model}: {out}"
        );
    }
}

/// A version whose source is a bucket (`s3://…`), as teams that keep their models in object
/// storage register them: `predict` downloads it from there and loads it.
#[test]
#[ignore = "needs S3_TEST_ENDPOINT (scripts/storage-servers.sh)"]
fn a_version_stored_in_a_bucket_predicts_here() {
    use object_store::ObjectStoreExt;
    use pipeline_core::tracking::{SqliteStore, TrackingStore};
    let endpoint = std::env::var("S3_TEST_ENDPOINT")
        .expect("S3_TEST_ENDPOINT must name an S3 server (scripts/storage-servers.sh start)");
    let ws = workspace();
    run(&ws, &["repro"]);
    let prefix = format!("models-{}", std::process::id());
    let bucket = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name("pipeline-test")
        .with_endpoint(&endpoint)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .build()
        .unwrap();
    let model = std::fs::read(ws.path().join("models/model.json")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for (name, bytes) in [
        ("model.json", model),
        ("MLmodel", b"model_file: model.json\n".to_vec()),
    ] {
        let key = object_store::path::Path::from(format!("{prefix}/model/{name}"));
        runtime.block_on(bucket.put(&key, bytes.into())).unwrap();
    }
    for (key, value) in [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
    ] {
        std::env::set_var(key, value);
    }
    let store = SqliteStore::open(
        &ws.path().join(".pipeline/tracking.db"),
        &ws.path().join(".pipeline/cache"),
    )
    .unwrap();
    store.create_registered_model("bucketed").unwrap();
    let source = format!("s3://pipeline-test/{prefix}/model");
    let version = store
        .create_model_version("bucketed", &source, None)
        .unwrap();
    let out = run(
        &ws,
        &[
            "predict",
            "--model",
            &format!("models:/bucketed/{}", version.version),
            "--input",
            "data/processed/test.csv",
            "--output",
            "p.csv",
        ],
    );
    assert!(
        out.contains(&format!("accuracy: {}", accuracy_of(&ws))),
        "{out}"
    );
}

/// `predict` of the test split with `model`, resolved on the server at `uri`.
fn predict_on(ws: &TestWorkspace, uri: &str, model: &str) -> String {
    run(
        ws,
        &[
            "--tracking-uri",
            uri,
            "predict",
            "--model",
            model,
            "--input",
            "data/processed/test.csv",
            "--output",
            "p.csv",
        ],
    )
}

/// MLflow's Python, with its usage reporting off: traffic stays on loopback.
fn python_command(venv: &str) -> std::process::Command {
    let mut command = std::process::Command::new(format!("{venv}/bin/python"));
    command
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true");
    command
}
