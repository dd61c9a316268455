//! MLflow's run-search language: `filter` and `order_by` text parsed into a syntax tree that
//! knows nothing of databases.
//!
//! Both stores parse every filter here first, so a malformed filter fails with the same error
//! (and caret position) whether it would have gone to SQLite or to an MLflow server. The
//! embedded store translates the tree to SQL (`sqlite/filter_sql.rs`), the REST client sends
//! its canonical spelling, and [`matcher`] evaluates it in memory with the same semantics, as
//! the reference the store is tested against.
//!
//! Grammar (keywords case-insensitive):
//!
//! ```text
//! filter     := ε | clause ("AND" clause)*
//! clause     := identifier comparator value
//! identifier := entity "." key | attribute
//! entity     := metric(s) | param(s) | parameter(s) | tag(s) | attribute(s) | attr | run
//! key        := bare-key | `quoted key` | "quoted key"
//! comparator := = | != | > | >= | < | <= | LIKE | ILIKE | IN | NOT IN
//! value      := number | 'string' | "string" | ( 'string' [, 'string']* )
//! ```
//!
//! Metrics and numeric attributes (`start_time`, `end_time`, alias `created`)
//! take numbers and the six arithmetic comparators; params, tags and string
//! attributes (`run_id`, `run_name`, `status`, `artifact_uri`) take quoted
//! strings with `=`, `!=`, `LIKE` (case-sensitive, `%` and `_` wildcards) and
//! `ILIKE`; only `run_id` takes `IN`/`NOT IN` lists. A run lacking the key in a
//! clause never matches it, whatever the comparator. A NaN metric matches only
//! `!=`.

mod ast;
pub mod matcher;
mod parser;
mod token;

pub use self::ast::{
    Attribute, Clause, Comparator, DatasetField, Filter, Identifier, OrderBy, Value,
};
pub use self::matcher::{like_matches, sort_runs};
