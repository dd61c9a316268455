//! Colour and counted nouns for people reading the terminal.
//!
//! Colour goes only to a terminal, and never when `NO_COLOR` is set to anything non-empty
//! (<https://no-color.org>) or `TERM=dumb`: piped output, files and tests stay plain text, so
//! scripts and snapshots never see escape codes. Plain ANSI codes suffice for the few styles
//! used; a crate would add a dependency for six constants.

use std::io::IsTerminal;

/// A style of text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Paint {
    /// Headings and names.
    Bold,
    /// Done, up to date, a metric that rose.
    Green,
    /// Stale, would run.
    Yellow,
    /// Failed, a metric that fell.
    Red,
    /// Restored from a cache.
    Cyan,
    /// Secondary detail such as ids and times.
    Dim,
}

impl Paint {
    fn code(self) -> &'static str {
        match self {
            Paint::Bold => "1",
            Paint::Green => "32",
            Paint::Yellow => "33",
            Paint::Red => "31",
            Paint::Cyan => "36",
            Paint::Dim => "2",
        }
    }

    /// `text` in this style when `color`, else unchanged.
    pub(crate) fn apply(self, color: bool, text: &str) -> String {
        if color && !text.is_empty() {
            format!("\x1b[{}m{text}\x1b[0m", self.code())
        } else {
            text.to_string()
        }
    }
}

/// Whether output to a stream that `is_terminal` should be coloured, given the environment.
fn wanted(is_terminal: bool, no_color: Option<&std::ffi::OsStr>, term: Option<&str>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty()) && term != Some("dumb")
}

/// Whether standard output should be coloured.
pub(crate) fn stdout_wants_color() -> bool {
    let term = std::env::var("TERM").ok();
    wanted(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
        term.as_deref(),
    )
}

/// Whether standard error should be coloured.
pub(crate) fn stderr_wants_color() -> bool {
    let term = std::env::var("TERM").ok();
    wanted(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
        term.as_deref(),
    )
}

/// `n` and the noun in the right number: "1 stage", "2 stages", "0 stages".
pub(crate) fn count(n: usize, singular: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else if let Some(stem) = singular.strip_suffix('y') {
        format!("{n} {stem}ies")
    } else if singular.ends_with('s') || singular.ends_with('x') || singular.ends_with("ch") {
        format!("{n} {singular}es")
    } else {
        format!("{n} {singular}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn counts_read_as_english() {
        assert_eq!(count(1, "experiment"), "1 experiment");
        assert_eq!(count(2, "experiment"), "2 experiments");
        assert_eq!(count(0, "stage"), "0 stages");
        assert_eq!(count(3, "run record"), "3 run records");
        assert_eq!(count(2, "entry"), "2 entries");
        assert_eq!(count(2, "pass"), "2 passes");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(wanted(true, None, Some("xterm")));
        assert!(wanted(true, Some(OsStr::new("")), None));
        assert!(!wanted(false, None, Some("xterm")));
        assert!(!wanted(true, Some(OsStr::new("1")), Some("xterm")));
        assert!(!wanted(true, None, Some("dumb")));
    }

    #[test]
    fn plain_text_when_colour_is_off() {
        assert_eq!(Paint::Green.apply(false, "done"), "done");
        assert_eq!(Paint::Red.apply(true, "failed"), "\x1b[31mfailed\x1b[0m");
    }
}
