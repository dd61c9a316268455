//! MLflow's error shape: `{"error_code": "...", "message": "..."}` with the HTTP status its
//! server uses for that code, so the Python client raises the same `MlflowException`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::tracking::TrackingError;

/// An API failure as the client sees it.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// A request field with a bad or missing value.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
    }

    /// Something that does not exist.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", message)
    }

    /// A request the server cannot read at all.
    pub(crate) fn malformed(status: StatusCode, message: impl Into<String>) -> Self {
        Self::new(status, "BAD_REQUEST", message)
    }

    /// A failure of the server itself.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", message)
    }

    /// No credentials, or wrong ones.
    pub(crate) fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "credentials required: set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, \
             or MLFLOW_TRACKING_TOKEN",
        )
    }
}

impl From<TrackingError> for ApiError {
    fn from(error: TrackingError) -> Self {
        let message = error.to_string();
        match &error {
            TrackingError::Mlflow { error_code, .. } => {
                let status = match error_code.as_str() {
                    "RESOURCE_DOES_NOT_EXIST" => StatusCode::NOT_FOUND,
                    "INTERNAL_ERROR" => StatusCode::INTERNAL_SERVER_ERROR,
                    _ => StatusCode::BAD_REQUEST,
                };
                Self::new(status, error_code, message)
            }
            e if e.is_not_found() => Self::not_found(message),
            TrackingError::AlreadyExists(_) => {
                Self::new(StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS", message)
            }
            TrackingError::InvalidKey { .. }
            | TrackingError::ValueTooLong { .. }
            | TrackingError::ParamChanged { .. }
            | TrackingError::AmbiguousRun { .. }
            | TrackingError::InvalidArgument(_)
            | TrackingError::InvalidFilter { .. }
            | TrackingError::InvalidOrderBy { .. }
            | TrackingError::InvalidUri { .. }
            | TrackingError::InvalidArtifactPath { .. }
            | TrackingError::Unsupported(_) => Self::invalid(message),
            _ => Self::internal(message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error_code": self.code, "message": self.message });
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"pipeline\""),
            );
        }
        response
    }
}

/// Any API path no route serves.
pub(crate) async fn no_endpoint(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ENDPOINT_NOT_FOUND",
        format!("no API endpoint at {}", uri.path()),
    )
}
