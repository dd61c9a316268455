//! `serve`: a model behind MLflow's scoring protocol, on a multi-threaded HTTP server.
//!
//! Routes: `POST /invocations` (see `protocol.rs`; `?output=proba` adds class probabilities),
//! `GET /ping` and `GET /health` (200, `"\n"`, as MLflow), `GET /version`, `GET /metadata` (what
//! is served: URI, run, version, alias, features, classes, the run's metrics), `GET /metrics`
//! (Prometheus text). Errors are MLflow's JSON `{"error_code", "message"}`.
//!
//! The model is loaded once. Requests read it through an `Arc` taken under a `RwLock`, held
//! only to clone the `Arc`; when a `models:/name@alias` (or `/latest`) URI moves, a reload thread
//! loads the new version beside the old and swaps the `Arc`: requests in flight finish with the
//! model they started with, none waits for the load. Small requests are parsed and predicted on
//! the async workers (a 100-row Iris request takes tens of microseconds); bodies over
//! [`INLINE_BODY_BYTES`] go to the blocking pool. A panic while predicting is a 500, never a dead
//! server. The body limit applies before anything is parsed; nothing in a request names a file.

mod metrics;
pub mod protocol;
mod source;

pub use metrics::Metrics;
pub use protocol::{BadInput, Output, Table};
pub use source::{Designation, ModelSource, ServedModel};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Bodies up to this size are handled on the async workers; larger ones on the blocking pool.
pub const INLINE_BODY_BYTES: usize = 64 * 1024;

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Worker threads of the runtime.
    pub workers: usize,
    /// Larger bodies get a 413.
    pub max_body_bytes: usize,
    /// How often to check whether an alias (or `latest`) moved; `None` never.
    pub reload_interval: Option<Duration>,
}

/// The model being served, swapped whole when it moves.
struct Current {
    served: ServedModel,
}

/// What every handler reaches.
struct ServerState {
    current: RwLock<Arc<Current>>,
    source: ModelSource,
    metrics: Metrics,
}

impl ServerState {
    fn current(&self) -> Arc<Current> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn swap(&self, served: ServedModel) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Current { served });
    }
}

/// Loads the model of `source`, then serves it until `shutdown` completes; requests in flight
/// then finish. `ready` receives the bound address (port 0 picks a free one), `say` the lines
/// worth telling whoever started the server (model switches).
pub fn serve(
    source: ModelSource,
    options: ServeOptions,
    ready: impl FnOnce(SocketAddr, &ServedModel),
    say: impl Fn(String) + Send + 'static,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let served = source.load(source.designate()?)?;
    let state = Arc::new(ServerState {
        current: RwLock::new(Arc::new(Current { served })),
        source,
        metrics: Metrics::default(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.workers.max(1))
        .enable_io()
        .build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let reloader = match options.reload_interval {
        Some(every) if state.source.can_move() => {
            let (state, stop) = (state.clone(), stop.clone());
            Some(std::thread::spawn(move || {
                reload_loop(&state, every, &stop, say)
            }))
        }
        _ => None,
    };
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(options.addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", options.addr))?;
        ready(listener.local_addr()?, &state.current().served);
        axum::serve(listener, router(state.clone(), options.max_body_bytes))
            .with_graceful_shutdown(shutdown)
            .await?;
        anyhow::Ok(())
    });
    stop.store(true, Ordering::SeqCst);
    if let Some(thread) = reloader {
        thread.thread().unpark();
        let _ = thread.join();
    }
    result
}

/// Every `every`, asks where the URI points; loads and swaps in a model that moved.
fn reload_loop(state: &ServerState, every: Duration, stop: &AtomicBool, say: impl Fn(String)) {
    let mut failing = false;
    loop {
        let deadline = Instant::now() + every;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            std::thread::park_timeout(left);
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let current = state.current();
        let outcome = state.source.designate().and_then(|designation| {
            if designation == current.served.designation {
                return Ok(None);
            }
            state.source.load(designation).map(Some)
        });
        match outcome {
            Ok(None) => failing = false,
            Ok(Some(served)) => {
                say(format!(
                    "{} now points at {}: serving it",
                    state.source.uri(),
                    describe(&served.designation)
                ));
                state.swap(served);
                state.metrics.reload(true);
                failing = false;
            }
            Err(error) => {
                state.metrics.reload(false);
                if !failing {
                    say(format!(
                        "checking {} failed (still serving {}): {error:#}",
                        state.source.uri(),
                        describe(&current.served.designation)
                    ));
                }
                failing = true;
            }
        }
    }
}

/// "version 2 (runs:/…/model)" or the source.
pub fn describe(designation: &Designation) -> String {
    match &designation.version {
        Some((name, version)) => format!("{name} version {version} ({})", designation.source),
        None => designation.source.clone(),
    }
}

fn router(state: Arc<ServerState>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/invocations", post(invocations))
        .route("/ping", get(ping))
        .route("/health", get(ping))
        .route("/version", get(version))
        .route("/metadata", get(metadata))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

/// Counts every request by endpoint and status, and times `/invocations`.
async fn count(State(state): State<Arc<ServerState>>, request: Request, next: Next) -> Response {
    let endpoint = Metrics::endpoint(request.uri().path());
    let start = Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .request(endpoint, response.status().as_u16(), start.elapsed());
    response
}

/// MLflow's error body.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error_code": code, "message": message }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn bad_input(bad: &BadInput) -> Response {
    let status = StatusCode::from_u16(bad.status).unwrap_or(StatusCode::BAD_REQUEST);
    let code = if bad.status == 413 {
        "RESOURCE_LIMIT_EXCEEDED"
    } else {
        "BAD_REQUEST"
    };
    error(status, code, &bad.message)
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn invocations(
    State(state): State<Arc<ServerState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return bad_input(&BadInput {
                status: 413,
                message: "the body is over the server's limit (--max-body-bytes)".into(),
            })
        }
        Err(rejection) => {
            return bad_input(&BadInput::bad(format!(
                "reading the body: {}",
                rejection.body_text()
            )))
        }
    };
    let output = match Output::from_query(query.as_deref()) {
        Ok(output) => output,
        Err(bad) => return bad_input(&bad),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("(not text)").to_string());
    let current = state.current();
    let work = {
        let state = state.clone();
        move || predict(&state, &current, content_type.as_deref(), &body, output)
    };
    let outcome = if body_len_inline(&headers) {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).ok()
    } else {
        tokio::task::spawn_blocking(work).await.ok()
    };
    match outcome {
        Some(Ok(answer)) => json(answer),
        Some(Err(Failure::Input(bad))) => bad_input(&bad),
        Some(Err(Failure::Model(e))) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            &format!("the model failed: {e:#}"),
        ),
        None => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "the model panicked on this request",
        ),
    }
}

/// Whether the body is small enough to handle on the async worker.
fn body_len_inline(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n <= INLINE_BODY_BYTES)
}

enum Failure {
    Input(BadInput),
    Model(anyhow::Error),
}

fn predict(
    state: &ServerState,
    current: &Current,
    content_type: Option<&str>,
    body: &[u8],
    output: Output,
) -> Result<String, Failure> {
    let model = current.served.model.as_ref();
    let table = protocol::parse(content_type, body).map_err(Failure::Input)?;
    let rows = table.rows();
    let values = protocol::align(table, model.features()).map_err(Failure::Input)?;
    let predictions = model.predict(&values).map_err(Failure::Model)?;
    if predictions.len() != rows {
        return Err(Failure::Model(anyhow::anyhow!(
            "{} predictions for {rows} rows",
            predictions.len()
        )));
    }
    state.metrics.rows(rows);
    Ok(protocol::answer(&predictions, model.classes(), output))
}

async fn ping() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], "\n").into_response()
}

async fn version() -> Response {
    json(env!("CARGO_PKG_VERSION").to_string())
}

async fn metadata(State(state): State<Arc<ServerState>>) -> Response {
    let current = state.current();
    let served = &current.served;
    let designation = &served.designation;
    let metrics: serde_json::Map<String, serde_json::Value> = served
        .metrics
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::json!(v)))
        .collect();
    json(
        serde_json::json!({
            "model_uri": state.source.uri(),
            "source": designation.source,
            "run_id": designation.run_id,
            "model_id": designation.model_id,
            "name": designation.version.as_ref().map(|(name, _)| name),
            "version": designation.version.as_ref().map(|(_, version)| version),
            "alias": state.source.alias(),
            "features": served.model.features(),
            "classes": served.model.classes(),
            "metrics": metrics,
        })
        .to_string(),
    )
}

async fn metrics(State(state): State<Arc<ServerState>>) -> Response {
    let version = state
        .current()
        .served
        .designation
        .version
        .as_ref()
        .map(|(_, v)| *v);
    let mut response = state.metrics.render(version).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

async fn not_found(request: Request) -> Response {
    let path: String = request.uri().path().chars().take(100).collect();
    error(
        StatusCode::NOT_FOUND,
        "ENDPOINT_NOT_FOUND",
        &format!("no endpoint at {path} (POST /invocations; GET /ping, /health, /version, /metadata, /metrics)"),
    )
}

/// Completes on Ctrl-C or SIGTERM (the future to pass to [`serve`] from a command line).
pub async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
