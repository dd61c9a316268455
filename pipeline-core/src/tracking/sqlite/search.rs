//! Run search in the embedded store: the filter, order and page all become one SQL statement,
//! so a page costs the same whether the store holds a hundred runs or a hundred thousand.
//!
//! Page tokens are offsets into the ordered result. Keyset paging would survive concurrent
//! inserts better, but orderings on arbitrary metrics, params and tags (with missing keys and
//! NaN ranked separately) make the key tuple unwieldy; an offset keeps every ordering exact,
//! and lets the UI's pager jump straight to page N.

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection};

use super::filter_sql::{filter_sql, order_by_sql};
use super::runs::{load_runs, parse_experiment_id};
use super::{db_err, run_pk, SqliteStore};
use crate::tracking::error::{Result, TrackingError};
use crate::tracking::filter::{Filter, OrderBy};
use crate::tracking::model::{Run, TAG_PARENT_RUN_ID};
use crate::tracking::query::{RunPage, SearchQuery};

/// The token of the page starting `offset` runs in.
pub(super) fn offset_token(offset: usize) -> String {
    offset.to_string()
}

fn token_offset(token: Option<&str>) -> Result<usize> {
    match token {
        None | Some("") => Ok(0),
        Some(t) => t.parse().map_err(|_| {
            TrackingError::InvalidArgument(format!("page token '{t}' did not come from this store"))
        }),
    }
}

/// The WHERE clause of a query (runs aliased `r`) and its bound values, in order.
fn where_sql(query: &SearchQuery) -> Result<(String, Vec<SqlValue>)> {
    let parsed = Filter::parse(&query.filter)?;
    let mut bound = Vec::new();
    let mut clauses = vec!["r.lifecycle_stage = 'active'".to_string()];
    if !query.experiment_ids.is_empty() {
        let ids: Vec<i64> = query
            .experiment_ids
            .iter()
            .filter_map(|id| parse_experiment_id(id))
            .collect();
        let json = serde_json::to_string(&ids)
            .map_err(|e| TrackingError::InvalidArgument(e.to_string()))?;
        bound.push(SqlValue::Text(json));
        clauses.push("r.experiment_id IN (SELECT value FROM json_each(?))".into());
    }
    let (filter, filter_params) = filter_sql(&parsed);
    clauses.push(format!("({filter})"));
    bound.extend(filter_params);
    if query.top_level_only {
        bound.push(SqlValue::Text(TAG_PARENT_RUN_ID.into()));
        clauses
            .push("NOT EXISTS (SELECT 1 FROM tags p WHERE p.run_pk = r.id AND p.key = ?)".into());
    }
    Ok((clauses.join(" AND "), bound))
}

pub(super) fn search_runs(store: &SqliteStore, query: &SearchQuery) -> Result<RunPage> {
    let order = OrderBy::parse_all(&query.order_by)?;
    let (where_clause, where_params) = where_sql(query)?;
    let offset = token_offset(query.page_token.as_deref())?;
    let limit = query.page_size();
    if limit == 0 {
        return Ok(RunPage {
            runs: Vec::new(),
            next_page_token: None,
        });
    }
    let (joins, mut bound, order_sql) = order_by_sql(&order);
    bound.extend(where_params);
    // One row beyond the page says whether another page follows.
    bound.push(SqlValue::Integer(to_i64(limit + 1)));
    bound.push(SqlValue::Integer(to_i64(offset)));
    let sql = format!(
        "SELECT r.id FROM runs r{joins} WHERE {where_clause} ORDER BY {order_sql} LIMIT ? OFFSET ?"
    );
    let conn = store.lock();
    let mut pks: Vec<i64> = conn
        .prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_map(params_from_iter(bound.iter()), |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<i64>>>()
        })
        .map_err(|e| db_err(format!("searching runs with filter '{}'", query.filter), e))?;
    let next_page_token = (pks.len() > limit).then(|| offset_token(offset + limit));
    pks.truncate(limit);
    Ok(RunPage {
        runs: load_runs(&conn, &pks)?,
        next_page_token,
    })
}

pub(super) fn count_runs(store: &SqliteStore, query: &SearchQuery) -> Result<u64> {
    let (where_clause, bound) = where_sql(query)?;
    let sql = format!("SELECT COUNT(*) FROM runs r WHERE {where_clause}");
    let n: i64 = store
        .lock()
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params_from_iter(bound.iter()), |r| r.get(0)))
        .map_err(|e| db_err(format!("counting runs with filter '{}'", query.filter), e))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(super) fn find_run(store: &SqliteStore, id: &str) -> Result<Run> {
    let not_found = || TrackingError::RunNotFound {
        run_id: id.to_string(),
    };
    if id.is_empty() {
        return Err(not_found());
    }
    let conn = store.lock();
    if let Ok(pk) = run_pk(&conn, id) {
        return single(&conn, pk, id);
    }
    // GLOB is case-sensitive and, as a prefix pattern, served by the run_id index.
    let pattern = format!("{}*", glob_escape(id));
    let ctx = || format!("looking up run '{id}' by id prefix or name");
    let condition = "lifecycle_stage = 'active' AND (run_id GLOB ?1 OR run_name = ?2)";
    let pks: Vec<i64> = conn
        .prepare_cached(&format!("SELECT id FROM runs WHERE {condition} LIMIT 2"))
        .and_then(|mut s| {
            s.query_map(params![pattern, id], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<i64>>>()
        })
        .map_err(|e| db_err(ctx(), e))?;
    match pks.as_slice() {
        [] => Err(not_found()),
        [pk] => single(&conn, *pk, id),
        _ => {
            let matches: i64 = conn
                .prepare_cached(&format!("SELECT COUNT(*) FROM runs WHERE {condition}"))
                .and_then(|mut s| s.query_row(params![pattern, id], |r| r.get(0)))
                .map_err(|e| db_err(ctx(), e))?;
            Err(TrackingError::AmbiguousRun {
                id: id.to_string(),
                matches: u64::try_from(matches).unwrap_or(0),
            })
        }
    }
}

fn single(conn: &Connection, pk: i64, id: &str) -> Result<Run> {
    load_runs(conn, &[pk])?
        .pop()
        .ok_or_else(|| TrackingError::RunNotFound {
            run_id: id.to_string(),
        })
}

/// Makes GLOB's metacharacters match literally.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_plan_uses_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db"), &dir.path().join("o")).unwrap();
        let query = SearchQuery {
            filter: "metrics.acc > 0.9 AND params.depth = '10'".into(),
            top_level_only: true,
            ..SearchQuery::new(&["0".to_string()])
        };
        let (joins, mut bound, order) =
            order_by_sql(&[OrderBy::parse("metrics.acc DESC").unwrap()]);
        let (w, p) = where_sql(&query).unwrap();
        bound.extend(p);
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT r.id FROM runs r{joins} WHERE {w} ORDER BY {order} LIMIT 10"
        );
        let conn = store.lock();
        let mut stmt = conn.prepare(&sql).unwrap();
        let plan: Vec<String> = stmt
            .query_map(params_from_iter(bound.iter()), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let text = plan.join("\n");
        assert!(
            text.contains("PRIMARY KEY") || text.contains("INDEX"),
            "{text}"
        );
    }

    #[test]
    fn prefix_lookup_is_served_by_the_run_id_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db"), &dir.path().join("o")).unwrap();
        let conn = store.lock();
        let plan: Vec<String> = conn
            .prepare("EXPLAIN QUERY PLAN SELECT id FROM runs WHERE run_id GLOB ?1")
            .unwrap()
            .query_map(["ab*"], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(plan.join("\n").contains("INDEX"), "{plan:?}");
    }

    #[test]
    fn glob_metacharacters_are_literal() {
        assert_eq!(glob_escape("a*b?c[d"), "a[*]b[?]c[[]d");
    }

    #[test]
    fn foreign_page_tokens_are_refused() {
        assert_eq!(token_offset(None).unwrap(), 0);
        assert_eq!(token_offset(Some("200")).unwrap(), 200);
        assert!(matches!(
            token_offset(Some("CAESAQ==")),
            Err(TrackingError::InvalidArgument(_))
        ));
    }
}
