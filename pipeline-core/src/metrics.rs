//! Metrics files: JSON documents declared as `metrics` outputs. Numbers are read through nested
//! objects into dotted keys (`per_class.setosa.f1`), which is what tables, diffs and the
//! tracking store work with; arrays and non-numbers are left out.

use std::collections::BTreeMap;

/// Metric key → value, for one metrics file.
pub type Flat = BTreeMap<String, f64>;

/// The numeric leaves of `value`, keyed by their dotted path.
pub fn flatten(value: &serde_json::Value) -> Flat {
    let mut out = Flat::new();
    walk(value, String::new(), &mut out);
    out
}

fn walk(value: &serde_json::Value, prefix: String, out: &mut Flat) {
    match value {
        serde_json::Value::Number(n) => {
            if let Some(v) = n.as_f64() {
                out.insert(prefix, v);
            }
        }
        serde_json::Value::Bool(b) => {
            out.insert(prefix, if *b { 1.0 } else { 0.0 });
        }
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                walk(inner, path, out);
            }
        }
        _ => {}
    }
}

/// Parses a metrics file's bytes; `path` is for the error message.
pub fn parse(path: &str, bytes: &[u8]) -> Result<Flat, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("{path}: not valid JSON metrics: {e}"))?;
    Ok(flatten(&value))
}

/// Formats a metric value the way tables show it: up to 4 decimals, no trailing zeros.
pub fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let text = format!("{v:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_objects_not_arrays() {
        let v = serde_json::json!({"accuracy": 0.9, "per_class": {"a": {"f1": 1}}, "cm": [[1, 2]], "name": "x"});
        let flat = flatten(&v);
        assert_eq!(flat.len(), 2);
        assert_eq!(flat["per_class.a.f1"], 1.0);
        assert_eq!(format_value(0.933333), "0.9333");
        assert_eq!(format_value(30.0), "30");
    }
}
