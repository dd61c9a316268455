//! Run search on an MLflow server: one `runs/search` call per page, with the server's own
//! page token. Filters are parsed here first, so a bad one fails exactly as with the embedded
//! store, and sent in the canonical spelling every MLflow version accepts.

use std::sync::atomic::Ordering;

use serde_json::json;

use super::wire::{has_more, run_from_wire, SearchRunsResp};
use super::RestStore;
use crate::tracking::error::{Result, TrackingError};
use crate::tracking::filter::{Attribute, Clause, Comparator, Filter, Identifier, OrderBy, Value};
use crate::tracking::model::{Run, TAG_PARENT_RUN_ID};
use crate::tracking::query::{RunPage, SearchQuery};
use crate::tracking::store::TrackingStore;

pub(super) fn search_runs(store: &RestStore, query: &SearchQuery) -> Result<RunPage> {
    let parsed = Filter::parse(&query.filter)?;
    let order: Vec<String> = OrderBy::parse_all(&query.order_by)?
        .iter()
        .map(|o| format!("{o:#}"))
        .collect();
    let limit = query.page_size();
    if limit == 0 {
        return Ok(RunPage {
            runs: Vec::new(),
            next_page_token: None,
        });
    }
    let ids: Vec<String> = if query.experiment_ids.is_empty() {
        store
            .list_experiments()?
            .into_iter()
            .map(|e| e.experiment_id)
            .collect()
    } else {
        query.experiment_ids.clone()
    };
    let filter = format!("{parsed:#}");
    let call = |filter: &str| -> Result<SearchRunsResp> {
        let mut body = json!({
            "experiment_ids": ids,
            "filter": filter,
            "run_view_type": "ACTIVE_ONLY",
            "max_results": limit,
            "order_by": order,
        });
        if let Some(t) = &query.page_token {
            body["page_token"] = json!(t);
        }
        store.post("runs/search", &body)
    };
    let server_drops_children =
        query.top_level_only && !store.no_null_filter.load(Ordering::Relaxed);
    let resp = if server_drops_children {
        let no_parent = format!("tags.`{TAG_PARENT_RUN_ID}` IS NULL");
        let with_parent_filter = if filter.is_empty() {
            no_parent
        } else {
            format!("{filter} AND {no_parent}")
        };
        match call(&with_parent_filter) {
            Err(TrackingError::Mlflow { error_code, .. })
                if error_code == "INVALID_PARAMETER_VALUE" =>
            {
                store.no_null_filter.store(true, Ordering::Relaxed);
                call(&filter)?
            }
            other => other?,
        }
    } else {
        call(&filter)?
    };
    let mut runs = resp
        .runs
        .into_iter()
        .map(|r| run_from_wire(r, "runs/search"))
        .collect::<Result<Vec<Run>>>()?;
    if query.top_level_only {
        // Only does anything on servers without IS NULL: the page may then come out short,
        // but paging stays the server's and nothing beyond the page is read.
        runs.retain(|r| !r.is_child());
    }
    Ok(RunPage {
        runs,
        next_page_token: has_more(&resp.next_page_token),
    })
}

/// Exact id first (one `runs/get`), then at most two runs by id prefix and two by name: two
/// are enough to tell "unique" from "ambiguous".
pub(super) fn find_run(store: &RestStore, id: &str) -> Result<Run> {
    if id.is_empty() {
        return Err(TrackingError::RunNotFound {
            run_id: String::new(),
        });
    }
    match store.get_run(id) {
        Ok(run) => return Ok(run),
        Err(e) if e.is_not_found() => {}
        Err(TrackingError::Mlflow { error_code, .. })
            if error_code == "INVALID_PARAMETER_VALUE" => {}
        Err(e) => return Err(e),
    }
    let experiments: Vec<String> = store
        .list_experiments()?
        .into_iter()
        .map(|e| e.experiment_id)
        .collect();
    let mut clauses = Vec::new();
    // Run ids are hex, so a hex prefix carries no LIKE wildcard.
    if id.bytes().all(|b| b.is_ascii_hexdigit()) {
        clauses.push(Clause {
            identifier: Identifier::Attribute(Attribute::RunId),
            comparator: Comparator::Like,
            value: Value::Text(format!("{}%", id.to_ascii_lowercase())),
        });
    }
    clauses.push(Clause {
        identifier: Identifier::Attribute(Attribute::RunName),
        comparator: Comparator::Eq,
        value: Value::Text(id.to_string()),
    });
    let mut found: Vec<Run> = Vec::new();
    for clause in clauses {
        let query = SearchQuery {
            filter: format!(
                "{:#}",
                Filter {
                    clauses: vec![clause]
                }
            ),
            max_results: 2,
            ..SearchQuery::new(&experiments)
        };
        for run in search_runs(store, &query)?.runs {
            if !found.iter().any(|f| f.info.run_id == run.info.run_id) {
                found.push(run);
            }
        }
    }
    match found.len() {
        0 => Err(TrackingError::RunNotFound {
            run_id: id.to_string(),
        }),
        1 => Ok(found.remove(0)),
        n => Err(TrackingError::AmbiguousRun {
            id: id.to_string(),
            matches: n as u64,
        }),
    }
}
