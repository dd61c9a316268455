//! The UI under load and at its edges: pages in parallel, the DAG page never behind a runs page,
//! page bounds, bad query strings, long metric histories.

use super::tests::{fetch, header, start};
use crate::tracking::counting::CountingStore;
use crate::tracking::{Metric, SqliteStore, TrackingStore};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn experiment_url(addr: std::net::SocketAddr, store: &dyn TrackingStore) -> String {
    let experiment = store.get_experiment_by_name("p").unwrap().unwrap();
    format!("http://{addr}/experiments/{}", experiment.experiment_id)
}

#[test]
fn runs_pages_load_in_parallel_and_the_dag_page_does_not_wait_behind_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(CountingStore::with_runs(dir.path(), "p", 20));
    store.search_delay_ms.store(400, Ordering::SeqCst);
    let addr = start(dir.path(), store.clone());
    let url = experiment_url(addr, store.as_ref());
    let started = Instant::now();
    let loads: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || fetch("GET", &url).0)
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let dag_started = Instant::now();
    let (code, _, _) = fetch("GET", &format!("http://{addr}/dag"));
    let dag_took = dag_started.elapsed();
    assert_eq!(code, 200);
    for load in loads {
        assert_eq!(load.join().unwrap(), 200);
    }
    let all_took = started.elapsed();
    // One after another, the eight pages would take 3.2 s and the DAG page would wait for them.
    assert!(
        dag_took < Duration::from_millis(300),
        "/dag took {dag_took:?}"
    );
    assert!(
        all_took < Duration::from_millis(1600),
        "8 pages took {all_took:?}"
    );
}

#[test]
fn a_page_past_the_last_shows_the_last_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(CountingStore::with_runs(dir.path(), "p", 250));
    let addr = start(dir.path(), store.clone());
    let url = experiment_url(addr, store.as_ref());
    let (code, _, body) = fetch("GET", &format!("{url}?page=99"));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("250 runs; 201 to 250"), "{body}");
    let small = tempfile::tempdir().unwrap();
    let store = Arc::new(CountingStore::with_runs(small.path(), "p", 10));
    let addr = start(small.path(), store.clone());
    let url = experiment_url(addr, store.as_ref());
    let (_, _, body) = fetch("GET", &format!("{url}?page=99"));
    assert!(body.contains("10 runs; 1 to 10"), "{body}");
    let (_, _, body) = fetch("GET", &format!("{url}?filter=metrics.accuracy%20%3E%20100"));
    assert!(body.contains("0 runs; none shown"), "{body}");
}

#[test]
fn a_bad_query_parameter_is_a_styled_400_page() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(CountingStore::with_runs(dir.path(), "p", 3));
    let addr = start(dir.path(), store.clone());
    let url = experiment_url(addr, store.as_ref());
    let run = store
        .search_runs(&crate::tracking::SearchQuery::new(&[]))
        .unwrap()
        .runs[0]
        .info
        .run_id
        .clone();
    for bad in [
        format!("{url}?page=abc"),
        format!("{url}?page=-1"),
        format!("http://{addr}/runs/{run}/artifacts/x?download=1&download=2"),
    ] {
        let (code, headers, body) = fetch("GET", &bad);
        assert_eq!(code, 400, "{bad}: {body}");
        assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
        assert!(
            body.contains("<div class=\"error\">bad query parameter: "),
            "{bad}: {body}"
        );
    }
}

#[test]
fn a_long_metric_history_is_served_thinned_unless_every_point_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("tracking.db"), &dir.path().join("cache")).unwrap(),
    );
    let experiment = store.get_or_create_experiment("p").unwrap();
    let run = store.create_run(&experiment, "r", None, &[], 0).unwrap();
    let points: Vec<Metric> = (0..10_000)
        .map(|i| Metric::new("loss", 1.0 / (1.0 + i as f64), i, i))
        .collect();
    for batch in points.chunks(1000) {
        store.log_batch(&run.run_id, batch, &[], &[]).unwrap();
    }
    let addr = start(dir.path(), store);
    let url = format!("http://{addr}/runs/{}/metrics/loss", run.run_id);
    let (code, _, thin) = fetch("GET", &url);
    assert_eq!(code, 200);
    let thin: Vec<serde_json::Value> = serde_json::from_str(&thin).unwrap();
    assert!(
        thin.len() <= 2 * crate::ui::downsample::BUCKETS + 2,
        "{}",
        thin.len()
    );
    assert_eq!(thin[0]["step"], 0);
    assert_eq!(thin.last().unwrap()["step"], 9_999);
    let (_, _, full) = fetch("GET", &format!("{url}?points=all"));
    let full: Vec<serde_json::Value> = serde_json::from_str(&full).unwrap();
    assert_eq!(full.len(), 10_000);
    // The run page charts it from that endpoint: the page itself carries no points.
    let (code, _, page) = fetch("GET", &format!("http://{addr}/runs/{}", run.run_id));
    assert_eq!(code, 200);
    assert!(page.contains("<div id=\"run-charts\"></div>") && page.len() < 20_000);
    let (code, _, _) = fetch(
        "GET",
        &format!("http://{addr}/runs/{}/metrics/nope", run.run_id),
    );
    assert_eq!(code, 404);
}

#[test]
fn stage_runs_come_as_json_cells_and_scripts_come_from_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("tracking.db"), &dir.path().join("cache")).unwrap(),
    );
    let experiment = store.get_or_create_experiment("p").unwrap();
    let parent = store
        .create_run(&experiment, "repro", None, &[], 0)
        .unwrap();
    let child = store
        .create_run(&experiment, "<train>", Some(&parent.run_id), &[], 1)
        .unwrap();
    store
        .log_batch(
            &child.run_id,
            &[Metric::new("accuracy", 0.5, 0, 0)],
            &[crate::tracking::Param::new("max_depth", "3")],
            &[],
        )
        .unwrap();
    let addr = start(dir.path(), store);
    let (code, headers, body) = fetch(
        "GET",
        &format!("http://{addr}/runs/{}/stages", parent.run_id),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(header(&headers, "content-type"), "application/json");
    let rows: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(rows[0]["run_id"], child.run_id.as_str());
    // Plain text: the script sets it as text, so a name is never markup.
    assert_eq!(rows[0]["cells"]["attributes.name"], "<train>");
    assert_eq!(rows[0]["cells"]["metrics.accuracy"], "0.5");
    assert_eq!(rows[0]["cells"]["params.max_depth"], "3");
    let (code, _, _) = fetch("GET", &format!("http://{addr}/runs/nope/stages"));
    assert_eq!(code, 404);

    let (code, headers, script) = fetch("GET", &format!("http://{addr}/static/runs.js"));
    assert_eq!(code, 200);
    assert_eq!(
        header(&headers, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert!(script.contains("runsTable"));
    let (code, _, _) = fetch("GET", &format!("http://{addr}/static/../mod.rs"));
    assert_eq!(code, 404);
    let (_, headers, page) = fetch("GET", &format!("http://{addr}/"));
    assert!(page.contains("<script src=\"/static/runs.js\"></script>"));
    let csp = header(&headers, "content-security-policy");
    assert!(csp.contains("script-src 'self';") && !csp.contains("unsafe-eval"));
    assert!(!csp.contains("script-src 'self' 'unsafe-inline'"));
}
