//! Who may use the server: an `--auth-file` of users with passwords (HTTP basic auth, what
//! MLflow's client sends from `MLFLOW_TRACKING_USERNAME`/`PASSWORD`) and bearer tokens
//! (`MLFLOW_TRACKING_TOKEN`), checked on every request, API and UI alike.
//!
//! ```toml
//! tokens = ["a-long-random-token"]
//!
//! [users]
//! alice = "her password"
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// The credentials the server accepts.
#[derive(Debug, Clone)]
pub struct Auth {
    /// SHA-256 of each accepted `Authorization` header value.
    accepted: Vec<[u8; 32]>,
}

/// Why an auth file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// It cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It is not the expected TOML.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, with the key or line.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    tokens: Vec<String>,
    #[serde(default)]
    users: BTreeMap<String, String>,
}

impl Auth {
    /// Reads an auth file; one with no user and no token is refused (it would lock everyone
    /// out, or be mistaken for protection).
    pub fn load(path: &Path) -> Result<Self, AuthError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read {
            path: name.clone(),
            source,
        })?;
        let file: File = toml::from_str(&text).map_err(|e| AuthError::Invalid {
            path: name.clone(),
            message: e.message().to_string(),
        })?;
        let invalid = |message: String| AuthError::Invalid {
            path: name.clone(),
            message,
        };
        let mut accepted = Vec::new();
        for token in &file.tokens {
            if token.len() < 16 || token.chars().any(char::is_whitespace) {
                return Err(invalid(
                    "tokens must be at least 16 characters without spaces".into(),
                ));
            }
            accepted.push(digest(&format!("Bearer {token}")));
        }
        for (user, password) in &file.users {
            if user.is_empty() || user.contains(':') || password.is_empty() {
                return Err(invalid(format!(
                    "users.{user}: a user needs a name without ':' and a password"
                )));
            }
            let pair =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            accepted.push(digest(&format!("Basic {pair}")));
        }
        if accepted.is_empty() {
            return Err(invalid("no users and no tokens".into()));
        }
        Ok(Auth { accepted })
    }

    /// Whether an `Authorization` header value is accepted. Values are compared by digest, so
    /// the time taken says nothing about how much of a secret matched.
    fn allows(&self, value: &str) -> bool {
        let got = digest(value.trim());
        self.accepted
            .iter()
            .fold(false, |hit, want| hit | (*want == got))
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// The middleware: every request carries accepted credentials or gets 401.
pub(crate) async fn require(
    State(auth): State<Arc<Auth>>,
    request: Request,
    next: Next,
) -> Response {
    let allowed = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| auth.allows(v));
    if allowed {
        next.run(request).await
    } else {
        ApiError::unauthenticated().into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Auth, AuthError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.toml");
        std::fs::write(&path, text).unwrap();
        Auth::load(&path)
    }

    #[test]
    fn users_and_tokens() {
        let auth = load("tokens = [\"0123456789abcdef\"]\n[users]\nalice = \"pw\"\n").unwrap();
        assert!(auth.allows("Bearer 0123456789abcdef"));
        let basic = base64::engine::general_purpose::STANDARD.encode("alice:pw");
        assert!(auth.allows(&format!("Basic {basic}")));
        let wrong = base64::engine::general_purpose::STANDARD.encode("alice:nope");
        assert!(!auth.allows(&format!("Basic {wrong}")));
        assert!(!auth.allows("Bearer 0123456789abcdeX"));
        assert!(!auth.allows(""));
    }

    #[test]
    fn bad_files_are_refused_naming_the_problem() {
        assert!(load("").unwrap_err().to_string().contains("no users"));
        assert!(load("tokens = [\"short\"]")
            .unwrap_err()
            .to_string()
            .contains("16"));
        assert!(load("[users]\n\"a:b\" = \"x\"").is_err());
        assert!(load("passwords = 1")
            .unwrap_err()
            .to_string()
            .contains("passwords"));
    }
}
