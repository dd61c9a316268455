//! Every compile error of the DSL, one UI test per diagnostic, with its `.stderr` checked in
//! (`TRYBUILD=overwrite cargo test -p pipeline-tests --test compile_errors` after a reviewed change).
//!
//! trybuild writes its cargo build log and a line per file straight to the terminal, past the test
//! harness's output capture. So `ui` runs trybuild in a child process (this test binary again, with
//! [`CHILD`] set) and shows what the child printed only when it fails: `cargo test` stays quiet
//! while every diagnostic matches. `PIPELINE_UI_CHILD=1 cargo test -p pipeline-tests --test
//! compile_errors` runs trybuild in place, with its usual output.

use std::process::Command;

/// Set in the child process: run trybuild itself instead of spawning a child.
const CHILD: &str = "PIPELINE_UI_CHILD";

#[test]
fn ui() {
    if std::env::var_os(CHILD).is_some() {
        let t = trybuild::TestCases::new();
        t.compile_fail("ui/*.rs");
        return;
    }
    let exe = std::env::current_exe().expect("path of the test binary");
    let out = Command::new(exe)
        .args(["ui", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        // Plain text: trybuild colours its lines even when they go to a pipe.
        .env("NO_COLOR", "1")
        // trybuild's own panic only says how many files failed; its backtrace would be noise.
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("running the compile-error tests in a child process");
    assert!(
        out.status.success(),
        "compile-error tests failed ({}); trybuild's output:\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}
