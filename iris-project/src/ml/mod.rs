//! A small, deterministic machine-learning toolkit for the Iris example:
//! loading and saving the data set, a stratified train/test split, a random
//! forest (Breiman's algorithm on histogram splits, behind linfa's traits),
//! evaluation metrics and an SVG rendering of the confusion matrix.
//!
//! Everything that involves randomness takes an explicit seed and produces the
//! same result on every platform and for every rayon thread count, so saved
//! models and reported numbers are reproducible.

pub mod dataset;
pub mod error;
pub mod forest;
pub mod metrics;
pub mod plot;
pub mod split;

pub use dataset::{iris, read_csv, write_csv, Dataset, IRIS_CLASS_NAMES, IRIS_FEATURE_NAMES};
pub use error::MlError;
pub use forest::{ClassWeight, Criterion, ForestParams, MaxFeatures, MaxSamples, RandomForest};
pub use metrics::{evaluate, ClassMetrics, Metrics};
pub use plot::confusion_matrix_svg;
pub use split::{stratified_split, stratified_split_indices};
