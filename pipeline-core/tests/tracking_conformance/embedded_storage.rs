//! What only the embedded store can show about its storage: migrations, several stores on one
//! database file, concurrent writers, and errors of a server that is not there.

use std::collections::HashSet;
use std::fs;
use std::sync::Arc;

use pipeline_core::tracking::{
    Metric, Param, RestStore, SqliteStore, Tag, TrackingError, TrackingStore,
};

use super::embedded::open;
use super::search;
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
    assert_eq!(search(&store, &exp, "", &[]).len(), 4);
}

#[test]
fn unreachable_server_is_a_backend_error() {
    // Port 9 (discard) on loopback is essentially never served.
    let store = RestStore::new("http://127.0.0.1:9").unwrap();
    let err = store.list_experiments().unwrap_err();
    assert!(
        matches!(
            err,
            TrackingError::Backend {
                backend: "mlflow server",
                ..
            }
        ),
        "{err}"
    );
}
