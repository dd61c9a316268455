//! A spinner per running stage while a terminal watches; nothing at all otherwise, so logs and
//! captured output stay plain lines.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

/// Live progress of running stages.
pub struct Progress {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress {
    /// Enabled when stderr is a terminal.
    pub fn new() -> Self {
        Progress {
            multi: std::io::stderr().is_terminal().then(MultiProgress::new),
            bars: Mutex::new(HashMap::new()),
        }
    }

    /// Shows a spinner for `stage`.
    pub fn start(&self, stage: &str) {
        let Some(multi) = &self.multi else { return };
        let bar = multi.add(ProgressBar::new_spinner());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(format!("running `{stage}`"));
        bar.enable_steady_tick(Duration::from_millis(100));
        self.bars
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(stage.to_string(), bar);
    }

    /// Removes `stage`'s spinner.
    pub fn finish(&self, stage: &str) {
        if let Some(bar) = self
            .bars
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(stage)
        {
            bar.finish_and_clear();
        }
    }

    /// Runs `print` with the spinners hidden, so lines do not tear through them.
    pub fn suspend(&self, print: impl FnOnce()) {
        match &self.multi {
            Some(multi) => multi.suspend(print),
            None => print(),
        }
    }
}

impl Drop for Progress {
    /// Clears spinners of stages that failed (they get no `finish`).
    fn drop(&mut self) {
        for (_, bar) in self.bars.lock().unwrap_or_else(|p| p.into_inner()).drain() {
            bar.finish_and_clear();
        }
    }
}
