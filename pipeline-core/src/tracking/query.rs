//! What a run search asks for and what one page of answers looks like.
//!
//! Searches are paged because a workspace can hold tens of thousands of runs and an MLflow
//! server far more: every caller asks for one page of a bounded size and follows the token for
//! more, so nothing ever holds every run in memory.

use super::model::Run;

/// Runs per page when the caller does not say.
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// The most runs one page holds, whatever the caller asks for (MLflow's default page size).
pub const MAX_PAGE_SIZE: usize = 1000;

/// One run search: which runs, in which order, and which page of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// Experiments to search; empty searches every active experiment.
    pub experiment_ids: Vec<String>,
    /// MLflow filter text (see [`super::filter`]); empty matches every run.
    pub filter: String,
    /// `order_by` clauses such as `metrics.accuracy DESC`.
    pub order_by: Vec<String>,
    /// Page size, at most [`MAX_PAGE_SIZE`]; 0 asks for no runs.
    pub max_results: usize,
    /// Where to continue: the previous page's [`RunPage::next_page_token`].
    pub page_token: Option<String>,
    /// Only runs without a parent run (no `mlflow.parentRunId` tag): pipeline and experiment
    /// runs, not their per-stage runs.
    pub top_level_only: bool,
}

impl SearchQuery {
    /// The first page of every run of these experiments, [`DEFAULT_PAGE_SIZE`] at a time.
    pub fn new(experiment_ids: &[String]) -> Self {
        SearchQuery {
            experiment_ids: experiment_ids.to_vec(),
            filter: String::new(),
            order_by: Vec::new(),
            max_results: DEFAULT_PAGE_SIZE,
            page_token: None,
            top_level_only: false,
        }
    }

    /// The page size the backend uses for this query.
    pub fn page_size(&self) -> usize {
        self.max_results.min(MAX_PAGE_SIZE)
    }
}

/// One page of a run search.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPage {
    /// The runs of this page, in the query's order.
    pub runs: Vec<Run>,
    /// Token for the next page; `None` on the last one.
    pub next_page_token: Option<String>,
}
