//! One behaviour suite for every tracking backend: each case is written once against
//! `&dyn TrackingStore` and runs on the embedded store always, and on a real MLflow server
//! (`MLFLOW_TEST_URI`, started by `scripts/mlflow-server.sh`) when asked for with `--ignored`,
//! as `.ci/run` does. Without the variable those server tests fail instead of passing silently.
//!
//! Cases never assume an empty store: a server is shared, so each case works in experiments
//! named after it and a unique suffix. Checks that only make sense for one backend (the object
//! directory, schema migrations, several connections on one file) are in `embedded.rs`.

mod artifacts;
mod embedded;
mod embedded_storage;
mod inputs;
mod lifecycle;
mod logged_models;
mod paging;
mod registry;
mod runs;
mod search;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use pipeline_core::tracking::model::now_ms;
use pipeline_core::tracking::{Run, RunStatus, SearchQuery, SqliteStore, TrackingStore};

/// A name no other case or earlier test run has used.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}-{}",
        now_ms(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh experiment for one case.
pub fn experiment(store: &dyn TrackingStore, case: &str) -> String {
    store.get_or_create_experiment(&unique(case)).unwrap()
}

/// The embedded store in `dir`.
pub fn open_embedded(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("db/tracking.db"), &dir.join("objects")).unwrap()
}

/// Every run a query matches, page by page (the cases hold at most a few hundred).
pub fn search_all(store: &dyn TrackingStore, query: &SearchQuery) -> Vec<Run> {
    let mut query = query.clone();
    let mut out = Vec::new();
    loop {
        let page = store.search_runs(&query).unwrap();
        out.extend(page.runs);
        query.page_token = page.next_page_token;
        if query.page_token.is_none() {
            return out;
        }
    }
}

/// Runs of one experiment matching `filter` in `order`, every page.
pub fn search(store: &dyn TrackingStore, exp: &str, filter: &str, order: &[&str]) -> Vec<Run> {
    search_all(
        store,
        &SearchQuery {
            filter: filter.to_string(),
            order_by: order.iter().map(|s| s.to_string()).collect(),
            max_results: 1000,
            ..SearchQuery::new(&[exp.to_string()])
        },
    )
}

pub fn ids(runs: &[Run]) -> Vec<String> {
    runs.iter().map(|r| r.info.run_id.clone()).collect()
}

/// A small deterministic population of runs for search tests.
pub fn populate(store: &dyn TrackingStore, exp: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut seed: u64 = 12345;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as f64 / (1u64 << 31) as f64
    };
    use pipeline_core::tracking::{Metric, Param, Tag};
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

/// The MLflow server of `MLFLOW_TEST_URI`. Panics without it: a test that needs a server and
/// has none must fail, not pass.
pub fn mlflow_server() -> pipeline_core::tracking::RestStore {
    let uri = std::env::var("MLFLOW_TEST_URI")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("MLFLOW_TEST_URI must name an MLflow server (scripts/mlflow-server.sh start)");
    pipeline_core::tracking::RestStore::new(&uri).unwrap()
}

/// This engine's own MLflow API (`pipeline_core::mlflow_api`) over an embedded store in `dir`,
/// on a free port, reached through the same REST client as a real MLflow server.
pub fn served_store(dir: &Path) -> pipeline_core::tracking::RestStore {
    let store: std::sync::Arc<dyn TrackingStore> = std::sync::Arc::new(open_embedded(dir));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_io()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, pipeline_core::mlflow_api::router(store))
                .await
                .unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    pipeline_core::tracking::RestStore::new(&format!("http://{addr}")).unwrap()
}

/// Instantiates each case for the embedded store (a plain test), for this engine's own MLflow
/// API over an embedded store (a plain test), and for an MLflow server (an ignored test that
/// `.ci/run` runs explicitly).
macro_rules! for_each_backend {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod embedded_store {
            $(
                #[test]
                fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = super::open_embedded(dir.path());
                    super::$module::$case(&store);
                }
            )*
        }
        mod served_store {
            $(
                #[test]
                fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = super::served_store(dir.path());
                    super::$module::$case(&store);
                }
            )*
        }
        mod mlflow_server {
            $(
                #[test]
                #[ignore = "needs MLFLOW_TEST_URI"]
                fn $case() {
                    super::$module::$case(&super::mlflow_server());
                }
            )*
        }
    };
}

for_each_backend!(
    runs::experiments,
    runs::runs_with_parent_and_tags,
    runs::params_are_immutable,
    runs::metric_history_and_latest,
    runs::tags_and_status,
    runs::batches_beyond_request_limits,
    runs::runs_of_dead_processes_are_killed,
    runs::missing_things_are_not_found,
    search::search_through_the_filter_language,
    search::default_order_limits_and_experiments,
    search::bad_filters_are_rejected_with_the_parser_error,
    search::filter_values_are_bound_not_spliced,
    paging::pages_chain_without_gaps_or_repeats,
    paging::top_level_only_leaves_out_child_runs,
    paging::runs_are_found_by_id_prefix_or_name,
    artifacts::artifacts_round_trip,
    artifacts::artifact_paths_are_checked,
    registry::model_registry,
    logged_models::logged_models_round_trip,
    logged_models::logged_models_page,
    registry::models_and_versions_carry_descriptions_and_tags,
    lifecycle::runs_are_deleted_and_restored,
    inputs::dataset_inputs_round_trip,
    lifecycle::experiments_are_renamed_deleted_and_restored,
    registry::deleted_versions_leave_gaps_and_numbers_are_not_reused,
);
