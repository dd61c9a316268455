//! MLflow 3's logged models: created pending with params, files uploaded, finalized ready,
//! found by id, by run and by experiment, metrics linked through `model_id`, registered
//! versions carrying the id, and the files coming back byte for byte.

use pipeline_core::tracking::{
    LoggedModelStatus, Metric, NewLoggedModel, Param, Tag, TrackingStore,
};

use super::{experiment, unique};

pub fn logged_models_round_trip(store: &dyn TrackingStore) {
    let exp = experiment(store, "logged-models");
    let run = store.create_run(&exp, "train", None, &[], 0).unwrap();
    let model = store
        .create_logged_model(&NewLoggedModel {
            experiment_id: exp.clone(),
            name: "model".into(),
            source_run_id: Some(run.run_id.clone()),
            model_type: "forest".into(),
            params: vec![
                Param::new("max_depth", "3"),
                Param::new("n_estimators", "7"),
            ],
            tags: vec![Tag::new("team", "iris")],
            model_id: None,
        })
        .unwrap();
    assert!(model.model_id.starts_with("m-"), "{}", model.model_id);
    assert_eq!(model.status, LoggedModelStatus::Pending);
    assert_eq!(model.experiment_id, exp);
    assert_eq!(model.source_run_id.as_deref(), Some(run.run_id.as_str()));

    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("MLmodel", "flavors: {}\n"),
        ("model.json", "{\"trees\": []}"),
    ];
    for (name, text) in files {
        let local = dir.path().join(name);
        std::fs::write(&local, text).unwrap();
        store
            .log_model_artifact(&model.model_id, &local, name)
            .unwrap();
    }
    let ready = store
        .finalize_logged_model(&model.model_id, LoggedModelStatus::Ready)
        .unwrap();
    assert_eq!(ready.status, LoggedModelStatus::Ready);

    let mut accuracy = Metric::new("accuracy", 0.9, 1, 0);
    accuracy.model_id = Some(model.model_id.clone());
    let mut later = Metric::new("accuracy", 0.95, 2, 1);
    later.model_id = Some(model.model_id.clone());
    store
        .log_batch(
            &run.run_id,
            &[accuracy, later, Metric::new("loss", 0.1, 1, 0)],
            &[],
            &[],
        )
        .unwrap();

    let got = store.get_logged_model(&model.model_id).unwrap();
    assert_eq!(got.name, "model");
    assert_eq!(got.model_type, "forest");
    assert_eq!(
        got.params,
        vec![
            Param::new("max_depth", "3"),
            Param::new("n_estimators", "7")
        ]
    );
    assert!(
        got.tags.contains(&Tag::new("team", "iris")),
        "{:?}",
        got.tags
    );
    let linked: Vec<(String, f64)> = got
        .metrics
        .iter()
        .map(|m| (m.key.clone(), m.value))
        .collect();
    assert_eq!(linked, vec![("accuracy".to_string(), 0.95)]);
    // The run still has the value in its own history.
    assert_eq!(
        store.metric_history(&run.run_id, "accuracy").unwrap().len(),
        2
    );

    let of_run = store.logged_models_of_run(&run.run_id).unwrap();
    assert_eq!(of_run.len(), 1);
    assert_eq!(of_run[0].model_id, model.model_id);
    let page = store
        .search_logged_models(std::slice::from_ref(&exp), 10, None)
        .unwrap();
    assert_eq!(page.models.len(), 1);
    assert_eq!(page.models[0].model_id, model.model_id);
    assert_eq!(page.next_page_token, None);

    let listed: Vec<String> = store
        .list_model_artifacts(&model.model_id, None)
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(listed, vec!["MLmodel", "model.json"]);
    let back = dir.path().join("back");
    store
        .download_model_artifact(&model.model_id, "", &back)
        .unwrap();
    for (name, text) in files {
        assert_eq!(std::fs::read_to_string(back.join(name)).unwrap(), text);
    }

    let name = unique("logged");
    store.create_registered_model(&name).unwrap();
    let source = format!("models:/{}", model.model_id);
    let version = store
        .create_model_version_linked(&name, &source, Some(&run.run_id), Some(&model.model_id))
        .unwrap();
    assert_eq!(version.model_id.as_deref(), Some(model.model_id.as_str()));
    let again = store.get_model_version(&name, version.version).unwrap();
    assert_eq!(again.model_id.as_deref(), Some(model.model_id.as_str()));
    assert_eq!(again.source, source);

    let missing = "m-00000000000000000000000000000000";
    assert!(store.get_logged_model(missing).unwrap_err().is_not_found());
    assert!(store.get_logged_model("not-an-id").is_err());
}

/// Logged models page newest first, without gaps or repeats.
pub fn logged_models_page(store: &dyn TrackingStore) {
    let exp = experiment(store, "logged-pages");
    let mut made = Vec::new();
    for i in 0..5 {
        let model = store
            .create_logged_model(&NewLoggedModel {
                experiment_id: exp.clone(),
                name: format!("m{i}"),
                ..NewLoggedModel::default()
            })
            .unwrap();
        made.push(model.model_id);
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = store
            .search_logged_models(std::slice::from_ref(&exp), 2, token.as_deref())
            .unwrap();
        assert!(page.models.len() <= 2);
        seen.extend(page.models.into_iter().map(|m| m.model_id));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    seen.sort();
    made.sort();
    assert_eq!(seen, made);
}
