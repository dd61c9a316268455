//! The model registry: models, numbered versions, aliases, `models:/` URIs.

use pipeline_core::tracking::{RunInfo, TrackingError, TrackingStore};

use super::{experiment, unique};

/// A run that has a `model/` artifact: a server checks that a version's source is something
/// the run has.
fn run_with_model(store: &dyn TrackingStore, case: &str) -> RunInfo {
    let exp = experiment(store, case);
    let run = store.create_run(&exp, "r", None, &[], 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("model.json");
    std::fs::write(&file, b"{}").unwrap();
    store
        .log_artifact(&run.run_id, &file, "model/model.json")
        .unwrap();
    run
}

pub fn model_registry(store: &dyn TrackingStore) {
    let run = run_with_model(store, "registry");
    let name = unique("iris");
    let rm = store.create_registered_model(&name).unwrap();
    assert_eq!(rm.name, name);
    assert!(rm.latest_versions.is_empty());
    assert!(store.create_registered_model(&name).is_err());
    assert!(matches!(
        store.latest_model_version(&name),
        Err(TrackingError::NoModelVersions { .. })
    ));
    let source = format!("runs:/{}/model", run.run_id);
    let v1 = store
        .create_model_version(&name, &source, Some(&run.run_id))
        .unwrap();
    let v2 = store
        .create_model_version(&name, &source, Some(&run.run_id))
        .unwrap();
    assert_eq!((v1.version, v2.version), (1, 2));
    assert_eq!(v1.run_id.as_deref(), Some(run.run_id.as_str()));
    assert_eq!(store.get_model_version(&name, 1).unwrap().source, v1.source);
    assert_eq!(store.latest_model_version(&name).unwrap().version, 2);
    assert!(store
        .get_model_version(&name, 3)
        .unwrap_err()
        .is_not_found());
    assert!(store
        .create_model_version(&unique("nope"), &source, Some(&run.run_id))
        .unwrap_err()
        .is_not_found());

    store.set_model_alias(&name, "champion", 1).unwrap();
    let by_alias = |alias: &str| store.get_model_version_by_alias(&name, alias);
    assert_eq!(by_alias("champion").unwrap().version, 1);
    store.set_model_alias(&name, "champion", 2).unwrap();
    assert_eq!(by_alias("champion").unwrap().version, 2);
    store.set_model_alias(&name, "challenger", 1).unwrap();
    assert!(by_alias("gone").is_err());
    assert!(store.set_model_alias(&name, "latest", 1).is_err());
    assert!(store.set_model_alias(&name, "v1", 1).is_err());
    assert!(store.set_model_alias(&name, "x", 7).is_err());

    let rm = store.get_registered_model(&name).unwrap();
    assert_eq!(rm.latest_versions.len(), 1);
    assert_eq!(rm.latest_versions[0].version, 2);
    assert_eq!(
        rm.aliases,
        vec![("challenger".to_string(), 1), ("champion".to_string(), 2)]
    );
    let other = format!("aardvark-{name}");
    store.create_registered_model(&other).unwrap();
    let names: Vec<_> = store
        .list_registered_models()
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .filter(|n| n == &name || n == &other)
        .collect();
    assert_eq!(names, [other.clone(), name.clone()]);
    let versions: Vec<u64> = store
        .model_versions(&rm.name)
        .unwrap()
        .into_iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, [1, 2]);

    let resolve = |uri: String| store.resolve_model_uri(&uri).unwrap().version;
    assert_eq!(resolve(format!("models:/{name}/1")), 1);
    assert_eq!(resolve(format!("models:/{name}/latest")), 2);
    assert_eq!(resolve(format!("models:/{name}@challenger")), 1);
    assert!(matches!(
        store.resolve_model_uri(&format!("models:/{name}/Production")),
        Err(TrackingError::InvalidUri { .. })
    ));
}

pub fn deleted_versions_leave_gaps_and_numbers_are_not_reused(store: &dyn TrackingStore) {
    let run = run_with_model(store, "registry-gaps");
    let name = unique("gaps");
    store.create_registered_model(&name).unwrap();
    let source = format!("runs:/{}/model", run.run_id);
    for _ in 0..3 {
        store
            .create_model_version(&name, &source, Some(&run.run_id))
            .unwrap();
    }
    store.set_model_alias(&name, "champion", 2).unwrap();
    store.set_model_alias(&name, "stable", 1).unwrap();
    store.delete_model_version(&name, 2).unwrap();
    let numbers = |store: &dyn TrackingStore| -> Vec<u64> {
        store
            .model_versions(&name)
            .unwrap()
            .into_iter()
            .map(|v| v.version)
            .collect()
    };
    assert_eq!(numbers(store), [1, 3]);
    assert!(store
        .get_model_version(&name, 2)
        .unwrap_err()
        .is_not_found());
    assert!(store.get_model_version_by_alias(&name, "champion").is_err());
    assert_eq!(
        store
            .get_model_version_by_alias(&name, "stable")
            .unwrap()
            .version,
        1
    );
    store.delete_model_version(&name, 3).unwrap();
    let next = store
        .create_model_version(&name, &source, Some(&run.run_id))
        .unwrap();
    assert_eq!(next.version, 4, "a deleted number is never reused");
    assert_eq!(numbers(store), [1, 4]);
    store.delete_model_alias(&name, "stable").unwrap();
    assert!(store.get_model_version_by_alias(&name, "stable").is_err());
    store.delete_registered_model(&name).unwrap();
    assert!(store
        .get_registered_model(&name)
        .unwrap_err()
        .is_not_found());
}

pub fn models_and_versions_carry_descriptions_and_tags(store: &dyn TrackingStore) {
    use pipeline_core::tracking::Tag;
    let run = run_with_model(store, "registry-notes");
    let name = unique("notes");
    store.create_registered_model(&name).unwrap();
    let source = format!("runs:/{}/model", run.run_id);
    store
        .create_model_version(&name, &source, Some(&run.run_id))
        .unwrap();
    store
        .set_model_description(&name, None, "Iris species from petal sizes")
        .unwrap();
    store
        .set_model_description(&name, Some(1), "100 trees")
        .unwrap();
    store
        .set_model_tag(&name, None, &Tag::new("team", "ml"))
        .unwrap();
    store
        .set_model_tag(&name, Some(1), &Tag::new("validated", "yes"))
        .unwrap();
    store
        .set_model_tag(&name, Some(1), &Tag::new("stage", "candidate"))
        .unwrap();
    let model = store.get_registered_model(&name).unwrap();
    assert_eq!(model.description, "Iris species from petal sizes");
    assert_eq!(model.tags, vec![Tag::new("team", "ml")]);
    let v1 = store.get_model_version(&name, 1).unwrap();
    assert_eq!(v1.description, "100 trees");
    assert_eq!(
        v1.tags,
        vec![Tag::new("stage", "candidate"), Tag::new("validated", "yes")]
    );
    store.delete_model_tag(&name, Some(1), "stage").unwrap();
    assert_eq!(
        store.model_versions(&name).unwrap()[0].tags,
        vec![Tag::new("validated", "yes")]
    );
    assert!(store
        .set_model_description(&name, Some(9), "x")
        .unwrap_err()
        .is_not_found());
}
