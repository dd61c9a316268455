//! Paged search, top-level runs, counting and finding a run by id prefix: what lets every
//! caller ask for one page instead of every run.

use pipeline_core::tracking::{SearchQuery, TrackingError, TrackingStore};

use super::{experiment, ids, populate, search};

pub fn pages_chain_without_gaps_or_repeats(store: &dyn TrackingStore) {
    let exp = experiment(store, "pages");
    populate(store, &exp, 23);
    let order = vec!["metrics.loss ASC".to_string()];
    let everything = ids(&search(store, &exp, "", &["metrics.loss ASC"]));
    assert_eq!(everything.len(), 23);
    let mut query = SearchQuery {
        order_by: order,
        max_results: 10,
        ..SearchQuery::new(std::slice::from_ref(&exp))
    };
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.search_runs(&query).unwrap();
        assert!(page.runs.len() <= 10);
        pages += 1;
        seen.extend(ids(&page.runs));
        query.page_token = page.next_page_token;
        if query.page_token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, everything);
    // A count, where the backend has one, agrees with the pages.
    if let Some(n) = store
        .count_runs(&SearchQuery::new(std::slice::from_ref(&exp)))
        .unwrap()
    {
        assert_eq!(n, 23);
        let filtered = SearchQuery {
            filter: "params.model = 'RandomForest'".into(),
            ..SearchQuery::new(std::slice::from_ref(&exp))
        };
        assert_eq!(store.count_runs(&filtered).unwrap(), Some(12));
    }
    // Where a backend can seek, page N starts exactly N pages in.
    if let Some(token) = store.page_token_at(20) {
        let page = store
            .search_runs(&SearchQuery {
                order_by: vec!["metrics.loss ASC".into()],
                max_results: 10,
                page_token: Some(token),
                ..SearchQuery::new(std::slice::from_ref(&exp))
            })
            .unwrap();
        assert_eq!(ids(&page.runs), everything[20..]);
        assert!(page.next_page_token.is_none());
    }
}

pub fn top_level_only_leaves_out_child_runs(store: &dyn TrackingStore) {
    let exp = experiment(store, "top-level");
    let mut parents = Vec::new();
    for i in 0..3 {
        let parent = store
            .create_run(&exp, &format!("pipeline-{i}"), None, &[], 100 + i)
            .unwrap();
        for stage in ["prepare", "train"] {
            store
                .create_run(&exp, stage, Some(&parent.run_id), &[], 200 + i)
                .unwrap();
        }
        parents.push(parent.run_id);
    }
    parents.reverse();
    let query = SearchQuery {
        top_level_only: true,
        order_by: vec!["attributes.start_time DESC".into()],
        ..SearchQuery::new(std::slice::from_ref(&exp))
    };
    assert_eq!(ids(&store.search_runs(&query).unwrap().runs), parents);
    if let Some(n) = store.count_runs(&query).unwrap() {
        assert_eq!(n, 3);
        assert_eq!(
            store
                .count_runs(&SearchQuery::new(std::slice::from_ref(&exp)))
                .unwrap(),
            Some(9)
        );
    }
    let filtered = SearchQuery {
        filter: "attributes.run_name = 'pipeline-1'".into(),
        ..query
    };
    assert_eq!(
        ids(&store.search_runs(&filtered).unwrap().runs),
        vec![parents[1].clone()]
    );
}

pub fn runs_are_found_by_id_prefix_or_name(store: &dyn TrackingStore) {
    let exp = experiment(store, "prefix");
    let a = store
        .create_run(&exp, "first", None, &[], 0)
        .unwrap()
        .run_id;
    let b = store
        .create_run(&exp, "second", None, &[], 0)
        .unwrap()
        .run_id;
    assert_eq!(store.find_run(&a).unwrap().info.run_id, a);
    // Twelve hex characters tell runs apart even on a busy server.
    assert_eq!(store.find_run(&a[..12]).unwrap().info.run_id, a);
    assert_eq!(store.find_run(&b[..12]).unwrap().info.run_id, b);
    let name = super::unique("by-name");
    let named = store.create_run(&exp, &name, None, &[], 0).unwrap().run_id;
    assert_eq!(store.find_run(&name).unwrap().info.run_id, named);
    store.create_run(&exp, &name, None, &[], 0).unwrap();
    let err = store.find_run(&name).unwrap_err();
    assert!(
        matches!(err, TrackingError::AmbiguousRun { matches: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("give more"), "{err}");
    assert!(store.find_run("zz-no-such-run").unwrap_err().is_not_found());
    assert!(store.find_run("").unwrap_err().is_not_found());
}
