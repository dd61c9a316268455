//! `cargo run -p iris-project -- repro`: the Iris pipeline behind the engine's command line.

fn main() -> std::process::ExitCode {
    pipeline_core::cli::main(iris_project::pipeline::iris::pipeline())
}
