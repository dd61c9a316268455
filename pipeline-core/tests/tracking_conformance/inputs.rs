//! Data sets a run read (MLflow's dataset inputs): logged once, read back with their context.

use pipeline_core::tracking::{Dataset, DatasetInput, SearchQuery, TrackingStore};

use super::{experiment, search_all};

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

    // `datasets.*` filters find the runs by the data they read.
    let found = |filter: &str| -> Vec<String> {
        let query = SearchQuery {
            filter: filter.to_string(),
            ..SearchQuery::new(std::slice::from_ref(&exp))
        };
        search_all(store, &query)
            .into_iter()
            .map(|r| r.info.run_id)
            .collect()
    };
    let just_train = vec![run.run_id.clone()];
    assert_eq!(
        found("datasets.name = 'data/processed/train.csv'"),
        just_train
    );
    assert_eq!(found("datasets.context = 'evaluation'"), just_train);
    assert_eq!(
        found("datasets.digest IN ('db11a0c3e2f4', 'ffffffffffff')"),
        just_train
    );
    assert!(found("datasets.name = 'elsewhere.csv'").is_empty());
}
