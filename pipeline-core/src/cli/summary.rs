//! The last line of a `repro`: what happened to the stages and where the headline metrics went,
//! so a person sees the result of a run without opening the metrics files or the UI.

use super::style::{count, Paint};
use crate::engine::Outcome;
use crate::metrics::{format_value, Flat};
use crate::session::ReproReport;
use std::collections::BTreeMap;

/// Metrics files → their flattened values.
pub(super) type MetricsFiles = BTreeMap<String, Flat>;

/// Headline metrics shown per file: the top-level numbers (`accuracy`, not
/// `per_class.setosa.f1`), at most this many.
const HEADLINE_PER_FILE: usize = 4;

/// `2 stages ran, 1 restored, 0 up to date · accuracy 0.9667 (+0.0333), macro_f1 0.9658 (=)`;
/// the metrics part compares the metrics files before the run (`before`) with after it.
pub(super) fn line(
    report: &ReproReport,
    before: &MetricsFiles,
    after: &MetricsFiles,
    color: bool,
) -> String {
    let (mut ran, mut restored, mut current, mut failed) = (0, 0, 0, 0);
    for stage in &report.stages {
        match &stage.result {
            Ok(Outcome::Ran) => ran += 1,
            Ok(Outcome::Restored) => restored += 1,
            Ok(Outcome::UpToDate | Outcome::Frozen) => current += 1,
            Err(_) => failed += 1,
        }
    }
    let mut text = format!(
        "{} ran, {restored} restored, {current} up to date",
        count(ran, "stage")
    );
    if failed > 0 {
        text.push_str(&Paint::Red.apply(color, &format!(", {failed} did not complete")));
    }
    let metrics = metrics_part(before, after, color);
    if !metrics.is_empty() {
        text.push_str(" · ");
        text.push_str(&metrics);
    }
    text
}

/// `accuracy 0.9667 (+0.0333)` per headline metric; the file name leads when there are several
/// metrics files.
fn metrics_part(before: &MetricsFiles, after: &MetricsFiles, color: bool) -> String {
    let mut parts = Vec::new();
    for (path, flat) in after {
        let headline: Vec<(&String, f64)> = flat
            .iter()
            .filter(|(k, _)| !k.contains('.'))
            .take(HEADLINE_PER_FILE)
            .map(|(k, v)| (k, *v))
            .collect();
        if headline.is_empty() {
            continue;
        }
        let values: Vec<String> = headline
            .into_iter()
            .map(|(key, value)| {
                let old = before.get(path).and_then(|f| f.get(key)).copied();
                format!(
                    "{key} {} ({})",
                    format_value(value),
                    movement(old, value, color)
                )
            })
            .collect();
        let joined = values.join(", ");
        parts.push(if after.len() > 1 {
            format!("{path}: {joined}")
        } else {
            joined
        });
    }
    parts.join("; ")
}

/// `+0.0333` (green), `-0.01` (red), `=` or `new`. Whether a rise is good depends on the metric,
/// but most headline metrics (accuracy, f1, auc) are better higher.
fn movement(old: Option<f64>, new: f64, color: bool) -> String {
    match old {
        None => "new".to_string(),
        Some(old) if old == new => "=".to_string(),
        Some(old) => {
            let delta = new - old;
            let text = format_value(delta);
            if delta > 0.0 {
                Paint::Green.apply(color, &format!("+{text}"))
            } else {
                Paint::Red.apply(color, &text)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Failure, StageReport};

    fn report(outcomes: Vec<Result<Outcome, Failure>>) -> ReproReport {
        ReproReport {
            stages: outcomes
                .into_iter()
                .enumerate()
                .map(|(i, result)| StageReport {
                    name: format!("s{i}"),
                    result,
                })
                .collect(),
            run_id: None,
            experiment: "p".into(),
            remote_warning: None,
        }
    }

    fn files(values: &[(&str, f64)]) -> MetricsFiles {
        let flat: Flat = values.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        BTreeMap::from([("metrics.json".to_string(), flat)])
    }

    #[test]
    fn counts_stages_and_shows_how_headline_metrics_moved() {
        let r = report(vec![
            Ok(Outcome::Ran),
            Ok(Outcome::Restored),
            Ok(Outcome::UpToDate),
        ]);
        let before = files(&[("accuracy", 0.9), ("f1", 0.8), ("loss", 0.5)]);
        let after = files(&[
            ("accuracy", 0.95),
            ("f1", 0.8),
            ("loss", 0.4),
            ("per_class.a.f1", 1.0),
            ("recall", 0.7),
        ]);
        assert_eq!(
            line(&r, &before, &after, false),
            "1 stage ran, 1 restored, 1 up to date · accuracy 0.95 (+0.05), f1 0.8 (=), \
             loss 0.4 (-0.1), recall 0.7 (new)"
        );
    }

    #[test]
    fn names_failures_and_leaves_out_metrics_when_there_are_none() {
        let r = report(vec![
            Ok(Outcome::Ran),
            Ok(Outcome::Ran),
            Err(Failure::Skipped("s0".into())),
        ]);
        assert_eq!(
            line(&r, &MetricsFiles::new(), &MetricsFiles::new(), false),
            "2 stages ran, 0 restored, 0 up to date, 1 did not complete"
        );
    }
}
