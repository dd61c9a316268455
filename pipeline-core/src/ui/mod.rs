//! `ui`: a small web UI over the tracking store and the pipeline, served on 127.0.0.1 by
//! default. Pages are rendered on the server as plain HTML with inline SVG charts: no script
//! bundle, nothing to build, fast with 10,000 runs (tables are paginated, queries go through the
//! store's indexed search).
//!
//! Pages: experiments (`/`), an experiment's runs with sorting and MLflow filters
//! (`/experiments/{id}`), a run with params, tags, metric history charts, artifacts and its
//! confusion-matrix plot (`/runs/{id}`), side-by-side comparison with a parallel-coordinates
//! chart (`/compare?runs=…`), the pipeline DAG with each stage's state (`/dag`), and the model
//! registry (`/models`).

mod charts;
mod html;
mod pages;

use crate::session::Session;
use crate::tracking::TrackingStore;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;

/// What every page handler can reach.
pub struct UiState {
    /// The tracking store.
    pub store: Arc<dyn TrackingStore>,
    /// The workspace and pipeline, for the DAG page's stage states.
    pub session: Session,
}

/// The application's routes.
pub fn router(state: Arc<UiState>) -> Router {
    Router::new()
        .route("/", get(pages::experiments))
        .route("/experiments/{id}", get(pages::runs))
        .route("/runs/{id}", get(pages::run))
        .route("/runs/{id}/artifacts/{*path}", get(pages::artifact))
        .route("/compare", get(pages::compare))
        .route("/models", get(pages::models))
        .route("/dag", get(pages::pipeline))
        .with_state(state)
}

/// Serves the UI until the process is stopped. `ready` receives the bound address (tests bind
/// port 0 and learn the port this way).
pub fn serve(
    state: UiState,
    addr: SocketAddr,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        ready(listener.local_addr()?);
        axum::serve(listener, router(Arc::new(state))).await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dag::Dag;
    use crate::pipeline::Pipeline;
    use crate::tracking::counting::CountingStore;
    use crate::workspace::Workspace;

    #[test]
    fn the_runs_page_asks_the_store_for_one_page() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(CountingStore::with_runs(dir.path(), "p", 250));
        let session = Session::new(
            Workspace::at(dir.path()),
            Dag::new(Pipeline::new("p", Vec::new())).unwrap(),
            crate::tracking::recorder::Target::Server("http://127.0.0.1:9".into()),
        );
        let state = UiState {
            store: store.clone(),
            session,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = serve(state, ([127, 0, 0, 1], 0).into(), |addr| {
                let _ = tx.send(addr);
            });
        });
        let addr = rx.recv().unwrap();
        let experiment = store.get_experiment_by_name("p").unwrap().unwrap();
        let url = format!(
            "http://{addr}/experiments/{}?order_by=metrics.accuracy%20DESC&page=1",
            experiment.experiment_id
        );
        let mut response = ureq::get(&url).call().unwrap();
        let body = response.body_mut().read_to_string().unwrap();
        assert!(body.contains("run-149"), "the second page, best first");
        assert_eq!(store.counts(), (1, 100));
    }
}
