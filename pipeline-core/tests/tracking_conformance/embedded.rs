//! What only the embedded store can show: its object directory, its schema, several
//! connections on one file, ids chosen by the engine, and search checked against the
//! in-memory matcher over a large grid of filters and orderings.

use std::fs;
use std::path::Path;

use pipeline_core::tracking::filter::sort_runs;
use pipeline_core::tracking::model::{TAG_PARENT_RUN_ID, TAG_PIPELINE_PID, TAG_RUN_NAME};
use pipeline_core::tracking::{
    Filter, Metric, OrderBy, RunStatus, SearchQuery, SqliteStore, Tag, TrackingError, TrackingStore,
};

use super::{populate, search};

pub(crate) fn open(dir: &Path) -> SqliteStore {
    super::open_embedded(dir)
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
fn experiments_start_with_default_and_count_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let all = store.list_experiments().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].experiment_id, "0");
    assert_eq!(all[0].name, "Default");
    assert!(all[0].creation_time > 1_600_000_000_000);
    assert_eq!(store.get_or_create_experiment("iris").unwrap(), "1");
    assert_eq!(store.get_or_create_experiment("wine").unwrap(), "2");
    assert_eq!(store.list_experiments().unwrap().len(), 3);
}

#[test]
fn non_finite_metrics_are_kept_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let id = &store.create_run("0", "r", None, &[], 0).unwrap().run_id;
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
    let json = serde_json::to_string(&run).unwrap();
    let back: pipeline_core::tracking::Run = serde_json::from_str(&json).unwrap();
    assert!(back.metric("nan").unwrap().value.is_nan());
    assert_eq!(back.metric("inf").unwrap().value, f64::INFINITY);
}

#[test]
fn runs_errors_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let exp = store.get_or_create_experiment("e").unwrap();
    let parent = store.create_run(&exp, "pipeline", None, &[], 1000).unwrap();
    assert_eq!(parent.artifact_uri, format!("runs:/{}", parent.run_id));
    let anon = store.create_run(&exp, "", None, &[], 3000).unwrap();
    assert!(anon.run_name.starts_with("run-"));
    assert_eq!(
        store.get_run(&anon.run_id).unwrap().tag(TAG_RUN_NAME),
        Some(anon.run_name.as_str())
    );
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
    assert!(matches!(
        store.log_param("nope", "a", "b"),
        Err(TrackingError::RunNotFound { .. })
    ));
    assert!(matches!(
        store.update_run("nope", RunStatus::Failed, None),
        Err(TrackingError::RunNotFound { .. })
    ));
    let child = store
        .create_run(
            &exp,
            "train",
            Some(&parent.run_id),
            &[Tag::new(TAG_PIPELINE_PID, "1")],
            2000,
        )
        .unwrap();
    assert_eq!(
        store.get_run(&child.run_id).unwrap().tag(TAG_PARENT_RUN_ID),
        Some(parent.run_id.as_str())
    );
}

#[test]
fn chosen_run_ids_and_ambiguous_prefixes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = "abcdef01000000000000000000000000";
    let b = "abcdef02000000000000000000000000";
    store
        .create_run_with_id(Some(a), "0", "a", None, &[], 0)
        .unwrap();
    store
        .create_run_with_id(Some(b), "0", "b", None, &[], 0)
        .unwrap();
    assert!(matches!(
        store.create_run_with_id(Some(a), "0", "again", None, &[], 0),
        Err(TrackingError::AlreadyExists(_))
    ));
    assert!(store
        .create_run_with_id(Some("not-hex"), "0", "x", None, &[], 0)
        .is_err());
    match store.find_run("abcdef") {
        Err(TrackingError::AmbiguousRun { id, matches }) => {
            assert_eq!(id, "abcdef");
            assert_eq!(matches, 2);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.find_run("abcdef01").unwrap().info.run_id, a);
    // Prefixes are literal: GLOB and LIKE metacharacters match nothing but themselves.
    for pattern in ["abc*", "abc?", "abc[d]", "abc%", "abc_"] {
        assert!(
            matches!(
                store.find_run(pattern),
                Err(TrackingError::RunNotFound { .. })
            ),
            "{pattern}"
        );
    }
    // Prefixes are case-sensitive, as run ids are lowercase.
    assert!(store.find_run("ABCDEF").is_err());
}

#[test]
fn search_matches_the_in_memory_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let exp = store.get_or_create_experiment("search").unwrap();
    let other = store.get_or_create_experiment("other").unwrap();
    let ids = populate(&store, &exp, 120);
    populate(&store, &other, 10);
    let everything = search(&store, &exp, "", &[]);
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
            let order_refs: Vec<&str> = order.iter().map(String::as_str).collect();
            let got = search(&store, &exp, filter, &order_refs);
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
        let runs = search(&store, &exp, "", &[&format!("metrics.accuracy {dir}")]);
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
    let two = search(
        &store,
        &exp,
        &format!("attributes.run_id IN ('{}', '{}')", ids[3], ids[7]),
        &[],
    );
    assert_eq!(two.len(), 2);
    let page = |exps: &[String], max_results: usize| {
        store
            .search_runs(&SearchQuery {
                max_results,
                ..SearchQuery::new(exps)
            })
            .unwrap()
            .runs
    };
    let limited = page(std::slice::from_ref(&exp), 5);
    assert_eq!(limited.len(), 5);
    assert!(limited
        .windows(2)
        .all(|w| w[0].info.start_time >= w[1].info.start_time));
    assert_eq!(page(&[exp.clone(), other.clone()], 1000).len(), 130);
    assert_eq!(page(&[], 1000).len(), 130);
    assert!(page(std::slice::from_ref(&exp), 0).is_empty());
    // A page never exceeds the cap, however many are asked for.
    assert_eq!(page(&[], 100_000).len(), 130);
    assert_eq!(
        store
            .count_runs(&SearchQuery::new(&[exp.clone(), other.clone()]))
            .unwrap(),
        Some(130)
    );
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

    let out = dir.path().join("out");
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
    assert!(!obj.exists(), "a corrupt object is removed when found");
    assert!(matches!(
        store.download_artifact(id, "model/extra/a.txt", &out.join("bad.txt")),
        Err(TrackingError::CorruptObject { .. })
    ));

    // Paths that clash with files or directories.
    assert!(matches!(
        store.log_artifact(id, &src.join("same.txt"), "b.txt/inner"),
        Err(TrackingError::InvalidArtifactPath { .. })
    ));
    assert!(matches!(
        store.log_artifact(id, &src.join("same.txt"), "model"),
        Err(TrackingError::InvalidArtifactPath { .. })
    ));
    assert!(matches!(
        store.log_artifact("nope", &src.join("same.txt"), "x"),
        Err(TrackingError::RunNotFound { .. })
    ));
}

#[test]
fn model_registry_errors_are_typed() {
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
