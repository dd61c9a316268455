//! RestStore against a real MLflow tracking server.
//!
//! Skipped unless `MLFLOW_TEST_URI` points at a server started with
//! `--serve-artifacts` (see `scripts/mlflow-server.sh`). Everything written
//! through the client is read back both through the client and through the
//! server's own REST API with plain HTTP calls.

use std::fs;

use pipeline_core::tracking::model::{now_ms, TAG_PARENT_RUN_ID, TAG_PIPELINE_PID, TAG_RUN_NAME};
use pipeline_core::tracking::{
    Metric, Param, RestStore, RunStatus, Tag, TrackingError, TrackingStore,
};
use serde_json::Value;

fn server() -> Option<String> {
    match std::env::var("MLFLOW_TEST_URI") {
        Ok(u) if !u.is_empty() => Some(u.trim_end_matches('/').to_string()),
        _ => {
            eprintln!(
                "skipping: MLFLOW_TEST_URI is not set (start a server with scripts/mlflow-server.sh)"
            );
            None
        }
    }
}

fn raw_get(url: &str) -> Value {
    let mut resp = ureq::get(url).call().unwrap();
    resp.body_mut().read_json::<Value>().unwrap()
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn rest_store_against_mlflow_server() {
    let Some(base) = server() else { return };
    let store = RestStore::new(&base).unwrap();
    let api = format!("{base}/api/2.0/mlflow");
    let unique = format!("{}-{}", now_ms(), std::process::id());

    // Experiments.
    let exp_name = format!("rest-test-{unique}");
    let exp = store.get_or_create_experiment(&exp_name).unwrap();
    assert_eq!(store.get_or_create_experiment(&exp_name).unwrap(), exp);
    assert_eq!(
        store
            .get_experiment_by_name(&exp_name)
            .unwrap()
            .unwrap()
            .experiment_id,
        exp
    );
    assert!(store
        .get_experiment_by_name(&format!("absent-{unique}"))
        .unwrap()
        .is_none());
    assert!(store
        .list_experiments()
        .unwrap()
        .iter()
        .any(|e| e.experiment_id == exp && e.name == exp_name));

    // Runs with a parent.
    let start = now_ms();
    let parent = store
        .create_run(
            &exp,
            "pipeline",
            None,
            &[Tag::new(TAG_PIPELINE_PID, "1")],
            start,
        )
        .unwrap();
    let run = store
        .create_run(
            &exp,
            "train",
            Some(&parent.run_id),
            &[Tag::new("stage", "train")],
            start + 1,
        )
        .unwrap();
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.run_name, "train");
    assert!(
        run.artifact_uri.starts_with("mlflow-artifacts:"),
        "server must run with --serve-artifacts, got {}",
        run.artifact_uri
    );
    let id = run.run_id.clone();

    // A batch well beyond MLflow's per-request limits.
    let metrics: Vec<Metric> = (0..2500)
        .map(|i| Metric::new("loss", 1.0 / (i as f64 + 1.0), start + i, i))
        .chain([
            Metric::new("accuracy", 0.93, start, 0),
            Metric::new("nan_metric", f64::NAN, start, 0),
            Metric::new("val/loss", 0.25, start, 0),
        ])
        .collect();
    let params: Vec<Param> = (0..150)
        .map(|i| Param::new(format!("p{i:03}"), format!("value-{i}")))
        .chain([Param::new("max_depth", "10")])
        .collect();
    let tags: Vec<Tag> = (0..120)
        .map(|i| Tag::new(format!("t{i:03}"), format!("tag-{i}")))
        .collect();
    store.log_batch(&id, &metrics, &params, &tags).unwrap();

    // Params are immutable, checked before sending; keys are validated locally.
    store.log_param(&id, "max_depth", "10").unwrap();
    let err = store.log_param(&id, "max_depth", "11").unwrap_err();
    assert!(
        matches!(&err, TrackingError::ParamChanged { key, old_value, .. } if key == "max_depth" && old_value == "10"),
        "{err}"
    );
    assert!(matches!(
        store.log_metric(&id, "bad$key", 1.0, 0),
        Err(TrackingError::InvalidKey { .. })
    ));

    // Artifacts through the proxy.
    let dir = tempfile::tempdir().unwrap();
    let model_json = dir.path().join("model.json");
    fs::write(&model_json, br#"{"weights": [0.5, 0.25]}"#).unwrap();
    let notes = dir.path().join("notes.txt");
    fs::write(&notes, "with a space in the name\n").unwrap();
    store
        .log_artifact(&id, &model_json, "model/model.json")
        .unwrap();
    store
        .log_artifact(&id, &notes, "model/docs/read me.txt")
        .unwrap();
    store.log_artifact(&id, &notes, "top.txt").unwrap();

    store
        .update_run(&id, RunStatus::Finished, Some(start + 5000))
        .unwrap();

    // Read back through the server's own REST API.
    let raw = raw_get(&format!("{api}/runs/get?run_id={id}"));
    let info = &raw["run"]["info"];
    assert_eq!(info["status"], "FINISHED");
    assert_eq!(info["end_time"].as_i64(), Some(start + 5000));
    assert_eq!(info["run_name"], "train");
    let data = &raw["run"]["data"];
    assert_eq!(data["params"].as_array().unwrap().len(), 151);
    let tag_list = data["tags"].as_array().unwrap();
    let tag = |k: &str| {
        tag_list
            .iter()
            .find(|t| t["key"] == k)
            .map(|t| t["value"].as_str().unwrap().to_string())
    };
    assert_eq!(tag("t119").as_deref(), Some("tag-119"));
    assert_eq!(
        tag(TAG_PARENT_RUN_ID).as_deref(),
        Some(parent.run_id.as_str())
    );
    assert_eq!(tag(TAG_RUN_NAME).as_deref(), Some("train"));
    let latest_loss = data["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == "loss")
        .unwrap();
    assert_eq!(latest_loss["step"].as_i64(), Some(2499));

    let hist = raw_get(&format!(
        "{api}/metrics/get-history?run_id={id}&metric_key=loss"
    ));
    let points = hist["metrics"].as_array().unwrap();
    assert_eq!(points.len(), 2500);
    let mut steps: Vec<i64> = points.iter().map(|m| m["step"].as_i64().unwrap()).collect();
    steps.sort();
    assert_eq!(steps, (0..2500).collect::<Vec<_>>());

    let listing = raw_get(&format!("{api}/artifacts/list?run_id={id}&path=model"));
    let mut paths: Vec<(String, bool)> = listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["is_dir"].as_bool().unwrap(),
            )
        })
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            ("model/docs".to_string(), true),
            ("model/model.json".to_string(), false)
        ]
    );
    let root = run
        .artifact_uri
        .trim_start_matches("mlflow-artifacts:")
        .trim_matches('/');
    let body = ureq::get(&format!(
        "{base}/api/2.0/mlflow-artifacts/artifacts/{root}/model/docs/{}",
        enc("read me.txt")
    ))
    .call()
    .unwrap()
    .body_mut()
    .read_to_string()
    .unwrap();
    assert_eq!(body, "with a space in the name\n");

    // ... and through the client.
    let got = store.get_run(&id).unwrap();
    assert_eq!(got.info.status, RunStatus::Finished);
    assert_eq!(got.param("p149"), Some("value-149"));
    assert_eq!(got.tag("stage"), Some("train"));
    assert_eq!(got.metric("accuracy").unwrap().value, 0.93);
    assert!(got.metric("nan_metric").unwrap().value.is_nan());
    let hist = store.metric_history(&id, "loss").unwrap();
    assert_eq!(hist.len(), 2500);
    assert_eq!(hist[10].step, 10);
    assert_eq!(hist[10].value, 1.0 / 11.0);
    let top: Vec<_> = store
        .list_artifacts(&id, None)
        .unwrap()
        .into_iter()
        .map(|f| (f.path, f.is_dir, f.file_size))
        .collect();
    assert_eq!(
        top,
        [
            ("model".to_string(), true, None),
            ("top.txt".to_string(), false, Some(25))
        ]
    );
    let out = dir.path().join("out");
    store
        .download_artifact(&id, "model/model.json", &out.join("m.json"))
        .unwrap();
    assert_eq!(
        fs::read(out.join("m.json")).unwrap(),
        fs::read(&model_json).unwrap()
    );
    store
        .download_artifact(&id, "model", &out.join("model"))
        .unwrap();
    assert_eq!(
        fs::read_to_string(out.join("model/docs/read me.txt")).unwrap(),
        "with a space in the name\n"
    );
    assert!(out.join("model/model.json").is_file());
    assert!(matches!(
        store.download_artifact(&id, "absent.bin", &out.join("absent")),
        Err(TrackingError::ArtifactNotFound { .. })
    ));

    // Search: the same filter language, translated to MLflow's canonical form.
    let hits = store
        .search_runs(
            std::slice::from_ref(&exp),
            "metrics.accuracy > 0.9 AND params.max_depth = '10' AND attributes.status = 'FINISHED'",
            &["metrics.accuracy DESC".to_string()],
            100,
        )
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].info.run_id, id);
    let all = store
        .search_runs(
            std::slice::from_ref(&exp),
            "",
            &["metrics.accuracy DESC".to_string()],
            100,
        )
        .unwrap();
    assert_eq!(all.len(), 2);
    // The run with the metric first, the parent (missing it) last.
    assert_eq!(all[0].info.run_id, id);
    // Keys needing quotes on the server, LIKE/ILIKE and IN go through too.
    let one = |filter: &str| {
        store
            .search_runs(std::slice::from_ref(&exp), filter, &[], 100)
            .unwrap()
            .into_iter()
            .map(|r| r.info.run_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        one("params.p001 LIKE 'value-%' AND tags.stage ILIKE 'TRA%'"),
        vec![id.clone()]
    );
    assert!(one("params.p001 LIKE 'VALUE-%'").is_empty());
    assert_eq!(
        one(&format!(
            "attributes.run_id IN ('{}', 'nope')",
            parent.run_id
        )),
        vec![parent.run_id.clone()]
    );
    assert_eq!(
        one("metrics.nan_metric != 5 AND metrics.loss <= 0.001"),
        vec![id.clone()]
    );
    let err = store
        .search_runs(
            std::slice::from_ref(&exp),
            "metrics.accuracy > 1 OR metrics.loss < 1",
            &[],
            10,
        )
        .unwrap_err();
    assert!(
        matches!(err, TrackingError::InvalidFilter { column: 22, .. }),
        "{err}"
    );

    // Registry.
    let model = format!("rest-model-{unique}");
    store.create_registered_model(&model).unwrap();
    let v1 = store
        .create_model_version(&model, &format!("runs:/{id}/model"), Some(&id))
        .unwrap();
    let v2 = store
        .create_model_version(&model, &format!("{}/model", run.artifact_uri), Some(&id))
        .unwrap();
    assert_eq!((v1.version, v2.version), (1, 2));
    assert_eq!(v1.run_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        store.get_model_version(&model, 1).unwrap().source,
        v1.source
    );
    assert_eq!(store.latest_model_version(&model).unwrap().version, 2);
    store.set_model_alias(&model, "champion", 1).unwrap();
    assert_eq!(
        store
            .get_model_version_by_alias(&model, "champion")
            .unwrap()
            .version,
        1
    );
    assert_eq!(
        store
            .resolve_model_uri(&format!("models:/{model}@champion"))
            .unwrap()
            .version,
        1
    );
    let rm = store.get_registered_model(&model).unwrap();
    assert_eq!(rm.aliases, vec![("champion".to_string(), 1)]);
    assert_eq!(rm.latest_versions[0].version, 2);
    assert!(store
        .list_registered_models()
        .unwrap()
        .iter()
        .any(|m| m.name == model));
    let raw = raw_get(&format!(
        "{api}/registered-models/alias?name={}&alias=champion",
        enc(&model)
    ));
    assert_eq!(raw["model_version"]["version"], "1");
    assert!(store.set_model_alias(&model, "latest", 1).is_err());

    // Abandoned runs: the parent is still RUNNING and its owner is "gone".
    let killed = store
        .mark_abandoned_runs(&|r| r.info.experiment_id != exp)
        .unwrap();
    assert_eq!(killed, vec![parent.run_id.clone()]);
    assert_eq!(
        store.get_run(&parent.run_id).unwrap().info.status,
        RunStatus::Killed
    );

    // Server errors are typed and carry MLflow's error code.
    match store.get_run("00000000000000000000000000000000") {
        Err(TrackingError::Mlflow {
            error_code, status, ..
        }) => {
            assert_eq!(error_code, "RESOURCE_DOES_NOT_EXIST");
            assert_eq!(status, 404);
        }
        other => panic!("unexpected {other:?}"),
    }
    match store.create_registered_model(&model) {
        Err(TrackingError::Mlflow { error_code, .. }) => {
            assert_eq!(error_code, "RESOURCE_ALREADY_EXISTS")
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn unreachable_server_is_an_http_error() {
    // Port 9 (discard) on loopback is essentially never served.
    let store = RestStore::new("http://127.0.0.1:9").unwrap();
    let err = store.list_experiments().unwrap_err();
    assert!(matches!(err, TrackingError::Http { .. }), "{err}");
}
