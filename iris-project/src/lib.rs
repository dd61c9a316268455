//! The Iris project: the data set is prepared and split, a random forest is trained on it and
//! evaluated, and every step is cached and reproducible through the pipeline engine.
//!
//! The stages live in [`pipeline`]; the machine learning they call lives in [`ml`], free of any
//! pipeline concern so it can be tested on its own.

#![deny(missing_docs)]

pub mod ml;
pub mod params;
pub mod pipeline;
pub mod predict;
