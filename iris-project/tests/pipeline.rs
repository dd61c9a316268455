//! The Iris pipeline end to end in temp workspaces, with insta snapshots of what a person reads.

use iris_project::pipeline::iris;
use pipeline_core::testing::TestWorkspace;

const PARAMS: &str = include_str!("../../params.toml");

fn workspace() -> TestWorkspace {
    TestWorkspace::new()
        .and_then(|ws| ws.with_file("params.toml", PARAMS))
        .unwrap()
}

fn ran(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter_map(|l| l.strip_prefix("Running stage `")?.split('`').next())
        .collect()
}

#[test]
fn default_run_metrics_and_split_sizes() {
    let ws = workspace();
    let out = ws.repro(iris::pipeline(), &[]).unwrap();
    assert_eq!(ran(&out), ["prepare", "train", "evaluate"]);
    let metrics: serde_json::Value =
        serde_json::from_str(&ws.read("models/metrics.json").unwrap()).unwrap();
    assert!(metrics["accuracy"].as_f64().unwrap() >= 0.9, "{metrics}");
    insta::assert_json_snapshot!("metrics", metrics);
    let rows = |p: &str| ws.read(p).unwrap().lines().count() - 1;
    insta::assert_yaml_snapshot!(
        "split_sizes",
        [
            ("raw", rows("data/raw/iris.csv")),
            ("train", rows("data/processed/train.csv")),
            ("test", rows("data/processed/test.csv"))
        ]
    );
    let metadata: serde_json::Value =
        serde_json::from_str(&ws.read("models/metadata.json").unwrap()).unwrap();
    assert_eq!(metadata["model_path"], "models/model.json");
    assert!(ws
        .read("models/confusion_matrix.svg")
        .unwrap()
        .starts_with("<svg"));
}

#[test]
fn lock_file_shape() {
    let ws = workspace();
    ws.repro(iris::pipeline(), &[]).unwrap();
    let mut lock: serde_yaml::Value =
        serde_yaml::from_str(&ws.read("pipeline.lock").unwrap()).unwrap();
    // Hashes change with any edit of a stage or of the ML code: keep their shape, not their value.
    for stage in lock["stages"].as_mapping_mut().unwrap().values_mut() {
        for key in ["fingerprint", "code"] {
            stage[key] = "<sha256>".into();
        }
        for list in ["deps", "outs"] {
            if let Some(entries) = stage.get_mut(list).and_then(|v| v.as_sequence_mut()) {
                for entry in entries {
                    entry["hash"] = "<sha256>".into();
                    if entry["path"]
                        .as_str()
                        .is_some_and(|p| p.starts_with("models/"))
                    {
                        entry["size"] = "<size>".into();
                    }
                }
            }
        }
    }
    insta::assert_yaml_snapshot!("lock_shape", lock);
}

#[test]
fn dag_output() {
    let ws = workspace();
    insta::assert_snapshot!("dag", ws.run(iris::pipeline(), &["dag"]).unwrap());
    insta::assert_snapshot!(
        "dag_mermaid",
        ws.run(iris::pipeline(), &["dag", "--format", "mermaid"])
            .unwrap()
    );
}

#[test]
fn train_params_rerun_train_and_evaluate_then_going_back_restores() {
    let ws = workspace();
    ws.repro(iris::pipeline(), &[]).unwrap();
    let model = ws.read("models/model.json").unwrap();
    let lock = ws.read("pipeline.lock").unwrap();

    ws.write(
        "params.toml",
        PARAMS.replace("n_estimators = 100", "n_estimators = 20"),
    )
    .unwrap();
    let out = ws.repro(iris::pipeline(), &[]).unwrap();
    assert_eq!(ran(&out), ["train", "evaluate"], "{out}");
    assert_ne!(ws.read("models/model.json").unwrap(), model);

    ws.write("params.toml", PARAMS).unwrap();
    let out = ws.repro(iris::pipeline(), &[]).unwrap();
    assert!(ran(&out).is_empty(), "{out}");
    assert!(
        out.contains("Restored stage `train`") && out.contains("Restored stage `evaluate`"),
        "{out}"
    );
    assert_eq!(ws.read("models/model.json").unwrap(), model);
    assert_eq!(ws.read("pipeline.lock").unwrap(), lock);
}

#[test]
fn outputs_are_byte_identical_across_runs_and_thread_counts() {
    let a = workspace();
    let b = workspace();
    a.repro(iris::pipeline(), &["-j", "1"]).unwrap();
    b.repro(iris::pipeline(), &["-j", "2"]).unwrap();
    for dir in ["data", "models"] {
        assert_eq!(
            a.files_under(dir).unwrap(),
            b.files_under(dir).unwrap(),
            "{dir}"
        );
    }
    assert_eq!(
        a.read("pipeline.lock").unwrap(),
        b.read("pipeline.lock").unwrap()
    );
}

#[test]
fn bad_params_are_rejected_and_nothing_runs() {
    let ws = workspace();
    ws.write(
        "params.toml",
        PARAMS.replace("test_size = 0.2", "test_size = 1.5"),
    )
    .unwrap();
    let err = format!("{:#}", ws.repro(iris::pipeline(), &[]).unwrap_err());
    assert_eq!(
        err,
        "params.toml: [data] test_size = 1.5: must be greater than 0 and less than 1"
    );
    ws.write("params.toml", PARAMS).unwrap();
    let err = format!(
        "{:#}",
        ws.repro(iris::pipeline(), &["-S", "train.n_estimators=0"])
            .unwrap_err()
    );
    assert_eq!(
        err,
        "params.toml: [train] n_estimators = 0: must be at least 1"
    );
    assert!(!ws.path().join("pipeline.lock").exists());
    assert!(!ws.path().join("data").exists());
}
