//! Panics reported in one line, with their message and where they happened. The default hook
//! prints a banner in the middle of the output (and from every rayon thread); instead the hook
//! remembers the last panic of each thread, and whoever catches it (the engine for a stage, the
//! CLI for a command) reports it as one line: `… at file:line`.

use std::cell::RefCell;

thread_local! {
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Replaces the panic hook with one that records instead of printing. Idempotent.
pub(crate) fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_string());
        let text = match info.location() {
            Some(at) => format!("{message} at {}:{}", at.file(), at.line()),
            None => message,
        };
        LAST.with(|last| *last.borrow_mut() = Some(text));
    }));
}

/// The message of a panic just caught on this thread, with its location when the hook saw it.
pub(crate) fn describe(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(recorded) = LAST.with(|last| last.borrow_mut().take()) {
        return recorded;
    }
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_caught_panic_is_described_with_its_location() {
        super::install_hook();
        let line = line!() + 1;
        let payload = std::panic::catch_unwind(|| panic!("boom {}", 7)).unwrap_err();
        let text = super::describe(payload.as_ref());
        assert_eq!(text, format!("boom 7 at {}:{line}", file!()));
        let _ = std::panic::take_hook();
    }
}
