//! `ui`: a small web UI over the tracking store and the pipeline, served on 127.0.0.1 by
//! default. Pages are rendered on the server as plain HTML with inline SVG charts: no script
//! bundle, nothing to build, fast with 10,000 runs (tables are paginated, queries go through the
//! store's indexed search).
//!
//! Serving: a multi-threaded runtime; every page renders on tokio's blocking pool, reading
//! through a few store connections in turn, so concurrent pages proceed in parallel and the DAG
//! page never waits behind a runs page.
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

mod assets;
mod counts;
mod downsample;
mod html;
mod pages;
#[cfg(test)]
mod pages_tests;
#[cfg(test)]
mod scale_tests;

use crate::session::Session;
use crate::tracking::TrackingStore;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// What every page handler can reach.
pub struct UiState {
    /// The tracking store.
    pub store: Arc<dyn TrackingStore>,
    /// The workspace and pipeline, for the DAG page's stage states.
    pub session: Session,
    /// Stores the pages read through, taken in turn. The embedded store is one SQLite
    /// connection behind a mutex, so one store would serialise every page on it; several
    /// connections to the same WAL database read in parallel.
    readers: Vec<Arc<dyn TrackingStore>>,
    next_reader: AtomicUsize,
    /// Recent run counts of the runs page.
    counts: counts::Counts,
}

impl UiState {
    /// Pages read and write through `store` alone.
    pub fn new(store: Arc<dyn TrackingStore>, session: Session) -> Self {
        UiState {
            readers: vec![store.clone()],
            store,
            session,
            next_reader: AtomicUsize::new(0),
            counts: counts::Counts::default(),
        }
    }

    /// Pages also read through `readers` (more connections to the same store), in turn.
    pub fn with_readers(mut self, readers: Vec<Arc<dyn TrackingStore>>) -> Self {
        self.readers.extend(readers);
        self
    }

    /// The store the next read goes through.
    pub(crate) fn reader(&self) -> Arc<dyn TrackingStore> {
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed);
        self.readers[i % self.readers.len()].clone()
    }
}

/// The application's routes.
pub fn router(state: Arc<UiState>) -> Router {
    let api = crate::mlflow_api::router(state.store.clone());
    Router::new()
        .route("/", get(pages::experiments))
        .route("/experiments/{id}", get(pages::runs))
        .route("/runs/{id}", get(pages::run))
        .route("/experiments/{id}/charts", get(pages::experiment_charts))
        .route("/runs/{id}/stages", get(pages::stages))
        .route("/runs/{id}/metrics/{key}", get(pages::metric_history))
        .route("/static/{name}", get(assets::script))
        .route("/runs/{id}/artifacts/{*path}", get(pages::artifact))
        .route("/compare", get(pages::compare))
        .route("/models", get(pages::models))
        .route("/models/{name}", get(pages::model))
        .route("/models/{name}/versions/{version}", get(pages::version))
        .route("/dag", get(pages::pipeline))
        .fallback(no_such_page)
        .with_state(state)
        .merge(api)
        .layer(axum::middleware::map_response(security_headers))
}

/// The policy of the UI's own pages: scripts only from the UI itself (no inline script, no
/// `eval`), no plugin, no frame, nothing from elsewhere; their inline styles, inline SVG charts,
/// same-origin plot images and the scripts' same-origin requests still load.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
                            style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; \
                            base-uri 'none'; frame-ancestors 'none'";

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
    serve_guarded(state, None, addr, ready)
}

/// [`serve`], requiring `auth`'s credentials on every request when given.
pub fn serve_guarded(
    state: UiState,
    auth: Option<crate::mlflow_api::Auth>,
    addr: SocketAddr,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    // Several workers, and every store call on the blocking pool (`pages::blocking`): a slow
    // runs page then never holds up another page.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .thread_name("ui")
        .enable_io()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        ready(listener.local_addr()?);
        let app = router(Arc::new(state));
        let app = match auth {
            Some(auth) => crate::mlflow_api::guard(app, auth),
            None => app,
        };
        axum::serve(listener, app).await?;
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

    /// Serves the UI over `store` (with an empty pipeline in `dir`) on a free port.
    pub(super) fn start(dir: &std::path::Path, store: Arc<dyn TrackingStore>) -> SocketAddr {
        let session = Session::new(
            Workspace::at(dir),
            Dag::new(Pipeline::new("p", Vec::new())).unwrap(),
            crate::tracking::recorder::Target::Server("http://127.0.0.1:9".into()),
        );
        let state = UiState::new(store, session);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = serve(state, ([127, 0, 0, 1], 0).into(), |addr| {
                let _ = tx.send(addr);
            });
        });
        rx.recv().unwrap()
    }

    #[test]
    fn the_runs_page_asks_the_store_for_one_page() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(CountingStore::with_runs(dir.path(), "p", 250));
        let addr = start(dir.path(), store.clone());
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

    /// A response's status, headers and body, whatever the status.
    pub(super) fn fetch(method: &str, url: &str) -> (u16, axum::http::HeaderMap, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = match method {
            "GET" => agent.get(url).call(),
            _ => agent.post(url).send_empty(),
        }
        .unwrap();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        (response.status().as_u16(), response.headers().clone(), body)
    }

    pub(super) fn header<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> &'a str {
        headers
            .get(name)
            .map_or("", |v| v.to_str().unwrap_or("<not text>"))
    }

    /// A run with a script-bearing report, an SVG with a script, other executable formats, safe
    /// ones, and a directory.
    fn run_with_artifacts(dir: &std::path::Path) -> (Arc<crate::tracking::SqliteStore>, String) {
        let store = Arc::new(
            crate::tracking::SqliteStore::open(&dir.join("tracking.db"), &dir.join("cache"))
                .unwrap(),
        );
        let experiment = store.get_or_create_experiment("p").unwrap();
        let run = store.create_run(&experiment, "r", None, &[], 0).unwrap();
        let script = "<script>document.title = 'pwned'</script>";
        let files = [
            ("report.html", format!("<html><body>{script}</body></html>")),
            (
                "plots/chart.svg",
                format!("<svg xmlns=\"http://www.w3.org/2000/svg\">{script}</svg>"),
            ),
            (
                "feed.xml",
                "<x xmlns:h=\"http://www.w3.org/1999/xhtml\"><h:script>1</h:script></x>"
                    .to_string(),
            ),
            ("app.js", "alert(1)".to_string()),
            ("blob", script.to_string()),
            ("notes.txt", script.to_string()),
            ("model/model.json", "{}".to_string()),
            ("model/weights/a b.bin", "0".to_string()),
        ];
        for (i, (path, text)) in files.iter().enumerate() {
            let local = dir.join(format!("file-{i}"));
            std::fs::write(&local, text).unwrap();
            store.log_artifact(&run.run_id, &local, path).unwrap();
        }
        (store, run.run_id)
    }

    #[test]
    fn artifacts_that_a_browser_would_execute_are_attachments_and_all_are_sandboxed() {
        let dir = tempfile::tempdir().unwrap();
        let (store, run) = run_with_artifacts(dir.path());
        let addr = start(dir.path(), store);
        let url = |path: &str| format!("http://{addr}/runs/{run}/artifacts/{path}");
        for (path, content_type, disposition) in [
            ("report.html", "text/html; charset=utf-8", "attachment"),
            ("feed.xml", "application/xml", "attachment"),
            ("app.js", "text/javascript", "attachment"),
            ("blob", "application/octet-stream", "attachment"),
            ("plots/chart.svg?download=1", "image/svg+xml", "attachment"),
            // Inline, but under the sandbox: an SVG opened on its own runs no script.
            ("plots/chart.svg", "image/svg+xml", "inline"),
            ("notes.txt", "text/plain; charset=utf-8", "inline"),
            ("model/model.json", "application/json", "inline"),
        ] {
            let (code, headers, _) = fetch("GET", &url(path));
            assert_eq!(code, 200, "{path}");
            assert_eq!(header(&headers, "content-type"), content_type, "{path}");
            assert!(
                header(&headers, "content-disposition").starts_with(disposition),
                "{path}: {headers:?}"
            );
            assert!(
                header(&headers, "content-security-policy").starts_with("sandbox;"),
                "{path}: {headers:?}"
            );
            assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
        }
    }

    #[test]
    fn an_artifact_directory_lists_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let (store, run) = run_with_artifacts(dir.path());
        let addr = start(dir.path(), store);
        let (code, headers, body) =
            fetch("GET", &format!("http://{addr}/runs/{run}/artifacts/model"));
        assert_eq!(code, 200, "{body}");
        assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
        for link in [
            format!("href=\"/runs/{run}/artifacts/model/model.json\">model.json</a>"),
            format!("href=\"/runs/{run}/artifacts/model/model.json?download=1\">download</a>"),
            format!("href=\"/runs/{run}/artifacts/model/weights\">weights/</a>"),
            format!("href=\"/runs/{run}\">run r</a>"),
        ] {
            assert!(body.contains(&link), "{link} missing from {body}");
        }
        let (code, _, body) = fetch(
            "GET",
            &format!("http://{addr}/runs/{run}/artifacts/model/weights/"),
        );
        assert_eq!(code, 200, "{body}");
        assert!(
            body.contains(&format!(
                "href=\"/runs/{run}/artifacts/model/weights/a%20b.bin\">a b.bin</a>"
            )),
            "{body}"
        );
        assert!(body.contains(&format!("href=\"/runs/{run}/artifacts/model\">model/</a>")));
        let (code, _, _) = fetch(
            "GET",
            &format!("http://{addr}/runs/{run}/artifacts/model/nope"),
        );
        assert_eq!(code, 404);
    }

    #[test]
    fn every_response_says_nosniff_and_pages_allow_no_script() {
        let dir = tempfile::tempdir().unwrap();
        let (store, run) = run_with_artifacts(dir.path());
        let addr = start(dir.path(), store);
        for (method, path, status) in [
            ("GET", "/".to_string(), 200),
            ("GET", format!("/runs/{run}"), 200),
            ("GET", "/models".to_string(), 200),
            ("GET", "/dag".to_string(), 200),
            ("GET", "/no/such/page".to_string(), 404),
            ("GET", format!("/runs/{run}/artifacts/missing.txt"), 404),
            ("GET", "/runs/nope".to_string(), 404),
            ("GET", "/compare".to_string(), 400),
            ("POST", "/".to_string(), 405),
        ] {
            let (code, headers, _) = fetch(method, &format!("http://{addr}{path}"));
            assert_eq!(code, status, "{method} {path}");
            assert_eq!(
                header(&headers, "x-content-type-options"),
                "nosniff",
                "{method} {path}"
            );
            assert_eq!(
                header(&headers, "content-security-policy"),
                PAGE_CSP,
                "{method} {path}"
            );
        }
    }
}
