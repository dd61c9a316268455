//! The Iris pipeline: prepare → train → evaluate. Each stage is a thin layer that reads its
//! inputs, calls [`crate::ml`], and writes its outputs through the context.

use pipeline_core::prelude::*;

/// The stages. `iris::pipeline()` hands them to the engine.
#[pipeline]
pub mod iris {
    use super::*;
    use crate::ml::{self, Dataset, RandomForest};
    use crate::params::{DataParams, TrainParams};
    use std::path::Path;

    fn read_dataset(path: &Path, name: &str) -> Result<Dataset> {
        let file = std::fs::File::open(path).with_context(|| format!("opening {name}"))?;
        Ok(ml::read_csv(file, name)?)
    }

    fn csv_bytes(data: &Dataset) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        ml::write_csv(data, &mut bytes)?;
        Ok(bytes)
    }

    /// The metrics file: headline scores at the top, per-class scores keyed by class name (so
    /// they flatten to `per_class.setosa.f1`), and the confusion matrix with its labels.
    fn metrics_json(m: &ml::Metrics) -> serde_json::Value {
        let per_class: serde_json::Map<String, serde_json::Value> = m
            .per_class
            .iter()
            .map(|c| {
                let scores = serde_json::json!({
                    "precision": c.precision, "recall": c.recall, "f1": c.f1, "support": c.support,
                });
                (c.class.clone(), scores)
            })
            .collect();
        serde_json::json!({
            "accuracy": m.accuracy,
            "macro_precision": m.macro_precision,
            "macro_recall": m.macro_recall,
            "macro_f1": m.macro_f1,
            "per_class": per_class,
            "confusion_matrix": {
                "labels": m.per_class.iter().map(|c| c.class.clone()).collect::<Vec<_>>(),
                "rows_true_columns_predicted": m.confusion_matrix,
            },
        })
    }

    /// Writes the Iris data set (shipped in `linfa-datasets`) to `data/raw/iris.csv`, then a
    /// stratified, seeded split of it to `data/processed/`.
    #[stage(
        outs = [
            raw = "data/raw/iris.csv",
            train = "data/processed/train.csv",
            test = "data/processed/test.csv",
        ],
        params = [data],
        code = ["src/ml/dataset.rs", "src/ml/split.rs"],
    )]
    fn prepare(ctx: &mut StageContext, data: &DataParams) -> Result<()> {
        let all = ml::iris();
        ctx.write(prepare::raw, csv_bytes(&all)?)?;
        let (train, test) = ml::stratified_split(&all, data.test_size, data.random_state)?;
        ctx.write(prepare::train, csv_bytes(&train)?)?;
        ctx.write(prepare::test, csv_bytes(&test)?)?;
        Ok(())
    }

    /// Fits the random forest on the training split (any numeric feature columns plus
    /// `species`) and saves it as JSON; the out-of-bag score, when asked for, is logged as the
    /// run's `oob_score` metric.
    #[stage(
        deps = [prepare::train],
        outs = [model = "models/model.json"],
        params = [train],
        code = ["src/ml/dataset.rs", "src/ml/forest"],
    )]
    fn train(ctx: &mut StageContext, train: &TrainParams) -> Result<()> {
        let data = read_dataset(&ctx.input(prepare::train)?, prepare::train.path)?;
        let forest = RandomForest::fit(&train.forest(), &data)?;
        if let Some(oob) = forest.oob_score() {
            ctx.log_metric("oob_score", oob, 0);
        }
        ctx.log_model(&forest, "model")?;
        ctx.write(train::model, forest.to_json())
    }

    /// Scores the model on the test split: metrics, the confusion matrix plot, and metadata
    /// tying the metrics to the exact model file. The test file's columns are matched to the
    /// model's features by name, and its classes to the model's by name (a class the model
    /// never saw is scored too: every one of its rows counts as an error).
    #[stage(
        deps = [train::model, prepare::test],
        outs = [metadata = "models/metadata.json"],
        metrics = [metrics = "models/metrics.json"],
        plots = [confusion = "models/confusion_matrix.svg"],
        code = ["src/ml/dataset.rs", "src/ml/forest", "src/ml/metrics.rs", "src/ml/plot.rs"],
    )]
    fn evaluate(ctx: &mut StageContext) -> Result<()> {
        let model_json = ctx.read_to_string(train::model)?;
        let forest = RandomForest::from_json(&model_json)?;
        let test = read_dataset(&ctx.input(prepare::test)?, prepare::test.path)?
            .aligned_to(forest.feature_names(), forest.class_names())?;
        let predicted = forest.predict(test.features.view())?;
        let metrics = ml::evaluate(&test.labels, &predicted, &test.class_names)?;
        ctx.write(
            evaluate::metrics,
            format!(
                "{}\n",
                serde_json::to_string_pretty(&metrics_json(&metrics))?
            ),
        )?;
        let svg =
            ml::confusion_matrix_svg(&metrics.confusion_matrix, &test.class_names, "Test split");
        ctx.write(evaluate::confusion, svg)?;
        // The evaluated model is logged with its scores, so the run id and URI below load
        // exactly the model these metrics describe.
        ctx.log_model(&forest, "model")?;
        let metadata = serde_json::json!({
            "model_path": train::model.path,
            "model_sha256": pipeline_core::hash::bytes(model_json.as_bytes()),
            "run_id": ctx.run_id(),
            "model_uri": ctx.run_uri("model"),
            "test_rows": test.labels.len(),
            "accuracy": metrics.accuracy,
        });
        ctx.write(
            evaluate::metadata,
            format!("{}\n", serde_json::to_string_pretty(&metadata)?),
        )?;
        ctx.log_artifact(ctx.output(evaluate::metadata)?)
    }
}
