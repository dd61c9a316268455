//! The crate-wide error type.
//!
//! Every fallible public function returns [`MlError`], so callers can match on
//! one enum and every message carries enough context (source name, line,
//! column, parameter or tree index) to locate the problem without a debugger.

use thiserror::Error;

/// Everything that can go wrong while loading data, splitting, fitting,
/// predicting, serialising or evaluating.
#[derive(Debug, Error)]
pub enum MlError {
    /// The CSV layer itself failed (I/O, invalid UTF-8, malformed quoting).
    #[error("{source_name}{}: CSV error: {source}", line_suffix(*.line))]
    Csv {
        /// Name of the input, as given by the caller (usually a path).
        source_name: String,
        /// 1-based line of the offending record, when the CSV reader knows it.
        line: Option<u64>,
        /// The underlying CSV error.
        #[source]
        source: csv::Error,
    },

    /// The header row is missing or has no `species` column.
    #[error("{source_name}:1: bad header: {reason}")]
    BadHeader {
        /// Name of the input.
        source_name: String,
        /// What is wrong with the header.
        reason: String,
    },

    /// A data row has a different number of fields than the header.
    #[error("{source_name}:{line}: expected {expected} columns, found {found}")]
    ColumnCount {
        /// Name of the input.
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// Number of columns in the header.
        expected: usize,
        /// Number of columns in this row.
        found: usize,
    },

    /// A feature cell is not a number.
    #[error("{source_name}:{line}: column {column} (`{column_name}`): cannot parse {value:?} as a number")]
    BadNumber {
        /// Name of the input.
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// 1-based column number.
        column: usize,
        /// Header name of the column.
        column_name: String,
        /// The raw cell text.
        value: String,
    },

    /// A feature cell parsed to NaN or an infinity.
    #[error(
        "{source_name}:{line}: column {column} (`{column_name}`): value {value:?} is not finite"
    )]
    NonFiniteValue {
        /// Name of the input.
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// 1-based column number.
        column: usize,
        /// Header name of the column.
        column_name: String,
        /// The raw cell text.
        value: String,
    },

    /// The species cell is empty.
    #[error("{source_name}:{line}: column {column} (`species`): empty label")]
    EmptyLabel {
        /// Name of the input.
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// 1-based column number.
        column: usize,
    },

    /// A data set lacks a feature column the model was trained on.
    #[error("no feature column `{name}`, which the model was trained on")]
    MissingFeature {
        /// The feature's name.
        name: String,
    },

    /// The input has a header but no data rows.
    #[error("{source_name}: no data rows after the header")]
    NoRows {
        /// Name of the input.
        source_name: String,
    },

    /// Writing output failed.
    #[error("writing {what}: {source}")]
    Io {
        /// What was being written.
        what: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A hyper-parameter or argument is out of its valid range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// Name of the parameter.
        name: &'static str,
        /// Why the value was rejected.
        reason: String,
    },

    /// Two inputs that must have equal length do not.
    #[error("length mismatch: `{left_name}` has {left} entries but `{right_name}` has {right}")]
    LengthMismatch {
        /// Name of the first input.
        left_name: &'static str,
        /// Length of the first input.
        left: usize,
        /// Name of the second input.
        right_name: &'static str,
        /// Length of the second input.
        right: usize,
    },

    /// An input that must contain at least one row is empty.
    #[error("`{name}` is empty")]
    Empty {
        /// Name of the empty input.
        name: &'static str,
    },

    /// A class label is not a valid index into the class names.
    #[error(
        "`{name}`[{index}] = {label} is not a valid class index (there are {n_classes} classes)"
    )]
    LabelOutOfRange {
        /// Name of the label array.
        name: &'static str,
        /// Position of the bad label.
        index: usize,
        /// The bad label.
        label: usize,
        /// Number of known classes.
        n_classes: usize,
    },

    /// A feature matrix cell is NaN or infinite.
    #[error("`{name}` row {row}, column {column} (`{column_name}`): value {value} is not finite")]
    NonFiniteFeature {
        /// Name of the matrix.
        name: &'static str,
        /// 0-based row.
        row: usize,
        /// 0-based column.
        column: usize,
        /// Feature name of the column.
        column_name: String,
        /// The offending value.
        value: f64,
    },

    /// The feature matrix has the wrong number of columns for the model.
    #[error("feature count mismatch: model expects {expected} features, input has {found}")]
    FeatureCountMismatch {
        /// Number of features the model was trained on.
        expected: usize,
        /// Number of columns in the input.
        found: usize,
    },

    /// A split would leave a class without training rows.
    #[error("stratified split: class `{class}` has {available} rows and would get {test} test rows, leaving none for training")]
    ClassWithoutTrainRows {
        /// Name of the class.
        class: String,
        /// Rows of that class in the input.
        available: usize,
        /// Rows of that class assigned to the test side.
        test: usize,
    },

    /// An error from linfa, which its `Fit` trait requires this type to carry.
    #[error("linfa: {0}")]
    Linfa(#[from] linfa::Error),

    /// A tree (freshly fitted or deserialised) violates a structural invariant.
    #[error("tree {tree}: {reason}")]
    MalformedTree {
        /// Index of the tree in the forest.
        tree: usize,
        /// The violated invariant.
        reason: String,
    },

    /// A model JSON document is not valid for this crate.
    #[error("model JSON: {0}")]
    Json(#[from] serde_json::Error),
}

fn line_suffix(line: Option<u64>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}
