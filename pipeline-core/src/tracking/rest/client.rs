//! The HTTP side of the MLflow client: URLs, requests, and turning answers into documents or
//! typed errors. The only file besides the artifact transfers that knows the HTTP library.

use serde::de::DeserializeOwned;

use super::wire::ErrorDoc;
use super::RestStore;
use crate::tracking::error::{Result, TrackingError};

/// Largest JSON response read into memory.
const MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;
const API: &str = "/api/2.0/mlflow";
pub(super) const ARTIFACTS_API: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// The HTTP plumbing every endpoint goes through.
impl RestStore {
    pub(super) fn url(&self, endpoint: &str) -> String {
        format!("{}{API}/{endpoint}", self.base)
    }

    /// `req` with the credentials the environment gave, if any.
    pub(super) fn authorize<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match self.credentials.authorization() {
            Some(value) => req.header("Authorization", value),
            None => req,
        }
    }

    /// A refusal for want of credentials becomes one line naming the server and what to set.
    pub(super) fn explain(&self, error: TrackingError) -> TrackingError {
        match error {
            TrackingError::Mlflow { status, .. } if status == 401 || status == 403 => {
                TrackingError::Unauthorized {
                    server: self.base.clone(),
                    status,
                    hint: super::auth::refusal_hint(status).to_string(),
                }
            }
            other => other,
        }
    }

    pub(super) fn transport_error(endpoint: &str, e: ureq::Error) -> TrackingError {
        TrackingError::Backend {
            backend: "mlflow server",
            context: format!("calling {endpoint}"),
            message: e.to_string(),
        }
    }

    /// Turns a response into `T`, or into an error carrying MLflow's
    /// `error_code` and `message` when the status is not 2xx.
    pub(super) fn decode<T: DeserializeOwned>(
        endpoint: &str,
        mut resp: ureq::http::Response<ureq::Body>,
    ) -> Result<T> {
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_string()
            .map_err(|e| Self::transport_error(endpoint, e))?;
        if !(200..300).contains(&status) {
            return Err(Self::error_from_body(endpoint, status, &body));
        }
        let text = if body.trim().is_empty() { "{}" } else { &body };
        serde_json::from_str(text).map_err(|e| TrackingError::Backend {
            backend: "mlflow server",
            context: format!("reading the answer of {endpoint}"),
            message: format!("{e}; body starts with: {}", snippet(&body)),
        })
    }

    pub(super) fn error_from_body(endpoint: &str, status: u16, body: &str) -> TrackingError {
        match serde_json::from_str::<ErrorDoc>(body) {
            Ok(ErrorDoc {
                error_code: Some(code),
                message,
            }) => TrackingError::Mlflow {
                endpoint: endpoint.to_string(),
                status,
                error_code: code,
                message: message.unwrap_or_default(),
            },
            _ => TrackingError::Mlflow {
                endpoint: endpoint.to_string(),
                status,
                error_code: if status == 404 {
                    "RESOURCE_DOES_NOT_EXIST".into()
                } else {
                    format!("HTTP_{status}")
                },
                message: snippet(body),
            },
        }
    }

    pub(super) fn get<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        query: &[(&str, &str)],
    ) -> Result<T> {
        let mut req = self.authorize(self.agent.get(self.url(endpoint)));
        for (k, v) in query {
            req = req.query(k, v);
        }
        let resp = req.call().map_err(|e| Self::transport_error(endpoint, e))?;
        Self::decode(endpoint, resp).map_err(|e| self.explain(e))
    }

    pub(super) fn post<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        body: &serde_json::Value,
    ) -> Result<T> {
        let resp = self
            .authorize(self.agent.post(self.url(endpoint)))
            .send_json(body)
            .map_err(|e| Self::transport_error(endpoint, e))?;
        Self::decode(endpoint, resp).map_err(|e| self.explain(e))
    }
}

impl RestStore {
    /// A PATCH with a JSON body, as MLflow's registry updates take.
    pub(super) fn patch<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        body: &serde_json::Value,
    ) -> Result<T> {
        let resp = self
            .authorize(self.agent.patch(self.url(endpoint)))
            .send_json(body)
            .map_err(|e| Self::transport_error(endpoint, e))?;
        Self::decode(endpoint, resp).map_err(|e| self.explain(e))
    }

    /// A DELETE with a JSON body, as MLflow's registry deletions take.
    pub(super) fn delete<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        body: &serde_json::Value,
    ) -> Result<T> {
        let resp = self
            .authorize(self.agent.delete(self.url(endpoint)))
            .force_send_body()
            .send_json(body)
            .map_err(|e| Self::transport_error(endpoint, e))?;
        Self::decode(endpoint, resp).map_err(|e| self.explain(e))
    }
}

pub(super) fn snippet(body: &str) -> String {
    let s: String = body.chars().take(300).collect();
    s.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_are_typed() {
        let e = RestStore::error_from_body(
            "runs/get",
            404,
            r#"{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run 'x' not found"}"#,
        );
        match &e {
            TrackingError::Mlflow {
                error_code,
                message,
                status,
                ..
            } => {
                assert_eq!(error_code, "RESOURCE_DOES_NOT_EXIST");
                assert_eq!(message, "Run 'x' not found");
                assert_eq!(*status, 404);
            }
            other => panic!("{other}"),
        }
        assert!(e.is_not_found());
        let e = RestStore::error_from_body("x", 502, "<html>bad gateway</html>");
        assert!(
            matches!(e, TrackingError::Mlflow { ref error_code, .. } if error_code == "HTTP_502")
        );
    }
}
