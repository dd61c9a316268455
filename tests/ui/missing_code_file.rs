use pipeline_core::prelude::*;

#[pipeline]
mod helpers {
    use super::*;

    #[stage(outs = [model = "model.json"], code = ["src/forest.rs", "../elsewhere.rs"])]
    fn train(ctx: &mut StageContext) -> Result<()> { ctx.write(train::model, "") }
}

fn main() {}
