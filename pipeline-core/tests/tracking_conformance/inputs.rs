//! Data sets a run read (MLflow's dataset inputs): logged once, read back with their context.

use pipeline_core::tracking::{Dataset, DatasetInput, TrackingStore};

use super::experiment;

fn input(name: &str, digest: &str, context: &str) -> DatasetInput {
    DatasetInput {
        dataset: Dataset {
            name: name.into(),
            digest: digest.into(),
            source_type: "local".into(),
            source: format!(r#"{{"uri": "{name}"}}"#),
            schema: None,
        },
        context: Some(context.into()),
    }
}

pub fn dataset_inputs_round_trip(store: &dyn TrackingStore) {
    let exp = experiment(store, "inputs");
    let run = store.create_run(&exp, "train", None, &[], 0).unwrap();
    let train = input("data/processed/train.csv", "db11a0c3e2f4", "training");
    let test = input("data/processed/test.csv", "77aa01bc9d2e", "evaluation");
    store
        .log_inputs(&run.run_id, &[train.clone(), test.clone()])
        .unwrap();
    // The same data set again is not a second input.
    store
        .log_inputs(&run.run_id, std::slice::from_ref(&train))
        .unwrap();
    assert_eq!(store.run_inputs(&run.run_id).unwrap(), vec![test, train]);
    let other = store.create_run(&exp, "other", None, &[], 0).unwrap();
    assert!(store.run_inputs(&other.run_id).unwrap().is_empty());
}
