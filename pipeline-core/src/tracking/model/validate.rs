//! MLflow's rules for keys, values, names and artifact paths, checked before anything is
//! written so both backends refuse the same inputs with the same errors.

use super::{Metric, Param, Tag, MAX_KEY_LEN, MAX_PARAM_VALUE_LEN, MAX_TAG_VALUE_LEN};
use crate::tracking::error::{Result, TrackingError};

/// characters of `[A-Za-z0-9_-. /]`, and not a path that could name
/// something else once normalised (no leading `/`, no `.`/`..` segments, no
/// empty segments), because MLflow may store keys as file names.
pub fn validate_key(kind: &'static str, key: &str) -> Result<()> {
    let bad = |reason: String| TrackingError::InvalidKey {
        kind,
        key: key.to_string(),
        reason,
    };
    if key.is_empty() {
        return Err(bad("keys must not be empty".into()));
    }
    let len = key.chars().count();
    if len > MAX_KEY_LEN {
        return Err(bad(format!(
            "{len} characters exceeds the limit of {MAX_KEY_LEN}"
        )));
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '/')))
    {
        return Err(bad(format!(
            "character {c:?} is not allowed (only alphanumerics, underscores, dashes, periods, spaces and slashes)"
        )));
    }
    if key.starts_with('/')
        || key
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err(bad(
            "keys must be relative paths without empty, '.' or '..' segments".into(),
        ));
    }
    Ok(())
}

fn validate_value(kind: &'static str, key: &str, value: &str, max: usize) -> Result<()> {
    // Byte length bounds character length, so most values skip the count.
    if value.len() > max {
        let len = value.chars().count();
        if len > max {
            return Err(TrackingError::ValueTooLong {
                kind,
                key: key.to_string(),
                len,
                max,
            });
        }
    }
    Ok(())
}

/// Checks a param's key and value length.
pub fn validate_param(param: &Param) -> Result<()> {
    validate_key("param", &param.key)?;
    validate_value("param", &param.key, &param.value, MAX_PARAM_VALUE_LEN)
}

/// Checks a tag's key and value length.
pub fn validate_tag(tag: &Tag) -> Result<()> {
    validate_key("tag", &tag.key)?;
    validate_value("tag", &tag.key, &tag.value, MAX_TAG_VALUE_LEN)
}

/// Checks a metric's key (any `f64`, including NaN and infinities, is accepted).
pub fn validate_metric(metric: &Metric) -> Result<()> {
    validate_key("metric", &metric.key)?;
    match &metric.model_id {
        Some(id) => super::validate_model_id(id),
        None => Ok(()),
    }
}

/// Validates everything in a batch and rejects a param key given twice with
/// different values, as MLflow's `log-batch` does.
pub fn validate_batch(
    run_id: &str,
    metrics: &[Metric],
    params: &[Param],
    tags: &[Tag],
) -> Result<()> {
    metrics.iter().try_for_each(validate_metric)?;
    params.iter().try_for_each(validate_param)?;
    tags.iter().try_for_each(validate_tag)?;
    let mut seen: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for p in params {
        if let Some(old) = seen.insert(p.key.as_str(), p.value.as_str()) {
            if old != p.value {
                return Err(TrackingError::ParamChanged {
                    run_id: run_id.to_string(),
                    key: p.key.clone(),
                    old_value: old.to_string(),
                    new_value: p.value.clone(),
                });
            }
        }
    }
    Ok(())
}

/// An artifact path that names a file: normalised as [`normalize_artifact_path`] does, and not
/// the root itself.
pub fn artifact_file_path(path: &str) -> Result<String> {
    let normalized = normalize_artifact_path(path)?;
    if normalized.is_empty() {
        return Err(TrackingError::InvalidArtifactPath {
            path: path.to_string(),
            reason: "must name a file inside the run's artifact root".into(),
        });
    }
    Ok(normalized)
}

/// Normalises an artifact path (inside a run's artifact root) to
/// `seg/seg/...` form, rejecting absolute paths, `..`, and backslashes so no
/// path can escape the root. `.` segments, repeated and trailing slashes are
/// dropped; the empty string (or `.`) means the root itself.
pub fn normalize_artifact_path(path: &str) -> Result<String> {
    let bad = |reason: &str| TrackingError::InvalidArtifactPath {
        path: path.to_string(),
        reason: reason.to_string(),
    };
    if path.starts_with('/') {
        return Err(bad("must be relative to the run's artifact root"));
    }
    if path.contains('\\') {
        return Err(bad("use '/' as the separator"));
    }
    if path.contains('\0') {
        return Err(bad("must not contain NUL"));
    }
    let mut segments = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => return Err(bad("'..' segments are not allowed")),
            s => segments.push(s),
        }
    }
    Ok(segments.join("/"))
}

/// Checks a registered model name: non-empty, no `/` or `@` (they delimit
/// `models:/` URIs) and no surrounding whitespace.
pub fn validate_model_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(TrackingError::InvalidArgument(
            "registered model name must not be empty".into(),
        ));
    }
    if name.contains('/') || name.contains('@') || name.trim() != name {
        return Err(TrackingError::InvalidArgument(format!(
            "registered model name '{name}' must not contain '/' or '@' or surrounding whitespace"
        )));
    }
    Ok(())
}

/// Checks a model alias with MLflow's reservations: not `latest` (any case)
/// and not version-like (`v1`, `V12`), since `models:/name@alias` must not be
/// ambiguous with versions.
pub fn validate_alias(alias: &str) -> Result<()> {
    if alias.is_empty() || alias.chars().count() > 255 {
        return Err(TrackingError::InvalidArgument(format!(
            "model alias '{alias}' must be 1 to 255 characters"
        )));
    }
    if alias.eq_ignore_ascii_case("latest") {
        return Err(TrackingError::InvalidArgument(
            "'latest' alias name (case insensitive) is reserved".into(),
        ));
    }
    let mut chars = alias.chars();
    if matches!(chars.next(), Some('v' | 'V'))
        && chars.clone().next().is_some()
        && chars.all(|c| c.is_ascii_digit())
    {
        return Err(TrackingError::InvalidArgument(format!(
            "version alias name '{alias}' is reserved"
        )));
    }
    if !alias
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(TrackingError::InvalidArgument(format!(
            "model alias '{alias}' may only contain alphanumerics, '_' and '-'"
        )));
    }
    Ok(())
}

/// Checks an experiment name: non-empty and at most 500 characters (MLflow's limit).
pub fn validate_experiment_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 500 {
        return Err(TrackingError::InvalidArgument(format!(
            "experiment name '{name}' must be 1 to 500 characters and not blank"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflow_rules() {
        for ok in ["acc", "val/loss", "a b", "x-1.2_y", &"k".repeat(250)] {
            validate_key("metric", ok).unwrap();
        }
        for bad in [
            "",
            "/abs",
            "a//b",
            "a/",
            "./a",
            "a/../b",
            "..",
            "ünï",
            "a:b",
            "a$b",
            &"k".repeat(251),
        ] {
            let err = validate_key("param", bad).unwrap_err();
            assert!(matches!(err, TrackingError::InvalidKey { .. }), "{bad}");
            assert!(err.to_string().contains("param"), "{err}");
        }
    }

    #[test]
    fn value_limits() {
        validate_param(&Param::new("p", "x".repeat(6000))).unwrap();
        let err = validate_param(&Param::new("p", "x".repeat(6001))).unwrap_err();
        assert!(err.to_string().contains("'p'"), "{err}");
        validate_tag(&Tag::new("t", "é".repeat(8000))).unwrap();
        assert!(validate_tag(&Tag::new("t", "x".repeat(8001))).is_err());
    }

    #[test]
    fn batch_rejects_conflicting_params() {
        let ps = [Param::new("a", "1"), Param::new("a", "1")];
        validate_batch("r", &[], &ps, &[]).unwrap();
        let ps = [Param::new("a", "1"), Param::new("a", "2")];
        assert!(matches!(
            validate_batch("r", &[], &ps, &[]),
            Err(TrackingError::ParamChanged { .. })
        ));
    }

    #[test]
    fn artifact_paths() {
        assert_eq!(
            normalize_artifact_path("model/./m.json").unwrap(),
            "model/m.json"
        );
        assert_eq!(normalize_artifact_path("dir/").unwrap(), "dir");
        assert_eq!(normalize_artifact_path("").unwrap(), "");
        assert!(normalize_artifact_path("/etc/passwd").is_err());
        assert!(normalize_artifact_path("a/../../b").is_err());
    }

    #[test]
    fn aliases() {
        validate_alias("champion").unwrap();
        validate_alias("prod-2").unwrap();
        assert!(validate_alias("latest").is_err());
        assert!(validate_alias("LATEST").is_err());
        assert!(validate_alias("v3").is_err());
        validate_alias("v").unwrap();
        validate_alias("v3a").unwrap();
    }
}
