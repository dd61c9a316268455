//! Credentials and TLS settings for an MLflow server, read from MLflow's own environment
//! variables so a team's existing setup works unchanged: `MLFLOW_TRACKING_TOKEN` (a bearer
//! token), else `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD` (basic auth);
//! `MLFLOW_TRACKING_INSECURE_TLS=true` skips certificate checks, and
//! `MLFLOW_TRACKING_SERVER_CERT_PATH` names a PEM file of certificates to trust instead of the
//! usual roots.

use base64::Engine as _;
use std::path::PathBuf;

use crate::tracking::error::{Result, TrackingError};

/// What the client sends and trusts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    /// The `Authorization` header's value.
    authorization: Option<String>,
    insecure_tls: bool,
    cert_path: Option<PathBuf>,
}

impl Credentials {
    /// From the process environment.
    pub(crate) fn from_env() -> Self {
        Self::from_vars(|key| std::env::var(key).ok().filter(|v| !v.is_empty()))
    }

    /// From any source of variables (tests pass a map).
    pub(crate) fn from_vars(get: impl Fn(&str) -> Option<String>) -> Self {
        let authorization = match (
            get("MLFLOW_TRACKING_TOKEN"),
            get("MLFLOW_TRACKING_USERNAME"),
            get("MLFLOW_TRACKING_PASSWORD"),
        ) {
            (Some(token), _, _) => Some(format!("Bearer {token}")),
            (None, Some(user), password) => {
                let pair = format!("{user}:{}", password.unwrap_or_default());
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
            }
            _ => None,
        };
        Credentials {
            authorization,
            insecure_tls: get("MLFLOW_TRACKING_INSECURE_TLS")
                .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1"),
            cert_path: get("MLFLOW_TRACKING_SERVER_CERT_PATH").map(PathBuf::from),
        }
    }

    /// The `Authorization` header to send, if any.
    pub(crate) fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }

    /// The TLS settings, when they differ from ureq's defaults.
    pub(crate) fn tls_config(&self) -> Result<Option<ureq::tls::TlsConfig>> {
        if !self.insecure_tls && self.cert_path.is_none() {
            return Ok(None);
        }
        let mut builder = ureq::tls::TlsConfig::builder().disable_verification(self.insecure_tls);
        if let Some(path) = &self.cert_path {
            let pem = crate::atomic::read_limited(path, 1 << 20)
                .map_err(|e| TrackingError::io(path, e))?
                .ok_or_else(|| {
                    TrackingError::io(path, std::io::Error::from(std::io::ErrorKind::NotFound))
                })?;
            let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(TrackingError::InvalidUri {
                    uri: path.display().to_string(),
                    reason: "MLFLOW_TRACKING_SERVER_CERT_PATH holds no PEM certificate".into(),
                });
            }
            builder = builder.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        Ok(Some(builder.build()))
    }
}

/// What to tell the user when the server refuses a request for want of credentials.
pub(crate) fn refusal_hint(status: u16) -> &'static str {
    if status == 401 {
        "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN"
    } else {
        "the user in MLFLOW_TRACKING_USERNAME (or the token in MLFLOW_TRACKING_TOKEN) lacks permission for this"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Credentials {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Credentials::from_vars(|k| map.get(k).cloned())
    }

    #[test]
    fn credentials_follow_mlflows_variables() {
        assert_eq!(from(&[]).authorization(), None);
        assert_eq!(
            from(&[
                ("MLFLOW_TRACKING_USERNAME", "alice"),
                ("MLFLOW_TRACKING_PASSWORD", "s3cret")
            ])
            .authorization(),
            Some("Basic YWxpY2U6czNjcmV0")
        );
        assert_eq!(
            from(&[
                ("MLFLOW_TRACKING_TOKEN", "tok"),
                ("MLFLOW_TRACKING_USERNAME", "alice")
            ])
            .authorization(),
            Some("Bearer tok")
        );
        assert!(from(&[("MLFLOW_TRACKING_INSECURE_TLS", "true")])
            .tls_config()
            .unwrap()
            .is_some());
        assert!(
            from(&[("MLFLOW_TRACKING_SERVER_CERT_PATH", "/nonexistent.pem")])
                .tls_config()
                .is_err()
        );
    }
}
