//! The in-memory data set type plus Iris loading and CSV round-tripping.
//!
//! The crate works on one plain struct instead of linfa's `DatasetBase` so the
//! public API does not leak linfa types and so feature and class names travel
//! with the numbers through splitting, CSV files and evaluation.

use std::io::{Read, Write};

use ndarray::{Array2, Axis};

use crate::ml::error::MlError;

/// Column names of the Iris features, in the order of the feature matrix.
pub const IRIS_FEATURE_NAMES: [&str; 4] =
    ["sepal_length", "sepal_width", "petal_length", "petal_width"];

/// Iris species; a label `i` always means `IRIS_CLASS_NAMES[i]`, whatever
/// subset of rows a file or split contains, so models stay comparable.
pub const IRIS_CLASS_NAMES: [&str; 3] = ["setosa", "versicolor", "virginica"];

/// Header name of the label column in CSV files.
const SPECIES_COLUMN: &str = "species";

/// A labelled feature matrix.
///
/// Row `i` of `features` belongs to `labels[i]`, which indexes `class_names`.
/// The fields are public for easy inspection; [`Dataset::validate`] checks the
/// invariants before any algorithm relies on them.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// One row per sample, one column per feature.
    pub features: Array2<f64>,
    /// Class index of every row.
    pub labels: Vec<usize>,
    /// Name of every feature column.
    pub feature_names: Vec<String>,
    /// Name of every class index.
    pub class_names: Vec<String>,
}

impl Dataset {
    /// Number of rows (samples).
    pub fn n_rows(&self) -> usize {
        self.features.nrows()
    }

    /// Number of feature columns.
    pub fn n_features(&self) -> usize {
        self.features.ncols()
    }

    /// Number of classes, whether or not every class occurs in the rows.
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Checks the shape invariants and that every label names a class, so
    /// later code can index without bounds surprises.
    pub fn validate(&self) -> Result<(), MlError> {
        if self.labels.len() != self.features.nrows() {
            return Err(MlError::LengthMismatch {
                left_name: "features rows",
                left: self.features.nrows(),
                right_name: "labels",
                right: self.labels.len(),
            });
        }
        if self.feature_names.len() != self.features.ncols() {
            return Err(MlError::LengthMismatch {
                left_name: "features columns",
                left: self.features.ncols(),
                right_name: "feature_names",
                right: self.feature_names.len(),
            });
        }
        check_labels("labels", &self.labels, self.class_names.len())
    }

    /// Copies the given rows, in the given order; callers pass indices they
    /// derived from this data set, so they are in range.
    pub(crate) fn select_rows(&self, rows: &[usize]) -> Dataset {
        Dataset {
            features: self.features.select(Axis(0), rows),
            labels: rows.iter().map(|&r| self.labels[r]).collect(),
            feature_names: self.feature_names.clone(),
            class_names: self.class_names.clone(),
        }
    }
}

/// Rejects any label that is not a valid class index.
pub(crate) fn check_labels(
    name: &'static str,
    labels: &[usize],
    n_classes: usize,
) -> Result<(), MlError> {
    match labels.iter().position(|&l| l >= n_classes) {
        Some(index) => Err(MlError::LabelOutOfRange {
            name,
            index,
            label: labels[index],
            n_classes,
        }),
        None => Ok(()),
    }
}

fn iris_class_names() -> Vec<String> {
    IRIS_CLASS_NAMES.iter().map(|s| s.to_string()).collect()
}

/// The classic 150-row Iris data set (50 rows per species), as bundled with
/// linfa-datasets, with this crate's canonical feature and class names.
///
/// The data is compiled into the binary, so this cannot fail at run time.
pub fn iris() -> Dataset {
    let ds = linfa_datasets::iris();
    Dataset {
        features: ds.records().to_owned(),
        labels: ds.targets().iter().copied().collect(),
        feature_names: IRIS_FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
        class_names: iris_class_names(),
    }
}

/// Writes `ds` as CSV: a header of the feature names plus `species`, then one
/// row per sample with the species written by name.
///
/// Numbers use Rust's `Display` for `f64`, which prints the shortest decimal
/// that parses back to the identical value, so a write/read cycle reproduces
/// the matrix bit for bit and the same data always gives the same bytes.
/// Non-finite values are rejected because [`read_csv`] would reject them.
pub fn write_csv(ds: &Dataset, writer: &mut impl Write) -> Result<(), MlError> {
    ds.validate()?;
    check_finite("features", ds)?;
    let csv_err = |source: csv::Error| MlError::Csv {
        source_name: "CSV output".to_string(),
        line: None,
        source,
    };
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(writer);
    let header = ds
        .feature_names
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(SPECIES_COLUMN));
    w.write_record(header).map_err(csv_err)?;
    for (row, &label) in ds.features.rows().into_iter().zip(&ds.labels) {
        let mut record: Vec<String> = row.iter().map(|v| format!("{v}")).collect();
        record.push(ds.class_names[label].clone());
        w.write_record(&record).map_err(csv_err)?;
    }
    w.flush().map_err(|source| MlError::Io {
        what: "CSV output".to_string(),
        source,
    })
}

/// Rejects NaN and infinities in the feature matrix of `ds`.
pub(crate) fn check_finite(name: &'static str, ds: &Dataset) -> Result<(), MlError> {
    for ((row, column), &value) in ds.features.indexed_iter() {
        if !value.is_finite() {
            return Err(MlError::NonFiniteFeature {
                name,
                row,
                column,
                column_name: ds.feature_names.get(column).cloned().unwrap_or_default(),
                value,
            });
        }
    }
    Ok(())
}

/// Reads a labelled CSV file, such as [`write_csv`] writes.
///
/// The header must have a `species` column (anywhere; it is the label) and at least one other
/// column; every other column is a numeric feature named by the header. Any class names are
/// accepted: the classes are the distinct `species` values in sorted order, so the same names
/// always get the same labels (for Iris, the order of [`IRIS_CLASS_NAMES`]).
/// `source_name` (usually the path) is only used to make error messages point at the right
/// file; line and column numbers in errors are 1-based.
pub fn read_csv(reader: impl Read, source_name: &str) -> Result<Dataset, MlError> {
    let csv_err = |source: csv::Error| MlError::Csv {
        source_name: source_name.to_string(),
        line: source.position().map(|p| p.line()),
        source,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);

    let header = rdr.headers().map_err(csv_err)?.clone();
    let bad_header = |reason: String| MlError::BadHeader {
        source_name: source_name.to_string(),
        reason,
    };
    if header.is_empty() || header.iter().all(str::is_empty) {
        return Err(bad_header("missing header row".to_string()));
    }
    let n_cols = header.len();
    let label_col = header
        .iter()
        .position(|h| h == SPECIES_COLUMN)
        .ok_or_else(|| bad_header(format!("no `{SPECIES_COLUMN}` column")))?;
    if n_cols < 2 {
        return Err(bad_header(format!(
            "need at least one feature column besides `{SPECIES_COLUMN}`"
        )));
    }
    let feature_names: Vec<String> = header
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != label_col)
        .map(|(_, h)| h.to_string())
        .collect();
    let n_features = feature_names.len();

    let mut values: Vec<f64> = Vec::new();
    let mut species: Vec<String> = Vec::new();
    let mut record = csv::StringRecord::new();
    while rdr.read_record(&mut record).map_err(csv_err)? {
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.len() != n_cols {
            return Err(MlError::ColumnCount {
                source_name: source_name.to_string(),
                line,
                expected: n_cols,
                found: record.len(),
            });
        }
        for (col, cell) in record.iter().enumerate() {
            if col == label_col {
                if cell.is_empty() {
                    return Err(MlError::EmptyLabel {
                        source_name: source_name.to_string(),
                        line,
                        column: col + 1,
                    });
                }
                species.push(cell.to_string());
                continue;
            }
            let name = &header[col];
            let value: f64 = cell.parse().map_err(|_| MlError::BadNumber {
                source_name: source_name.to_string(),
                line,
                column: col + 1,
                column_name: name.to_string(),
                value: cell.to_string(),
            })?;
            if !value.is_finite() {
                return Err(MlError::NonFiniteValue {
                    source_name: source_name.to_string(),
                    line,
                    column: col + 1,
                    column_name: name.to_string(),
                    value: cell.to_string(),
                });
            }
            values.push(value);
        }
    }
    if species.is_empty() {
        return Err(MlError::NoRows {
            source_name: source_name.to_string(),
        });
    }
    let mut class_names = species.clone();
    class_names.sort_unstable();
    class_names.dedup();
    let labels = species
        .iter()
        .map(|s| class_names.binary_search(s).unwrap_or_default())
        .collect::<Vec<usize>>();
    let features = Array2::from_shape_vec((labels.len(), n_features), values).map_err(|e| {
        bad_header(format!(
            "internal shape error building the feature matrix: {e}"
        ))
    })?;
    Ok(Dataset {
        features,
        labels,
        feature_names,
        class_names,
    })
}

impl Dataset {
    /// This data set with its feature columns in the order of `names` (matched by name, extra
    /// columns dropped) and its labels indexing `classes` followed by any class of this data
    /// set that `classes` lacks: the shape a model trained with those names expects.
    pub fn aligned_to(&self, names: &[String], classes: &[String]) -> Result<Dataset, MlError> {
        let columns = names
            .iter()
            .map(|n| {
                self.feature_names
                    .iter()
                    .position(|f| f == n)
                    .ok_or_else(|| MlError::MissingFeature { name: n.clone() })
            })
            .collect::<Result<Vec<usize>, MlError>>()?;
        let mut class_names = classes.to_vec();
        for c in &self.class_names {
            if !class_names.contains(c) {
                class_names.push(c.clone());
            }
        }
        let remap: Vec<usize> = self
            .class_names
            .iter()
            .map(|c| class_names.iter().position(|k| k == c).unwrap_or_default())
            .collect();
        Ok(Dataset {
            features: self.features.select(Axis(1), &columns),
            labels: self.labels.iter().map(|&l| remap[l]).collect(),
            feature_names: names.to_vec(),
            class_names,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_csv(ds: &Dataset) -> String {
        let mut buf = Vec::new();
        write_csv(ds, &mut buf).expect("write");
        String::from_utf8(buf).expect("utf8")
    }

    #[test]
    fn iris_shape_and_names() {
        let ds = iris();
        assert_eq!(ds.features.dim(), (150, 4));
        assert_eq!(ds.labels.len(), 150);
        assert_eq!(ds.feature_names, IRIS_FEATURE_NAMES);
        assert_eq!(ds.class_names, IRIS_CLASS_NAMES);
        for c in 0..3 {
            assert_eq!(ds.labels.iter().filter(|&&l| l == c).count(), 50);
        }
        ds.validate().expect("valid");
    }

    #[test]
    fn csv_round_trip_is_exact_and_deterministic() {
        let mut ds = iris();
        // Values whose shortest decimal form is long or unusual.
        ds.features[[0, 0]] = 0.1 + 0.2;
        ds.features[[1, 1]] = 1e-300;
        ds.features[[2, 2]] = -1e8 / 3.0;
        ds.features[[3, 3]] = f64::MAX;
        let text = to_csv(&ds);
        assert!(text.starts_with("sepal_length,sepal_width,petal_length,petal_width,species\n"));
        assert_eq!(text.lines().count(), 151);
        let back = read_csv(text.as_bytes(), "mem.csv").expect("read");
        assert_eq!(back, ds);
        for (a, b) in back.features.iter().zip(ds.features.iter()) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
        assert_eq!(to_csv(&back), text);
    }

    #[test]
    fn species_written_by_name() {
        let text = to_csv(&iris());
        let second = text.lines().nth(1).expect("row");
        assert_eq!(second, "5.1,3.5,1.4,0.2,setosa");
        assert!(text.lines().last().expect("row").ends_with(",virginica"));
    }

    #[test]
    fn classes_are_the_sorted_species_names_whatever_the_row_order() {
        let text = "a,b,species\n1,2,virginica\n3,4,setosa\n5,6,virginica\n";
        let ds = read_csv(text.as_bytes(), "x.csv").expect("read");
        assert_eq!(ds.labels, vec![1, 0, 1]);
        assert_eq!(ds.feature_names, vec!["a", "b"]);
        assert_eq!(ds.class_names, vec!["setosa", "virginica"]);
        let iris_text = to_csv(&iris());
        let back = read_csv(iris_text.as_bytes(), "iris.csv").expect("read");
        assert_eq!(back.class_names, IRIS_CLASS_NAMES);
    }

    #[test]
    fn any_class_names_and_label_position() {
        let text = "quality,x,y\n5,1.0,2\n7,3,4\n5,0,0\n";
        assert!(read_err_of(text).contains("no `species` column"));
        let text = "x,species,y\n1.0,good,2\n3,bad,4\n";
        let ds = read_csv(text.as_bytes(), "w.csv").expect("read");
        assert_eq!(ds.feature_names, vec!["x", "y"]);
        assert_eq!(ds.class_names, vec!["bad", "good"]);
        assert_eq!(ds.labels, vec![1, 0]);
        assert_eq!(ds.features, ndarray::array![[1.0, 2.0], [3.0, 4.0]]);
    }

    #[test]
    fn aligning_reorders_columns_by_name_and_maps_classes() {
        let ds = read_csv("b,a,species\n1,2,y\n3,4,z\n".as_bytes(), "t.csv").expect("read");
        let names = vec!["a".to_string(), "b".to_string()];
        let classes = vec!["x".to_string(), "y".to_string()];
        let aligned = ds.aligned_to(&names, &classes).expect("aligned");
        assert_eq!(aligned.features, ndarray::array![[2.0, 1.0], [4.0, 3.0]]);
        assert_eq!(aligned.class_names, vec!["x", "y", "z"]);
        assert_eq!(aligned.labels, vec![1, 2]);
        let err = ds
            .aligned_to(&["c".to_string()], &classes)
            .expect_err("missing");
        assert!(matches!(err, MlError::MissingFeature { name } if name == "c"));
    }

    fn read_err_of(text: &str) -> String {
        read_csv(text.as_bytes(), "data/x.csv")
            .expect_err("should fail")
            .to_string()
    }

    fn read_err(text: &str) -> String {
        read_csv(text.as_bytes(), "data/iris.csv")
            .expect_err("should fail")
            .to_string()
    }

    #[test]
    fn bad_number_names_file_line_and_column() {
        let msg = read_err("a,b,species\n1,2,setosa\n1,x2,setosa\n");
        assert_eq!(
            msg,
            "data/iris.csv:3: column 2 (`b`): cannot parse \"x2\" as a number"
        );
    }

    #[test]
    fn an_empty_species_is_rejected() {
        let msg = read_err("a,species\n1,setosa\n2,\n");
        assert_eq!(msg, "data/iris.csv:3: column 2 (`species`): empty label");
    }

    #[test]
    fn wrong_column_count_is_rejected() {
        let msg = read_err("a,b,species\n1,2,setosa\n1,setosa\n");
        assert_eq!(msg, "data/iris.csv:3: expected 3 columns, found 2");
        let msg = read_err("a,b,species\n1,2,3,setosa\n");
        assert_eq!(msg, "data/iris.csv:2: expected 3 columns, found 4");
    }

    #[test]
    fn non_finite_and_header_problems_are_rejected() {
        assert!(read_err("a,species\nNaN,setosa\n").contains("is not finite"));
        assert!(read_err("a,species\ninf,setosa\n").contains(":2: column 1"));
        assert!(read_err("a,label\n1,setosa\n").contains("no `species` column"));
        assert!(read_err("species\nsetosa\n").contains("at least one feature column"));
        assert!(read_err("").contains("missing header"));
        assert_eq!(
            read_err("a,species\n"),
            "data/iris.csv: no data rows after the header"
        );
    }

    #[test]
    fn csv_layer_errors_name_source_and_line() {
        let bytes: &[u8] = b"a,species\n1,setosa\n2,set\xffosa\n";
        let msg = read_csv(bytes, "data/iris.csv")
            .expect_err("utf8")
            .to_string();
        assert!(msg.starts_with("data/iris.csv:3: CSV error"), "{msg}");
    }

    #[test]
    fn write_rejects_inconsistent_or_non_finite_data() {
        let mut ds = iris();
        ds.features[[4, 1]] = f64::NAN;
        let mut sink = Vec::new();
        let err = write_csv(&ds, &mut sink).expect_err("nan");
        assert!(err.to_string().contains("row 4, column 1 (`sepal_width`)"));
        let mut ds = iris();
        ds.labels[7] = 3;
        assert!(matches!(
            write_csv(&ds, &mut sink),
            Err(MlError::LabelOutOfRange { index: 7, .. })
        ));
        let mut ds = iris();
        ds.labels.pop();
        assert!(matches!(
            write_csv(&ds, &mut sink),
            Err(MlError::LengthMismatch { .. })
        ));
    }
}
