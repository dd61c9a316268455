//! The filter parser: tokens to a [`Filter`] or [`OrderBy`], rejecting comparators and values
//! that do not fit the identifier (MLflow's rules), with the column of the offending token.

use super::super::error::{Result, TrackingError};
use super::ast::{Attribute, Clause, Comparator, DatasetField, Filter, Identifier, OrderBy, Value};
use super::token::{Lexer, Tok, Token};

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

    /// True when the current token can start a clause.
    fn at_identifier(&self) -> bool {
        match &self.current.tok {
            Tok::Ident { .. } | Tok::Quoted(_) => true,
            Tok::Word(w) => Attribute::from_name(w, true).is_some(),
            _ => false,
        }
    }

    /// Clauses, joined by `AND` as MLflow reads them: an `AND` anywhere (leading, trailing,
    /// doubled) is skipped, and so is a missing one between two complete clauses.
    fn filter(mut self) -> Result<Filter> {
        let mut clauses = Vec::new();
        loop {
            while self.word_is("AND") {
                self.advance()?;
            }
            if self.current.tok == Tok::End {
                return Ok(Filter { clauses });
            }
            if !clauses.is_empty() && !self.at_identifier() {
                if self.word_is("OR") {
                    return Err(self.err_here(
                        "only AND is supported to combine clauses (MLflow filters have no OR)",
                    ));
                }
                if self.current.tok == Tok::Semicolon {
                    return Err(self.err_here(
                        "a filter is one expression: combine clauses with AND, not ';'",
                    ));
                }
                return Err(self.err_here(format!(
                    "expected AND or the end of the filter, found {}",
                    self.found()
                )));
            }
            clauses.push(self.clause()?);
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
        let id = identifier_from_token(&self.lexer, &token, true)?;
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
                "<=" => Comparator::Le,
                other => {
                    return Err(self.err_here(format!(
                        "comparator {other} is not supported for {identifier}; use one of {}",
                        allowed_list(identifier)
                    )))
                }
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
            Tok::Word(w) if w.eq_ignore_ascii_case("IS") => {
                self.advance()?;
                if self.word_is("NULL") {
                    Comparator::IsNull
                } else if self.word_is("NOT") {
                    let not_end = self.current.start + 3;
                    self.advance()?;
                    // MLflow reads `NOT NULL` as one keyword, with exactly one space.
                    if !self.word_is("NULL") || self.current.start != not_end + 1 {
                        return Err(self.err_here(format!(
                            "expected NULL after IS NOT (one space apart), found {}",
                            self.found()
                        )));
                    }
                    Comparator::IsNotNull
                } else {
                    return Err(self.err_here(format!(
                        "expected NULL or NOT NULL after IS, found {}",
                        self.found()
                    )));
                }
            }
            _ => {
                return Err(self.err_here(format!("expected a comparator, found {}", self.found())))
            }
        };
        if matches!(comparator, Comparator::IsNull | Comparator::IsNotNull)
            && !matches!(identifier, Identifier::Param(_) | Identifier::Tag(_))
        {
            return Err(self.lexer.err(
                start,
                format!("IS NULL / IS NOT NULL is only supported for tags and params, not for {identifier}"),
            ));
        }
        if !allowed(identifier).contains(&comparator) {
            return Err(self.lexer.err(
                start,
                format!(
                    "comparator {} is not supported for {}; use one of {}",
                    comparator,
                    identifier,
                    allowed_list(identifier)
                ),
            ));
        }
        self.advance()?;
        Ok(comparator)
    }

    fn value(&mut self, identifier: &Identifier, comparator: Comparator) -> Result<Value> {
        match comparator {
            Comparator::IsNull | Comparator::IsNotNull => return Ok(Value::Null),
            Comparator::In | Comparator::NotIn => {
                if let Identifier::Attribute(a) = identifier {
                    if *a != Attribute::RunId {
                        return Err(self.err_here(format!(
                            "only attributes.run_id (and datasets.*) take a list of quoted strings, not {identifier}"
                        )));
                    }
                }
                return self.list();
            }
            _ => {}
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
            (Tok::Quoted(_), false) => {
                return Err(self.err_here(format!(
                    "expected a value in single or double quotes for {identifier}, found {} (backticks quote keys, not values)",
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

    /// A parenthesised list as MLflow reads it (a Python tuple literal): quoted strings
    /// separated by commas, a trailing comma allowed, adjacent strings joined into one.
    fn list(&mut self) -> Result<Value> {
        if self.current.tok != Tok::LParen {
            return Err(self.err_here(format!(
                "expected a parenthesised list of quoted strings, found {}",
                self.found()
            )));
        }
        let open = self.current.start;
        self.advance()?;
        let mut items = Vec::new();
        loop {
            if self.current.tok == Tok::RParen {
                if items.is_empty() {
                    return Err(self.lexer.err(
                        open,
                        "expected a non-empty list of quoted strings, found an empty list",
                    ));
                }
                self.advance()?;
                return Ok(Value::List(items));
            }
            let mut item: Option<String> = None;
            while let Tok::Str(s) = &self.current.tok {
                let q = self.lexer.char_at(self.current.start);
                // Inside a literal a doubled quote is two adjacent strings: nothing between.
                let piece = s.replace(&format!("{q}{q}"), "");
                item.get_or_insert_with(String::new).push_str(&piece);
                self.advance()?;
            }
            let Some(item) = item else {
                return Err(self.err_here(format!(
                    "expected a quoted string in the list, found {}",
                    self.found()
                )));
            };
            items.push(item);
            match self.current.tok {
                Tok::Comma => {
                    self.advance()?;
                }
                Tok::RParen => {}
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
const PARAM_TAG: [Comparator; 6] = [
    Comparator::Eq,
    Comparator::Ne,
    Comparator::Like,
    Comparator::ILike,
    Comparator::IsNull,
    Comparator::IsNotNull,
];
const STRING_ATTRIBUTE: [Comparator; 6] = [
    Comparator::Eq,
    Comparator::Ne,
    Comparator::Like,
    Comparator::ILike,
    Comparator::In,
    Comparator::NotIn,
];

fn allowed(identifier: &Identifier) -> &'static [Comparator] {
    match identifier {
        Identifier::Metric(_) => &ARITHMETIC,
        Identifier::Attribute(a) if a.is_numeric() => &ARITHMETIC,
        Identifier::Param(_) | Identifier::Tag(_) => &PARAM_TAG,
        Identifier::Attribute(_) | Identifier::Dataset(_) => &STRING_ATTRIBUTE,
    }
}

fn allowed_list(identifier: &Identifier) -> String {
    let list: Vec<&str> = allowed(identifier).iter().map(|c| c.as_str()).collect();
    list.join(", ")
}

/// The identifier a token names. Entity types and attribute names are case-sensitive, as in
/// MLflow; `in_filter` admits what only filters accept (run-name aliases, `datasets.`).
fn identifier_from_token(lexer: &Lexer<'_>, token: &Token, in_filter: bool) -> Result<Identifier> {
    let attribute = |name: &str| {
        Attribute::from_name(name, in_filter)
            .map(Identifier::Attribute)
            .ok_or_else(|| {
                lexer.err(
                    token.start,
                    format!(
                        "unknown attribute '{name}'; valid attributes are {}",
                        Attribute::NAMES
                    ),
                )
            })
    };
    match &token.tok {
        Tok::Ident { entity, key } => match entity.as_str() {
            "metric" | "metrics" => Ok(Identifier::Metric(key.clone())),
            "param" | "params" | "parameter" | "parameters" => Ok(Identifier::Param(key.clone())),
            "tag" | "tags" => Ok(Identifier::Tag(key.clone())),
            "attribute" | "attributes" | "attr" | "run" => attribute(key),
            "dataset" | "datasets" if in_filter => DatasetField::from_name(key)
                .map(Identifier::Dataset)
                .ok_or_else(|| {
                    lexer.err(
                        token.start,
                        format!("unknown dataset field '{key}'; valid fields are name, digest, context"),
                    )
                }),
            "dataset" | "datasets" => Err(lexer.err(
                token.start,
                "runs cannot be ordered by dataset fields",
            )),
            _ => Err(lexer.err(
                token.start,
                format!(
                    "unknown identifier type '{entity}' (case matters); use metrics., params., tags., attributes. or datasets."
                ),
            )),
        },
        Tok::Quoted(name) => attribute(name),
        Tok::Word(w) => Attribute::from_name(w, in_filter)
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
}

impl OrderBy {
    /// Parses one `order_by` clause: `<identifier>[ ASC|DESC]`, with no space before or
    /// after (MLflow rejects those).
    pub fn parse(clause: &str) -> Result<OrderBy> {
        let bad = |message: String| TrackingError::InvalidOrderBy {
            clause: clause.to_string(),
            message,
        };
        if clause.starts_with(char::is_whitespace) || clause.ends_with(char::is_whitespace) {
            return Err(bad("no space is allowed before or after the clause".into()));
        }
        let mut lexer = Lexer::new(clause);
        let first = lexer.next().map_err(|e| bad(e.to_string()))?;
        if first.tok == Tok::End {
            return Err(bad("empty clause".into()));
        }
        let identifier = identifier_from_token(&lexer, &first, false).map_err(|e| match e {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        // MLflow keeps what is between the quotes as is: a doubled quote stays doubled.
        assert_eq!(f.clauses[7].value, Value::Text("it''s".into()));
        assert_eq!(
            f.clauses[10].identifier,
            Identifier::Attribute(Attribute::StartTime)
        );
        assert_eq!(f.clauses[11].comparator, Comparator::NotIn);
        assert!(Filter::parse("").unwrap().is_empty());
        assert!(Filter::parse("   ").unwrap().is_empty());
        // Keys with dots need no quoting; slashes and dashes do, as in MLflow.
        let f = Filter::parse("metrics.val.loss_ema1 < 2 AND metrics.`val/loss-1` < 2").unwrap();
        assert_eq!(
            f.clauses[0].identifier,
            Identifier::Metric("val.loss_ema1".into())
        );
        assert_eq!(
            f.clauses[1].identifier,
            Identifier::Metric("val/loss-1".into())
        );
        assert!(Filter::parse("metrics.val/loss < 2").is_err());
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

        // Adjacent strings join into one item ('a' 'b' is 'ab'), as in MLflow.
        let (col, msg) = err_of("attributes.run_id IN ('a' 1)");
        assert_eq!(col, 27);
        assert!(msg.contains("expected ',' or ')'"), "{msg}");

        // MLflow skips a trailing AND, but a clause without its value is an error.
        let (col, msg) = err_of("metrics.a > 1 AND metrics.b >");
        assert_eq!(col, 30);
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
}
