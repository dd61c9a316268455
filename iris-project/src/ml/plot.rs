//! Rendering of a confusion matrix as a standalone SVG heatmap.
//!
//! SVG is plain text, needs no plotting dependency, opens in any browser and
//! diffs cleanly in version control; the output is a pure function of the
//! inputs (integer geometry, no timestamps or random ids) so regenerated
//! figures only change when the numbers do.

use std::fmt::Write as _;

/// Side length of one matrix cell, in SVG user units.
const CELL: usize = 72;
/// Approximate advance width of one label character at the label font size.
const CHAR_W: usize = 8;
/// Lightest and darkest cell colours (white to a dark blue).
const LOW: (u32, u32, u32) = (0xf7, 0xfb, 0xff);
const HIGH: (u32, u32, u32) = (0x08, 0x30, 0x6b);

/// Escapes the five XML special characters so arbitrary class names and
/// titles cannot break the document.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Linear blend between `LOW` and `HIGH` in integer arithmetic, so the colour
/// of a count never depends on float formatting.
fn shade(count: usize, max: usize) -> String {
    let mix = |lo: u32, hi: u32| -> u32 {
        if max == 0 {
            return lo;
        }
        let (c, m) = (count as u64, max as u64);
        let (lo, hi) = (u64::from(lo), u64::from(hi));
        // lo + (hi - lo) * c / m, rounded, for either direction of hi - lo.
        let v = if hi >= lo {
            lo + ((hi - lo) * c + m / 2) / m
        } else {
            lo - ((lo - hi) * c + m / 2) / m
        };
        v as u32
    };
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(LOW.0, HIGH.0),
        mix(LOW.1, HIGH.1),
        mix(LOW.2, HIGH.2)
    )
}

/// Renders `matrix` (rows = true class, columns = predicted class) as an SVG
/// document.
///
/// Each cell is one `<rect>` shaded from white (0) to dark blue (the largest
/// count) with the count written in it, in white on dark cells for contrast.
/// Class names label rows and columns; a missing name falls back to the class
/// index, and ragged rows are drawn as they are, so any input renders.
pub fn confusion_matrix_svg(matrix: &[Vec<usize>], class_names: &[String], title: &str) -> String {
    let n_rows = matrix.len();
    let n_cols = matrix.iter().map(Vec::len).max().unwrap_or(0);
    let name = |i: usize| -> String {
        class_names
            .get(i)
            .map(|s| xml_escape(s))
            .unwrap_or_else(|| i.to_string())
    };
    let name_chars = |i: usize| -> usize {
        class_names
            .get(i)
            .map(|s| s.chars().count())
            .unwrap_or_else(|| i.to_string().len())
    };
    let longest = (0..n_rows.max(n_cols)).map(name_chars).max().unwrap_or(1);
    let max = matrix.iter().flatten().copied().max().unwrap_or(0);

    // Layout: title, "predicted" axis label and column names above the grid;
    // "true" axis label and row names to its left.
    let left = 40 + longest * CHAR_W + 12;
    let top = 40 + 24 + 24;
    let width = left + n_cols * CELL + 20;
    let height = top + n_rows * CELL + 20;
    let grid_w = n_cols * CELL;
    let grid_h = n_rows * CELL;

    let mut svg = String::new();
    // Writing into a String cannot fail, so the fmt::Results are ignored.
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="24" font-size="16" font-weight="bold" text-anchor="middle">{}</text>"#,
        width / 2,
        xml_escape(title)
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="52" font-size="13" text-anchor="middle">predicted</text>"#,
        left + grid_w / 2
    );
    let (tx, ty) = (20, top + grid_h / 2);
    let _ = writeln!(
        svg,
        r#"<text x="{tx}" y="{ty}" font-size="13" text-anchor="middle" transform="rotate(-90 {tx} {ty})">true</text>"#
    );
    for c in 0..n_cols {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" font-size="12" text-anchor="middle">{}</text>"#,
            left + c * CELL + CELL / 2,
            top - 8,
            name(c)
        );
    }
    for (r, row) in matrix.iter().enumerate() {
        let y = top + r * CELL;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" font-size="12" text-anchor="end" dominant-baseline="middle">{}</text>"#,
            left - 8,
            y + CELL / 2,
            name(r)
        );
        for (c, &count) in row.iter().enumerate() {
            let x = left + c * CELL;
            let text_colour = if max > 0 && count * 2 > max {
                "#ffffff"
            } else {
                "#000000"
            };
            let _ = writeln!(
                svg,
                r##"<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="{}" stroke="#ffffff" stroke-width="1"/>"##,
                shade(count, max)
            );
            let _ = writeln!(
                svg,
                r#"<text x="{}" y="{}" font-size="16" text-anchor="middle" dominant-baseline="middle" fill="{text_colour}">{count}</text>"#,
                x + CELL / 2,
                y + CELL / 2
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks that every tag is closed in order (self-closing tags count as
    /// closed) and returns the element names in document order.
    fn balanced_elements(doc: &str) -> Vec<String> {
        let mut stack: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        let mut rest = doc;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').expect("unterminated tag") + start;
            let tag = &rest[start + 1..end];
            assert!(!tag.contains('<'), "'<' inside tag: {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
            } else {
                let name: String = tag
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '/')
                    .collect();
                seen.push(name.clone());
                if !tag.ends_with('/') {
                    stack.push(name);
                }
            }
            rest = &rest[end + 1..];
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        seen
    }

    fn iris_names() -> Vec<String> {
        ["setosa", "versicolor", "virginica"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn one_rect_per_cell_and_all_counts() {
        let m = vec![vec![10, 0, 0], vec![0, 9, 1], vec![0, 2, 8]];
        let svg = confusion_matrix_svg(&m, &iris_names(), "Iris test set");
        let elements = balanced_elements(&svg);
        assert_eq!(elements.first().map(String::as_str), Some("svg"));
        assert_eq!(elements.iter().filter(|e| *e == "rect").count(), 9);
        for count in ["10", "9", "8", "2", "1", "0"] {
            assert!(svg.contains(&format!(">{count}</text>")), "missing {count}");
        }
        for label in [
            "setosa",
            "versicolor",
            "virginica",
            ">true<",
            ">predicted<",
            "Iris test set",
        ] {
            assert!(svg.contains(label), "missing {label}");
        }
        // Largest count darkest, zero white.
        assert!(svg.contains(r##"fill="#08306b""##));
        assert!(svg.contains(r##"fill="#f7fbff""##));
    }

    #[test]
    fn deterministic_and_escaped() {
        let m = vec![vec![1, 2], vec![3, 4]];
        let names = vec!["a<b & \"c\"".to_string(), "d'e>".to_string()];
        let a = confusion_matrix_svg(&m, &names, "<T&T>");
        let b = confusion_matrix_svg(&m, &names, "<T&T>");
        assert_eq!(a, b);
        assert!(a.contains("a&lt;b &amp; &quot;c&quot;"));
        assert!(a.contains("d&apos;e&gt;"));
        assert!(a.contains("&lt;T&amp;T&gt;"));
        assert!(!a.contains("a<b"));
        balanced_elements(&a);
    }

    #[test]
    fn degenerate_inputs_render() {
        let empty = confusion_matrix_svg(&[], &[], "empty");
        assert_eq!(
            balanced_elements(&empty)
                .iter()
                .filter(|e| *e == "rect")
                .count(),
            0
        );
        let zeros = confusion_matrix_svg(&[vec![0, 0], vec![0]], &[], "zeros");
        assert_eq!(
            balanced_elements(&zeros)
                .iter()
                .filter(|e| *e == "rect")
                .count(),
            3
        );
    }
}
