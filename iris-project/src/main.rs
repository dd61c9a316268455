//! `cargo run -p iris-project -- repro`: the Iris pipeline behind the engine's command line.

use iris_project::{pipeline::iris, predict::IrisPredictor};
use pipeline_core::cli::App;

fn main() -> std::process::ExitCode {
    App::new(iris::pipeline()).predictor(IrisPredictor).main()
}
