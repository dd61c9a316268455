use pipeline_core::prelude::*;

#[pipeline]
mod clash {
    use super::*;

    #[stage(outs = [model = "models/model.json"])]
    fn train(ctx: &mut StageContext) -> Result<()> { ctx.write(train::model, "") }

    #[stage(outs = [model = "models/model.json"])]
    fn retrain(ctx: &mut StageContext) -> Result<()> { ctx.write(retrain::model, "") }
}

fn main() {}
