//! Filters and orderings evaluated in memory, with exactly the semantics the embedded store
//! gives them in SQL: the reference the store is tested against.

use std::cmp::Ordering;

use super::super::model::{Run, RunInfo};
use super::ast::{Attribute, Clause, Comparator, Filter, Identifier, OrderBy, Value};

/// The tag MLflow's clients set to the user who started a run; `user_id` reads it.
pub const USER_TAG: &str = "mlflow.user";

/// The artifact URI an MLflow server gives a run whose embedded URI is `runs:/<id>`:
/// filters on `artifact_uri` match either spelling.
pub fn mlflow_artifact_uri(info: &RunInfo) -> Option<String> {
    info.artifact_uri.starts_with("runs:/").then(|| {
        format!(
            "mlflow-artifacts:/{}/{}/artifacts",
            info.experiment_id, info.run_id
        )
    })
}

impl Attribute {
    fn text_of(self, run: &Run) -> Option<&str> {
        let info = &run.info;
        match self {
            Attribute::RunId => Some(&info.run_id),
            Attribute::RunName => Some(&info.run_name),
            Attribute::Status => Some(info.status.as_str()),
            Attribute::ArtifactUri => Some(&info.artifact_uri),
            Attribute::UserId => Some(run.tag(USER_TAG).unwrap_or("")),
            Attribute::StartTime | Attribute::EndTime => None,
        }
    }

    fn number_of(self, info: &RunInfo) -> Option<i64> {
        match self {
            Attribute::StartTime => Some(info.start_time),
            Attribute::EndTime => info.end_time,
            _ => None,
        }
    }
}

impl Comparator {
    fn compare_f64(self, lhs: f64, rhs: f64) -> bool {
        match self {
            Comparator::Eq => lhs == rhs,
            Comparator::Ne => lhs != rhs,
            Comparator::Gt => lhs > rhs,
            Comparator::Ge => lhs >= rhs,
            Comparator::Lt => lhs < rhs,
            Comparator::Le => lhs <= rhs,
            _ => false,
        }
    }
}

impl Filter {
    /// Evaluates the filter against a run's attributes, params, tags and
    /// latest metrics, with the same semantics as the SQL translation.
    pub fn matches(&self, run: &Run) -> bool {
        self.clauses.iter().all(|c| c.matches(run))
    }
}

impl Clause {
    fn matches(&self, run: &Run) -> bool {
        if self.identifier == Identifier::Attribute(Attribute::ArtifactUri) {
            if let Some(alt) = mlflow_artifact_uri(&run.info) {
                let on = |uri: &str| self.matches_text_attribute(uri);
                let negative = matches!(self.comparator, Comparator::Ne | Comparator::NotIn);
                let stored = on(&run.info.artifact_uri);
                return if negative {
                    stored && on(&alt)
                } else {
                    stored || on(&alt)
                };
            }
        }
        match (&self.identifier, &self.value) {
            // Runs here have no dataset inputs, and "any input matches" over none is false.
            (Identifier::Dataset(_), _) => false,
            (Identifier::Param(key), Value::Null) => {
                run.param(key).is_some() == (self.comparator == Comparator::IsNotNull)
            }
            (Identifier::Tag(key), Value::Null) => {
                run.tag(key).is_some() == (self.comparator == Comparator::IsNotNull)
            }
            (Identifier::Metric(key), Value::Number(rhs)) => run
                .metric(key)
                .is_some_and(|m| self.comparator.compare_f64(m.value, *rhs)),
            (Identifier::Param(key), Value::Text(rhs)) => run
                .param(key)
                .is_some_and(|v| compare_text(self.comparator, v, rhs)),
            (Identifier::Tag(key), Value::Text(rhs)) => run
                .tag(key)
                .is_some_and(|v| compare_text(self.comparator, v, rhs)),
            (Identifier::Attribute(a), Value::Number(rhs)) => a
                .number_of(&run.info)
                .is_some_and(|v| self.comparator.compare_f64(v as f64, *rhs)),
            (Identifier::Attribute(a), Value::Text(_) | Value::List(_)) => a
                .text_of(run)
                .is_some_and(|v| self.matches_text_attribute(v)),
            _ => false,
        }
    }

    fn matches_text_attribute(&self, v: &str) -> bool {
        match &self.value {
            Value::Text(rhs) => compare_text(self.comparator, v, rhs),
            Value::List(items) => {
                let found = items.iter().any(|i| i == v);
                if self.comparator == Comparator::In {
                    found
                } else {
                    !found
                }
            }
            _ => false,
        }
    }
}

fn compare_text(comparator: Comparator, lhs: &str, rhs: &str) -> bool {
    match comparator {
        Comparator::Eq => lhs == rhs,
        Comparator::Ne => lhs != rhs,
        Comparator::Like => like_matches(lhs, rhs),
        Comparator::ILike => like_matches(&lhs.to_ascii_lowercase(), &rhs.to_ascii_lowercase()),
        _ => false,
    }
}

/// SQL LIKE matching without escapes: `%` matches any run of characters,
/// `_` exactly one; everything else matches itself, case-sensitively.
pub fn like_matches(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let (mut ti, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || (p[pi] != '%' && p[pi] == t[ti])) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '%')
}

/// Sorts runs in memory exactly as the SQLite store orders them: missing
/// keys last, NaN metrics just before them, then `start_time DESC`, run id.
pub fn sort_runs(runs: &mut [Run], order: &[OrderBy]) {
    runs.sort_by(|a, b| compare_runs(a, b, order));
}

fn compare_runs(a: &Run, b: &Run, order: &[OrderBy]) -> Ordering {
    for o in order {
        let ord = match &o.identifier {
            Identifier::Metric(k) => {
                let rank = |r: &Run| match r.metric(k) {
                    None => (2, 0.0),
                    Some(m) if m.value.is_nan() => (1, 0.0),
                    Some(m) => (0, m.value),
                };
                let (ra, va) = rank(a);
                let (rb, vb) = rank(b);
                ra.cmp(&rb)
                    .then_with(|| directed(va.total_cmp(&vb), o.ascending))
            }
            Identifier::Param(k) => compare_opt_text(a.param(k), b.param(k), o.ascending),
            Identifier::Tag(k) => compare_opt_text(a.tag(k), b.tag(k), o.ascending),
            Identifier::Attribute(attr) if attr.is_numeric() => {
                match (attr.number_of(&a.info), attr.number_of(&b.info)) {
                    (Some(x), Some(y)) => directed(x.cmp(&y), o.ascending),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                }
            }
            Identifier::Attribute(attr) => {
                compare_opt_text(attr.text_of(a), attr.text_of(b), o.ascending)
            }
            Identifier::Dataset(_) => Ordering::Equal,
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    b.info
        .start_time
        .cmp(&a.info.start_time)
        .then_with(|| a.info.run_id.cmp(&b.info.run_id))
}

fn compare_opt_text(a: Option<&str>, b: Option<&str>, ascending: bool) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => directed(x.cmp(y), ascending),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn directed(ord: Ordering, ascending: bool) -> Ordering {
    if ascending {
        ord
    } else {
        ord.reverse()
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::model::{Metric, Param, RunStatus, Tag};
    use super::*;

    fn run(id: &str, start: i64) -> Run {
        Run {
            info: RunInfo {
                run_id: id.into(),
                run_name: format!("name-{id}"),
                experiment_id: "0".into(),
                status: RunStatus::Running,
                start_time: start,
                end_time: None,
                artifact_uri: format!("runs:/{id}"),
                lifecycle_stage: "active".into(),
            },
            params: vec![],
            metrics: vec![],
            tags: vec![],
        }
    }

    #[test]
    fn like_semantics() {
        assert!(like_matches("abc", "a%"));
        assert!(like_matches("abc", "%c"));
        assert!(like_matches("abc", "a_c"));
        assert!(!like_matches("abc", "a_"));
        assert!(like_matches("abc", "%"));
        assert!(like_matches("", "%"));
        assert!(!like_matches("abc", "ABC"));
        assert!(like_matches("a%c", "a%c"));
        assert!(like_matches("mississippi", "%iss%ppi"));
        assert!(!like_matches("mississippi", "%iss%ppx"));
        assert!(like_matches("a*[?]", "a*[?]"));
        assert!(like_matches("ünï", "_n_"));

        let mut r = run("r1", 1);
        r.params.push(Param::new("model", "RandomForest"));
        let m = |f: &str| Filter::parse(f).unwrap().matches(&r);
        assert!(m("params.model LIKE 'Random%'"));
        assert!(!m("params.model LIKE 'random%'"));
        assert!(m("params.model ILIKE 'random%'"));
        assert!(m("params.model ILIKE '%FOREST'"));
        assert!(!m("params.model LIKE '%forest'"));
        assert!(m("params.model LIKE 'Random_orest'"));
    }

    #[test]
    fn matcher_semantics() {
        let mut r = run("abc", 10);
        r.metrics.push(Metric::new("acc", 0.95, 1, 0));
        r.metrics.push(Metric::new("nan", f64::NAN, 1, 0));
        r.params.push(Param::new("depth", "10"));
        r.tags.push(Tag::new("team", "ml"));
        let m = |f: &str| Filter::parse(f).unwrap().matches(&r);
        assert!(m("metrics.acc > 0.9"));
        assert!(!m("metrics.acc > 0.95"));
        assert!(m("metrics.acc >= 0.95 AND params.depth = '10'"));
        assert!(!m("metrics.missing > 0"));
        assert!(!m("metrics.missing != 0"));
        assert!(!m("params.missing != 'x'"));
        assert!(m("metrics.nan != 1"));
        assert!(!m("metrics.nan = 0"));
        assert!(!m("metrics.nan > -1"));
        assert!(m("tags.team = 'ml'"));
        assert!(m("attributes.run_id IN ('x', 'abc')"));
        assert!(!m("attributes.run_id NOT IN ('x', 'abc')"));
        assert!(m("attributes.status = 'RUNNING'"));
        assert!(m("attributes.start_time = 10"));
        assert!(!m("attributes.end_time > 0"));
        assert!(m("run_name = 'name-abc'"));
    }

    #[test]
    fn sorting_puts_missing_last() {
        let mut a = run("a", 1);
        a.metrics.push(Metric::new("acc", 0.5, 0, 0));
        let mut b = run("b", 2);
        b.metrics.push(Metric::new("acc", 0.9, 0, 0));
        let c = run("c", 3);
        let mut d = run("d", 4);
        d.metrics.push(Metric::new("acc", f64::NAN, 0, 0));
        let ids = |runs: &[Run]| {
            runs.iter()
                .map(|r| r.info.run_id.clone())
                .collect::<Vec<_>>()
        };

        let mut runs = vec![a.clone(), b.clone(), c.clone(), d.clone()];
        sort_runs(&mut runs, &[OrderBy::parse("metrics.acc DESC").unwrap()]);
        assert_eq!(ids(&runs), ["b", "a", "d", "c"]);
        sort_runs(&mut runs, &[OrderBy::parse("metrics.acc ASC").unwrap()]);
        assert_eq!(ids(&runs), ["a", "b", "d", "c"]);
        sort_runs(&mut runs, &[]);
        assert_eq!(ids(&runs), ["d", "c", "b", "a"]);
    }
}
