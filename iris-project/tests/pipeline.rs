//! The Iris pipeline end to end in temp workspaces, with insta snapshots of what a person reads.

use iris_project::pipeline::iris;
use pipeline_core::testing::TestWorkspace;

/// The tests' own params (not the workspace's `params.toml`, which users edit).
const PARAMS: &str = include_str!("fixtures/params.toml");

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
        let (x, y) = (a.files_under(dir).unwrap(), b.files_under(dir).unwrap());
        assert_eq!(x.len(), y.len());
        for (path, text) in &x {
            assert!(
                y.get(path) == Some(text),
                "{path} differs between -j 1 and -j 2"
            );
        }
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
        ws.run(
            iris::pipeline(),
            &["exp", "run", "-S", "train.n_estimators=0"]
        )
        .unwrap_err()
    );
    assert_eq!(
        err,
        "params.toml with -S train.n_estimators=0: [train] n_estimators = 0: must be at least 1"
    );
    assert!(!ws.path().join("pipeline.lock").exists());
    assert!(!ws.path().join("data").exists());
}

#[test]
fn params_type_errors_name_the_key_and_tiny_test_sizes_are_refused() {
    let ws = workspace();
    for (from, to, message) in [
        (
            "max_features = \"sqrt\"",
            "max_features = true",
            "params.toml: [train] max_features = true: expected \"sqrt\", \"log2\", a fraction \
             in (0, 1] or a whole number of features",
        ),
        (
            "max_features = \"sqrt\"",
            "max_features = 1.5",
            "params.toml: [train] max_features = 1.5: a fraction must be greater than 0 and at \
             most 1, got 1.5",
        ),
        (
            "criterion = \"gini\"",
            "criterion = \"mse\"",
            "params.toml: [train] criterion = \"mse\": expected \"gini\" or \"entropy\"",
        ),
        (
            "bootstrap = true",
            "bootstrap = false",
            "params.toml: [train] oob_score = true: needs out-of-bag rows, so bootstrap = true",
        ),
        (
            "max_depth = 10",
            "max_depth = \"ten\"",
            "params.toml: [train] max_depth = \"ten\": expected a whole number, 0 or more (usize)",
        ),
        (
            "test_size = 0.2",
            "test_size = 0.001",
            "params.toml: [data] test_size = 0.001: must leave at least one test row and one \
             training row of each class (the Iris data has 150 rows in 3 classes: use a \
             test_size from 0.02 to 0.98)",
        ),
    ] {
        ws.write("params.toml", PARAMS.replace(from, to)).unwrap();
        let err = format!("{:#}", ws.repro(iris::pipeline(), &[]).unwrap_err());
        assert_eq!(err, message);
    }
    ws.write("params.toml", PARAMS).unwrap();
    let err = format!(
        "{:#}",
        ws.run(
            iris::pipeline(),
            &["exp", "run", "-S", "data.test_size=1e-320"]
        )
        .unwrap_err()
    );
    assert_eq!(
        err,
        "params.toml with -S data.test_size=1e-320: [data] test_size = 1e-320: must leave at \
         least one test row and one training row of each class (the Iris data has 150 rows in 3 \
         classes: use a test_size from 0.02 to 0.98)"
    );
    assert!(!ws.path().join("pipeline.lock").exists());
    assert!(!ws.path().join("data").exists());
    assert!(!ws.path().join(".pipeline/exps").exists());
}

/// `exp show` with ids and times masked (same width, so columns stay aligned) and the experiment
/// rows sorted, so the snapshot only changes when params, metrics or layout do.
fn stable_exp_table(text: &str) -> String {
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| {
            if !line.starts_with("exp-") {
                return line.to_string();
            }
            // "exp-1234567  2026-11-27 07:54:21  …": 11 + 2 + 19 characters.
            format!("exp-xxxxxxx  YYYY-MM-DD hh:mm:ss{}", &line[32..])
        })
        .collect();
    let first_exp = lines
        .iter()
        .position(|l| l.starts_with("exp-"))
        .unwrap_or(lines.len());
    lines[first_exp..].sort();
    lines.join("\n")
}

#[test]
fn grid_of_twelve_experiments_leaves_workspace_untouched() {
    let ws = workspace();
    ws.repro(iris::pipeline(), &[]).unwrap();
    let params_before = ws.read("params.toml").unwrap();
    let model_before = ws.read("models/model.json").unwrap();
    let lock_before = ws.read("pipeline.lock").unwrap();
    let out = ws
        .run(
            iris::pipeline(),
            &[
                "exp",
                "run",
                "--grid",
                "train.n_estimators=10,50,100,200",
                "--grid",
                "train.max_depth=3,5,10",
                "-j",
                "2",
            ],
        )
        .unwrap();
    assert!(
        out.starts_with("Running 12 experiments, 2 at a time"),
        "{out}"
    );
    assert_eq!(ws.read("params.toml").unwrap(), params_before);
    assert_eq!(ws.read("models/model.json").unwrap(), model_before);
    assert_eq!(ws.read("pipeline.lock").unwrap(), lock_before);

    let json = ws
        .run(iris::pipeline(), &["exp", "show", "--json"])
        .unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(rows.len(), 13, "the workspace and 12 experiments");
    for row in &rows[1..] {
        assert!(
            row["metrics"]["accuracy"].as_f64().unwrap() >= 0.85,
            "{row}"
        );
        assert!(row["params"]["train.n_estimators"].is_string());
    }
    let table = ws.run(iris::pipeline(), &["exp", "show"]).unwrap();
    insta::assert_snapshot!("exp_show", stable_exp_table(&table));

    // The default point was already computed by `repro`: its stages come from the run cache.
    let out = ws.run(iris::pipeline(), &["exp", "run"]).unwrap();
    assert!(!out.contains("running stage"), "{out}");
}

#[test]
fn exp_apply_restores_params_and_outputs_without_running() {
    let ws = workspace();
    ws.repro(iris::pipeline(), &[]).unwrap();
    let out = ws
        .run(
            iris::pipeline(),
            &[
                "exp",
                "run",
                "-S",
                "train.n_estimators=20",
                "-S",
                "train.max_depth=3",
            ],
        )
        .unwrap();
    let id = out
        .lines()
        .rev()
        .find_map(|l| l.split(':').next().filter(|s| s.starts_with("exp-")))
        .unwrap();
    let diff = ws
        .run(iris::pipeline(), &["params", "diff", "workspace", id])
        .unwrap();
    assert!(diff.contains("train.n_estimators  100        20"), "{diff}");
    let applied = ws.run(iris::pipeline(), &["exp", "apply", id]).unwrap();
    assert!(!applied.contains("Running stage"), "{applied}");
    let params = ws.read("params.toml").unwrap();
    assert!(
        params.contains("n_estimators = 20\nmax_depth = 3\n"),
        "{params}"
    );
    assert!(
        params.contains("# Candidate features drawn at every split"),
        "comments are kept: {params}"
    );
    let status = ws.run(iris::pipeline(), &["status"]).unwrap();
    assert_eq!(status.trim(), "Everything is up to date.");
    let diff = ws
        .run(iris::pipeline(), &["metrics", "diff", "lock", id])
        .unwrap();
    assert!(diff.starts_with("No metric differs"), "{diff}");
}

#[test]
fn bad_override_in_a_grid_runs_nothing() {
    let ws = workspace();
    let err = format!(
        "{:#}",
        ws.run(
            iris::pipeline(),
            &["exp", "run", "--grid", "train.n_estimators=10,0"]
        )
        .unwrap_err()
    );
    assert!(
        err.contains("[train] n_estimators = 0: must be at least 1"),
        "{err}"
    );
    let err = format!(
        "{:#}",
        ws.run(iris::pipeline(), &["exp", "run", "-S", "train.depth=3"])
            .unwrap_err()
    );
    assert_eq!(err, "-S train.depth=3: no key `depth` in [train]");
    assert!(!ws.path().join(".pipeline/exps").exists());
    assert!(!ws.path().join("data").exists());
}

#[test]
fn mean_accuracy_over_ten_split_seeds() {
    let ws = workspace();
    let seeds = (0..10).map(|s| s.to_string()).collect::<Vec<_>>().join(",");
    let grid = format!("data.random_state={seeds}");
    ws.run(iris::pipeline(), &["exp", "run", "--grid", &grid])
        .unwrap();
    let json = ws
        .run(iris::pipeline(), &["exp", "show", "--json"])
        .unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let accuracies: Vec<f64> = rows[1..]
        .iter()
        .map(|r| r["metrics"]["accuracy"].as_f64().unwrap())
        .collect();
    assert_eq!(accuracies.len(), 10);
    let mean = accuracies.iter().sum::<f64>() / 10.0;
    assert!(mean >= 0.93, "mean accuracy {mean} over {accuracies:?}");
}

#[test]
fn metrics_show_and_plots() {
    let ws = workspace();
    ws.repro(iris::pipeline(), &[]).unwrap();
    let shown = ws.run(iris::pipeline(), &["metrics", "show"]).unwrap();
    assert!(shown.contains("models/metrics.json  accuracy"), "{shown}");
    assert!(shown.contains("per_class.virginica.recall"), "{shown}");
    let out = ws.run(iris::pipeline(), &["plots", "show"]).unwrap();
    assert!(out.starts_with("1 plot written to"), "{out}");
    let page = ws.read("pipeline_plots/index.html").unwrap();
    assert!(
        page.contains("<h2>models/confusion_matrix.svg</h2>") && page.contains("<svg"),
        "{page}"
    );
}

/// Rows of a made-up two-class data set: `size` and `weight` separate `small` from `large`,
/// `noise` does not.
fn other_data(rows: usize, columns: [&str; 3]) -> String {
    let mut text = format!("{},{},{},species\n", columns[0], columns[1], columns[2]);
    for i in 0..rows {
        let large = i % 3 == 0;
        let (size, weight) = if large {
            (10.0 + (i % 7) as f64, 50.0 + (i % 11) as f64)
        } else {
            (2.0 + (i % 5) as f64, 5.0 + (i % 13) as f64)
        };
        let noise = (i * 37 % 101) as f64 / 10.0;
        let row = [("size", size), ("weight", weight), ("noise", noise)];
        let value = |name: &str| row.iter().find(|(n, _)| *n == name).map_or(0.0, |r| r.1);
        let label = if large { "large" } else { "small" };
        text.push_str(&format!(
            "{},{},{},{label}\n",
            value(columns[0]),
            value(columns[1]),
            value(columns[2])
        ));
    }
    text
}

#[test]
fn train_and_evaluate_run_on_any_numeric_csv_with_a_species_column() {
    let ws = workspace();
    ws.repro(iris::pipeline(), &[]).unwrap();
    // Other data dropped into data/processed/: different features and classes, and a test
    // file whose columns come in another order.
    ws.write(
        "data/processed/train.csv",
        other_data(90, ["size", "weight", "noise"]),
    )
    .unwrap();
    ws.write(
        "data/processed/test.csv",
        other_data(30, ["noise", "weight", "size"]),
    )
    .unwrap();
    let out = ws.run(iris::pipeline(), &["repro", "-s", "train"]).unwrap();
    assert_eq!(ran(&out), ["train"]);
    let model: serde_json::Value =
        serde_json::from_str(&ws.read("models/model.json").unwrap()).unwrap();
    assert_eq!(
        model["feature_names"],
        serde_json::json!(["size", "weight", "noise"])
    );
    assert_eq!(model["class_names"], serde_json::json!(["large", "small"]));
    let out = ws
        .run(iris::pipeline(), &["repro", "-s", "evaluate"])
        .unwrap();
    assert_eq!(ran(&out), ["evaluate"]);
    let metrics: serde_json::Value =
        serde_json::from_str(&ws.read("models/metrics.json").unwrap()).unwrap();
    assert_eq!(metrics["accuracy"], 1.0, "{metrics}");
    assert_eq!(
        metrics["confusion_matrix"]["labels"],
        serde_json::json!(["large", "small"])
    );
}
