//! Deleting and restoring runs and experiments, and renaming experiments, as MLflow does:
//! deleted things leave searches and listings but stay readable and restorable.

use pipeline_core::tracking::{SearchQuery, TrackingStore};

use super::{experiment, search_all, unique};

pub fn runs_are_deleted_and_restored(store: &dyn TrackingStore) {
    let exp = experiment(store, "lifecycle");
    let keep = store.create_run(&exp, "keep", None, &[], 1).unwrap();
    let gone = store.create_run(&exp, "gone", None, &[], 2).unwrap();
    let ids = |store: &dyn TrackingStore| -> Vec<String> {
        let mut ids: Vec<String> = search_all(store, &SearchQuery::new(std::slice::from_ref(&exp)))
            .into_iter()
            .map(|r| r.info.run_id)
            .collect();
        ids.sort();
        ids
    };
    store.delete_run(&gone.run_id).unwrap();
    assert_eq!(ids(store), std::slice::from_ref(&keep.run_id));
    let deleted = store.get_run(&gone.run_id).unwrap();
    assert_eq!(deleted.info.lifecycle_stage, "deleted");
    assert_eq!(
        store.get_run(&keep.run_id).unwrap().info.lifecycle_stage,
        "active"
    );
    store.restore_run(&gone.run_id).unwrap();
    let mut both = vec![keep.run_id.clone(), gone.run_id.clone()];
    both.sort();
    assert_eq!(ids(store), both);
    assert!(store
        .delete_run(&"0".repeat(32))
        .unwrap_err()
        .is_not_found());
}

pub fn experiments_are_renamed_deleted_and_restored(store: &dyn TrackingStore) {
    let name = unique("exp-lifecycle");
    let id = store.get_or_create_experiment(&name).unwrap();
    let renamed = format!("{name}-renamed");
    store.rename_experiment(&id, &renamed).unwrap();
    assert!(store.get_experiment_by_name(&name).unwrap().is_none());
    assert_eq!(
        store
            .get_experiment_by_name(&renamed)
            .unwrap()
            .unwrap()
            .experiment_id,
        id
    );
    let listed = |store: &dyn TrackingStore| {
        store
            .list_experiments()
            .unwrap()
            .iter()
            .any(|e| e.experiment_id == id)
    };
    store.delete_experiment(&id).unwrap();
    assert!(!listed(store));
    assert_eq!(
        store
            .get_experiment_by_name(&renamed)
            .unwrap()
            .unwrap()
            .lifecycle_stage,
        "deleted"
    );
    store.restore_experiment(&id).unwrap();
    assert!(listed(store));
}
