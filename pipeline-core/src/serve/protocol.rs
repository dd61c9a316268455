//! MLflow's scoring protocol: request bodies into a table of numbers, predictions into answers.
//!
//! Accepted, as `mlflow models serve` accepts them (`mlflow/pyfunc/scoring_server`):
//! `Content-Type: application/json` with exactly one of `dataframe_split` (`{"columns": [...],
//! "data": [[...]]}`), `dataframe_records` (`[{column: value}]`), `instances` or `inputs` (a list
//! of objects, a list of lists, or an object of columns); a `params` key is ignored, as MLflow
//! does for a model without a params schema; and `text/csv` with a header row. Only
//! `charset=utf-8` is accepted as a content-type parameter. Columns are matched with the model's
//! features by name, in any order; rows without names (lists of lists) must give every feature
//! in the model's order. Every value must be a finite number.

use crate::predict::Prediction;
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// A request the server refuses: the HTTP status and what is wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct BadInput {
    /// 400, 413 or 415.
    pub status: u16,
    /// Names what is wrong (the column, the row, the type).
    pub message: String,
}

impl BadInput {
    /// A 400.
    pub fn bad(message: impl Into<String>) -> Self {
        BadInput {
            status: 400,
            message: message.into(),
        }
    }

    /// A 415.
    pub fn unsupported(message: impl Into<String>) -> Self {
        BadInput {
            status: 415,
            message: message.into(),
        }
    }
}

/// Rows of numbers, row after row; with column names unless the client sent bare lists.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// The column names, if the request named them.
    pub columns: Option<Vec<String>>,
    /// The number of values per row.
    pub width: usize,
    /// `rows × width` values.
    pub values: Vec<f64>,
}

impl Table {
    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.values.len().checked_div(self.width).unwrap_or(0)
    }
}

/// The JSON keys naming an input format.
pub const FORMATS: [&str; 4] = [
    "dataframe_split",
    "dataframe_records",
    "instances",
    "inputs",
];

/// What `?output=` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Class names, as MLflow answers for a classifier.
    Labels,
    /// Class names with each class's probability.
    Proba,
}

impl Output {
    /// Reads the query string of `/invocations`.
    pub fn from_query(query: Option<&str>) -> Result<Output, BadInput> {
        let mut output = Output::Labels;
        for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if key == "output" {
                output = match value.as_ref() {
                    "labels" | "" => Output::Labels,
                    "proba" => Output::Proba,
                    other => {
                        return Err(BadInput::bad(format!(
                            "unknown output `{other}` (expected `labels` or `proba`)"
                        )))
                    }
                };
            }
        }
        Ok(output)
    }
}

/// Parses a request body of the given `Content-Type`.
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Table, BadInput> {
    let Some(content_type) = content_type else {
        return Err(BadInput::unsupported(
            "no Content-Type: send application/json or text/csv",
        ));
    };
    let mut parts = content_type.split(';').map(str::trim);
    let mime = parts.next().unwrap_or_default().to_ascii_lowercase();
    for parameter in parts.filter(|p| !p.is_empty()) {
        let (key, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        let value = value.trim().trim_matches('"');
        if !key.trim().eq_ignore_ascii_case("charset") {
            return Err(BadInput::unsupported(format!(
                "unrecognized content type parameter `{}` in `{content_type}`",
                key.trim()
            )));
        }
        if !value.eq_ignore_ascii_case("utf-8") {
            return Err(BadInput::unsupported(format!(
                "charset `{value}`: only utf-8 is supported"
            )));
        }
    }
    let parse = match mime.as_str() {
        "application/json" => parse_json,
        "text/csv" => parse_csv,
        _ => {
            return Err(BadInput::unsupported(format!(
                "unsupported content type `{content_type}`: send application/json or text/csv"
            )))
        }
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BadInput::bad("empty body: no rows to predict"));
    }
    let table = parse(body)?;
    if table.values.is_empty() {
        return Err(BadInput::bad("no rows to predict"));
    }
    Ok(table)
}

/// A JSON body with exactly one of [`FORMATS`].
fn parse_json(body: &[u8]) -> Result<Table, BadInput> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| BadInput::bad(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(BadInput::bad(format!(
            "the input must be a JSON object with exactly one of the fields {FORMATS:?}; got {}",
            kind(&value)
        )));
    };
    let present: Vec<&str> = FORMATS
        .into_iter()
        .filter(|f| object.contains_key(*f))
        .collect();
    let [format] = present[..] else {
        let keys: Vec<&String> = object.keys().collect();
        return Err(BadInput::bad(format!(
            "the input must be a JSON object with exactly one of the fields {FORMATS:?}; got the fields {keys:?}"
        )));
    };
    let data = &object[format];
    match format {
        "dataframe_split" => split(data),
        "dataframe_records" => match data {
            Value::Array(rows) => records(format, rows),
            other => Err(BadInput::bad(format!(
                "`dataframe_records` must be a list of objects, got {}",
                kind(other)
            ))),
        },
        _ => tensor(format, data),
    }
}

/// `{"columns": [...], "data": [[...]]}` (an `index` is ignored).
fn split(data: &Value) -> Result<Table, BadInput> {
    let Value::Object(split) = data else {
        return Err(BadInput::bad(format!(
            "`dataframe_split` must be an object with `columns` and `data`, got {}",
            kind(data)
        )));
    };
    let columns = match split.get("columns") {
        None => None,
        Some(Value::Array(names)) => Some(
            names
                .iter()
                .enumerate()
                .map(|(i, name)| match name {
                    Value::String(name) => Ok(name.clone()),
                    other => Err(BadInput::bad(format!(
                        "`dataframe_split.columns[{i}]` must be a string, got {}",
                        kind(other)
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(other) => {
            return Err(BadInput::bad(format!(
                "`dataframe_split.columns` must be a list of names, got {}",
                kind(other)
            )))
        }
    };
    let rows = match split.get("data") {
        Some(Value::Array(rows)) => rows,
        Some(other) => {
            return Err(BadInput::bad(format!(
                "`dataframe_split.data` must be a list of rows, got {}",
                kind(other)
            )))
        }
        None => return Err(BadInput::bad("`dataframe_split` has no `data`")),
    };
    lists("dataframe_split.data", rows, columns)
}

/// `instances` or `inputs`: a list of objects, a list of lists, or an object of columns.
fn tensor(format: &str, data: &Value) -> Result<Table, BadInput> {
    match data {
        Value::Array(rows) if rows.first().is_some_and(Value::is_object) => records(format, rows),
        Value::Array(rows) => lists(format, rows, None),
        Value::Object(columns) => columnar(format, columns),
        other => Err(BadInput::bad(format!(
            "`{format}` must be a list of rows or an object of columns, got {}",
            kind(other)
        ))),
    }
}

/// Rows as lists; every row as long as `columns` (or the first row, without names).
fn lists(what: &str, rows: &[Value], columns: Option<Vec<String>>) -> Result<Table, BadInput> {
    let width = match (&columns, rows.first()) {
        (Some(columns), _) => columns.len(),
        (None, Some(Value::Array(first))) => first.len(),
        (None, _) => 0,
    };
    let mut values = Vec::with_capacity(rows.len() * width);
    for (r, row) in rows.iter().enumerate() {
        let Value::Array(row) = row else {
            return Err(BadInput::bad(format!(
                "`{what}[{r}]` must be a list of values, got {}",
                kind(row)
            )));
        };
        if row.len() != width {
            return Err(BadInput::bad(format!(
                "ragged rows: row {r} has {} values, expected {width}",
                row.len()
            )));
        }
        for (c, value) in row.iter().enumerate() {
            let name = columns.as_ref().map(|cols| cols[c].as_str());
            values.push(number(value, r, c, name)?);
        }
    }
    Ok(Table {
        columns,
        width,
        values,
    })
}

/// Rows as objects; every row must have the same columns.
fn records(what: &str, rows: &[Value]) -> Result<Table, BadInput> {
    let Some(Value::Object(first)) = rows.first() else {
        return Ok(Table {
            columns: Some(Vec::new()),
            width: 0,
            values: Vec::new(),
        });
    };
    let columns: Vec<String> = first.keys().cloned().collect();
    let width = columns.len();
    let mut values = Vec::with_capacity(rows.len() * width);
    for (r, row) in rows.iter().enumerate() {
        let Value::Object(row) = row else {
            return Err(BadInput::bad(format!(
                "`{what}[{r}]` must be an object of column values, got {}",
                kind(row)
            )));
        };
        for (c, column) in columns.iter().enumerate() {
            let value = row
                .get(column)
                .ok_or_else(|| BadInput::bad(format!("missing column `{column}` in row {r}")))?;
            values.push(number(value, r, c, Some(column))?);
        }
        if row.len() != width {
            let extra = row.keys().find(|k| !first.contains_key(*k));
            return Err(BadInput::bad(format!(
                "ragged rows: row {r} has column `{}` that row 0 does not",
                extra.map_or("?", String::as_str)
            )));
        }
    }
    Ok(Table {
        columns: Some(columns),
        width,
        values,
    })
}

/// `{"column": [values…]}`: every column as long as the others.
fn columnar(what: &str, columns: &Map<String, Value>) -> Result<Table, BadInput> {
    let mut lists = Vec::with_capacity(columns.len());
    for (name, values) in columns {
        match values {
            Value::Array(values) => lists.push((name, values)),
            other => {
                return Err(BadInput::bad(format!(
                    "`{what}.{name}` must be a list of values, got {}",
                    kind(other)
                )))
            }
        }
    }
    let n = lists.first().map_or(0, |(_, v)| v.len());
    if let Some((name, v)) = lists.iter().find(|(_, v)| v.len() != n) {
        return Err(BadInput::bad(format!(
            "ragged columns: `{name}` has {} values, `{}` has {n}",
            v.len(),
            lists[0].0
        )));
    }
    let width = lists.len();
    let mut values = Vec::with_capacity(n * width);
    for r in 0..n {
        for (c, (name, column)) in lists.iter().enumerate() {
            values.push(number(&column[r], r, c, Some(name))?);
        }
    }
    Ok(Table {
        columns: Some(lists.into_iter().map(|(name, _)| name.clone()).collect()),
        width,
        values,
    })
}

/// A CSV body with a header row.
fn parse_csv(body: &[u8]) -> Result<Table, BadInput> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(body);
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| BadInput::bad(format!("the CSV header is unreadable: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let width = columns.len();
    let mut values = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut r = 0;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(BadInput::bad(format!("CSV row {r}: {e}"))),
        }
        if record.len() != width {
            return Err(BadInput::bad(format!(
                "ragged rows: CSV row {r} has {} values, the header {width}",
                record.len()
            )));
        }
        for (c, text) in record.iter().enumerate() {
            let text = text.trim();
            let value: f64 = text.parse().map_err(|_| {
                BadInput::bad(format!(
                    "wrong type: row {r}, column `{}`: `{}` is not a number",
                    columns[c],
                    clip(text)
                ))
            })?;
            if !value.is_finite() {
                return Err(non_finite(r, Some(&columns[c]), c, value));
            }
            values.push(value);
        }
        r += 1;
    }
    Ok(Table {
        columns: Some(columns),
        width,
        values,
    })
}

/// A JSON value that must be a finite number.
fn number(value: &Value, row: usize, column: usize, name: Option<&str>) -> Result<f64, BadInput> {
    let at = || match name {
        Some(name) => format!("row {row}, column `{name}`"),
        None => format!("row {row}, value {column}"),
    };
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(v) if v.is_finite() => Ok(v),
            Some(v) => Err(non_finite(row, name, column, v)),
            None => Err(BadInput::bad(format!("{}: {n} is not a number", at()))),
        },
        other => Err(BadInput::bad(format!(
            "wrong type: {}: expected a number, got {}",
            at(),
            kind(other)
        ))),
    }
}

fn non_finite(row: usize, name: Option<&str>, column: usize, value: f64) -> BadInput {
    let at = match name {
        Some(name) => format!("column `{name}`"),
        None => format!("value {column}"),
    };
    BadInput::bad(format!(
        "row {row}, {at}: {value} is not a finite number (NaN and infinities are refused)"
    ))
}

/// What a JSON value is, for messages (strings shown clipped).
fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => format!("a string (\"{}\")", clip(s)),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// At most 40 characters of client text in a message.
fn clip(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// The table's values with each row's features in the model's order: columns matched by name
/// (any order; unknown, missing or repeated names refused), or rows without names as long as
/// the feature list.
pub fn align(table: Table, features: &[String]) -> Result<Vec<f64>, BadInput> {
    let Some(columns) = &table.columns else {
        if table.width != features.len() {
            return Err(BadInput::bad(format!(
                "rows have {} values but the model takes {} features {features:?} \
                 (name the columns to send them in another order)",
                table.width,
                features.len()
            )));
        }
        return Ok(table.values);
    };
    for (i, column) in columns.iter().enumerate() {
        if !features.contains(column) {
            return Err(BadInput::bad(format!(
                "unknown column `{}` (the model's features are {features:?})",
                clip(column)
            )));
        }
        if columns[..i].contains(column) {
            return Err(BadInput::bad(format!("column `{column}` appears twice")));
        }
    }
    if let Some(missing) = features.iter().find(|f| !columns.contains(f)) {
        return Err(BadInput::bad(format!(
            "missing column `{missing}` (the model's features are {features:?})"
        )));
    }
    if columns.as_slice() == features {
        return Ok(table.values);
    }
    // Same set of names, another order: pick each feature's column.
    let order: Vec<usize> = features
        .iter()
        .map(|f| columns.iter().position(|c| c == f).unwrap_or(0))
        .collect();
    let mut values = Vec::with_capacity(table.values.len());
    for row in table.values.chunks_exact(table.width) {
        values.extend(order.iter().map(|&c| row[c]));
    }
    Ok(values)
}

/// `{"predictions": [...]}`: class names, or with [`Output::Proba`] objects with the label and
/// each class's probability.
pub fn answer(predictions: &[Prediction], classes: &[String], output: Output) -> String {
    let mut out = String::with_capacity(16 + predictions.len() * 16);
    out.push_str("{\"predictions\":[");
    for (i, prediction) in predictions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let label = classes.get(prediction.class).map_or("", String::as_str);
        match output {
            Output::Labels => push_json_string(&mut out, label),
            Output::Proba => {
                out.push_str("{\"label\":");
                push_json_string(&mut out, label);
                out.push_str(",\"probabilities\":{");
                for (c, (class, p)) in classes.iter().zip(&prediction.probabilities).enumerate() {
                    if c > 0 {
                        out.push(',');
                    }
                    push_json_string(&mut out, class);
                    let _ = write!(out, ":{}", if p.is_finite() { *p } else { 0.0 });
                }
                out.push_str("}}");
            }
        }
    }
    out.push_str("]}");
    out
}

fn push_json_string(out: &mut String, text: &str) {
    out.push_str(&serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features() -> Vec<String> {
        ["a", "b"].map(String::from).to_vec()
    }

    fn json(body: &str) -> Result<Vec<f64>, BadInput> {
        align(
            parse(Some("application/json"), body.as_bytes())?,
            &features(),
        )
    }

    #[test]
    fn every_json_shape_gives_the_same_rows_in_the_models_order() {
        let want = vec![1.0, 2.0, 3.0, 4.0];
        for body in [
            r#"{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}}"#,
            r#"{"dataframe_split": {"index": [7, 8], "columns": ["b", "a"], "data": [[2, 1], [4, 3]]}}"#,
            r#"{"dataframe_records": [{"b": 2, "a": 1}, {"a": 3, "b": 4.0}]}"#,
            r#"{"instances": [{"a": 1, "b": 2}, {"a": 3, "b": 4}]}"#,
            r#"{"instances": [[1, 2], [3, 4]]}"#,
            r#"{"inputs": {"b": [2, 4], "a": [1, 3]}}"#,
            r#"{"inputs": [[1, 2], [3, 4]], "params": {"x": 1}}"#,
        ] {
            assert_eq!(json(body), Ok(want.clone()), "{body}");
        }
        let csv = parse(Some("text/csv; charset=UTF-8"), b"b,a\n2,1\n4,3\n").unwrap();
        assert_eq!(align(csv, &features()), Ok(want));
    }

    fn message(result: Result<Vec<f64>, BadInput>) -> (u16, String) {
        let e = result.unwrap_err();
        (e.status, e.message)
    }

    #[test]
    fn each_bad_input_is_named() {
        let cases = [
            (
                r#"{"dataframe_split": {"columns": ["a", "c"], "data": [[1, 2]]}}"#,
                "unknown column `c`",
            ),
            (r#"{"dataframe_records": [{"a": 1}]}"#, "missing column `b`"),
            (
                r#"{"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}"#,
                "`a` appears twice",
            ),
            (
                r#"{"instances": [[1, "x"]]}"#,
                "wrong type: row 0, value 1: expected a number, got a string",
            ),
            (
                r#"{"instances": [[1, 2], [3]]}"#,
                "ragged rows: row 1 has 1 values, expected 2",
            ),
            (
                r#"{"dataframe_records": [{"a": 1, "b": 2}, {"a": 1}]}"#,
                "missing column `b` in row 1",
            ),
            (r#"{"inputs": {"a": [1, 2], "b": [1]}}"#, "ragged columns"),
            (
                r#"{"instances": [[1, 2, 3]]}"#,
                "rows have 3 values but the model takes 2",
            ),
            (r#"{"instances": [[1, null]]}"#, "got null"),
            (r#"{"instances": []}"#, "no rows to predict"),
            (r#"{"a": 1}"#, "exactly one of the fields"),
            (
                r#"{"instances": [[1, 2]], "inputs": [[1, 2]]}"#,
                "exactly one of the fields",
            ),
            (r#"[[1, 2]]"#, "got a list"),
            (r#"{"instances": [[1, 2e400]]}"#, "not valid JSON"),
            ("{\"instances\": [[1, 2]]", "not valid JSON"),
            ("  \n", "empty body"),
        ];
        for (body, want) in cases {
            let (status, got) = message(json(body));
            assert_eq!(status, 400, "{body}");
            assert!(got.contains(want), "{body}: {got}");
        }
        let csv = |body: &str| {
            message(parse(Some("text/csv"), body.as_bytes()).and_then(|t| align(t, &features())))
        };
        assert!(csv("a,b\n1,NaN\n")
            .1
            .contains("row 0, column `b`: NaN is not a finite number"));
        assert!(csv("a,b\n1,inf\n").1.contains("not a finite number"));
        assert!(csv("a,b\n1,2\n3\n").1.contains("ragged rows: CSV row 1"));
        assert!(csv("a,b\n1,x\n").1.contains("`x` is not a number"));
        assert!(csv("a,b\n").1.contains("no rows"));
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/json; format=pandas-split"),
            Some("text/csv; charset=latin-1"),
        ] {
            let e = parse(content_type, b"a,b\n1,2\n").unwrap_err();
            assert_eq!(e.status, 415, "{content_type:?}: {}", e.message);
        }
    }

    #[test]
    fn answers_are_mlflow_shaped() {
        let classes = ["x", "y\"z"].map(String::from);
        let predictions = [
            Prediction {
                class: 1,
                probabilities: vec![0.25, 0.75],
            },
            Prediction {
                class: 0,
                probabilities: vec![1.0, 0.0],
            },
        ];
        let labels: Value =
            serde_json::from_str(&answer(&predictions, &classes, Output::Labels)).unwrap();
        assert_eq!(labels, serde_json::json!({"predictions": ["y\"z", "x"]}));
        let proba: Value =
            serde_json::from_str(&answer(&predictions, &classes, Output::Proba)).unwrap();
        assert_eq!(
            proba["predictions"][0],
            serde_json::json!({"label": "y\"z", "probabilities": {"x": 0.25, "y\"z": 0.75}})
        );
        assert_eq!(Output::from_query(Some("output=proba")), Ok(Output::Proba));
        assert_eq!(Output::from_query(None), Ok(Output::Labels));
        assert_eq!(
            Output::from_query(Some("output=zzz")).unwrap_err().status,
            400
        );
    }
}
