//! The filter parser: tokens to a [`Filter`] or [`OrderBy`], rejecting comparators and values
//! that do not fit the identifier (MLflow's rules), with the column of the offending token.

use super::super::error::{Result, TrackingError};
use super::ast::{Attribute, Clause, Comparator, Filter, Identifier, OrderBy, Value};
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
            let list: Vec<&str> = allowed.iter().map(|c| c.as_str()).collect();
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
}

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
