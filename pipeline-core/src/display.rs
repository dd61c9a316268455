//! How values read for people, the same in the CLI and the UI.

use crate::tracking::{Param, Run};

/// A run's params without the aliases: a pipeline run logs `train.max_depth` and, where only one
/// section has that key, `max_depth` too (so MLflow-style filters on the bare name work). A
/// person wants each parameter once, under its full name; a bare key is left out when a
/// `section.key` of the same run has the same value.
pub fn distinct_params(run: &Run) -> Vec<&Param> {
    run.params
        .iter()
        .filter(|p| {
            p.key.contains('.')
                || !run.params.iter().any(|q| {
                    q.value == p.value
                        && q.key.split_once('.').is_some_and(|(_, leaf)| leaf == p.key)
                })
        })
        .collect()
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, without a date library.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn distinct_params_drop_bare_aliases_only() {
        let mut run: crate::tracking::Run = serde_json::from_value(serde_json::json!({
            "info": {"run_id": "r", "run_name": "n", "experiment_id": "0", "status": "FINISHED",
                     "start_time": 0, "lifecycle_stage": "active", "artifact_uri": ""},
            "params": [], "metrics": [], "tags": []
        }))
        .unwrap();
        for (k, v) in [
            ("max_depth", "10"),
            ("seed", "1"),
            ("train.max_depth", "10"),
            ("train.seed", "2"),
        ] {
            run.params.push(crate::tracking::Param::new(k, v));
        }
        let keys: Vec<&str> = super::distinct_params(&run)
            .iter()
            .map(|p| p.key.as_str())
            .collect();
        assert_eq!(keys, ["seed", "train.max_depth", "train.seed"]);
    }

    #[test]
    fn format_time_is_utc() {
        assert_eq!(super::format_time(0), "1970-01-01 00:00:00");
        assert_eq!(super::format_time(1_795_000_000_000), "2026-11-18 11:06:40");
    }
}
