//! Inline SVG charts: a metric's history over steps, and parallel coordinates for comparing runs.

use super::html::esc;
use std::fmt::Write;

const PALETTE: [&str; 8] = [
    "#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#0a3069", "#e16f24", "#57606a",
];

/// Range of `values`, widened when flat so that a constant still draws.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    (lo, hi)
}

fn label(v: f64) -> String {
    crate::metrics::format_value(v)
}

/// A line chart of `(step, value)` points.
pub fn history(key: &str, points: &[(i64, f64)]) -> String {
    let (w, h, pad) = (420.0, 200.0, 40.0);
    let (x0, x1) = bounds(points.iter().map(|p| p.0 as f64));
    let (y0, y1) = bounds(points.iter().map(|p| p.1));
    let x = |v: f64| pad + (v - x0) / (x1 - x0) * (w - 2.0 * pad);
    let y = |v: f64| h - pad - (v - y0) / (y1 - y0) * (h - 2.0 * pad);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{w}\" height=\"{h}\" \
         role=\"img\" aria-label=\"{k} history\"><rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>\
         <text x=\"{pad}\" y=\"16\" font-size=\"12\" font-weight=\"600\">{k}</text>",
        k = esc(key)
    );
    let _ = write!(
        svg,
        "<line x1=\"{pad}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#8c959f\"/>\
         <line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{b}\" stroke=\"#8c959f\"/>\
         <text x=\"4\" y=\"{t}\" font-size=\"10\">{hi}</text><text x=\"4\" y=\"{b}\" font-size=\"10\">{lo}</text>\
         <text x=\"{pad}\" y=\"{s}\" font-size=\"10\">step {x0}</text>\
         <text x=\"{r}\" y=\"{s}\" font-size=\"10\" text-anchor=\"end\">{x1}</text>",
        b = h - pad,
        r = w - pad,
        t = pad + 4.0,
        hi = label(y1),
        lo = label(y0),
        s = h - pad + 14.0,
    );
    let path: Vec<String> = points
        .iter()
        .filter(|p| p.1.is_finite())
        .map(|p| format!("{:.1},{:.1}", x(p.0 as f64), y(p.1)))
        .collect();
    let _ = write!(
        svg,
        "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
        PALETTE[0],
        path.join(" ")
    );
    for p in points.iter().filter(|p| p.1.is_finite()) {
        let _ = write!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{}\"><title>step {}: {}</title></circle>",
            x(p.0 as f64),
            y(p.1),
            PALETTE[0],
            p.0,
            label(p.1)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Parallel coordinates: one vertical axis per key, one polyline per run. Values that are not
/// numbers are placed by their rank among the distinct values of that axis.
pub fn parallel(keys: &[String], runs: &[(String, Vec<Option<String>>)]) -> String {
    let (w, h, pad) = ((keys.len().max(2) as f64) * 150.0, 320.0, 50.0);
    let step = (w - 2.0 * pad) / ((keys.len().max(2) - 1) as f64);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{w}\" height=\"{h}\" \
         role=\"img\" aria-label=\"parallel coordinates\"><rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>"
    );
    // Per axis: a position in [0, 1] for each run's value.
    let mut positions: Vec<Vec<Option<f64>>> = vec![Vec::new(); runs.len()];
    for (k, key) in keys.iter().enumerate() {
        let values: Vec<Option<&String>> = runs
            .iter()
            .map(|r| r.1.get(k).and_then(|v| v.as_ref()))
            .collect();
        let numbers: Vec<Option<f64>> = values
            .iter()
            .map(|v| v.and_then(|s| s.parse::<f64>().ok()))
            .collect();
        let numeric = values
            .iter()
            .zip(&numbers)
            .all(|(v, n)| v.is_none() || n.is_some());
        let (lo, hi, mut names): (f64, f64, Vec<&String>) = if numeric {
            let (lo, hi) = bounds(numbers.iter().flatten().copied());
            (lo, hi, Vec::new())
        } else {
            let mut names: Vec<&String> = values.iter().flatten().copied().collect();
            names.sort();
            names.dedup();
            (0.0, (names.len().max(2) - 1) as f64, names)
        };
        for (r, (value, number)) in values.iter().zip(&numbers).enumerate() {
            let v = if numeric {
                *number
            } else {
                value
                    .and_then(|s| names.iter().position(|n| *n == s))
                    .map(|i| i as f64)
            };
            positions[r].push(v.map(|v| (v - lo) / (hi - lo)));
        }
        let x = pad + step * k as f64;
        let _ = write!(
            svg,
            "<line x1=\"{x}\" y1=\"{pad}\" x2=\"{x}\" y2=\"{b}\" stroke=\"#8c959f\"/>\
             <text x=\"{x}\" y=\"{ty}\" font-size=\"11\" text-anchor=\"middle\" font-weight=\"600\">{k}</text>",
            b = h - pad,
            ty = pad - 18.0,
            k = esc(key)
        );
        let (top, bottom) = if numeric {
            (label(hi), label(lo))
        } else {
            names.dedup();
            (
                names.last().map(|s| esc(s)).unwrap_or_default(),
                names.first().map(|s| esc(s)).unwrap_or_default(),
            )
        };
        let _ = write!(
            svg,
            "<text x=\"{x}\" y=\"{t}\" font-size=\"10\" text-anchor=\"middle\">{top}</text>\
             <text x=\"{x}\" y=\"{bb}\" font-size=\"10\" text-anchor=\"middle\">{bottom}</text>",
            t = pad - 4.0,
            bb = h - pad + 14.0,
        );
    }
    for (r, (name, _)) in runs.iter().enumerate() {
        let points: Vec<String> = positions[r]
            .iter()
            .enumerate()
            .filter_map(|(k, p)| {
                p.map(|p| {
                    format!(
                        "{:.1},{:.1}",
                        pad + step * k as f64,
                        h - pad - p * (h - 2.0 * pad)
                    )
                })
            })
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" opacity=\"0.8\" points=\"{p}\"><title>{n}</title></polyline>",
            c = PALETTE[r % PALETTE.len()],
            p = points.join(" "),
            n = esc(name)
        );
    }
    // Legend.
    for (r, (name, _)) in runs.iter().enumerate() {
        let y = h - 12.0;
        let x = pad + 160.0 * r as f64;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{ry}\" width=\"10\" height=\"10\" fill=\"{c}\"/><text x=\"{tx}\" y=\"{y}\" font-size=\"11\">{n}</text>",
            ry = y - 9.0,
            tx = x + 14.0,
            c = PALETTE[r % PALETTE.len()],
            n = esc(name)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_draw_every_point_and_run() {
        let svg = history("loss", &[(0, 1.0), (1, 0.5), (2, 0.25)]);
        assert_eq!(svg.matches("<circle").count(), 3);
        let runs = vec![
            (
                "a".to_string(),
                vec![Some("1".to_string()), Some("gini".to_string())],
            ),
            (
                "b".to_string(),
                vec![Some("3".to_string()), Some("entropy".to_string())],
            ),
        ];
        let svg = parallel(&["depth".into(), "criterion".into()], &runs);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains(">depth<") && svg.contains(">entropy<"));
    }
}
