//! Behaviour of the embedded SQLite store through the public `TrackingStore` API.

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use pipeline_core::tracking::filter::sort_runs;
use pipeline_core::tracking::model::{
    TAG_PARENT_RUN_ID, TAG_PIPELINE_HOST, TAG_PIPELINE_PID, TAG_RUN_NAME,
};
use pipeline_core::tracking::{
    Filter, Metric, OrderBy, Param, RunStatus, SqliteStore, Tag, TrackingError, TrackingStore,
};

fn open(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("db/tracking.db"), &dir.join("objects")).unwrap()
}

fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            n += count_files(&entry.path());
        } else {
            n += 1;
        }
    }
    n
}

#[test]
fn experiments() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let all = store.list_experiments().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].experiment_id, "0");
    assert_eq!(all[0].name, "Default");
    assert!(all[0].creation_time > 1_600_000_000_000);

    let a = store.get_or_create_experiment("iris").unwrap();
    assert_eq!(a, "1");
    assert_eq!(store.get_or_create_experiment("iris").unwrap(), a);
    let b = store.get_or_create_experiment("wine").unwrap();
    assert_eq!(b, "2");
    let e = store.get_experiment_by_name("iris").unwrap().unwrap();
    assert_eq!(e.experiment_id, a);
    assert_eq!(e.lifecycle_stage, "active");
    assert!(store.get_experiment_by_name("nope").unwrap().is_none());
    assert_eq!(store.list_experiments().unwrap().len(), 3);
    assert!(store.get_or_create_experiment("  ").is_err());
}

#[test]
fn runs_with_parent_and_tags() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let exp = store.get_or_create_experiment("e").unwrap();
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
    assert_eq!(parent.artifact_uri, format!("runs:/{}", parent.run_id));
    assert_eq!(parent.experiment_id, exp);
    let child = store
        .create_run(&exp, "train", Some(&parent.run_id), &[], 2000)
        .unwrap();

    let p = store.get_run(&parent.run_id).unwrap();
    assert_eq!(p.tag(TAG_RUN_NAME), Some("pipeline"));
    assert_eq!(p.tag(TAG_PIPELINE_PID), Some("42"));
    assert_eq!(p.tag(TAG_PARENT_RUN_ID), None);
    let c = store.get_run(&child.run_id).unwrap();
    assert_eq!(c.info.run_name, "train");
    assert_eq!(c.info.start_time, 2000);
    assert_eq!(c.tag(TAG_PARENT_RUN_ID), Some(parent.run_id.as_str()));

    // Children can be found by their parent tag.
    let kids = store
        .search_runs(
            std::slice::from_ref(&exp),
            &format!("tags.mlflow.parentRunId = '{}'", parent.run_id),
            &[],
            100,
        )
        .unwrap();
    assert_eq!(kids.len(), 1);
    assert_eq!(kids[0].info.run_id, child.run_id);

    // A generated name when none is given.
    let anon = store.create_run(&exp, "", None, &[], 3000).unwrap();
    assert!(anon.run_name.starts_with("run-"));

    assert!(matches!(
        store.create_run("99", "x", None, &[], 0),
        Err(TrackingError::ExperimentNotFound { .. })
    ));
    assert!(matches!(
        store.create_run(&exp, "x", Some("0123"), &[], 0),
        Err(TrackingError::RunNotFound { ref run_id }) if run_id == "0123"
    ));
    assert!(matches!(
        store.get_run("missing"),
        Err(TrackingError::RunNotFound { .. })
    ));
    let err = store
        .create_run(&exp, "x", None, &[Tag::new("bad key!", "v")], 0)
        .unwrap_err();
    assert!(err.to_string().contains("bad key!"), "{err}");
}

#[test]
fn params_are_immutable() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let run = store.create_run("0", "r", None, &[], 0).unwrap();
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

    // Validation errors name the key.
    let err = store
        .log_param(&run.run_id, "p", &"x".repeat(6001))
        .unwrap_err();
    assert!(matches!(err, TrackingError::ValueTooLong { ref key, .. } if key == "p"));
    let err = store.log_metric(&run.run_id, "../up", 1.0, 0).unwrap_err();
    assert!(matches!(err, TrackingError::InvalidKey { ref key, .. } if key == "../up"));
    assert!(matches!(
        store.log_param("nope", "a", "b"),
        Err(TrackingError::RunNotFound { .. })
    ));
}

#[test]
fn metric_history_and_latest() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let run = store.create_run("0", "r", None, &[], 0).unwrap();
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

    // Non-finite values are kept as given.
    store
        .log_batch(
            id,
            &[
                Metric::new("nan", f64::NAN, 1, 0),
                Metric::new("inf", f64::INFINITY, 1, 0),
                Metric::new("ninf", f64::NEG_INFINITY, 1, 0),
            ],
            &[],
            &[],
        )
        .unwrap();
    let run = store.get_run(id).unwrap();
    assert!(run.metric("nan").unwrap().value.is_nan());
    assert_eq!(run.metric("inf").unwrap().value, f64::INFINITY);
    assert_eq!(run.metric("ninf").unwrap().value, f64::NEG_INFINITY);
    assert!(store.metric_history(id, "nan").unwrap()[0].value.is_nan());
    // And survive JSON.
    let json = serde_json::to_string(&run).unwrap();
    let back: pipeline_core::tracking::Run = serde_json::from_str(&json).unwrap();
    assert!(back.metric("nan").unwrap().value.is_nan());
    assert_eq!(back.metric("inf").unwrap().value, f64::INFINITY);
}

#[test]
fn tags_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let run = store.create_run("0", "r", None, &[], 10).unwrap();
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
    assert!(matches!(
        store.update_run("nope", RunStatus::Failed, None),
        Err(TrackingError::RunNotFound { .. })
    ));
}

/// Builds a small deterministic population of runs for search tests.
fn populate(store: &SqliteStore, exp: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut seed: u64 = 12345;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as f64 / (1u64 << 31) as f64
    };
    for i in 0..n {
        let run = store
            .create_run(
                exp,
                &format!("run-{i:03}"),
                None,
                &[],
                1000 + (i as i64 % 7),
            )
            .unwrap();
        let mut metrics = vec![];
        let mut params = vec![];
        if i % 5 != 0 {
            metrics.push(Metric::new(
                "accuracy",
                (next() * 100.0).round() / 100.0,
                1,
                0,
            ));
        }
        if i % 11 == 0 {
            metrics.push(Metric::new("accuracy", f64::NAN, 1, 0));
        }
        metrics.push(Metric::new("loss", next(), 1, 0));
        if i % 3 != 0 {
            params.push(Param::new("max_depth", format!("{}", i % 4 * 5)));
        }
        params.push(Param::new(
            "model",
            if i % 2 == 0 {
                "RandomForest"
            } else {
                "random_tree"
            },
        ));
        store
            .log_batch(
                &run.run_id,
                &metrics,
                &params,
                &[Tag::new("team", format!("t{}", i % 3))],
            )
            .unwrap();
        if i % 4 == 0 {
            store
                .update_run(&run.run_id, RunStatus::Finished, Some(5000 + i as i64))
                .unwrap();
        }
        ids.push(run.run_id);
    }
    ids
}

#[test]
fn search_matches_the_in_memory_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let exp = store.get_or_create_experiment("search").unwrap();
    let other = store.get_or_create_experiment("other").unwrap();
    let ids = populate(&store, &exp, 120);
    populate(&store, &other, 10);
    let everything = store
        .search_runs(std::slice::from_ref(&exp), "", &[], 10_000)
        .unwrap();
    assert_eq!(everything.len(), 120);

    let filters = [
        "",
        "metrics.accuracy > 0.5",
        "metrics.accuracy <= 0.5 AND params.max_depth = '10'",
        "metrics.accuracy != 0.3",
        "metrics.loss >= 0",
        "params.max_depth != '5'",
        "params.model LIKE 'Random%'",
        "params.model ILIKE 'random%'",
        "params.model LIKE '%_tree'",
        "tags.team = 't1' AND metrics.loss < 0.5",
        "attributes.status = 'FINISHED'",
        "attributes.status != 'FINISHED'",
        "attributes.end_time > 5050",
        "attributes.start_time = 1003",
        "attributes.run_name LIKE 'run-01%'",
        "run_name ILIKE 'RUN-00_'",
        "metrics.missing > 0",
    ];
    let orders: [&[&str]; 7] = [
        &[],
        &["metrics.accuracy DESC"],
        &["metrics.accuracy ASC"],
        &["params.max_depth DESC", "metrics.loss"],
        &["attributes.end_time DESC"],
        &["tags.team", "attributes.run_name DESC"],
        &["attributes.start_time"],
    ];
    for filter in filters {
        for order in orders {
            let order: Vec<String> = order.iter().map(|s| s.to_string()).collect();
            let got = store
                .search_runs(std::slice::from_ref(&exp), filter, &order, 10_000)
                .unwrap();
            let parsed = Filter::parse(filter).unwrap();
            let mut expected: Vec<_> = everything
                .iter()
                .filter(|r| parsed.matches(r))
                .cloned()
                .collect();
            sort_runs(&mut expected, &OrderBy::parse_all(&order).unwrap());
            let got_ids: Vec<_> = got.iter().map(|r| r.info.run_id.as_str()).collect();
            let exp_ids: Vec<_> = expected.iter().map(|r| r.info.run_id.as_str()).collect();
            assert_eq!(got_ids, exp_ids, "filter {filter:?} order {order:?}");
        }
    }

    // Missing keys sort last in both directions, NaN just before them.
    for dir in ["DESC", "ASC"] {
        let runs = store
            .search_runs(
                std::slice::from_ref(&exp),
                "",
                &[format!("metrics.accuracy {dir}")],
                10_000,
            )
            .unwrap();
        let ranks: Vec<u8> = runs
            .iter()
            .map(|r| match r.metric("accuracy") {
                None => 2,
                Some(m) if m.value.is_nan() => 1,
                Some(_) => 0,
            })
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{dir}: {ranks:?}");
        assert_eq!(ranks.last(), Some(&2));
        let vals: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.metric("accuracy").map(|m| m.value))
            .filter(|v| !v.is_nan())
            .collect();
        let mut sorted = vals.clone();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
        if dir == "DESC" {
            sorted.reverse();
        }
        assert_eq!(vals, sorted);
    }

    // IN, limits, several experiments, default order.
    let two = store
        .search_runs(
            std::slice::from_ref(&exp),
            &format!("attributes.run_id IN ('{}', '{}')", ids[3], ids[7]),
            &[],
            10,
        )
        .unwrap();
    assert_eq!(two.len(), 2);
    let limited = store
        .search_runs(std::slice::from_ref(&exp), "", &[], 5)
        .unwrap();
    assert_eq!(limited.len(), 5);
    assert!(limited
        .windows(2)
        .all(|w| w[0].info.start_time >= w[1].info.start_time));
    assert_eq!(
        store
            .search_runs(&[exp.clone(), other.clone()], "", &[], 10_000)
            .unwrap()
            .len(),
        130
    );
    assert_eq!(store.search_runs(&[], "", &[], 10_000).unwrap().len(), 130);
    assert!(store
        .search_runs(std::slice::from_ref(&exp), "", &[], 0)
        .unwrap()
        .is_empty());

    // Bad filters and orderings are rejected with the parser's error.
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
    let err = store
        .search_runs(&[exp], "", &["metrics.accuracy sideways".to_string()], 10)
        .unwrap_err();
    assert!(matches!(err, TrackingError::InvalidOrderBy { .. }), "{err}");
}

#[test]
fn filter_values_are_bound_not_spliced() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let run = store.create_run("0", "r", None, &[], 0).unwrap();
    store.log_param(&run.run_id, "q", "it's").unwrap();
    let hits = store
        .search_runs(&["0".into()], "params.q = \"it's\"", &[], 10)
        .unwrap();
    assert_eq!(hits.len(), 1);
    let hits = store
        .search_runs(&["0".into()], "params.q = 'x'' OR 1=1 --'", &[], 10)
        .unwrap();
    assert!(hits.is_empty());
    // GLOB metacharacters in a LIKE pattern match literally.
    store.log_param(&run.run_id, "g", "a*b[c]?").unwrap();
    assert_eq!(
        store
            .search_runs(&["0".into()], "params.g LIKE 'a*b[c]?'", &[], 10)
            .unwrap()
            .len(),
        1
    );
    assert!(store
        .search_runs(&["0".into()], "params.g LIKE 'aXb[c]?'", &[], 10)
        .unwrap()
        .is_empty());
}

#[test]
fn artifacts_round_trip_dedup_and_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let run = store.create_run("0", "r", None, &[], 0).unwrap();
    let id = &run.run_id;
    let src = dir.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("model.json"), b"{\"weights\": [1, 2, 3]}").unwrap();
    fs::write(src.join("same.txt"), b"identical bytes").unwrap();
    fs::write(src.join("big.bin"), vec![7u8; 1_000_003]).unwrap();

    store
        .log_artifact(id, &src.join("model.json"), "model/model.json")
        .unwrap();
    store
        .log_artifact(id, &src.join("same.txt"), "model/extra/a.txt")
        .unwrap();
    store
        .log_artifact(id, &src.join("same.txt"), "b.txt")
        .unwrap();
    store
        .log_artifact(id, &src.join("big.bin"), "data/big.bin")
        .unwrap();

    // Same content twice -> one object; no temp files left behind.
    let objects = dir.path().join("objects");
    assert_eq!(count_files(&objects), 3);
    for entry in fs::read_dir(&objects).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        assert_eq!(name.len(), 2, "unexpected entry {name}");
        for obj in fs::read_dir(entry.path()).unwrap() {
            assert_eq!(obj.unwrap().file_name().len(), 62);
        }
    }

    let root = store.list_artifacts(id, None).unwrap();
    let shown: Vec<_> = root
        .iter()
        .map(|f| (f.path.as_str(), f.is_dir, f.file_size))
        .collect();
    assert_eq!(
        shown,
        [
            ("b.txt", false, Some(15)),
            ("data", true, None),
            ("model", true, None)
        ]
    );
    let model = store.list_artifacts(id, Some("model")).unwrap();
    let shown: Vec<_> = model.iter().map(|f| (f.path.as_str(), f.is_dir)).collect();
    assert_eq!(shown, [("model/extra", true), ("model/model.json", false)]);
    assert!(store
        .list_artifacts(id, Some("model/model.json"))
        .unwrap()
        .is_empty());
    assert!(store
        .list_artifacts(id, Some("nothing"))
        .unwrap()
        .is_empty());

    // A single file to an exact destination.
    let out = dir.path().join("out");
    store
        .download_artifact(id, "model/model.json", &out.join("m.json"))
        .unwrap();
    assert_eq!(
        fs::read(out.join("m.json")).unwrap(),
        fs::read(src.join("model.json")).unwrap()
    );
    // A directory, recursively.
    store
        .download_artifact(id, "model", &out.join("model"))
        .unwrap();
    assert_eq!(
        fs::read(out.join("model/extra/a.txt")).unwrap(),
        b"identical bytes"
    );
    assert!(out.join("model/model.json").is_file());
    // The whole root.
    store.download_artifact(id, "", &out.join("all")).unwrap();
    assert_eq!(
        fs::read(out.join("all/data/big.bin")).unwrap().len(),
        1_000_003
    );
    assert!(matches!(
        store.download_artifact(id, "nope", &out.join("x")),
        Err(TrackingError::ArtifactNotFound { .. })
    ));

    // Replacing a path points it at the new content.
    store
        .log_artifact(id, &src.join("model.json"), "b.txt")
        .unwrap();
    store
        .download_artifact(id, "b.txt", &out.join("b2"))
        .unwrap();
    assert_eq!(
        fs::read(out.join("b2")).unwrap(),
        fs::read(src.join("model.json")).unwrap()
    );

    // Corrupt an object: the download is refused, naming the object, and
    // the destination is not written.
    let hash = {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(b"identical bytes");
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let obj = store.object_path(&hash);
    assert!(obj.is_file());
    let mut perms = fs::metadata(&obj).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&obj, perms).unwrap();
    fs::write(&obj, b"tampered bytes!").unwrap();
    let err = store
        .download_artifact(id, "model/extra/a.txt", &out.join("bad.txt"))
        .unwrap_err();
    match &err {
        TrackingError::CorruptObject {
            object, expected, ..
        } => {
            assert_eq!(object, &obj);
            assert_eq!(expected, &hash);
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains(&hash));
    assert!(!out.join("bad.txt").exists());
    fs::remove_file(&obj).unwrap();
    assert!(matches!(
        store.download_artifact(id, "model/extra/a.txt", &out.join("bad.txt")),
        Err(TrackingError::CorruptObject { .. })
    ));

    // Paths that escape the root or clash with files/directories.
    for bad in ["/etc/passwd", "../x", "a/../../x", ""] {
        assert!(
            matches!(
                store.log_artifact(id, &src.join("same.txt"), bad),
                Err(TrackingError::InvalidArtifactPath { .. })
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        store.log_artifact(id, &src.join("same.txt"), "b.txt/inner"),
        Err(TrackingError::InvalidArtifactPath { .. })
    ));
    assert!(matches!(
        store.log_artifact(id, &src.join("same.txt"), "model"),
        Err(TrackingError::InvalidArtifactPath { .. })
    ));
    let err = store
        .log_artifact(id, &src.join("missing.bin"), "m.bin")
        .unwrap_err();
    assert!(err.to_string().contains("missing.bin"), "{err}");
    assert!(matches!(
        store.log_artifact("nope", &src.join("same.txt"), "x"),
        Err(TrackingError::RunNotFound { .. })
    ));
}

#[test]
fn model_registry() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let run = store.create_run("0", "r", None, &[], 0).unwrap();
    let rm = store.create_registered_model("iris").unwrap();
    assert_eq!(rm.name, "iris");
    assert!(rm.latest_versions.is_empty());
    assert!(matches!(
        store.create_registered_model("iris"),
        Err(TrackingError::AlreadyExists(_))
    ));
    assert!(matches!(
        store.latest_model_version("iris"),
        Err(TrackingError::NoModelVersions { .. })
    ));
    let source = format!("runs:/{}/model", run.run_id);
    let v1 = store
        .create_model_version("iris", &source, Some(&run.run_id))
        .unwrap();
    let v2 = store.create_model_version("iris", &source, None).unwrap();
    assert_eq!((v1.version, v2.version), (1, 2));
    assert_eq!(v1.run_id.as_deref(), Some(run.run_id.as_str()));
    assert_eq!(store.get_model_version("iris", 1).unwrap(), v1);
    assert_eq!(store.latest_model_version("iris").unwrap(), v2);
    assert!(matches!(
        store.get_model_version("iris", 3),
        Err(TrackingError::ModelVersionNotFound { version: 3, .. })
    ));
    assert!(matches!(
        store.create_model_version("nope", &source, None),
        Err(TrackingError::ModelNotFound { .. })
    ));

    store.set_model_alias("iris", "champion", 1).unwrap();
    assert_eq!(
        store
            .get_model_version_by_alias("iris", "champion")
            .unwrap(),
        v1
    );
    store.set_model_alias("iris", "champion", 2).unwrap();
    assert_eq!(
        store
            .get_model_version_by_alias("iris", "champion")
            .unwrap(),
        v2
    );
    store.set_model_alias("iris", "challenger", 1).unwrap();
    assert!(matches!(
        store.get_model_version_by_alias("iris", "gone"),
        Err(TrackingError::AliasNotFound { .. })
    ));
    assert!(store.set_model_alias("iris", "latest", 1).is_err());
    assert!(store.set_model_alias("iris", "v1", 1).is_err());
    assert!(matches!(
        store.set_model_alias("iris", "x", 7),
        Err(TrackingError::ModelVersionNotFound { .. })
    ));

    let rm = store.get_registered_model("iris").unwrap();
    assert_eq!(rm.latest_versions, vec![v2.clone()]);
    assert_eq!(
        rm.aliases,
        vec![("challenger".to_string(), 1), ("champion".to_string(), 2)]
    );
    store.create_registered_model("aardvark").unwrap();
    let names: Vec<_> = store
        .list_registered_models()
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["aardvark", "iris"]);

    assert_eq!(store.resolve_model_uri("models:/iris/1").unwrap(), v1);
    assert_eq!(store.resolve_model_uri("models:/iris/latest").unwrap(), v2);
    assert_eq!(
        store.resolve_model_uri("models:/iris@challenger").unwrap(),
        v1
    );
    assert!(matches!(
        store.resolve_model_uri("models:/iris/Production"),
        Err(TrackingError::InvalidUri { .. })
    ));
}

#[test]
fn migrations_on_fresh_db_and_noop_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db/tracking.db");
    let run_id = {
        let store = open(dir.path());
        assert_eq!(
            store.schema_version().unwrap(),
            pipeline_core::tracking::sqlite::SCHEMA_VERSION
        );
        store
            .create_run("0", "persisted", None, &[], 0)
            .unwrap()
            .run_id
    };
    let before = fs::metadata(&db).unwrap().len();
    let store = open(dir.path());
    assert_eq!(
        store.schema_version().unwrap(),
        pipeline_core::tracking::sqlite::SCHEMA_VERSION
    );
    assert_eq!(store.list_experiments().unwrap().len(), 1);
    assert_eq!(store.get_run(&run_id).unwrap().info.run_name, "persisted");
    assert_eq!(fs::metadata(&db).unwrap().len(), before);
}

#[test]
fn second_store_on_same_file_sees_writes() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(dir.path());
    let b = open(dir.path());
    let run = a.create_run("0", "shared", None, &[], 0).unwrap();
    a.log_metric(&run.run_id, "m", 1.0, 0).unwrap();
    let seen = b.get_run(&run.run_id).unwrap();
    assert_eq!(seen.metric("m").unwrap().value, 1.0);
    b.log_param(&run.run_id, "p", "x").unwrap();
    assert_eq!(a.get_run(&run.run_id).unwrap().param("p"), Some("x"));
    // Immutability holds across connections too.
    assert!(matches!(
        a.log_param(&run.run_id, "p", "y"),
        Err(TrackingError::ParamChanged { .. })
    ));
}

#[test]
fn concurrent_logging_from_threads_and_stores() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    // A second store on the same file stands in for another process.
    let other = Arc::new(open(dir.path()));
    let shared = store
        .create_run("0", "shared", None, &[], 0)
        .unwrap()
        .run_id;
    let mut handles = Vec::new();
    for t in 0..8i64 {
        let s: Arc<SqliteStore> = if t % 2 == 0 {
            Arc::clone(&store)
        } else {
            Arc::clone(&other)
        };
        let shared = shared.clone();
        handles.push(std::thread::spawn(move || {
            let own = s
                .create_run("0", &format!("worker-{t}"), None, &[], t)
                .unwrap()
                .run_id;
            for chunk in 0..10i64 {
                let own_batch: Vec<Metric> = (0..100)
                    .map(|i| Metric::new("x", (chunk * 100 + i) as f64, t, chunk * 100 + i))
                    .collect();
                s.log_batch(&own, &own_batch, &[], &[]).unwrap();
                let shared_batch: Vec<Metric> = (0..100)
                    .map(|i| {
                        Metric::new(
                            format!("w{t}"),
                            (chunk * 100 + i) as f64,
                            t,
                            chunk * 100 + i,
                        )
                    })
                    .collect();
                s.log_batch(
                    &shared,
                    &shared_batch,
                    &[Param::new(format!("p{t}"), "v")],
                    &[Tag::new("last", format!("{t}"))],
                )
                .unwrap();
                // Every thread races to set the same param to the same value.
                s.log_param(&shared, "common", "same").unwrap();
            }
            own
        }));
    }
    let owns: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for own in &owns {
        let hist = store.metric_history(own, "x").unwrap();
        assert_eq!(hist.len(), 1000);
        assert_eq!(store.get_run(own).unwrap().metric("x").unwrap().step, 999);
    }
    let run = store.get_run(&shared).unwrap();
    assert_eq!(run.params.len(), 9);
    for t in 0..8 {
        let key = format!("w{t}");
        assert_eq!(store.metric_history(&shared, &key).unwrap().len(), 1000);
        assert_eq!(run.metric(&key).unwrap().value, 999.0);
    }
    let ids: HashSet<_> = owns.iter().collect();
    assert_eq!(ids.len(), 8);
}

#[test]
fn abandoned_runs_are_killed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let tags = |pid: &str| {
        vec![
            Tag::new(TAG_PIPELINE_PID, pid),
            Tag::new(TAG_PIPELINE_HOST, "h"),
        ]
    };
    let alive = store.create_run("0", "alive", None, &tags("1"), 0).unwrap();
    let dead = store
        .create_run("0", "dead", None, &tags("999999"), 0)
        .unwrap();
    let done = store
        .create_run("0", "done", None, &tags("999999"), 0)
        .unwrap();
    store
        .update_run(&done.run_id, RunStatus::Finished, Some(5))
        .unwrap();
    let killed = store
        .mark_abandoned_runs(&|run| run.tag(TAG_PIPELINE_PID) == Some("1"))
        .unwrap();
    assert_eq!(killed, vec![dead.run_id.clone()]);
    let info = store.get_run(&dead.run_id).unwrap().info;
    assert_eq!(info.status, RunStatus::Killed);
    assert!(info.end_time.is_some());
    assert_eq!(
        store.get_run(&alive.run_id).unwrap().info.status,
        RunStatus::Running
    );
    assert_eq!(store.get_run(&done.run_id).unwrap().info.end_time, Some(5));
    assert!(store.mark_abandoned_runs(&|_| false).unwrap().len() == 1);
}

#[test]
fn concurrent_open_of_a_fresh_database() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let root = root.clone();
            std::thread::spawn(move || {
                let store = open(&root);
                let exp = store.get_or_create_experiment("shared").unwrap();
                store
                    .create_run(&exp, &format!("opener-{i}"), None, &[], i)
                    .unwrap();
                exp
            })
        })
        .collect();
    let exps: HashSet<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(exps.len(), 1);
    let store = open(&root);
    let exp = exps.into_iter().next().unwrap();
    assert_eq!(
        store
            .search_runs(std::slice::from_ref(&exp), "", &[], 10)
            .unwrap()
            .len(),
        4
    );
}
