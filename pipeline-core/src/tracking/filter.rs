//! MLflow's run-search language: filter and `order_by` parsing, translation
//! to parameterised SQL for the embedded store, and an in-memory matcher and
//! sorter with the same semantics.
//!
//! Both stores parse every filter here first, so a malformed filter fails with
//! the same error (and caret position) whether it would have gone to SQLite or
//! to an MLflow server. Keeping the SQL translation, the matcher and the sorter
//! side by side makes it easy to check that they agree.
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

use std::cmp::Ordering;
use std::fmt;

use rusqlite::types::Value as SqlValue;

use super::error::{Result, TrackingError};
use super::model::{Run, RunInfo};

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
}

impl Attribute {
    const NAMES: &'static str = "run_id, run_name, status, artifact_uri, start_time, end_time";

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "run_id" => Attribute::RunId,
            "run_name" => Attribute::RunName,
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
        }
    }

    /// True for the millisecond timestamps.
    pub fn is_numeric(self) -> bool {
        matches!(self, Attribute::StartTime | Attribute::EndTime)
    }

    fn column(self) -> &'static str {
        match self {
            Attribute::RunId => "r.run_id",
            Attribute::RunName => "r.run_name",
            Attribute::Status => "r.status",
            Attribute::ArtifactUri => "r.artifact_uri",
            Attribute::StartTime => "r.start_time",
            Attribute::EndTime => "r.end_time",
        }
    }

    fn text_of(self, info: &RunInfo) -> Option<&str> {
        match self {
            Attribute::RunId => Some(&info.run_id),
            Attribute::RunName => Some(&info.run_name),
            Attribute::Status => Some(info.status.as_str()),
            Attribute::ArtifactUri => Some(&info.artifact_uri),
            Attribute::StartTime | Attribute::EndTime => None,
        }
    }

    fn number_of(self, info: &RunInfo) -> Option<i64> {
        match self {
            Attribute::StartTime => Some(info.start_time),
            Attribute::EndTime => info.end_time,
            _ => None,
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
}

impl Identifier {
    fn kind(&self) -> &'static str {
        match self {
            Identifier::Metric(_) => "metrics",
            Identifier::Param(_) => "params",
            Identifier::Tag(_) => "tags",
            Identifier::Attribute(_) => "attributes",
        }
    }

    fn is_numeric(&self) -> bool {
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
}

impl Comparator {
    fn sql(self) -> &'static str {
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
        }
    }

    fn compare_f64(self, lhs: f64, rhs: f64) -> bool {
        match self {
            Comparator::Eq => lhs == rhs,
            Comparator::Ne => lhs != rhs,
            Comparator::Gt => lhs > rhs,
            Comparator::Ge => lhs >= rhs,
            Comparator::Lt => lhs < rhs,
            Comparator::Le => lhs <= rhs,
            _ => false,
        }
    }
}

impl fmt::Display for Comparator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sql())
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
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
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
        }
    }
}

/// Quotes a string value so MLflow's parser reads it back unchanged.
fn quote(s: &str) -> String {
    if s.contains('\'') && !s.contains('"') {
        format!("\"{s}\"")
    } else {
        format!("'{}'", s.replace('\'', "''"))
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

// ---------------------------------------------------------------------------
// Tokenizer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A bare word: keyword or attribute name.
    Word(String),
    /// `entity.key`.
    Ident {
        entity: String,
        key: String,
    },
    Str(String),
    Num(f64),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// 0-based character offset of the token's first character.
    start: usize,
    /// The token's source text, for messages.
    text: String,
}

struct Lexer<'a> {
    src: &'a str,
    chars: Vec<char>,
    pos: usize,
}

fn filter_error(src: &str, offset: usize, message: impl Into<String>) -> TrackingError {
    TrackingError::InvalidFilter {
        message: message.into(),
        column: offset + 1,
        filter: src.to_string(),
        caret: format!("{}^", " ".repeat(offset)),
    }
}

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '/' | ':')
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        Lexer {
            src,
            chars: src.chars().collect(),
            pos: 0,
        }
    }

    fn peek_at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn text(&self, start: usize) -> String {
        self.chars[start..self.pos].iter().collect()
    }

    fn err(&self, offset: usize, message: impl Into<String>) -> TrackingError {
        filter_error(self.src, offset, message)
    }

    /// Reads a quoted run starting at the opening quote; `''` (or the doubled
    /// closing quote in general) stands for one quote character.
    fn quoted(&mut self, what: &str) -> Result<String> {
        let start = self.pos;
        let q = self.chars[self.pos];
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek_at(self.pos) {
                None => return Err(self.err(start, format!("unterminated {what} starting here"))),
                Some(c) if c == q => {
                    if self.peek_at(self.pos + 1) == Some(q) {
                        out.push(q);
                        self.pos += 2;
                    } else {
                        self.pos += 1;
                        return Ok(out);
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn next(&mut self) -> Result<Token> {
        while self.peek_at(self.pos).is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(c) = self.peek_at(self.pos) else {
            return Ok(Token {
                tok: Tok::End,
                start,
                text: "end of filter".into(),
            });
        };
        let tok = match c {
            '(' => {
                self.pos += 1;
                Tok::LParen
            }
            ')' => {
                self.pos += 1;
                Tok::RParen
            }
            ',' => {
                self.pos += 1;
                Tok::Comma
            }
            '=' => {
                self.pos += if self.peek_at(self.pos + 1) == Some('=') {
                    2
                } else {
                    1
                };
                Tok::Op("=")
            }
            '!' if self.peek_at(self.pos + 1) == Some('=') => {
                self.pos += 2;
                Tok::Op("!=")
            }
            '<' | '>' => {
                let eq = self.peek_at(self.pos + 1) == Some('=');
                self.pos += if eq { 2 } else { 1 };
                Tok::Op(match (c, eq) {
                    ('<', true) => "<=",
                    ('<', false) => "<",
                    (_, true) => ">=",
                    _ => ">",
                })
            }
            '\'' | '"' => Tok::Str(self.quoted("string")?),
            '`' => {
                return Err(self.err(
                    start,
                    "a quoted key needs an entity prefix, e.g. metrics.`my key`",
                ))
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+' || c == '.')
                    && self
                        .peek_at(self.pos + 1)
                        .is_some_and(|d| d.is_ascii_digit() || d == '.')) =>
            {
                self.number(start)?
            }
            c if c.is_alphabetic() || c == '_' => {
                while self
                    .peek_at(self.pos)
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
                {
                    self.pos += 1;
                }
                let word = self.text(start);
                if self.peek_at(self.pos) == Some('.') {
                    self.pos += 1;
                    let key_start = self.pos;
                    let key = match self.peek_at(self.pos) {
                        Some('`') => self.quoted("quoted key")?,
                        Some('"') => self.quoted("quoted key")?,
                        _ => {
                            while self.peek_at(self.pos).is_some_and(is_key_char) {
                                self.pos += 1;
                            }
                            self.text(key_start)
                        }
                    };
                    if key.is_empty() {
                        return Err(self.err(key_start, format!("expected a key after '{word}.'")));
                    }
                    Tok::Ident { entity: word, key }
                } else {
                    Tok::Word(word)
                }
            }
            other => return Err(self.err(start, format!("unexpected character '{other}'"))),
        };
        Ok(Token {
            tok,
            start,
            text: self.text(start),
        })
    }

    fn number(&mut self, start: usize) -> Result<Tok> {
        if matches!(self.peek_at(self.pos), Some('-' | '+')) {
            self.pos += 1;
        }
        while self
            .peek_at(self.pos)
            .is_some_and(|c| c.is_ascii_digit() || c == '.')
        {
            self.pos += 1;
        }
        if matches!(self.peek_at(self.pos), Some('e' | 'E')) {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.peek_at(self.pos), Some('-' | '+')) {
                self.pos += 1;
            }
            if self.peek_at(self.pos).is_some_and(|c| c.is_ascii_digit()) {
                while self.peek_at(self.pos).is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
            } else {
                self.pos = save;
            }
        }
        // A number glued to letters ("10abc") is not a number.
        while self.peek_at(self.pos).is_some_and(is_key_char) {
            self.pos += 1;
        }
        let text = self.text(start);
        text.parse::<f64>()
            .map(Tok::Num)
            .map_err(|_| self.err(start, format!("'{text}' is not a number")))
    }
}

// ---------------------------------------------------------------------------
// Parser

struct Parser<'a> {
    lexer: Lexer<'a>,
    current: Token,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Result<Self> {
        let mut lexer = Lexer::new(src);
        let current = lexer.next()?;
        Ok(Parser { lexer, current })
    }

    fn advance(&mut self) -> Result<Token> {
        let next = self.lexer.next()?;
        Ok(std::mem::replace(&mut self.current, next))
    }

    fn err_here(&self, message: impl Into<String>) -> TrackingError {
        self.lexer.err(self.current.start, message)
    }

    fn found(&self) -> String {
        match self.current.tok {
            Tok::End => "end of filter".into(),
            _ => format!("'{}'", self.current.text),
        }
    }

    fn word_is(&self, kw: &str) -> bool {
        matches!(&self.current.tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn filter(mut self) -> Result<Filter> {
        let mut clauses = Vec::new();
        if self.current.tok == Tok::End {
            return Ok(Filter { clauses });
        }
        loop {
            clauses.push(self.clause()?);
            if self.current.tok == Tok::End {
                return Ok(Filter { clauses });
            }
            if self.word_is("AND") {
                self.advance()?;
                continue;
            }
            if self.word_is("OR") {
                return Err(self.err_here(
                    "only AND is supported to combine clauses (MLflow filters have no OR)",
                ));
            }
            return Err(self.err_here(format!(
                "expected AND or the end of the filter, found {}",
                self.found()
            )));
        }
    }

    fn clause(&mut self) -> Result<Clause> {
        let identifier = self.identifier()?;
        let comparator = self.comparator(&identifier)?;
        let value = self.value(&identifier, comparator)?;
        Ok(Clause {
            identifier,
            comparator,
            value,
        })
    }

    fn identifier(&mut self) -> Result<Identifier> {
        let token = self.current.clone();
        let id = identifier_from_token(&self.lexer, &token)?;
        self.advance()?;
        Ok(id)
    }

    fn comparator(&mut self, identifier: &Identifier) -> Result<Comparator> {
        let start = self.current.start;
        let comparator = match &self.current.tok {
            Tok::Op(op) => match *op {
                "=" => Comparator::Eq,
                "!=" => Comparator::Ne,
                ">" => Comparator::Gt,
                ">=" => Comparator::Ge,
                "<" => Comparator::Lt,
                _ => Comparator::Le,
            },
            Tok::Word(w) if w.eq_ignore_ascii_case("LIKE") => Comparator::Like,
            Tok::Word(w) if w.eq_ignore_ascii_case("ILIKE") => Comparator::ILike,
            Tok::Word(w) if w.eq_ignore_ascii_case("IN") => Comparator::In,
            Tok::Word(w) if w.eq_ignore_ascii_case("NOT") => {
                self.advance()?;
                if !self.word_is("IN") {
                    return Err(
                        self.err_here(format!("expected IN after NOT, found {}", self.found()))
                    );
                }
                Comparator::NotIn
            }
            _ => {
                return Err(self.err_here(format!("expected a comparator, found {}", self.found())))
            }
        };
        let allowed: &[Comparator] = match identifier {
            Identifier::Metric(_) => &ARITHMETIC,
            Identifier::Attribute(a) if a.is_numeric() => &ARITHMETIC,
            Identifier::Attribute(Attribute::RunId) => &[
                Comparator::Eq,
                Comparator::Ne,
                Comparator::Like,
                Comparator::ILike,
                Comparator::In,
                Comparator::NotIn,
            ],
            _ => &STRING,
        };
        if !allowed.contains(&comparator) {
            let list: Vec<&str> = allowed.iter().map(|c| c.sql()).collect();
            return Err(self.lexer.err(
                start,
                format!(
                    "comparator {} is not supported for {}; use one of {}",
                    comparator,
                    identifier,
                    list.join(", ")
                ),
            ));
        }
        self.advance()?;
        Ok(comparator)
    }

    fn value(&mut self, identifier: &Identifier, comparator: Comparator) -> Result<Value> {
        if matches!(comparator, Comparator::In | Comparator::NotIn) {
            return self.list();
        }
        let value = match (&self.current.tok, identifier.is_numeric()) {
            (Tok::Num(n), true) => Value::Number(*n),
            (Tok::Str(s), false) => Value::Text(s.clone()),
            (_, true) => {
                return Err(self.err_here(format!(
                    "expected a number for {identifier}, found {}",
                    self.found()
                )))
            }
            (_, false) => {
                return Err(self.err_here(format!(
                    "expected a quoted string (e.g. 'my-value') for {identifier}, found {}",
                    self.found()
                )))
            }
        };
        self.advance()?;
        Ok(value)
    }

    fn list(&mut self) -> Result<Value> {
        if self.current.tok != Tok::LParen {
            return Err(self.err_here(format!(
                "expected a parenthesised list of quoted strings, found {}",
                self.found()
            )));
        }
        self.advance()?;
        let mut items = Vec::new();
        loop {
            match &self.current.tok {
                Tok::Str(s) => items.push(s.clone()),
                _ => {
                    return Err(self.err_here(format!(
                        "expected a quoted string in the list, found {}",
                        self.found()
                    )))
                }
            }
            self.advance()?;
            match self.current.tok {
                Tok::Comma => {
                    self.advance()?;
                }
                Tok::RParen => {
                    self.advance()?;
                    return Ok(Value::List(items));
                }
                _ => {
                    return Err(self.err_here(format!(
                        "expected ',' or ')' in the list, found {}",
                        self.found()
                    )))
                }
            }
        }
    }
}

const ARITHMETIC: [Comparator; 6] = [
    Comparator::Eq,
    Comparator::Ne,
    Comparator::Gt,
    Comparator::Ge,
    Comparator::Lt,
    Comparator::Le,
];
const STRING: [Comparator; 4] = [
    Comparator::Eq,
    Comparator::Ne,
    Comparator::Like,
    Comparator::ILike,
];

fn identifier_from_token(lexer: &Lexer<'_>, token: &Token) -> Result<Identifier> {
    match &token.tok {
        Tok::Ident { entity, key } => match entity.to_ascii_lowercase().as_str() {
            "metric" | "metrics" => Ok(Identifier::Metric(key.clone())),
            "param" | "params" | "parameter" | "parameters" => Ok(Identifier::Param(key.clone())),
            "tag" | "tags" => Ok(Identifier::Tag(key.clone())),
            "attribute" | "attributes" | "attr" | "run" => Attribute::from_name(key)
                .map(Identifier::Attribute)
                .ok_or_else(|| {
                    lexer.err(
                        token.start,
                        format!(
                            "unknown attribute '{key}'; valid attributes are {}",
                            Attribute::NAMES
                        ),
                    )
                }),
            _ => Err(lexer.err(
                token.start,
                format!(
                    "unknown identifier type '{entity}'; use metrics., params., tags. or attributes."
                ),
            )),
        },
        Tok::Word(w) => Attribute::from_name(w)
            .map(Identifier::Attribute)
            .ok_or_else(|| {
                lexer.err(
                    token.start,
                    format!(
                        "expected an identifier such as metrics.<key>, params.<key>, tags.<key> or an attribute ({}), found '{w}'",
                        Attribute::NAMES
                    ),
                )
            }),
        Tok::End => Err(lexer.err(token.start, "expected an identifier, found end of filter")),
        _ => Err(lexer.err(
            token.start,
            format!("expected an identifier, found '{}'", token.text),
        )),
    }
}

impl Filter {
    /// Parses MLflow filter syntax. Errors are [`TrackingError::InvalidFilter`]
    /// with the column of the offending token.
    pub fn parse(filter: &str) -> Result<Filter> {
        Parser::new(filter)?.filter()
    }

    /// True when the filter has no clauses.
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }

    /// Evaluates the filter against a run's attributes, params, tags and
    /// latest metrics, with the same semantics as the SQL translation.
    pub fn matches(&self, run: &Run) -> bool {
        self.clauses.iter().all(|c| c.matches(run))
    }

    /// Translates the filter into a SQL boolean expression over the runs
    /// table aliased `r` (see the schema in the sqlite module), with values
    /// bound as parameters, never spliced into the text.
    pub(super) fn to_sql(&self) -> (String, Vec<SqlValue>) {
        let mut params = Vec::new();
        if self.clauses.is_empty() {
            return ("1".into(), params);
        }
        let parts: Vec<String> = self.clauses.iter().map(|c| c.to_sql(&mut params)).collect();
        (parts.join(" AND "), params)
    }
}

impl Clause {
    fn matches(&self, run: &Run) -> bool {
        match (&self.identifier, &self.value) {
            (Identifier::Metric(key), Value::Number(rhs)) => run
                .metric(key)
                .is_some_and(|m| self.comparator.compare_f64(m.value, *rhs)),
            (Identifier::Param(key), Value::Text(rhs)) => run
                .param(key)
                .is_some_and(|v| compare_text(self.comparator, v, rhs)),
            (Identifier::Tag(key), Value::Text(rhs)) => run
                .tag(key)
                .is_some_and(|v| compare_text(self.comparator, v, rhs)),
            (Identifier::Attribute(a), Value::Number(rhs)) => a
                .number_of(&run.info)
                .is_some_and(|v| self.comparator.compare_f64(v as f64, *rhs)),
            (Identifier::Attribute(a), Value::Text(rhs)) => a
                .text_of(&run.info)
                .is_some_and(|v| compare_text(self.comparator, v, rhs)),
            (Identifier::Attribute(a), Value::List(items)) => {
                a.text_of(&run.info).is_some_and(|v| {
                    let found = items.iter().any(|i| i == v);
                    if self.comparator == Comparator::In {
                        found
                    } else {
                        !found
                    }
                })
            }
            _ => false,
        }
    }

    fn to_sql(&self, params: &mut Vec<SqlValue>) -> String {
        let (table, key) = match &self.identifier {
            Identifier::Metric(k) => ("latest_metrics", k),
            Identifier::Param(k) => ("params", k),
            Identifier::Tag(k) => ("tags", k),
            Identifier::Attribute(a) => return self.attribute_sql(*a, params),
        };
        params.push(SqlValue::Text(key.clone()));
        let condition = match &self.value {
            Value::Number(n) => {
                params.push(SqlValue::Real(*n));
                if self.comparator == Comparator::Ne {
                    "(x.is_nan = 1 OR x.value != ?)".to_string()
                } else {
                    format!("x.is_nan = 0 AND x.value {} ?", self.comparator.sql())
                }
            }
            Value::Text(s) => text_condition("x.value", self.comparator, s, params),
            Value::List(_) => "0".into(),
        };
        format!(
            "EXISTS (SELECT 1 FROM {table} x WHERE x.run_pk = r.id AND x.key = ? AND {condition})"
        )
    }

    fn attribute_sql(&self, a: Attribute, params: &mut Vec<SqlValue>) -> String {
        let col = a.column();
        match &self.value {
            Value::Number(n) => {
                params.push(SqlValue::Real(*n));
                format!("{col} {} ?", self.comparator.sql())
            }
            Value::Text(s) => text_condition(col, self.comparator, s, params),
            Value::List(items) => {
                if items.is_empty() {
                    return if self.comparator == Comparator::In {
                        "0".into()
                    } else {
                        "1".into()
                    };
                }
                params.extend(items.iter().cloned().map(SqlValue::Text));
                let marks = vec!["?"; items.len()].join(", ");
                let op = if self.comparator == Comparator::In {
                    "IN"
                } else {
                    "NOT IN"
                };
                format!("{col} {op} ({marks})")
            }
        }
    }
}

fn text_condition(
    col: &str,
    comparator: Comparator,
    rhs: &str,
    params: &mut Vec<SqlValue>,
) -> String {
    match comparator {
        // GLOB is SQLite's case-sensitive pattern match; LIKE is not.
        Comparator::Like => {
            params.push(SqlValue::Text(like_to_glob(rhs)));
            format!("{col} GLOB ?")
        }
        Comparator::ILike => {
            params.push(SqlValue::Text(like_to_glob(&rhs.to_ascii_lowercase())));
            format!("lower({col}) GLOB ?")
        }
        c => {
            params.push(SqlValue::Text(rhs.to_string()));
            format!("{col} {} ?", c.sql())
        }
    }
}

fn compare_text(comparator: Comparator, lhs: &str, rhs: &str) -> bool {
    match comparator {
        Comparator::Eq => lhs == rhs,
        Comparator::Ne => lhs != rhs,
        Comparator::Like => like_matches(lhs, rhs),
        Comparator::ILike => like_matches(&lhs.to_ascii_lowercase(), &rhs.to_ascii_lowercase()),
        _ => false,
    }
}

/// Rewrites a LIKE pattern as an equivalent SQLite GLOB pattern, escaping
/// GLOB's own metacharacters so they match literally.
fn like_to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    for c in pattern.chars() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

/// SQL LIKE matching without escapes: `%` matches any run of characters,
/// `_` exactly one; everything else matches itself, case-sensitively.
pub fn like_matches(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let (mut ti, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || (p[pi] != '%' && p[pi] == t[ti])) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '%')
}

// ---------------------------------------------------------------------------
// order_by

impl OrderBy {
    /// Parses one `order_by` clause: `<identifier> [ASC|DESC]`.
    pub fn parse(clause: &str) -> Result<OrderBy> {
        let bad = |message: String| TrackingError::InvalidOrderBy {
            clause: clause.to_string(),
            message,
        };
        let mut lexer = Lexer::new(clause);
        let first = lexer.next().map_err(|e| bad(e.to_string()))?;
        if first.tok == Tok::End {
            return Err(bad("empty clause".into()));
        }
        let identifier = identifier_from_token(&lexer, &first).map_err(|e| match e {
            TrackingError::InvalidFilter { message, .. } => bad(message),
            other => other,
        })?;
        let second = lexer.next().map_err(|e| bad(e.to_string()))?;
        let ascending = match &second.tok {
            Tok::End => {
                return Ok(OrderBy {
                    identifier,
                    ascending: true,
                })
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("ASC") => true,
            Tok::Word(w) if w.eq_ignore_ascii_case("DESC") => false,
            _ => {
                return Err(bad(format!(
                    "expected ASC or DESC, found '{}'",
                    second.text
                )))
            }
        };
        let third = lexer.next().map_err(|e| bad(e.to_string()))?;
        if third.tok != Tok::End {
            return Err(bad(format!(
                "unexpected '{}' after the direction",
                third.text
            )));
        }
        Ok(OrderBy {
            identifier,
            ascending,
        })
    }

    /// Parses every clause of an `order_by` list.
    pub fn parse_all(clauses: &[String]) -> Result<Vec<OrderBy>> {
        clauses.iter().map(|c| OrderBy::parse(c)).collect()
    }
}

/// SQL pieces for ordering runs aliased `r`: LEFT JOINs (with their bound
/// key parameters, which come before any WHERE parameters) and the ORDER BY
/// list. Runs missing the key sort last in either direction, NaN metrics just
/// before them, then `start_time DESC, run_id` break ties, as in MLflow.
pub(super) fn order_by_sql(order: &[OrderBy]) -> (String, Vec<SqlValue>, String) {
    let mut joins = String::new();
    let mut params = Vec::new();
    let mut terms = Vec::new();
    for (i, o) in order.iter().enumerate() {
        let dir = if o.ascending { "ASC" } else { "DESC" };
        let alias = format!("o{i}");
        let table = match &o.identifier {
            Identifier::Metric(k) | Identifier::Param(k) | Identifier::Tag(k) => {
                params.push(SqlValue::Text(k.clone()));
                match &o.identifier {
                    Identifier::Metric(_) => "latest_metrics",
                    Identifier::Param(_) => "params",
                    _ => "tags",
                }
            }
            Identifier::Attribute(a) => {
                let col = a.column();
                if *a == Attribute::EndTime {
                    terms.push(format!("({col} IS NULL)"));
                }
                terms.push(format!("{col} {dir}"));
                continue;
            }
        };
        joins.push_str(&format!(
            " LEFT JOIN {table} {alias} ON {alias}.run_pk = r.id AND {alias}.key = ?"
        ));
        if table == "latest_metrics" {
            terms.push(format!(
                "(CASE WHEN {alias}.run_pk IS NULL THEN 2 WHEN {alias}.is_nan = 1 THEN 1 ELSE 0 END)"
            ));
        } else {
            terms.push(format!("({alias}.run_pk IS NULL)"));
        }
        terms.push(format!("{alias}.value {dir}"));
    }
    terms.push("r.start_time DESC".into());
    terms.push("r.run_id ASC".into());
    (joins, params, terms.join(", "))
}

/// Sorts runs in memory exactly as the SQLite store orders them: missing
/// keys last, NaN metrics just before them, then `start_time DESC`, run id.
pub fn sort_runs(runs: &mut [Run], order: &[OrderBy]) {
    runs.sort_by(|a, b| compare_runs(a, b, order));
}

fn compare_runs(a: &Run, b: &Run, order: &[OrderBy]) -> Ordering {
    for o in order {
        let ord = match &o.identifier {
            Identifier::Metric(k) => {
                let rank = |r: &Run| match r.metric(k) {
                    None => (2, 0.0),
                    Some(m) if m.value.is_nan() => (1, 0.0),
                    Some(m) => (0, m.value),
                };
                let (ra, va) = rank(a);
                let (rb, vb) = rank(b);
                ra.cmp(&rb)
                    .then_with(|| directed(va.total_cmp(&vb), o.ascending))
            }
            Identifier::Param(k) => compare_opt_text(a.param(k), b.param(k), o.ascending),
            Identifier::Tag(k) => compare_opt_text(a.tag(k), b.tag(k), o.ascending),
            Identifier::Attribute(attr) if attr.is_numeric() => {
                match (attr.number_of(&a.info), attr.number_of(&b.info)) {
                    (Some(x), Some(y)) => directed(x.cmp(&y), o.ascending),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                }
            }
            Identifier::Attribute(attr) => {
                compare_opt_text(attr.text_of(&a.info), attr.text_of(&b.info), o.ascending)
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    b.info
        .start_time
        .cmp(&a.info.start_time)
        .then_with(|| a.info.run_id.cmp(&b.info.run_id))
}

fn compare_opt_text(a: Option<&str>, b: Option<&str>, ascending: bool) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => directed(x.cmp(y), ascending),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn directed(ord: Ordering, ascending: bool) -> Ordering {
    if ascending {
        ord
    } else {
        ord.reverse()
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::{Metric, Param, RunStatus, Tag};
    use super::*;

    fn run(id: &str, start: i64) -> Run {
        Run {
            info: RunInfo {
                run_id: id.into(),
                run_name: format!("name-{id}"),
                experiment_id: "0".into(),
                status: RunStatus::Running,
                start_time: start,
                end_time: None,
                artifact_uri: format!("runs:/{id}"),
            },
            params: vec![],
            metrics: vec![],
            tags: vec![],
        }
    }

    fn err_of(filter: &str) -> (usize, String) {
        match Filter::parse(filter).unwrap_err() {
            TrackingError::InvalidFilter {
                column, message, ..
            } => (column, message),
            other => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn parses_valid_forms() {
        let f = Filter::parse(
            "metrics.acc > 0.9 and params.max_depth = '10' AND tags.`my key` != \"x\" \
             AND attributes.run_id IN ('a', 'b') AND attribute.status LIKE 'FIN%' \
             AND metric.loss <= -1.5e-3 AND param.\"lr rate\" ILIKE '%E-3' AND tag.t = 'it''s' \
             AND start_time >= 100 AND run_name = 'x' AND created < 5 AND attr.run_id NOT IN ('z')",
        )
        .unwrap();
        assert_eq!(f.clauses.len(), 12);
        assert_eq!(
            f.clauses[0],
            Clause {
                identifier: Identifier::Metric("acc".into()),
                comparator: Comparator::Gt,
                value: Value::Number(0.9)
            }
        );
        assert_eq!(f.clauses[2].identifier, Identifier::Tag("my key".into()));
        assert_eq!(
            f.clauses[3].value,
            Value::List(vec!["a".into(), "b".into()])
        );
        assert_eq!(f.clauses[5].value, Value::Number(-1.5e-3));
        assert_eq!(f.clauses[6].identifier, Identifier::Param("lr rate".into()));
        assert_eq!(f.clauses[7].value, Value::Text("it's".into()));
        assert_eq!(
            f.clauses[10].identifier,
            Identifier::Attribute(Attribute::StartTime)
        );
        assert_eq!(f.clauses[11].comparator, Comparator::NotIn);
        assert!(Filter::parse("").unwrap().is_empty());
        assert!(Filter::parse("   ").unwrap().is_empty());
        // Keys with dots, slashes and dashes need no quoting.
        let f = Filter::parse("metrics.val/loss.ema-1 < 2").unwrap();
        assert_eq!(
            f.clauses[0].identifier,
            Identifier::Metric("val/loss.ema-1".into())
        );
    }

    #[test]
    fn canonical_text_round_trips() {
        let src = "metrics.acc > 0.9 AND params.max_depth = '10' AND tags.t = \"it's\" \
                   AND attributes.run_id IN ('a','b') AND attributes.start_time > 1700000000000";
        let f = Filter::parse(src).unwrap();
        let text = format!("{f:#}");
        assert_eq!(
            text,
            "metrics.`acc` > 0.9 AND params.`max_depth` = '10' AND tags.`t` = \"it's\" \
             AND attributes.run_id IN ('a', 'b') AND attributes.start_time > 1700000000000"
        );
        assert_eq!(Filter::parse(&text).unwrap(), f);
        let plain = Filter::parse("metrics.acc > 0.9 AND tags.`my key` LIKE 'x%'").unwrap();
        assert_eq!(
            plain.to_string(),
            "metrics.acc > 0.9 AND tags.`my key` LIKE 'x%'"
        );
        assert_eq!(Filter::parse(&plain.to_string()).unwrap(), plain);
        let o = OrderBy::parse("metrics.acc desc").unwrap();
        assert_eq!(o.to_string(), "metrics.acc DESC");
        assert_eq!(format!("{o:#}"), "metrics.`acc` DESC");
    }

    #[test]
    fn errors_point_at_the_token() {
        let (col, msg) = err_of("metrics.acc > 1 AND accuracy > 2");
        assert_eq!(col, 21);
        assert!(msg.contains("found 'accuracy'"), "{msg}");

        let (col, msg) = err_of("params.max_depth = '10' accuracy");
        assert_eq!(col, 25);
        assert!(msg.contains("expected AND"), "{msg}");

        let (col, msg) = err_of("metrics.acc accuracy 0.9");
        assert_eq!(col, 13);
        assert_eq!(msg, "expected a comparator, found 'accuracy'");

        let (col, msg) = err_of("metrics.a > 1 OR metrics.b > 2");
        assert_eq!(col, 15);
        assert!(msg.contains("only AND"), "{msg}");

        let (col, msg) = err_of("metrics.acc > '0.9'");
        assert_eq!(col, 15);
        assert!(msg.contains("expected a number"), "{msg}");

        let (col, msg) = err_of("params.depth = 10");
        assert_eq!(col, 16);
        assert!(msg.contains("quoted string"), "{msg}");

        let (col, msg) = err_of("params.depth > '10'");
        assert_eq!(col, 14);
        assert!(msg.contains("not supported for params"), "{msg}");

        let (col, msg) = err_of("metrics.acc LIKE '1%'");
        assert_eq!(col, 13);
        assert!(msg.contains("LIKE"), "{msg}");

        let (col, msg) = err_of("foo.bar = 'x'");
        assert_eq!(col, 1);
        assert!(msg.contains("unknown identifier type 'foo'"), "{msg}");

        let (col, msg) = err_of("attributes.colour = 'x'");
        assert_eq!(col, 1);
        assert!(msg.contains("unknown attribute 'colour'"), "{msg}");

        let (col, _) = err_of("tags.t = 'open");
        assert_eq!(col, 10);

        let (col, msg) = err_of("params.x IN ('a')");
        assert_eq!(col, 10);
        assert!(msg.contains("IN"), "{msg}");

        let (col, msg) = err_of("attributes.run_id IN ('a' 'b')");
        assert_eq!(col, 27);
        assert!(msg.contains("expected ',' or ')'"), "{msg}");

        let (col, msg) = err_of("metrics.a > 1 AND");
        assert_eq!(col, 18);
        assert!(msg.contains("end of filter"), "{msg}");

        let (col, msg) = err_of("metrics. > 1");
        assert_eq!(col, 9);
        assert!(msg.contains("expected a key"), "{msg}");

        let (col, _) = err_of("metrics.a > 1 ; drop");
        assert_eq!(col, 15);
    }

    #[test]
    fn error_display_has_caret_line() {
        let err = Filter::parse("metrics.acc > 1 AND accuracy > 2").unwrap_err();
        let text = err.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("invalid filter at column 21: "));
        assert_eq!(lines[1], "  metrics.acc > 1 AND accuracy > 2");
        assert_eq!(lines[2], format!("  {}^", " ".repeat(20)));
    }

    #[test]
    fn like_semantics() {
        assert!(like_matches("abc", "a%"));
        assert!(like_matches("abc", "%c"));
        assert!(like_matches("abc", "a_c"));
        assert!(!like_matches("abc", "a_"));
        assert!(like_matches("abc", "%"));
        assert!(like_matches("", "%"));
        assert!(!like_matches("abc", "ABC"));
        assert!(like_matches("a%c", "a%c"));
        assert!(like_matches("mississippi", "%iss%ppi"));
        assert!(!like_matches("mississippi", "%iss%ppx"));
        assert!(like_matches("a*[?]", "a*[?]"));
        assert!(like_matches("ünï", "_n_"));

        let mut r = run("r1", 1);
        r.params.push(Param::new("model", "RandomForest"));
        let m = |f: &str| Filter::parse(f).unwrap().matches(&r);
        assert!(m("params.model LIKE 'Random%'"));
        assert!(!m("params.model LIKE 'random%'"));
        assert!(m("params.model ILIKE 'random%'"));
        assert!(m("params.model ILIKE '%FOREST'"));
        assert!(!m("params.model LIKE '%forest'"));
        assert!(m("params.model LIKE 'Random_orest'"));
    }

    #[test]
    fn like_to_glob_escapes() {
        assert_eq!(like_to_glob("a%b_c*d?e[f]"), "a*b?c[*]d[?]e[[]f]");
    }

    #[test]
    fn matcher_semantics() {
        let mut r = run("abc", 10);
        r.metrics.push(Metric::new("acc", 0.95, 1, 0));
        r.metrics.push(Metric::new("nan", f64::NAN, 1, 0));
        r.params.push(Param::new("depth", "10"));
        r.tags.push(Tag::new("team", "ml"));
        let m = |f: &str| Filter::parse(f).unwrap().matches(&r);
        assert!(m("metrics.acc > 0.9"));
        assert!(!m("metrics.acc > 0.95"));
        assert!(m("metrics.acc >= 0.95 AND params.depth = '10'"));
        assert!(!m("metrics.missing > 0"));
        assert!(!m("metrics.missing != 0"));
        assert!(!m("params.missing != 'x'"));
        assert!(m("metrics.nan != 1"));
        assert!(!m("metrics.nan = 0"));
        assert!(!m("metrics.nan > -1"));
        assert!(m("tags.team = 'ml'"));
        assert!(m("attributes.run_id IN ('x', 'abc')"));
        assert!(!m("attributes.run_id NOT IN ('x', 'abc')"));
        assert!(m("attributes.status = 'RUNNING'"));
        assert!(m("attributes.start_time = 10"));
        assert!(!m("attributes.end_time > 0"));
        assert!(m("run_name = 'name-abc'"));
    }

    #[test]
    fn order_by_parsing() {
        let o = OrderBy::parse("metrics.accuracy DESC").unwrap();
        assert_eq!(o.identifier, Identifier::Metric("accuracy".into()));
        assert!(!o.ascending);
        assert!(OrderBy::parse("params.max_depth ASC").unwrap().ascending);
        assert_eq!(
            OrderBy::parse("attributes.start_time").unwrap().identifier,
            Identifier::Attribute(Attribute::StartTime)
        );
        assert_eq!(
            OrderBy::parse("start_time desc").unwrap().identifier,
            Identifier::Attribute(Attribute::StartTime)
        );
        assert_eq!(
            OrderBy::parse("metrics.`my key`").unwrap().identifier,
            Identifier::Metric("my key".into())
        );
        for bad in [
            "",
            "metrics.acc UP",
            "bogus",
            "metrics.acc DESC x",
            "foo.bar",
        ] {
            assert!(
                matches!(
                    OrderBy::parse(bad),
                    Err(TrackingError::InvalidOrderBy { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn sorting_puts_missing_last() {
        let mut a = run("a", 1);
        a.metrics.push(Metric::new("acc", 0.5, 0, 0));
        let mut b = run("b", 2);
        b.metrics.push(Metric::new("acc", 0.9, 0, 0));
        let c = run("c", 3);
        let mut d = run("d", 4);
        d.metrics.push(Metric::new("acc", f64::NAN, 0, 0));
        let ids = |runs: &[Run]| {
            runs.iter()
                .map(|r| r.info.run_id.clone())
                .collect::<Vec<_>>()
        };

        let mut runs = vec![a.clone(), b.clone(), c.clone(), d.clone()];
        sort_runs(&mut runs, &[OrderBy::parse("metrics.acc DESC").unwrap()]);
        assert_eq!(ids(&runs), ["b", "a", "d", "c"]);
        sort_runs(&mut runs, &[OrderBy::parse("metrics.acc ASC").unwrap()]);
        assert_eq!(ids(&runs), ["a", "b", "d", "c"]);
        sort_runs(&mut runs, &[]);
        assert_eq!(ids(&runs), ["d", "c", "b", "a"]);
    }
}
