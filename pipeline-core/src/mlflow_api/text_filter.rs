//! The small filters MLflow's client sends for experiments, registered models, versions and
//! logged models: `key <op> 'value'` comparisons (`=`, `!=`, `LIKE`, `ILIKE`) joined by `AND`.
//! Runs have the full grammar (`crate::tracking::filter`); these lists are short and filtered
//! here, and any other key is refused by name rather than ignored.

use super::error::ApiError;

/// One comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Clause {
    /// The key, without an `attributes.` prefix or backticks.
    pub key: String,
    /// `=`, `!=`, `LIKE` or `ILIKE`.
    pub op: String,
    /// The unquoted value.
    pub value: String,
}

impl Clause {
    /// Whether `actual` satisfies the comparison.
    pub fn holds(&self, actual: &str) -> bool {
        match self.op.as_str() {
            "=" => actual == self.value,
            "!=" => actual != self.value,
            "LIKE" => like(actual, &self.value, false),
            _ => like(actual, &self.value, true),
        }
    }
}

/// Parses `filter`, accepting only `keys`.
pub(crate) fn parse(filter: &str, keys: &[&str]) -> Result<Vec<Clause>, ApiError> {
    let mut clauses = Vec::new();
    for clause in split_and(filter) {
        let clause = clause.trim();
        let key_end = clause
            .find(|c: char| c.is_whitespace() || matches!(c, '=' | '!' | '<' | '>'))
            .unwrap_or(clause.len());
        let raw_key = clause[..key_end].replace('`', "");
        let key = raw_key
            .strip_prefix("attributes.")
            .or_else(|| raw_key.strip_prefix("attribute."))
            .unwrap_or(&raw_key)
            .to_string();
        if !keys.contains(&key.as_str()) {
            return Err(ApiError::invalid(format!(
                "invalid filter '{clause}': the keys supported here are {}",
                keys.join(", ")
            )));
        }
        let rest = clause[key_end..].trim_start();
        let op = ["!=", "=", "ILIKE", "LIKE"]
            .iter()
            .find(|op| rest.to_ascii_uppercase().starts_with(*op))
            .ok_or_else(|| ApiError::invalid(format!("invalid comparator in '{clause}'")))?;
        let value = rest[op.len()..].trim();
        let unquoted = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .or_else(|| value.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
            .ok_or_else(|| ApiError::invalid(format!("expected a quoted value in '{clause}'")))?;
        clauses.push(Clause {
            key,
            op: op.to_string(),
            value: unquoted.to_string(),
        });
    }
    Ok(clauses)
}

/// `a AND b and c` as its parts, leaving `and` inside quotes alone.
fn split_and(filter: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    for word in filter.split(' ') {
        if quote.is_none() && word.eq_ignore_ascii_case("and") {
            parts.push(std::mem::take(&mut current));
            continue;
        }
        for c in word.chars() {
            match quote {
                None if c == '\'' || c == '"' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ => {}
            }
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    parts.push(current);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// SQL `LIKE`: `%` any run of characters, `_` exactly one.
fn like(text: &str, pattern: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (t, p) = (fold(text), fold(pattern));
    let (mut ti, mut pi, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || p[pi] == t[ti]) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '%')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        assert!(like("iris-train", "iris%", false));
        assert!(like("iris", "i_is", false));
        assert!(!like("Iris", "iris", false));
        assert!(like("Iris", "iris", true));
        assert!(!like("abc", "a_", false));
    }

    #[test]
    fn comparisons_joined_by_and() {
        let c = parse(
            "name LIKE 'iris%' AND run_id != 'x and y'",
            &["name", "run_id"],
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        assert!(c[0].holds("iris-new"));
        assert_eq!(c[1].value, "x and y");
        let c = parse("attributes.`name` = 'a'", &["name"]).unwrap();
        assert_eq!(c[0].key, "name");
        assert!(parse("tags.x = '1'", &["name"]).is_err());
        assert!(parse("name > 'a'", &["name"]).is_err());
        assert!(parse("name = a", &["name"]).is_err());
        assert!(parse("", &["name"]).unwrap().is_empty());
    }
}
