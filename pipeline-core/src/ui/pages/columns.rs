//! The columns of a runs table, grouped as MLflow groups them (Attributes, Params, Metrics,
//! Tags), and each run's text in them. Shared by the runs page (server-rendered rows) and the
//! stage-runs endpoint that the page's script calls when a pipeline run is expanded, so that a
//! nested row fills exactly the columns of its table.

use crate::display::{distinct_params, format_time};
use crate::metrics::format_value;
use crate::tracking::Run;
use std::collections::BTreeSet;

/// A column group of the chooser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Group {
    Attributes,
    Params,
    Metrics,
    Tags,
}

impl Group {
    pub(super) fn label(self) -> &'static str {
        match self {
            Group::Attributes => "Attributes",
            Group::Params => "Params",
            Group::Metrics => "Metrics",
            Group::Tags => "Tags",
        }
    }
}

/// One column.
#[derive(Clone, Debug)]
pub(super) struct Column {
    /// `attributes.status`, `params.train.max_depth`, `metrics.accuracy`, `tags.mlflow.user`:
    /// the cells' `data-col`, and the chooser's key.
    pub key: String,
    pub group: Group,
    /// The header text.
    pub label: String,
    /// The `order_by` expression sorting by this column, if the store can sort by it.
    pub sort: Option<String>,
    /// Hidden until chosen: nested metric keys and tags would make a table too wide to read.
    pub hidden_by_default: bool,
}

/// The columns for `runs`: attributes, then each parameter once, the metrics, the tags.
pub(super) fn columns<'a>(runs: impl Iterator<Item = &'a Run> + Clone) -> Vec<Column> {
    let mut out = vec![
        attribute("name", "Run", None),
        attribute("status", "Status", None),
        attribute("start_time", "Started", Some("attributes.start_time")),
        attribute("duration", "Duration", None),
    ];
    let params: BTreeSet<&str> = runs
        .clone()
        .flat_map(|r| distinct_params(r).into_iter().map(|p| p.key.as_str()))
        .collect();
    out.extend(params.into_iter().map(|k| Column {
        key: format!("params.{k}"),
        group: Group::Params,
        label: k.to_string(),
        sort: Some(format!("params.`{k}`")),
        hidden_by_default: false,
    }));
    let metrics: BTreeSet<&str> = runs
        .clone()
        .flat_map(|r| r.metrics.iter().map(|m| m.key.as_str()))
        .collect();
    out.extend(metrics.into_iter().map(|k| Column {
        key: format!("metrics.{k}"),
        group: Group::Metrics,
        label: k.to_string(),
        sort: Some(format!("metrics.`{k}`")),
        hidden_by_default: k.contains('.'),
    }));
    let tags: BTreeSet<&str> = runs
        .flat_map(|r| r.tags.iter().map(|t| t.key.as_str()))
        .collect();
    out.extend(tags.into_iter().map(|k| Column {
        key: format!("tags.{k}"),
        group: Group::Tags,
        label: k.to_string(),
        sort: Some(format!("tags.`{k}`")),
        hidden_by_default: true,
    }));
    out
}

fn attribute(name: &str, label: &str, sort: Option<&str>) -> Column {
    Column {
        key: format!("attributes.{name}"),
        group: Group::Attributes,
        label: label.to_string(),
        sort: sort.map(String::from),
        hidden_by_default: false,
    }
}

/// A run's text in column `key` (plain text, unescaped), if it has a value there.
pub(super) fn cell(run: &Run, key: &str) -> Option<String> {
    let info = &run.info;
    if let Some(k) = key.strip_prefix("params.") {
        return run.param(k).map(String::from);
    }
    if let Some(k) = key.strip_prefix("metrics.") {
        return run.metric(k).map(|m| format_value(m.value));
    }
    if let Some(k) = key.strip_prefix("tags.") {
        return run.tag(k).map(String::from);
    }
    match key {
        "attributes.name" => Some(info.run_name.clone()),
        "attributes.status" => Some(info.status.as_str().to_string()),
        "attributes.start_time" => Some(format_time(info.start_time)),
        "attributes.duration" => info
            .end_time
            .map(|end| format!("{:.2} s", (end - info.start_time) as f64 / 1000.0)),
        _ => None,
    }
}

/// Whether a cell reads as a number (right-aligned, so digits line up).
pub(super) fn is_numeric(text: &str) -> bool {
    text.parse::<f64>().is_ok() || text.ends_with(" s") && is_numeric(&text[..text.len() - 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(json: serde_json::Value) -> Run {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn columns_are_grouped_with_each_param_once() {
        let r = run(serde_json::json!({
            "info": {"run_id": "r", "run_name": "n", "experiment_id": "0", "status": "FINISHED",
                     "start_time": 0, "end_time": 1500, "lifecycle_stage": "active", "artifact_uri": ""},
            "params": [{"key": "max_depth", "value": "3"}, {"key": "train.max_depth", "value": "3"}],
            "metrics": [{"key": "accuracy", "value": 0.5, "timestamp": 0, "step": 0},
                        {"key": "per_class.a.f1", "value": 1.0, "timestamp": 0, "step": 0}],
            "tags": [{"key": "mlflow.user", "value": "me"}]
        }));
        let cols = columns(std::iter::once(&r));
        let keys: Vec<(&str, Group, bool)> = cols
            .iter()
            .map(|c| (c.key.as_str(), c.group, c.hidden_by_default))
            .collect();
        assert_eq!(
            keys,
            [
                ("attributes.name", Group::Attributes, false),
                ("attributes.status", Group::Attributes, false),
                ("attributes.start_time", Group::Attributes, false),
                ("attributes.duration", Group::Attributes, false),
                ("params.train.max_depth", Group::Params, false),
                ("metrics.accuracy", Group::Metrics, false),
                ("metrics.per_class.a.f1", Group::Metrics, true),
                ("tags.mlflow.user", Group::Tags, true),
            ]
        );
        assert_eq!(cell(&r, "attributes.duration").as_deref(), Some("1.50 s"));
        assert_eq!(cell(&r, "params.train.max_depth").as_deref(), Some("3"));
        assert!(is_numeric("1.50 s") && is_numeric("0.5") && !is_numeric("gini"));
    }
}
