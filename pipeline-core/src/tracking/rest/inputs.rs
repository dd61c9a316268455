//! Data sets a run read, on an MLflow server: `runs/log-inputs`, and `runs/get`'s `inputs`.

use serde::Deserialize;
use serde_json::json;

use super::wire::Empty;
use super::RestStore;
use crate::tracking::error::Result;
use crate::tracking::model::{Dataset, DatasetInput, Tag};

/// MLflow's tag naming how a run used a data set.
const CONTEXT_TAG: &str = "mlflow.data.context";

pub(super) fn log_inputs(store: &RestStore, run_id: &str, inputs: &[DatasetInput]) -> Result<()> {
    if inputs.is_empty() {
        return Ok(());
    }
    let datasets: Vec<serde_json::Value> = inputs
        .iter()
        .map(|input| {
            let d = &input.dataset;
            let mut dataset = json!({
                "name": d.name, "digest": d.digest,
                "source_type": d.source_type, "source": d.source,
            });
            if let Some(schema) = &d.schema {
                dataset["schema"] = json!(schema);
            }
            let tags: Vec<Tag> = input
                .context
                .iter()
                .map(|c| Tag::new(CONTEXT_TAG, c.as_str()))
                .collect();
            json!({ "dataset": dataset, "tags": tags })
        })
        .collect();
    let _: Empty = store.post(
        "runs/log-inputs",
        &json!({ "run_id": run_id, "datasets": datasets }),
    )?;
    Ok(())
}

#[derive(Deserialize)]
struct RunInputsResp {
    run: RunWithInputs,
}

#[derive(Deserialize)]
struct RunWithInputs {
    #[serde(default)]
    inputs: Inputs,
}

#[derive(Deserialize, Default)]
struct Inputs {
    #[serde(default)]
    dataset_inputs: Vec<WireInput>,
}

#[derive(Deserialize)]
struct WireInput {
    dataset: WireDataset,
    #[serde(default)]
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
struct WireDataset {
    name: String,
    digest: String,
    #[serde(default)]
    source_type: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    schema: Option<String>,
}

pub(super) fn run_inputs(store: &RestStore, run_id: &str) -> Result<Vec<DatasetInput>> {
    let resp: RunInputsResp = store.get("runs/get", &[("run_id", run_id)])?;
    let mut out: Vec<DatasetInput> = resp
        .run
        .inputs
        .dataset_inputs
        .into_iter()
        .map(|w| DatasetInput {
            context: w
                .tags
                .into_iter()
                .find(|t| t.key == CONTEXT_TAG)
                .map(|t| t.value),
            dataset: Dataset {
                name: w.dataset.name,
                digest: w.dataset.digest,
                source_type: w.dataset.source_type,
                source: w.dataset.source,
                schema: w.dataset.schema.filter(|s| !s.is_empty()),
            },
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.dataset.name, &a.dataset.digest).cmp(&(&b.dataset.name, &b.dataset.digest))
    });
    Ok(out)
}
