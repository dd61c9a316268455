//! The syntax tree of a search: what a filter or `order_by` clause says, with no notion of
//! where runs are stored. Each backend translates it its own way (SQL in the embedded store,
//! the canonical MLflow spelling for a server), and `Display` gives that canonical spelling.

use std::fmt;

/// Run attributes that can be filtered and ordered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attribute {
    /// `run_id` (string; the only attribute accepting `IN`).
    RunId,
    /// `run_name` (string).
    RunName,
    /// `status` (string, e.g. `'FINISHED'`).
    Status,
    /// `artifact_uri` (string).
    ArtifactUri,
    /// `start_time` in ms (numeric; `created` is an alias).
    StartTime,
    /// `end_time` in ms (numeric; unset while running).
    EndTime,
    /// `user_id` (string): who started the run; the embedded store reads it from the
    /// `mlflow.user` tag, empty when there is none.
    UserId,
}

impl Attribute {
    pub(super) const NAMES: &'static str =
        "run_id, run_name, status, artifact_uri, user_id, start_time, end_time";

    /// An attribute by MLflow's name for it (case-sensitive). `created`/`Created` stand for
    /// `start_time`; in filters (not in `order_by`, as in MLflow) `run name`, `Run name`
    /// and `Run Name` stand for `run_name`.
    pub(super) fn from_name(name: &str, in_filter: bool) -> Option<Self> {
        Some(match name {
            "run_id" => Attribute::RunId,
            "run_name" => Attribute::RunName,
            "run name" | "Run name" | "Run Name" if in_filter => Attribute::RunName,
            "user_id" => Attribute::UserId,
            "status" => Attribute::Status,
            "artifact_uri" => Attribute::ArtifactUri,
            "start_time" | "created" | "Created" => Attribute::StartTime,
            "end_time" => Attribute::EndTime,
            _ => return None,
        })
    }

    /// MLflow's name for the attribute.
    pub fn name(self) -> &'static str {
        match self {
            Attribute::RunId => "run_id",
            Attribute::RunName => "run_name",
            Attribute::Status => "status",
            Attribute::ArtifactUri => "artifact_uri",
            Attribute::StartTime => "start_time",
            Attribute::EndTime => "end_time",
            Attribute::UserId => "user_id",
        }
    }

    /// True for the millisecond timestamps.
    pub fn is_numeric(self) -> bool {
        matches!(self, Attribute::StartTime | Attribute::EndTime)
    }
}

/// The fields of a run's dataset inputs that filters can name (`datasets.<field>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetField {
    /// The dataset's name.
    Name,
    /// The dataset's digest.
    Digest,
    /// The input's context tag (`training`, `evaluation`, ...).
    Context,
}

impl DatasetField {
    pub(super) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "name" => DatasetField::Name,
            "digest" => DatasetField::Digest,
            "context" => DatasetField::Context,
            _ => return None,
        })
    }

    /// MLflow's name for the field.
    pub fn name(self) -> &'static str {
        match self {
            DatasetField::Name => "name",
            DatasetField::Digest => "digest",
            DatasetField::Context => "context",
        }
    }
}

/// What a clause or ordering refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identifier {
    /// Latest value of a metric.
    Metric(String),
    /// A param.
    Param(String),
    /// A tag.
    Tag(String),
    /// A run attribute.
    Attribute(Attribute),
    /// A field of the run's dataset inputs (filters only): a clause holds when any input
    /// matches, so a run without inputs matches none.
    Dataset(DatasetField),
}

impl Identifier {
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Identifier::Metric(_) => "metrics",
            Identifier::Param(_) => "params",
            Identifier::Tag(_) => "tags",
            Identifier::Attribute(_) => "attributes",
            Identifier::Dataset(_) => "datasets",
        }
    }

    pub(super) fn is_numeric(&self) -> bool {
        match self {
            Identifier::Metric(_) => true,
            Identifier::Attribute(a) => a.is_numeric(),
            _ => false,
        }
    }
}

impl fmt::Display for Identifier {
    /// MLflow spelling. Keys are backtick-quoted when they need it; the
    /// alternate form (`{:#}`) always quotes them, so that any key (even one
    /// that looks like an SQL keyword) survives an MLflow server's parser.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = match self {
            Identifier::Attribute(a) => return write!(f, "attributes.{}", a.name()),
            Identifier::Dataset(d) => return write!(f, "datasets.{}", d.name()),
            Identifier::Metric(k) | Identifier::Param(k) | Identifier::Tag(k) => k,
        };
        let simple = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if simple && !f.alternate() {
            write!(f, "{}.{}", self.kind(), key)
        } else if key.contains('`') {
            write!(f, "{}.\"{}\"", self.kind(), key)
        } else {
            write!(f, "{}.`{}`", self.kind(), key)
        }
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparator {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `LIKE` (case-sensitive; `%` any run, `_` one character)
    Like,
    /// `ILIKE` (case-insensitive for ASCII letters)
    ILike,
    /// `IN (...)`
    In,
    /// `NOT IN (...)`
    NotIn,
    /// `IS NULL` (params and tags: the run lacks the key)
    IsNull,
    /// `IS NOT NULL` (params and tags: the run has the key)
    IsNotNull,
}

impl Comparator {
    /// MLflow's spelling of the operator.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Ne => "!=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Like => "LIKE",
            Comparator::ILike => "ILIKE",
            Comparator::In => "IN",
            Comparator::NotIn => "NOT IN",
            Comparator::IsNull => "IS NULL",
            Comparator::IsNotNull => "IS NOT NULL",
        }
    }
}

impl fmt::Display for Comparator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The right-hand side of a clause.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// For metrics and numeric attributes.
    Number(f64),
    /// For params, tags and string attributes (a LIKE pattern for LIKE/ILIKE).
    Text(String),
    /// For `IN` / `NOT IN`.
    List(Vec<String>),
    /// For `IS NULL` / `IS NOT NULL`, which take no value.
    Null,
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Beyond f64 (`1e400`): a finite spelling MLflow reads as the same infinity.
            Value::Number(n) if n.is_infinite() => {
                f.write_str(if *n > 0.0 { "1e999" } else { "-1e999" })
            }
            Value::Number(n) => {
                if n.fract() == 0.0 && n.abs() < 1e15 {
                    write!(f, "{}", *n as i64)
                } else {
                    write!(f, "{n:?}")
                }
            }
            Value::Text(s) => f.write_str(&quote(s)),
            Value::List(items) => {
                f.write_str("(")?;
                for (i, s) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&quote(s))?;
                }
                f.write_str(")")
            }
            Value::Null => Ok(()),
        }
    }
}

/// Quotes a string value so MLflow's parser reads it back unchanged: MLflow keeps what is
/// between the quotes as is, so a value with a single quote goes in double quotes.
fn quote(s: &str) -> String {
    if s.contains('\'') {
        format!("\"{s}\"")
    } else {
        format!("'{s}'")
    }
}

/// One `identifier comparator value` condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// Left-hand side.
    pub identifier: Identifier,
    /// Operator.
    pub comparator: Comparator,
    /// Right-hand side.
    pub value: Value,
}

impl fmt::Display for Clause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value == Value::Null {
            return if f.alternate() {
                write!(f, "{:#} {}", self.identifier, self.comparator)
            } else {
                write!(f, "{} {}", self.identifier, self.comparator)
            };
        }
        if f.alternate() {
            write!(
                f,
                "{:#} {} {}",
                self.identifier, self.comparator, self.value
            )
        } else {
            write!(f, "{} {} {}", self.identifier, self.comparator, self.value)
        }
    }
}

/// A parsed filter: a conjunction of clauses (empty matches every run).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    /// Clauses that must all hold.
    pub clauses: Vec<Clause>,
}

impl fmt::Display for Filter {
    /// MLflow filter text; the alternate form (`{:#}`) quotes every key and
    /// is what gets sent to a server's `runs/search`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.clauses.iter().enumerate() {
            if i > 0 {
                f.write_str(" AND ")?;
            }
            if f.alternate() {
                write!(f, "{c:#}")?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// One ordering key of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    /// What to sort on.
    pub identifier: Identifier,
    /// Ascending unless `DESC` was given.
    pub ascending: bool,
}

impl fmt::Display for OrderBy {
    /// `<identifier> ASC|DESC`; the alternate form quotes the key as for [`Filter`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = if self.ascending { "ASC" } else { "DESC" };
        if f.alternate() {
            write!(f, "{:#} {dir}", self.identifier)
        } else {
            write!(f, "{} {dir}", self.identifier)
        }
    }
}
