//! The fixture pipeline as a binary, for tests that need a real process (kill -9, locking).

fn main() -> std::process::ExitCode {
    pipeline_core::cli::main(pipeline_tests::numbers::pipeline())
}
