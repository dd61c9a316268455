//! Experiments, runs, params, metrics, tags and status.

use pipeline_core::tracking::model::{now_ms, TAG_PARENT_RUN_ID, TAG_PIPELINE_PID, TAG_RUN_NAME};
use pipeline_core::tracking::{Metric, Param, RunStatus, Tag, TrackingError, TrackingStore};

use super::{experiment, search, unique};

pub fn experiments(store: &dyn TrackingStore) {
    let name = unique("experiments");
    let a = store.get_or_create_experiment(&name).unwrap();
    assert_eq!(store.get_or_create_experiment(&name).unwrap(), a);
    let b = store.get_or_create_experiment(&unique("wine")).unwrap();
    assert_ne!(a, b);
    let e = store.get_experiment_by_name(&name).unwrap().unwrap();
    assert_eq!(e.experiment_id, a);
    assert_eq!(e.lifecycle_stage, "active");
    assert!(e.creation_time > 1_600_000_000_000);
    assert!(store
        .get_experiment_by_name(&unique("absent"))
        .unwrap()
        .is_none());
    let all = store.list_experiments().unwrap();
    assert!(all.iter().any(|e| e.experiment_id == a && e.name == name));
    assert!(all.iter().any(|e| e.experiment_id == b));
    assert!(store.get_or_create_experiment("  ").is_err());
}

pub fn runs_with_parent_and_tags(store: &dyn TrackingStore) {
    let exp = experiment(store, "parent");
    let parent = store
        .create_run(
            &exp,
            "pipeline",
            None,
            &[Tag::new(TAG_PIPELINE_PID, "42")],
            1000,
        )
        .unwrap();
    assert_eq!(parent.run_id.len(), 32);
    assert!(parent.run_id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(parent.status, RunStatus::Running);
    assert_eq!(parent.experiment_id, exp);
    assert_eq!(parent.run_name, "pipeline");
    let child = store
        .create_run(&exp, "train", Some(&parent.run_id), &[], 2000)
        .unwrap();

    let p = store.get_run(&parent.run_id).unwrap();
    assert_eq!(p.tag(TAG_RUN_NAME), Some("pipeline"));
    assert_eq!(p.tag(TAG_PIPELINE_PID), Some("42"));
    assert_eq!(p.tag(TAG_PARENT_RUN_ID), None);
    assert!(!p.is_child());
    let c = store.get_run(&child.run_id).unwrap();
    assert_eq!(c.info.run_name, "train");
    assert_eq!(c.info.start_time, 2000);
    assert_eq!(c.tag(TAG_PARENT_RUN_ID), Some(parent.run_id.as_str()));
    assert!(c.is_child());

    // Children can be found by their parent tag.
    let kids = search(
        store,
        &exp,
        &format!("tags.mlflow.parentRunId = '{}'", parent.run_id),
        &[],
    );
    assert_eq!(super::ids(&kids), vec![child.run_id.clone()]);

    // A generated name when none is given.
    let anon = store.create_run(&exp, "", None, &[], 3000).unwrap();
    assert!(!anon.run_name.is_empty());

    let err = store
        .create_run(&exp, "x", None, &[Tag::new("bad key!", "v")], 0)
        .unwrap_err();
    assert!(err.to_string().contains("bad key!"), "{err}");
}

pub fn params_are_immutable(store: &dyn TrackingStore) {
    let exp = experiment(store, "params");
    let run = store.create_run(&exp, "r", None, &[], 0).unwrap();
    store
        .log_batch(&run.run_id, &[], &[Param::new("lr", "0.1")], &[])
        .unwrap();
    // Same value again is fine.
    store.log_param(&run.run_id, "lr", "0.1").unwrap();
    let err = store.log_param(&run.run_id, "lr", "0.2").unwrap_err();
    match &err {
        TrackingError::ParamChanged {
            run_id,
            key,
            old_value,
            new_value,
        } => {
            assert_eq!(run_id, &run.run_id);
            assert_eq!(key, "lr");
            assert_eq!(old_value, "0.1");
            assert_eq!(new_value, "0.2");
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains(&run.run_id));
    // The failed batch wrote nothing, not even its metrics.
    let err = store
        .log_batch(
            &run.run_id,
            &[Metric::new("m", 1.0, 0, 0)],
            &[Param::new("lr", "9")],
            &[],
        )
        .unwrap_err();
    assert!(matches!(err, TrackingError::ParamChanged { .. }));
    assert!(store.metric_history(&run.run_id, "m").unwrap().is_empty());
    assert_eq!(store.get_run(&run.run_id).unwrap().param("lr"), Some("0.1"));

    // Validation errors name the key, and happen before anything is sent.
    let err = store
        .log_param(&run.run_id, "p", &"x".repeat(6001))
        .unwrap_err();
    assert!(matches!(err, TrackingError::ValueTooLong { ref key, .. } if key == "p"));
    let err = store.log_metric(&run.run_id, "../up", 1.0, 0).unwrap_err();
    assert!(matches!(err, TrackingError::InvalidKey { ref key, .. } if key == "../up"));
    assert!(matches!(
        store.log_metric(&run.run_id, "bad$key", 1.0, 0),
        Err(TrackingError::InvalidKey { .. })
    ));
    assert!(store
        .log_param("00000000000000000000000000000000", "a", "b")
        .unwrap_err()
        .is_not_found());
}

pub fn metric_history_and_latest(store: &dyn TrackingStore) {
    let exp = experiment(store, "metrics");
    let run = store.create_run(&exp, "r", None, &[], 0).unwrap();
    let id = &run.run_id;
    store
        .log_batch(
            id,
            &[
                Metric::new("loss", 0.9, 100, 0),
                Metric::new("loss", 0.5, 300, 2),
                Metric::new("loss", 0.7, 200, 1),
                Metric::new("acc", 0.1, 100, 0),
            ],
            &[],
            &[],
        )
        .unwrap();
    // An older step logged later does not become the latest value.
    store
        .log_batch(id, &[Metric::new("loss", 0.8, 400, 1)], &[], &[])
        .unwrap();
    // Same step, later timestamp wins.
    store
        .log_batch(id, &[Metric::new("acc", 0.2, 150, 0)], &[], &[])
        .unwrap();
    let run = store.get_run(id).unwrap();
    assert_eq!(run.metric("loss").unwrap().value, 0.5);
    assert_eq!(run.metric("loss").unwrap().step, 2);
    assert_eq!(run.metric("acc").unwrap().value, 0.2);
    let keys: Vec<_> = run.metrics.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys, ["acc", "loss"]);

    let hist = store.metric_history(id, "loss").unwrap();
    let pts: Vec<(i64, f64)> = hist.iter().map(|m| (m.step, m.value)).collect();
    assert_eq!(pts, [(0, 0.9), (1, 0.7), (1, 0.8), (2, 0.5)]);
    assert!(store.metric_history(id, "none").unwrap().is_empty());

    // NaN is kept as given (an MLflow server clamps infinities, the embedded store keeps
    // them: see embedded.rs).
    store
        .log_batch(id, &[Metric::new("nan", f64::NAN, 1, 0)], &[], &[])
        .unwrap();
    let run = store.get_run(id).unwrap();
    assert!(run.metric("nan").unwrap().value.is_nan());
    assert!(store.metric_history(id, "nan").unwrap()[0].value.is_nan());
    // And survives JSON.
    let json = serde_json::to_string(&run).unwrap();
    let back: pipeline_core::tracking::Run = serde_json::from_str(&json).unwrap();
    assert!(back.metric("nan").unwrap().value.is_nan());
}

pub fn tags_and_status(store: &dyn TrackingStore) {
    let exp = experiment(store, "status");
    let run = store.create_run(&exp, "r", None, &[], 10).unwrap();
    store.set_tag(&run.run_id, "stage", "train").unwrap();
    store.set_tag(&run.run_id, "stage", "eval").unwrap();
    assert_eq!(
        store.get_run(&run.run_id).unwrap().tag("stage"),
        Some("eval")
    );

    store
        .update_run(&run.run_id, RunStatus::Finished, Some(99))
        .unwrap();
    let info = store.get_run(&run.run_id).unwrap().info;
    assert_eq!(info.status, RunStatus::Finished);
    assert_eq!(info.end_time, Some(99));
    // Without an end time the existing one is kept.
    store
        .update_run(&run.run_id, RunStatus::Failed, None)
        .unwrap();
    let info = store.get_run(&run.run_id).unwrap().info;
    assert_eq!(info.status, RunStatus::Failed);
    assert_eq!(info.end_time, Some(99));
    assert!(store
        .update_run("00000000000000000000000000000000", RunStatus::Failed, None)
        .unwrap_err()
        .is_not_found());
}

/// A batch well beyond MLflow's per-request limits (1,000 metrics, 100 params, 100 tags).
pub fn batches_beyond_request_limits(store: &dyn TrackingStore) {
    let exp = experiment(store, "batch");
    let start = now_ms();
    let id = store
        .create_run(&exp, "big", None, &[], start)
        .unwrap()
        .run_id;
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
    store.log_param(&id, "max_depth", "10").unwrap();
    let err = store.log_param(&id, "max_depth", "11").unwrap_err();
    assert!(
        matches!(&err, TrackingError::ParamChanged { key, old_value, .. } if key == "max_depth" && old_value == "10"),
        "{err}"
    );

    let got = store.get_run(&id).unwrap();
    assert_eq!(got.params.len(), 151);
    assert_eq!(got.param("p149"), Some("value-149"));
    assert_eq!(got.tag("t119"), Some("tag-119"));
    assert_eq!(got.metric("loss").unwrap().step, 2499);
    assert_eq!(got.metric("accuracy").unwrap().value, 0.93);
    assert!(got.metric("nan_metric").unwrap().value.is_nan());
    assert_eq!(got.metric("val/loss").unwrap().value, 0.25);
    let hist = store.metric_history(&id, "loss").unwrap();
    assert_eq!(hist.len(), 2500);
    let steps: Vec<i64> = hist.iter().map(|m| m.step).collect();
    assert_eq!(steps, (0..2500).collect::<Vec<_>>());
    assert_eq!(hist[10].value, 1.0 / 11.0);
}

/// What the engine does for runs whose process died: exactly those runs, only if RUNNING.
pub fn runs_of_dead_processes_are_killed(store: &dyn TrackingStore) {
    let exp = experiment(store, "killed");
    let alive = store.create_run(&exp, "alive", None, &[], 0).unwrap();
    let dead = store.create_run(&exp, "dead", None, &[], 0).unwrap();
    let done = store.create_run(&exp, "done", None, &[], 0).unwrap();
    store
        .update_run(&done.run_id, RunStatus::Finished, Some(5))
        .unwrap();
    assert!(store.kill_if_running(&dead.run_id, 77).unwrap());
    let info = store.get_run(&dead.run_id).unwrap().info;
    assert_eq!(info.status, RunStatus::Killed);
    assert_eq!(info.end_time, Some(77));
    assert!(!store.kill_if_running(&done.run_id, 77).unwrap());
    assert_eq!(store.get_run(&done.run_id).unwrap().info.end_time, Some(5));
    assert_eq!(
        store.get_run(&done.run_id).unwrap().info.status,
        RunStatus::Finished
    );
    assert!(!store.kill_if_running(&dead.run_id, 78).unwrap());
    assert_eq!(
        store.get_run(&alive.run_id).unwrap().info.status,
        RunStatus::Running
    );
}

pub fn missing_things_are_not_found(store: &dyn TrackingStore) {
    let exp = experiment(store, "missing");
    let missing = "00000000000000000000000000000000";
    assert!(store.get_run(missing).unwrap_err().is_not_found());
    let run = store.create_run(&exp, "x", None, &[], 0).unwrap();
    assert!(store
        .download_artifact(
            &run.run_id,
            "absent.bin",
            &std::env::temp_dir().join("absent")
        )
        .unwrap_err()
        .is_not_found());
    let model = unique("absent-model");
    assert!(store
        .get_registered_model(&model)
        .unwrap_err()
        .is_not_found());
    assert!(store
        .get_model_version(&model, 1)
        .unwrap_err()
        .is_not_found());
}
