//! Parsing of the MLflow-style URIs the engine passes around: `runs:/` for a
//! run's artifacts and `models:/` for registered model versions.
//!
//! Pipeline definitions refer to models and artifacts by these URIs, so they
//! are parsed once, strictly, into an enum; a typo fails at load time with the
//! URI in the message instead of as a confusing lookup failure later.

use std::fmt;
use std::str::FromStr;

use super::error::{Result, TrackingError};
use super::model::{normalize_artifact_path, validate_model_id, validate_model_name};

/// A parsed `runs:/` or `models:/` URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ModelUri {
    /// `runs:/<run_id>` or `runs:/<run_id>/<path>`: an artifact (or the
    /// whole artifact root when `path` is empty) of a run.
    Run {
        /// Run id.
        run_id: String,
        /// Normalised path inside the run's artifact root; empty for the root.
        path: String,
    },
    /// `models:/<name>/<version>`.
    ModelVersion {
        /// Registered model name.
        name: String,
        /// Version number (1-based).
        version: u64,
    },
    /// `models:/<name>/latest`: the newest version.
    ModelLatest {
        /// Registered model name.
        name: String,
    },
    /// `models:/m-<id>`: an MLflow 3 logged model, by id.
    LoggedModel {
        /// `m-` and 32 hex characters.
        model_id: String,
    },
    /// `models:/<name>@<alias>`: the version the alias points at.
    ModelAlias {
        /// Registered model name.
        name: String,
        /// Alias, e.g. `champion`.
        alias: String,
    },
}

impl ModelUri {
    /// Parses a URI; see the variants for the accepted forms.
    pub fn parse(uri: &str) -> Result<Self> {
        let bad = |reason: &str| TrackingError::InvalidUri {
            uri: uri.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = uri.strip_prefix("runs:/") {
            let rest = rest.trim_start_matches('/');
            let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
            if run_id.is_empty() {
                return Err(bad("missing run id (expected runs:/<run_id>/<path>)"));
            }
            if !run_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(bad("run id may only contain letters, digits, '-' and '_'"));
            }
            let path = normalize_artifact_path(path).map_err(|e| bad(&e.to_string()))?;
            return Ok(ModelUri::Run {
                run_id: run_id.to_string(),
                path,
            });
        }
        if let Some(rest) = uri.strip_prefix("models:/") {
            let rest = rest.strip_suffix('/').unwrap_or(rest);
            if validate_model_id(rest).is_ok() {
                return Ok(ModelUri::LoggedModel {
                    model_id: rest.to_string(),
                });
            }
            if let Some((name, alias)) = rest.split_once('@') {
                check_name(name).map_err(|r| bad(&r))?;
                if alias.is_empty() {
                    return Err(bad("missing alias after '@'"));
                }
                if alias.contains('/') || alias.contains('@') {
                    return Err(bad("alias must not contain '/' or '@'"));
                }
                return Ok(ModelUri::ModelAlias {
                    name: name.to_string(),
                    alias: alias.to_string(),
                });
            }
            let Some((name, selector)) = rest.split_once('/') else {
                return Err(bad(
                    "expected models:/<name>/<version>, models:/<name>/latest or models:/<name>@<alias>",
                ));
            };
            check_name(name).map_err(|r| bad(&r))?;
            if selector.contains('/') {
                return Err(bad("unexpected path after the model version"));
            }
            if selector == "latest" {
                return Ok(ModelUri::ModelLatest {
                    name: name.to_string(),
                });
            }
            if selector.is_empty() {
                return Err(bad("missing version after the model name"));
            }
            return match selector.parse::<u64>() {
                Ok(0) => Err(bad("model versions start at 1")),
                Ok(version) => Ok(ModelUri::ModelVersion {
                    name: name.to_string(),
                    version,
                }),
                Err(_) if selector.chars().all(|c| c.is_ascii_digit()) => {
                    Err(bad("version number is too large"))
                }
                Err(_) => Err(bad(&format!(
                    "'{selector}' is neither a version number nor 'latest' (model stages are not supported; use an alias: models:/<name>@<alias>)"
                ))),
            };
        }
        Err(bad("expected a runs:/ or models:/ URI"))
    }
}

fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("missing model name".into());
    }
    validate_model_name(name).map_err(|e| e.to_string())
}

impl FromStr for ModelUri {
    type Err = TrackingError;

    fn from_str(s: &str) -> Result<Self> {
        ModelUri::parse(s)
    }
}

impl fmt::Display for ModelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelUri::Run { run_id, path } if path.is_empty() => write!(f, "runs:/{run_id}"),
            ModelUri::Run { run_id, path } => write!(f, "runs:/{run_id}/{path}"),
            ModelUri::ModelVersion { name, version } => write!(f, "models:/{name}/{version}"),
            ModelUri::ModelLatest { name } => write!(f, "models:/{name}/latest"),
            ModelUri::ModelAlias { name, alias } => write!(f, "models:/{name}@{alias}"),
            ModelUri::LoggedModel { model_id } => write!(f, "models:/{model_id}"),
        }
    }
}

/// The artifact URI of a path inside a run: `runs:/<run_id>/<path>`.
pub fn run_artifact_uri(run_id: &str, path: &str) -> String {
    ModelUri::Run {
        run_id: run_id.to_string(),
        path: path.trim_matches('/').to_string(),
    }
    .to_string()
}

/// The run and artifact path a registered version's source names: `runs:/<run>/<path>`, or the
/// resolved form MLflow 3 stores when a model is registered from Python,
/// `mlflow-artifacts:[//host]/<experiment>/<run>/artifacts/<path>`. Other sources: `None`
/// (a bucket, `s3://…`, is downloaded by `serve/source.rs`; a logged model, `models:/m-<id>`,
/// is found by [`logged_model_of_source`]).
pub fn run_artifact_of_source(source: &str) -> Option<(String, String)> {
    if let Ok(ModelUri::Run { run_id, path }) = ModelUri::parse(source) {
        return Some((run_id, path));
    }
    let rest = source.strip_prefix("mlflow-artifacts:")?;
    let rest = match rest.strip_prefix("//") {
        Some(with_host) => &with_host[with_host.find('/')?..],
        None => rest,
    };
    let mut parts = rest.trim_start_matches('/').splitn(4, '/');
    let (_experiment, run_id, artifacts) = (parts.next()?, parts.next()?, parts.next()?);
    if artifacts != "artifacts"
        || run_id.is_empty()
        || !run_id.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return None;
    }
    let path = normalize_artifact_path(parts.next().unwrap_or("")).ok()?;
    Some((run_id.to_string(), path))
}

/// The logged model a registered version's source names: `models:/m-<id>`, or the artifact
/// root MLflow 3 gives a logged model, `mlflow-artifacts:[//host]/<experiment>/models/m-<id>/artifacts`.
pub fn logged_model_of_source(source: &str) -> Option<String> {
    if let Ok(ModelUri::LoggedModel { model_id }) = ModelUri::parse(source) {
        return Some(model_id);
    }
    let rest = source.strip_prefix("mlflow-artifacts:")?;
    let rest = match rest.strip_prefix("//") {
        Some(with_host) => &with_host[with_host.find('/')?..],
        None => rest,
    };
    let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        [_experiment, "models", id, "artifacts"] if validate_model_id(id).is_ok() => {
            Some((*id).to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_forms() {
        assert_eq!(
            ModelUri::parse("runs:/0123abcd/model/model.json").unwrap(),
            ModelUri::Run {
                run_id: "0123abcd".into(),
                path: "model/model.json".into()
            }
        );
        assert_eq!(
            ModelUri::parse("runs:/0123abcd").unwrap(),
            ModelUri::Run {
                run_id: "0123abcd".into(),
                path: String::new()
            }
        );
        assert_eq!(
            ModelUri::parse("models:/iris/3").unwrap(),
            ModelUri::ModelVersion {
                name: "iris".into(),
                version: 3
            }
        );
        assert_eq!(
            ModelUri::parse("models:/iris/latest").unwrap(),
            ModelUri::ModelLatest {
                name: "iris".into()
            }
        );
        assert_eq!(
            ModelUri::parse("models:/iris@champion").unwrap(),
            ModelUri::ModelAlias {
                name: "iris".into(),
                alias: "champion".into()
            }
        );
    }

    #[test]
    fn logged_models_are_named_by_id() {
        let id = "m-0123456789abcdef0123456789abcdef";
        assert_eq!(
            ModelUri::parse(&format!("models:/{id}")).unwrap(),
            ModelUri::LoggedModel {
                model_id: id.into()
            }
        );
        assert_eq!(
            logged_model_of_source(&format!("models:/{id}")).as_deref(),
            Some(id)
        );
        assert_eq!(
            logged_model_of_source(&format!("mlflow-artifacts:/1/models/{id}/artifacts"))
                .as_deref(),
            Some(id)
        );
        assert_eq!(
            logged_model_of_source(&format!(
                "mlflow-artifacts://h:5000/1/models/{id}/artifacts/"
            ))
            .as_deref(),
            Some(id)
        );
        assert_eq!(logged_model_of_source("models:/m-short"), None);
        assert_eq!(
            logged_model_of_source("mlflow-artifacts:/1/models/../artifacts"),
            None
        );
        // A registered model whose name looks like an id prefix is still a registered model.
        assert!(matches!(
            ModelUri::parse("models:/m-123/1").unwrap(),
            ModelUri::ModelVersion { .. }
        ));
    }

    #[test]
    fn round_trips() {
        for s in [
            "runs:/abc/model/m.json",
            "runs:/abc",
            "models:/m/1",
            "models:/m/latest",
            "models:/m@prod",
            "models:/m-0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(ModelUri::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(run_artifact_uri("abc", "model/"), "runs:/abc/model");
    }

    #[test]
    fn sources_registered_from_python_name_a_run_artifact() {
        let run = "4a2f0bd1a91348bea0c926b31aa4f494";
        let want = Some((run.to_string(), "model".to_string()));
        assert_eq!(run_artifact_of_source(&format!("runs:/{run}/model")), want);
        assert_eq!(
            run_artifact_of_source(&format!("mlflow-artifacts:/0/{run}/artifacts/model")),
            want
        );
        assert_eq!(
            run_artifact_of_source(&format!(
                "mlflow-artifacts://host:5000/3/{run}/artifacts/model"
            )),
            want
        );
        assert_eq!(run_artifact_of_source("models:/m-0123"), None);
        assert_eq!(
            run_artifact_of_source(&format!("mlflow-artifacts:/0/{run}/artifacts/../x")),
            None
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "runs:/",
            "runs:/ab$c/x",
            "runs:/abc/../x",
            "runs:abc",
            "models:/",
            "models:/iris",
            "models:/iris/",
            "models:/iris/0",
            "models:/iris/Production",
            "models:/iris/1/extra",
            "models:/iris@",
            "models:/@alias",
            "models://1",
            "s3://bucket/key",
            "",
        ] {
            let err = ModelUri::parse(bad).unwrap_err();
            assert!(
                matches!(&err, TrackingError::InvalidUri { uri, .. } if uri == bad),
                "{bad}: {err}"
            );
        }
    }
}
