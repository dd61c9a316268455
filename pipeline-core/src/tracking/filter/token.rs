//! The filter lexer: characters to tokens, each remembering its column so that every error can
//! point at the offending spot.

use super::super::error::{Result, TrackingError};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// A bare word: keyword or attribute name.
    Word(String),
    /// A backtick-quoted word with no `.key` after it (an attribute such as `` `Run Name` ``).
    Quoted(String),
    /// `entity.key`: the entity without its backticks, the key as MLflow reads it (outer
    /// quotes, then backticks, trimmed).
    Ident {
        entity: String,
        key: String,
    },
    /// A quoted string; MLflow keeps what is between the outer quotes as is (`''` stays two
    /// quotes).
    Str(String),
    /// A number, with its text as written.
    Num(f64),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    Semicolon,
    End,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    /// 0-based character offset of the token's first character.
    pub(super) start: usize,
    /// The token's source text, for messages.
    pub(super) text: String,
}

pub(super) struct Lexer<'a> {
    src: &'a str,
    chars: Vec<char>,
    pos: usize,
}

pub(super) fn filter_error(src: &str, offset: usize, message: impl Into<String>) -> TrackingError {
    TrackingError::InvalidFilter {
        message: message.into(),
        column: offset + 1,
        filter: src.to_string(),
        caret: format!("{}^", " ".repeat(offset)),
    }
}

/// Characters of an unquoted key: word characters and dots, as in MLflow's SQL-style names
/// (`val/loss` or `x-y` must be quoted).
fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.')
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The comparison operators MLflow's tokenizer knows, longest first; the parser rejects
/// those no key type accepts with a message naming them.
const OPERATORS: [&str; 12] = [
    "==", "!=", "<>", "<=", ">=", "=>", "=<", "~=", "=", "<", ">", "~",
];

/// A key as MLflow reads it: outer single or double quotes trimmed, then outer backticks.
fn trim_key(raw: &str) -> String {
    let quoted = |q: char| raw.len() >= 2 && raw.starts_with(q) && raw.ends_with(q);
    let s = if quoted('\'') || quoted('"') {
        &raw[1..raw.len() - 1]
    } else {
        raw
    };
    let bt = s.len() >= 2 && s.starts_with('`') && s.ends_with('`');
    if bt {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

impl<'a> Lexer<'a> {
    pub(super) fn new(src: &'a str) -> Self {
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

    /// The character at a 0-based offset (a token's first character).
    pub(super) fn char_at(&self, offset: usize) -> char {
        self.chars[offset]
    }

    pub(super) fn err(&self, offset: usize, message: impl Into<String>) -> TrackingError {
        filter_error(self.src, offset, message)
    }

    /// Reads a quoted run starting at the opening quote and returns what lies between the
    /// outer quotes, unchanged: a doubled quote or a backslash-escaped one does not end it.
    fn quoted(&mut self, what: &str) -> Result<String> {
        let start = self.pos;
        let q = self.chars[self.pos];
        self.pos += 1;
        loop {
            match self.peek_at(self.pos) {
                None => return Err(self.err(start, format!("unterminated {what} starting here"))),
                Some('\\') if q != '`' && self.peek_at(self.pos + 1).is_some() => self.pos += 2,
                Some(c) if c == q => {
                    if q != '`' && self.peek_at(self.pos + 1) == Some(q) {
                        self.pos += 2;
                    } else {
                        self.pos += 1;
                        return Ok(self.chars[start + 1..self.pos - 1].iter().collect());
                    }
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// The raw text of a key after `entity.`: quoted runs and word characters or dots.
    fn raw_key(&mut self) -> Result<String> {
        let start = self.pos;
        loop {
            match self.peek_at(self.pos) {
                Some('`' | '"') => {
                    self.quoted("quoted key")?;
                }
                Some(c) if is_key_char(c) => self.pos += 1,
                _ => return Ok(self.text(start)),
            }
        }
    }

    pub(super) fn next(&mut self) -> Result<Token> {
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
            ';' => {
                self.pos += 1;
                Tok::Semicolon
            }
            '=' | '!' | '<' | '>' | '~' => {
                let rest: String = self.chars[self.pos..].iter().take(2).collect();
                let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) else {
                    return Err(self.err(start, format!("unexpected character '{c}'")));
                };
                self.pos += op.chars().count();
                Tok::Op(op)
            }
            '\'' | '"' => Tok::Str(self.quoted("string")?),
            c if c.is_ascii_digit()
                || ((c == '-' || c == '.')
                    && self
                        .peek_at(self.pos + 1)
                        .is_some_and(|d| d.is_ascii_digit() || (c == '-' && d == '.'))) =>
            {
                self.number(start)?
            }
            c if c.is_alphabetic() || c == '_' || c == '`' => {
                let quoted_head = c == '`';
                let head = if quoted_head {
                    self.quoted("quoted name")?
                } else {
                    while self.peek_at(self.pos).is_some_and(is_word_char) {
                        self.pos += 1;
                    }
                    self.text(start)
                };
                if self.peek_at(self.pos) == Some('.') {
                    self.pos += 1;
                    let key_start = self.pos;
                    let raw = self.raw_key()?;
                    if raw.is_empty() {
                        return Err(self.err(key_start, format!("expected a key after '{head}.'")));
                    }
                    Tok::Ident {
                        entity: head,
                        key: trim_key(&raw),
                    }
                } else if quoted_head {
                    Tok::Quoted(head)
                } else {
                    Tok::Word(head)
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

    /// MLflow's number forms: an optional `-`, digits with an optional fraction (or a bare
    /// fraction), and an exponent `e` or `E` with an optional `-` (no `+`, no leading `+`).
    fn number(&mut self, start: usize) -> Result<Tok> {
        if self.peek_at(self.pos) == Some('-') {
            self.pos += 1;
        }
        let digits = |l: &mut Self| {
            while l.peek_at(l.pos).is_some_and(|c| c.is_ascii_digit()) {
                l.pos += 1;
            }
        };
        digits(self);
        if self.peek_at(self.pos) == Some('.') {
            self.pos += 1;
            digits(self);
        }
        if matches!(self.peek_at(self.pos), Some('e' | 'E')) {
            let save = self.pos;
            self.pos += 1;
            if self.peek_at(self.pos) == Some('-') {
                self.pos += 1;
            }
            if self.peek_at(self.pos).is_some_and(|c| c.is_ascii_digit()) {
                digits(self);
            } else {
                self.pos = save;
            }
        }
        // A number glued to letters ("10abc", "1e+5", "1AND") is not a number.
        let glued = self
            .peek_at(self.pos)
            .is_some_and(|c| is_key_char(c) || c == '+');
        while self
            .peek_at(self.pos)
            .is_some_and(|c| is_key_char(c) || c == '+')
        {
            self.pos += 1;
        }
        let text = self.text(start);
        if glued {
            return Err(self.err(start, format!("'{text}' is not a number")));
        }
        text.parse::<f64>()
            .map(Tok::Num)
            .map_err(|_| self.err(start, format!("'{text}' is not a number")))
    }
}
