//! The run page's in-page artifact preview (`/runs/{id}?preview=PATH`), rendered on the server:
//! text and JSON as text (a confusion matrix in JSON also as a heatmap), CSV as a table, images
//! as images, SVG and HTML in a sandboxed frame whose document is the artifact itself (`srcdoc`:
//! no script runs, no origin is shared, and the page's own policy still applies inside it).
//! Anything else gets its size and a download link.

use crate::tracking::TrackingStore;
use crate::ui::html::{esc, path_q, q};

/// Bytes read for a preview; a larger file shows its beginning.
const PREVIEW_BYTES: usize = 1 << 20;
/// CSV rows shown.
const CSV_ROWS: usize = 200;

/// The preview section for artifact `path` of run `run_id`.
pub(super) fn section(store: &dyn TrackingStore, run_id: &str, path: &str) -> String {
    let url = format!("/runs/{}/artifacts/{}", q(run_id), path_q(path));
    let head = format!(
        "<section class=\"card preview\" id=\"preview\"><h2>{} <a class=\"muted\" href=\"{url}?download=1\">download</a></h2>",
        esc(path)
    );
    let bytes = match read(store, run_id, path) {
        Ok(bytes) => bytes,
        Err(message) => {
            return format!(
                "{head}<div class=\"error\">{}</div></section>",
                esc(&message)
            )
        }
    };
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let body = match ext.as_str() {
        "png" | "jpg" | "jpeg" | "gif" | "webp" => {
            format!(
                "<img class=\"artifact\" alt=\"{}\" src=\"{url}\">",
                esc(path)
            )
        }
        "svg" | "html" | "htm" => frame(&bytes),
        "csv" | "tsv" => csv_table(&bytes, if ext == "tsv" { b'\t' } else { b',' }),
        "json" => json(&bytes),
        _ => match std::str::from_utf8(&bytes) {
            Ok(text) => format!("<pre>{}</pre>", esc(text)),
            Err(_) => format!(
                "<p class=\"muted\">{} bytes of binary data: no preview.</p>",
                bytes.len()
            ),
        },
    };
    format!("{head}{body}</section>")
}

fn read(store: &dyn TrackingStore, run_id: &str, path: &str) -> Result<Vec<u8>, String> {
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = scratch.path().join("artifact");
    store
        .download_artifact(run_id, path, &file)
        .map_err(|e| e.to_string())?;
    let mut bytes = std::fs::read(&file).map_err(|e| e.to_string())?;
    bytes.truncate(PREVIEW_BYTES);
    Ok(bytes)
}

/// A sandboxed frame showing `bytes` as its document: `sandbox` with no allowances, so no
/// script, form or navigation of the page, and a unique origin.
fn frame(bytes: &[u8]) -> String {
    format!(
        "<iframe class=\"artifact\" sandbox=\"\" referrerpolicy=\"no-referrer\" srcdoc=\"{}\"></iframe>",
        esc(&String::from_utf8_lossy(bytes))
    )
}

fn csv_table(bytes: &[u8], delimiter: u8) -> String {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(bytes);
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(esc).collect(),
        Err(e) => return format!("<div class=\"error\">{}</div>", esc(&e.to_string())),
    };
    let mut rows = Vec::new();
    let mut more = false;
    for (i, record) in reader.records().enumerate() {
        if i == CSV_ROWS {
            more = true;
            break;
        }
        match record {
            Ok(r) => rows.push(r.iter().map(esc).collect::<Vec<_>>()),
            Err(e) => return format!("<div class=\"error\">{}</div>", esc(&e.to_string())),
        }
    }
    let note = if more {
        format!("<p class=\"muted\">The first {CSV_ROWS} rows.</p>")
    } else {
        String::new()
    };
    format!(
        "<div class=\"table-wrap\">{}</div>{note}",
        crate::ui::html::table(&headers, &rows)
    )
}

fn json(bytes: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return format!("<pre>{}</pre>", esc(&String::from_utf8_lossy(bytes)));
    };
    let pretty = serde_json::to_string_pretty(&value).unwrap_or_default();
    let matrix = value
        .get("confusion_matrix")
        .map(heatmap)
        .unwrap_or_default();
    format!("{matrix}<pre>{}</pre>", esc(&pretty))
}

/// `{"labels": [...], "rows_true_columns_predicted": [[...]]}` (or `matrix`) as a heatmap
/// table: rows are true classes, columns predicted ones, darker is more.
fn heatmap(cm: &serde_json::Value) -> String {
    let labels: Vec<String> = cm["labels"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from))
                .collect()
        })
        .unwrap_or_default();
    let rows = cm
        .get("rows_true_columns_predicted")
        .or_else(|| cm.get("matrix"))
        .and_then(|m| m.as_array());
    let Some(rows) = rows else {
        return String::new();
    };
    let values: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| {
            r.as_array()
                .map(|c| c.iter().filter_map(serde_json::Value::as_f64).collect())
                .unwrap_or_default()
        })
        .collect();
    let max = values.iter().flatten().copied().fold(0.0f64, f64::max);
    let mut out = String::from(
        "<h3>Confusion matrix</h3><table class=\"heatmap\"><thead><tr><th>true \\ predicted</th>",
    );
    for l in &labels {
        out.push_str(&format!("<th>{}</th>", esc(l)));
    }
    out.push_str("</tr></thead><tbody>");
    for (i, row) in values.iter().enumerate() {
        out.push_str(&format!(
            "<tr><th>{}</th>",
            esc(labels.get(i).map_or("", String::as_str))
        ));
        for v in row {
            let alpha = if max > 0.0 { v / max } else { 0.0 };
            let ink = if alpha > 0.5 { "#fff" } else { "#1f2328" };
            out.push_str(&format!(
                "<td class=\"num\" style=\"background:rgba(9,105,218,{alpha:.2});color:{ink}\">{}</td>",
                crate::metrics::format_value(*v)
            ));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confusion_matrix_becomes_a_heatmap_and_text_stays_text() {
        let cm = serde_json::json!({"labels": ["a", "<b>"], "rows_true_columns_predicted": [[5, 1], [0, 4]]});
        let html = heatmap(&cm);
        assert!(html.contains("<th>&lt;b&gt;</th>") && html.contains(">5</td>"));
        assert!(html.contains("rgba(9,105,218,1.00)"), "{html}");
        let table = csv_table(b"x,y\n1,<i>\n", b',');
        assert!(table.contains("<td>&lt;i&gt;</td>"), "{table}");
        let framed = frame(b"<script>alert(1)</script>\"");
        assert!(framed.contains("sandbox=\"\"") && framed.contains("srcdoc=\"&lt;script&gt;"));
        assert!(!framed.contains("<script>"));
    }
}
