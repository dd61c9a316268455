//! The filter language through each backend's search.

use pipeline_core::tracking::{
    Metric, Param, RunStatus, SearchQuery, Tag, TrackingError, TrackingStore,
};

use super::{experiment, ids, populate, search, search_all};

pub fn search_through_the_filter_language(store: &dyn TrackingStore) {
    let exp = experiment(store, "filters");
    let parent = store.create_run(&exp, "pipeline", None, &[], 1).unwrap();
    let id = store
        .create_run(
            &exp,
            "train",
            Some(&parent.run_id),
            &[Tag::new("stage", "train")],
            2,
        )
        .unwrap()
        .run_id;
    store
        .log_batch(
            &id,
            &[
                Metric::new("accuracy", 0.93, 0, 0),
                Metric::new("nan_metric", f64::NAN, 0, 0),
                Metric::new("loss", 0.0005, 0, 0),
            ],
            &[Param::new("max_depth", "10"), Param::new("p001", "value-1")],
            &[],
        )
        .unwrap();
    store.update_run(&id, RunStatus::Finished, Some(9)).unwrap();

    let hits = search(
        store,
        &exp,
        "metrics.accuracy > 0.9 AND params.max_depth = '10' AND attributes.status = 'FINISHED'",
        &["metrics.accuracy DESC"],
    );
    assert_eq!(ids(&hits), vec![id.clone()]);
    // The run with the metric first, the parent (missing it) last.
    let all = search(store, &exp, "", &["metrics.accuracy DESC"]);
    assert_eq!(ids(&all), [id.clone(), parent.run_id.clone()]);
    // Keys needing quotes on the server, LIKE/ILIKE and IN go through too.
    let one = |filter: &str| ids(&search(store, &exp, filter, &[]));
    assert_eq!(
        one("params.p001 LIKE 'value-%' AND tags.stage ILIKE 'TRA%'"),
        vec![id.clone()]
    );
    assert!(one("params.p001 LIKE 'VALUE-%'").is_empty());
    assert_eq!(
        one(&format!(
            "attributes.run_id IN ('{}', 'nope')",
            parent.run_id
        )),
        vec![parent.run_id.clone()]
    );
    assert_eq!(
        one("metrics.nan_metric != 5 AND metrics.loss <= 0.001"),
        vec![id.clone()]
    );
    assert_eq!(one("params.`max_depth` = '10'"), vec![id.clone()]);
}

pub fn default_order_limits_and_experiments(store: &dyn TrackingStore) {
    let exp = experiment(store, "limits");
    let other = experiment(store, "other");
    let ids_exp = populate(store, &exp, 12);
    populate(store, &other, 3);
    let everything = search(store, &exp, "", &[]);
    assert_eq!(everything.len(), 12);
    // Default order: newest start first, then run id.
    assert!(everything.windows(2).all(|w| {
        (w[0].info.start_time, &w[1].info.run_id) >= (w[1].info.start_time, &w[0].info.run_id)
    }));
    let two = search(
        store,
        &exp,
        &format!("attributes.run_id IN ('{}', '{}')", ids_exp[3], ids_exp[7]),
        &[],
    );
    assert_eq!(two.len(), 2);
    let limited = store
        .search_runs(&SearchQuery {
            max_results: 5,
            ..SearchQuery::new(std::slice::from_ref(&exp))
        })
        .unwrap();
    assert_eq!(limited.runs.len(), 5);
    assert_eq!(ids(&limited.runs), ids(&everything[..5]));
    let both = search_all(
        store,
        &SearchQuery {
            max_results: 1000,
            ..SearchQuery::new(&[exp.clone(), other.clone()])
        },
    );
    assert_eq!(both.len(), 15);
    let none = store
        .search_runs(&SearchQuery {
            max_results: 0,
            ..SearchQuery::new(std::slice::from_ref(&exp))
        })
        .unwrap();
    assert!(none.runs.is_empty());
    assert!(none.next_page_token.is_none());
}

pub fn bad_filters_are_rejected_with_the_parser_error(store: &dyn TrackingStore) {
    let exp = experiment(store, "bad-filters");
    let query = |filter: &str, order: &[&str]| SearchQuery {
        filter: filter.to_string(),
        order_by: order.iter().map(|s| s.to_string()).collect(),
        ..SearchQuery::new(std::slice::from_ref(&exp))
    };
    let err = store
        .search_runs(&query("metrics.accuracy > 1 OR metrics.loss < 1", &[]))
        .unwrap_err();
    assert!(
        matches!(err, TrackingError::InvalidFilter { column: 22, .. }),
        "{err}"
    );
    let err = store
        .search_runs(&query("", &["metrics.accuracy sideways"]))
        .unwrap_err();
    assert!(matches!(err, TrackingError::InvalidOrderBy { .. }), "{err}");
    let err = store
        .count_runs(&query("metrics.accuracy > 1 OR metrics.loss < 1", &[]))
        .unwrap_err();
    assert!(matches!(err, TrackingError::InvalidFilter { .. }), "{err}");
}

pub fn filter_values_are_bound_not_spliced(store: &dyn TrackingStore) {
    let exp = experiment(store, "bound");
    let run = store.create_run(&exp, "r", None, &[], 0).unwrap();
    store.log_param(&run.run_id, "q", "it's").unwrap();
    assert_eq!(search(store, &exp, "params.q = \"it's\"", &[]).len(), 1);
    assert!(search(store, &exp, "params.q = 'x'' OR 1=1 --'", &[]).is_empty());
    // GLOB metacharacters in a LIKE pattern match literally.
    store.log_param(&run.run_id, "g", "a*b[c]?").unwrap();
    assert_eq!(search(store, &exp, "params.g LIKE 'a*b[c]?'", &[]).len(), 1);
    assert!(search(store, &exp, "params.g LIKE 'aXb[c]?'", &[]).is_empty());
}
