//! HTML building blocks shared by the pages: the layout, escaping, links, tables.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query value.
pub fn q(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Percent-encodes each segment of an artifact path, keeping the slashes.
pub fn path_q(path: &str) -> String {
    path.split('/')
        .map(|s| {
            form_urlencoded::byte_serialize(s.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        })
        .collect::<Vec<_>>()
        .join("/")
}

const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600}
main{padding:16px 24px}
h1{font-size:22px;margin:8px 0 16px}
h2{font-size:17px;margin:24px 0 8px}
table{border-collapse:collapse;background:#fff;font-size:13px}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;white-space:nowrap}
th{background:#eaeef2}
th a{color:inherit}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.diff td{background:#fff8c5}
.error{background:#ffebe9;border:1px solid #ff8182;padding:8px 12px;white-space:pre;font-family:monospace}
.muted{color:#656d76}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px;margin-bottom:16px}
.status-FINISHED{color:#1a7f37}.status-FAILED{color:#cf222e}.status-KILLED{color:#9a6700}.status-RUNNING{color:#0969da}
input[type=text]{width:640px;font-family:monospace;font-size:14px;line-height:1.6;padding:3px 6px;box-sizing:content-box}
td.cut{max-width:18em;overflow:hidden;text-overflow:ellipsis}
tr.groups th{font-size:11px;font-weight:600;text-transform:uppercase;color:#656d76;background:#f6f8fa}
.table-wrap{overflow-x:auto}
.toolbar{display:flex;gap:12px;align-items:center;margin:8px 0;position:relative}
.chooser summary{cursor:pointer;padding:4px 8px;border:1px solid #d0d7de;border-radius:6px;background:#fff}
.chooser .groups{display:flex;gap:8px;background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px;position:absolute;z-index:2;box-shadow:0 4px 12px #0002}
.chooser fieldset{border:1px solid #eaeef2;max-height:320px;overflow:auto;margin:0}
.chooser label{display:block;white-space:nowrap;font-size:13px}
tr.stage td{background:#f6f8fa}
td.nested{padding-left:28px}
td.pick{white-space:nowrap}
button.expand{border:none;background:none;cursor:pointer;width:1.6em;padding:0}
.chart-card{display:inline-block;vertical-align:top;margin-right:16px}
.chart-card h2{margin-top:0}
.controls{display:flex;gap:12px;margin-bottom:8px;font-size:13px}
svg.chart{background:#fff;font-size:11px}
svg.chart .grid line{stroke:#eaeef2}
svg.chart .plot-frame{fill:none;stroke:#d0d7de}
svg.chart .axis{stroke:#57606a}
svg.chart .tick{fill:#57606a}
svg.chart .axis-label{fill:#1f2328;font-weight:600;font-size:12px}
svg.chart .point,svg.chart .bar,svg.chart polyline.line{cursor:pointer}
svg.chart .point:hover,svg.chart .bar:hover{stroke:#1f2328;stroke-width:2}
svg.chart polyline.line:hover{stroke-width:5}
.chart-tooltip{position:absolute;z-index:10;background:#24292f;color:#fff;padding:6px 8px;border-radius:6px;font-size:12px;pointer-events:none;max-width:360px}
.chart-tooltip .tip-title{font-weight:600}
.legend{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0}
.legend-item{display:flex;align-items:center;gap:6px;border:1px solid #d0d7de;border-radius:12px;background:#fff;padding:2px 10px;font-size:12px;cursor:pointer}
.legend-item.off{opacity:.4;text-decoration:line-through}
.swatch{width:10px;height:10px;border-radius:50%;display:inline-block}
.crumbs{font-size:14px;margin:0 0 12px}
.artifacts{display:flex;gap:16px;align-items:flex-start}
.tree ul{list-style:none;padding-left:16px;margin:2px 0;font-size:13px}
.tree li.current>a{font-weight:700}
.preview{flex:1;min-width:0}
iframe.artifact{width:100%;height:480px;border:1px solid #d0d7de;background:#fff}
img.artifact{max-width:100%}
table.heatmap td{width:56px;text-align:center}
pre{background:#fff;border:1px solid #d0d7de;padding:8px;overflow:auto;max-height:480px}
";

/// `value` as a JSON data block for the page's scripts: never executed, and with `<`, `>` and
/// `&` escaped so that no value can close the block.
pub fn json_block(id: &str, value: &serde_json::Value) -> String {
    let text = value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    format!(
        "<script type=\"application/json\" id=\"{}\">{text}</script>",
        esc(id)
    )
}

/// A whole page.
pub fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <link rel=\"icon\" href=\"/static/favicon.svg\">\
         <style>{STYLE}</style></head><body><header><a href=\"/\">Experiments</a>\
         <a href=\"/dag\">Pipeline</a><a href=\"/models\">Models</a></header>\
         <main><h1>{t}</h1>{body}</main><script src=\"/static/runs.js\"></script>\
         <script src=\"/static/charts.js\"></script><script src=\"/static/views.js\"></script>\
         </body></html>",
        t = esc(title)
    ))
}

/// An error page with a status code.
pub fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        page(
            "Error",
            &format!("<div class=\"error\">{}</div>", esc(message)),
        ),
    )
        .into_response()
}

/// A table from headers and already-escaped cells.
pub fn table(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table><thead><tr>");
    for h in headers {
        out.push_str(&format!("<th>{h}</th>"));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            out.push_str(&format!("<td>{cell}</td>"));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}
