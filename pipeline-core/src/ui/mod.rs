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
//!
//! Every response, pages and errors included, carries `X-Content-Type-Options: nosniff` and a
//! Content-Security-Policy: the pages' own policy allows no script at all (they use none), and
//! artifacts are served under `sandbox` with anything a browser would execute as an attachment
//! (see `pages/artifact.rs`).

mod charts;
mod html;
mod pages;

use crate::session::Session;
use crate::tracking::TrackingStore;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::Response;
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
        .fallback(no_such_page)
        .with_state(state)
        .layer(axum::middleware::map_response(security_headers))
}

/// The policy of the UI's own pages: no script, no plugin, no frame, nothing from elsewhere;
/// their inline styles, inline SVG charts and same-origin plot images still load.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
                            form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Adds `nosniff` to every response, and the pages' policy to every response that did not set
/// a stricter one (artifacts set `sandbox`).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        );
    }
    response
}

/// Any path no route serves: a 404 page.
async fn no_such_page(uri: Uri) -> Response {
    html::error(StatusCode::NOT_FOUND, &format!("no page at {}", uri.path()))
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
