//! `cargo run -p iris-project -- repro`: the Iris pipeline behind the engine's command line.

use iris_project::{pipeline::iris, predict::IrisPredictor};
use pipeline_core::cli::App;

fn main() -> std::process::ExitCode {
    App::new(iris::pipeline())
        .predictor(IrisPredictor)
        .version(env!("CARGO_PKG_VERSION"))
        .about(
            "Iris species classifier: prepare the Iris data set, train a random forest and \
             evaluate it, with every run tracked and the models ready to predict and serve.",
        )
        .main()
}
