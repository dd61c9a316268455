//! Inline SVG charts drawn on the server: a metric's history over steps on the run page, which
//! reads without script. The interactive charts are `static/charts.js`.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_draw_every_point_and_run() {
        let svg = history("loss", &[(0, 1.0), (1, 0.5), (2, 0.25)]);
        assert_eq!(svg.matches("<circle").count(), 3);
    }
}
