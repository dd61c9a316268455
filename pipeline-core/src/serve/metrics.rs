//! `/metrics`: counters and a latency histogram in Prometheus's text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];

/// The endpoints requests are counted under (anything else is `other`, so clients cannot
/// grow the label set).
const ENDPOINTS: [&str; 6] = [
    "/invocations",
    "/ping",
    "/health",
    "/version",
    "/metadata",
    "/metrics",
];

/// The server's counters.
#[derive(Default)]
pub struct Metrics {
    /// (endpoint, status) → requests answered.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// Per bucket of [`BUCKETS`] (plus +Inf), `/invocations` requests that took at most that.
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_ns: AtomicU64,
    rows: AtomicU64,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
}

impl Metrics {
    /// The endpoint label for a request path.
    pub fn endpoint(path: &str) -> &'static str {
        ENDPOINTS
            .into_iter()
            .find(|e| *e == path)
            .unwrap_or("other")
    }

    /// Counts one answered request; `/invocations` requests also go into the histogram.
    pub fn request(&self, endpoint: &'static str, status: u16, took: Duration) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((endpoint, status))
            .or_default() += 1;
        if endpoint == "/invocations" {
            let seconds = took.as_secs_f64();
            let bucket = BUCKETS
                .iter()
                .position(|le| seconds <= *le)
                .unwrap_or(BUCKETS.len());
            self.latency[bucket].fetch_add(1, Ordering::Relaxed);
            self.latency_sum_ns.fetch_add(
                u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
        }
    }

    /// Counts predicted rows.
    pub fn rows(&self, n: usize) {
        self.rows.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts a model switch, or a failed attempt.
    pub fn reload(&self, ok: bool) {
        let counter = if ok {
            &self.reloads
        } else {
            &self.reload_failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The text format; `version` is the served model version, if registered.
    pub fn render(&self, version: Option<u64>) -> String {
        let mut out = String::new();
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        out.push_str("# HELP serve_requests_total Requests answered, by endpoint and status.\n");
        out.push_str("# TYPE serve_requests_total counter\n");
        for ((endpoint, status), n) in &requests {
            let _ = writeln!(
                out,
                "serve_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP serve_errors_total Requests answered with a 4xx or 5xx status.\n");
        out.push_str("# TYPE serve_errors_total counter\n");
        let errors: u64 = requests
            .iter()
            .filter(|((_, status), _)| *status >= 400)
            .map(|(_, n)| n)
            .sum();
        let _ = writeln!(out, "serve_errors_total {errors}");
        out.push_str(
            "# HELP serve_invocation_duration_seconds Time to answer /invocations.\n\
             # TYPE serve_invocation_duration_seconds histogram\n",
        );
        let mut cumulative = 0;
        for (i, counter) in self.latency.iter().enumerate() {
            cumulative += counter.load(Ordering::Relaxed);
            let le = BUCKETS.get(i).map_or("+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(
                out,
                "serve_invocation_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = self.latency_sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "serve_invocation_duration_seconds_sum {sum}");
        let _ = writeln!(out, "serve_invocation_duration_seconds_count {cumulative}");
        let counters = [
            ("serve_predicted_rows_total", "Rows predicted.", &self.rows),
            (
                "serve_model_reloads_total",
                "Switches to another model version.",
                &self.reloads,
            ),
            (
                "serve_model_reload_failures_total",
                "Failed attempts to look up or load a moved model.",
                &self.reload_failures,
            ),
        ];
        for (name, help, counter) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", counter.load(Ordering::Relaxed));
        }
        if let Some(version) = version {
            out.push_str("# HELP serve_model_version The registered version being served.\n");
            out.push_str("# TYPE serve_model_version gauge\n");
            let _ = writeln!(out, "serve_model_version {version}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative_and_errors_are_counted() {
        let metrics = Metrics::default();
        metrics.request("/invocations", 200, Duration::from_micros(50));
        metrics.request("/invocations", 200, Duration::from_millis(3));
        metrics.request("/invocations", 400, Duration::from_secs(2));
        metrics.request(Metrics::endpoint("/../etc/passwd"), 404, Duration::ZERO);
        metrics.rows(7);
        let text = metrics.render(Some(2));
        for line in [
            "serve_requests_total{endpoint=\"/invocations\",status=\"200\"} 2",
            "serve_requests_total{endpoint=\"other\",status=\"404\"} 1",
            "serve_errors_total 2",
            "serve_invocation_duration_seconds_bucket{le=\"0.0001\"} 1",
            "serve_invocation_duration_seconds_bucket{le=\"0.005\"} 2",
            "serve_invocation_duration_seconds_bucket{le=\"1\"} 2",
            "serve_invocation_duration_seconds_bucket{le=\"+Inf\"} 3",
            "serve_invocation_duration_seconds_count 3",
            "serve_predicted_rows_total 7",
            "serve_model_version 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}
