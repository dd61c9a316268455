use pipeline_core::prelude::*;

#[pipeline]
mod typo {
    use super::*;

    #[stage(outs = [train = "train.csv", test = "test.csv"])]
    fn prepare(ctx: &mut StageContext) -> Result<()> {
        ctx.write(prepare::train, "")?;
        ctx.write(prepare::test, "")
    }

    #[stage(deps = [prepare::trian, prepar::test], outs = [model = "model.json"])]
    fn train(ctx: &mut StageContext) -> Result<()> { ctx.write(train::model, "") }
}

fn main() {}
