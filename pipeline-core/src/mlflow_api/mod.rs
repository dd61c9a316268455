//! MLflow's tracking REST API served from a tracking store, so MLflow's own Python client
//! (`mlflow.set_tracking_uri("http://…")`) logs runs, artifacts, models and registry entries
//! straight into this engine's store, next to the pipeline's own runs; the `ui` command serves
//! it on the UI's port.
//!
//! Shapes and error codes are MLflow's (`wire.rs`, `error.rs`). Every store call runs on the
//! blocking pool, never on the async workers; request bodies are bounded; every field is
//! validated by the store with MLflow's limits before anything is written.

mod artifacts;
mod auth;
mod error;
mod experiments;
mod logged_models;
mod registry;
mod request;
mod runs;
mod text_filter;
mod wire;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub use self::auth::{Auth, AuthError};
use self::error::ApiError;
use crate::tracking::TrackingStore;

/// The store every handler works on.
pub(crate) type Store = Arc<dyn TrackingStore>;

/// What a JSON endpoint answers.
pub(crate) type Reply = Result<axum::Json<serde_json::Value>, ApiError>;

/// The largest JSON request body: MLflow's biggest request, a full `log-batch`, is well under.
const JSON_LIMIT: usize = 16 << 20;

/// Runs `work` on the blocking pool; a panic in it is an internal error, not a dead server.
pub(crate) async fn blocking<T: Send + 'static>(
    store: &Store,
    work: impl FnOnce(&dyn TrackingStore) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || work(store.as_ref()))
        .await
        .map_err(|e| ApiError::internal(format!("the request failed: {e}")))?
}

/// The tracking API (`/api/2.0/mlflow/…`) and the artifact proxy
/// (`/api/2.0/mlflow-artifacts/…`) over `store`.
pub fn router(store: Arc<dyn TrackingStore>) -> Router {
    let api = Router::new()
        .route("/experiments/create", post(experiments::create))
        .route("/experiments/get", get(experiments::get))
        .route("/experiments/get-by-name", get(experiments::get_by_name))
        .route(
            "/experiments/search",
            get(experiments::search).post(experiments::search),
        )
        .route("/experiments/list", get(experiments::search))
        .route("/experiments/update", post(experiments::update))
        .route("/experiments/delete", post(experiments::delete))
        .route("/experiments/restore", post(experiments::restore))
        .route(
            "/experiments/set-experiment-tag",
            post(experiments::set_tag),
        )
        .route("/runs/create", post(runs::create))
        .route("/runs/get", get(runs::get))
        .route("/runs/update", post(runs::update))
        .route("/runs/delete", post(runs::delete))
        .route("/runs/restore", post(runs::restore))
        .route("/runs/search", post(runs::search))
        .route("/runs/log-batch", post(runs::log_batch))
        .route("/runs/log-metric", post(runs::log_metric))
        .route("/runs/log-parameter", post(runs::log_param))
        .route("/runs/set-tag", post(runs::set_tag))
        .route("/runs/delete-tag", post(runs::delete_tag))
        .route("/runs/log-inputs", post(runs::log_inputs))
        .route("/runs/outputs", post(runs::log_outputs))
        .route("/metrics/get-history", get(runs::get_history))
        .route("/artifacts/list", get(runs::list_artifacts))
        .route("/registered-models/create", post(registry::create_model))
        .route("/registered-models/get", get(registry::get_model))
        .route("/registered-models/search", get(registry::search_models))
        .route(
            "/registered-models/update",
            axum::routing::patch(registry::update_model),
        )
        .route(
            "/registered-models/delete",
            axum::routing::delete(registry::delete_model),
        )
        .route("/registered-models/set-tag", post(registry::set_model_tag))
        .route(
            "/registered-models/delete-tag",
            axum::routing::delete(registry::delete_model_tag),
        )
        .route(
            "/registered-models/alias",
            get(registry::get_by_alias)
                .post(registry::set_alias)
                .delete(registry::delete_alias),
        )
        .route(
            "/registered-models/get-latest-versions",
            get(registry::latest_versions).post(registry::latest_versions),
        )
        .route("/model-versions/create", post(registry::create_version))
        .route("/model-versions/get", get(registry::get_version))
        .route("/model-versions/search", get(registry::search_versions))
        .route(
            "/model-versions/update",
            axum::routing::patch(registry::update_version),
        )
        .route(
            "/model-versions/delete",
            axum::routing::delete(registry::delete_version),
        )
        .route("/model-versions/set-tag", post(registry::set_version_tag))
        .route(
            "/model-versions/delete-tag",
            axum::routing::delete(registry::delete_version_tag),
        )
        .route(
            "/model-versions/get-download-uri",
            get(registry::download_uri),
        )
        .route("/logged-models", post(logged_models::create))
        .route("/logged-models/search", post(logged_models::search))
        .route(
            "/logged-models/{model_id}",
            get(logged_models::get).patch(logged_models::finalize),
        )
        .route(
            "/logged-models/{model_id}/tags",
            axum::routing::patch(logged_models::set_tags),
        )
        .route(
            "/logged-models/{model_id}/params",
            post(logged_models::log_params),
        )
        .fallback(error::no_endpoint)
        .layer(DefaultBodyLimit::max(JSON_LIMIT));
    let proxy = Router::new()
        .route("/artifacts", get(artifacts::list))
        .route(
            "/artifacts/{*path}",
            get(artifacts::download).put(artifacts::upload),
        )
        .fallback(error::no_endpoint)
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .nest("/api/2.0/mlflow", api.clone())
        .nest("/ajax-api/2.0/mlflow", api)
        .nest("/api/2.0/mlflow-artifacts", proxy)
        .with_state(store)
}

/// Requires `auth`'s credentials on every request `router` serves.
pub fn guard(router: Router, auth: Auth) -> Router {
    router.layer(axum::middleware::from_fn_with_state(
        Arc::new(auth),
        auth::require,
    ))
}
