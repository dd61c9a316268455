//! Filter and `order_by` parity with MLflow: the tables in `filter_parity/cases.rs` checked
//! against the parser, the embedded store and (with `MLFLOW_TEST_URI`) a real MLflow server.

#[path = "filter_parity/cases.rs"]
mod cases;

use std::collections::BTreeSet;

use cases::{FILTER_CASES, ORDER_CASES, RESULT_CASES};
use pipeline_core::tracking::filter::{Comparator, Identifier, Value};
use pipeline_core::tracking::model::now_ms;
use pipeline_core::tracking::{
    Filter, Metric, OrderBy, Param, RestStore, RunStatus, SearchQuery, SqliteStore, Tag,
    TrackingStore,
};

/// What MLflow's parser says a clause is: `(type, key, comparator, value)`.
type Parsed = (String, String, String, Option<String>);

/// MLflow's aliases, resolved as its stores resolve them.
fn mlflow_key(kind: &str, key: &str) -> String {
    match (kind, key) {
        ("attribute", "created" | "Created") => "start_time".into(),
        ("attribute", "run name" | "Run name" | "Run Name") => "run_name".into(),
        _ => key.into(),
    }
}

fn identifier_parts(id: &Identifier) -> (String, String) {
    match id {
        Identifier::Metric(k) => ("metric".into(), k.clone()),
        Identifier::Param(k) => ("parameter".into(), k.clone()),
        Identifier::Tag(k) => ("tag".into(), k.clone()),
        Identifier::Attribute(a) => ("attribute".into(), a.name().into()),
        Identifier::Dataset(d) => ("dataset".into(), d.name().into()),
    }
}

/// Our parse of a filter in MLflow's terms, or `None` when we reject it.
fn ours(filter: &str) -> Option<Vec<Parsed>> {
    let parsed = Filter::parse(filter).ok()?;
    Some(
        parsed
            .clauses
            .iter()
            .map(|c| {
                let (kind, key) = identifier_parts(&c.identifier);
                let value = match &c.value {
                    Value::Number(n) => Some(format!("{n}")),
                    Value::Text(s) => Some(s.clone()),
                    Value::List(items) => Some(items.join("\u{1f}")),
                    Value::Null => None,
                };
                let comparator: Comparator = c.comparator;
                (kind, key, comparator.as_str().to_string(), value)
            })
            .collect(),
    )
}

/// MLflow's parse in the same terms (numbers compared as numbers).
fn theirs(clauses: &[(&str, &str, &str, Option<&str>)]) -> Vec<Parsed> {
    clauses
        .iter()
        .map(|(kind, key, comparator, value)| {
            let numeric = *kind == "metric"
                || (*kind == "attribute"
                    && matches!(mlflow_key(kind, key).as_str(), "start_time" | "end_time"));
            let value = value.map(|v| {
                if numeric {
                    format!("{}", v.parse::<f64>().expect("MLflow's number parses"))
                } else {
                    v.to_string()
                }
            });
            (
                kind.to_string(),
                mlflow_key(kind, key),
                comparator.to_ascii_uppercase(),
                value,
            )
        })
        .collect()
}

#[test]
fn filter_verdicts_and_clauses_match_mlflow() {
    let mut differ = Vec::new();
    for (source, filter, verdict) in FILTER_CASES {
        let expected = verdict.map(theirs);
        let got = ours(filter);
        if got != expected {
            differ.push(format!(
                "[{source}] {filter:?}\n    MLflow: {expected:?}\n    here:   {got:?}{}",
                match Filter::parse(filter) {
                    Err(e) => format!("\n    ({e})"),
                    Ok(_) => String::new(),
                }
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} filter cases differ from MLflow:\n{}",
        differ.len(),
        FILTER_CASES.len(),
        differ.join("\n")
    );
}

#[test]
fn order_by_verdicts_match_mlflow() {
    let mut differ = Vec::new();
    for (source, clause, verdict) in ORDER_CASES {
        let expected =
            verdict.map(|(kind, key, asc)| (kind.to_string(), mlflow_key(kind, key), asc));
        let got = OrderBy::parse(clause).ok().map(|o| {
            let (kind, key) = identifier_parts(&o.identifier);
            (kind, key, o.ascending)
        });
        if got != expected {
            differ.push(format!(
                "[{source}] {clause:?}: MLflow {expected:?}, here {got:?}"
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} order_by cases differ from MLflow:\n{}",
        differ.len(),
        ORDER_CASES.len(),
        differ.join("\n")
    );
}

#[test]
fn rejected_filters_point_at_the_offending_column() {
    for (filter, column, needle) in [
        ("params.acc = `LR`", 14, "backticks quote keys"),
        ("metrics.a <> 1", 11, "comparator <> is not supported"),
        ("params.x == '10'", 10, "comparator == is not supported"),
        ("metrics.accuracy > +0.5", 20, "unexpected character '+'"),
        (
            "metrics.acc IS NULL",
            13,
            "only supported for tags and params",
        ),
        ("attributes.status IN ('a')", 22, "only attributes.run_id"),
        ("attributes.run_id IN ()", 22, "non-empty list"),
        ("Metrics.a > 1", 1, "unknown identifier type 'Metrics'"),
        ("metrics.a > 1 OR metrics.b > 2", 15, "only AND"),
    ] {
        let err = Filter::parse(filter).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("invalid filter at column {column}: "))
                && text.contains(needle),
            "{filter}: {text}"
        );
    }
}

/// The three runs of `RESULT_CASES`, created in a fresh experiment; returns their ids in order.
fn populate(store: &dyn TrackingStore, exp: &str) -> Vec<String> {
    type Fixture = (&'static str, RunStatus, Vec<Metric>, Vec<Param>, Vec<Tag>);
    let runs: [Fixture; 3] = [
        (
            "r0",
            RunStatus::Failed,
            vec![Metric::new("key1", 121.0, 1, 0)],
            vec![Param::new("my_param", "A")],
            vec![Tag::new("env", "prod")],
        ),
        (
            "r1",
            RunStatus::Finished,
            vec![Metric::new("key1", 123.0, 1, 0)],
            vec![Param::new("my_param", "A"), Param::new("lr", "0.01")],
            vec![Tag::new("tag1", "C")],
        ),
        (
            "Run two",
            RunStatus::Failed,
            vec![Metric::new("key1", 125.0, 1, 0)],
            vec![Param::new("my_param", "B")],
            vec![Tag::new("tag1", "D")],
        ),
    ];
    let mut ids = Vec::new();
    for (i, (name, status, metrics, params, tags)) in runs.into_iter().enumerate() {
        let run = store
            .create_run(exp, name, None, &[], 1000 + i as i64)
            .unwrap();
        store
            .log_batch(&run.run_id, &metrics, &params, &tags)
            .unwrap();
        store
            .update_run(&run.run_id, status, Some(2000 + i as i64))
            .unwrap();
        ids.push(run.run_id);
    }
    ids
}

fn matching(store: &dyn TrackingStore, exp: &str, filter: &str) -> Vec<String> {
    let page = store
        .search_runs(&SearchQuery {
            filter: filter.to_string(),
            max_results: 100,
            ..SearchQuery::new(&[exp.to_string()])
        })
        .unwrap_or_else(|e| panic!("{filter}: {e}"));
    assert!(page.next_page_token.is_none());
    page.runs.into_iter().map(|r| r.info.run_id).collect()
}

fn check_results(store: &dyn TrackingStore) {
    let exp = store
        .get_or_create_experiment(&format!(
            "filter-parity-{}-{}",
            now_ms(),
            std::process::id()
        ))
        .unwrap();
    let ids = populate(store, &exp);
    let mut differ = Vec::new();
    for (filter, expected) in RESULT_CASES {
        let expected: BTreeSet<String> = expected.iter().map(|&i| ids[i].clone()).collect();
        let got: BTreeSet<String> = matching(store, &exp, filter).into_iter().collect();
        if got != expected {
            differ.push(format!("{filter:?}: MLflow {expected:?}, here {got:?}"));
        }
    }
    // Run ids differ per store, so the cases naming them are built here.
    for (filter, expected) in [
        (
            format!("attributes.run_id IN ('{}', '{}',)", ids[0], ids[2]),
            vec![0, 2],
        ),
        (format!("run_id = '{}'", ids[1]), vec![1]),
        (
            format!("attributes.run_id NOT IN (\"{}\")", ids[1]),
            vec![0, 2],
        ),
        ("attribute.user_id = 'user-id2'".to_string(), vec![]),
    ] {
        let expected: BTreeSet<String> = expected.iter().map(|&i| ids[i].clone()).collect();
        let got: BTreeSet<String> = matching(store, &exp, &filter).into_iter().collect();
        if got != expected {
            differ.push(format!("{filter:?}: MLflow {expected:?}, here {got:?}"));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} result cases differ from MLflow:\n{}",
        differ.len(),
        RESULT_CASES.len() + 4,
        differ.join("\n")
    );
}

#[test]
fn embedded_store_matches_mlflow_results() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(
        &dir.path().join("db/tracking.db"),
        &dir.path().join("objects"),
    )
    .unwrap();
    check_results(&store);
}

fn server_uri() -> String {
    std::env::var("MLFLOW_TEST_URI")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("MLFLOW_TEST_URI must name an MLflow server (scripts/mlflow-server.sh start)")
}

#[test]
#[ignore = "needs MLFLOW_TEST_URI"]
fn mlflow_server_matches_the_results() {
    let store = RestStore::new(&server_uri()).unwrap();
    check_results(&store);
}

/// The server's own verdict on a raw search body: accepted, or rejected as invalid.
fn server_accepts(uri: &str, body: serde_json::Value) -> bool {
    match ureq::post(&format!(
        "{}/api/2.0/mlflow/runs/search",
        uri.trim_end_matches('/')
    ))
    .header("Content-Type", "application/json")
    .send(body.to_string())
    {
        Ok(_) => true,
        Err(ureq::Error::StatusCode(400)) => false,
        Err(e) => panic!("{body}: {e}"),
    }
}

#[test]
#[ignore = "needs MLFLOW_TEST_URI"]
fn mlflow_server_verdicts_are_the_tables() {
    let uri = server_uri();
    let mut differ = Vec::new();
    for (_, filter, verdict) in FILTER_CASES {
        let body = serde_json::json!({"experiment_ids": ["0"], "filter": filter, "max_results": 1});
        if server_accepts(&uri, body) != verdict.is_some() {
            differ.push(format!("filter {filter:?}"));
        }
    }
    for (_, clause, verdict) in ORDER_CASES {
        let body =
            serde_json::json!({"experiment_ids": ["0"], "order_by": [clause], "max_results": 1});
        if server_accepts(&uri, body) != verdict.is_some() {
            differ.push(format!("order_by {clause:?}"));
        }
    }
    assert!(
        differ.is_empty(),
        "the server disagrees with the tables on:\n{}",
        differ.join("\n")
    );
}
