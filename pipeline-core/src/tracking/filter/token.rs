//! The filter lexer: characters to tokens, each remembering its column so that every error can
//! point at the offending spot.

use super::super::error::{Result, TrackingError};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '/' | ':')
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

    pub(super) fn err(&self, offset: usize, message: impl Into<String>) -> TrackingError {
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
