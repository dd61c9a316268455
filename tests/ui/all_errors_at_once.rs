use pipeline_core::prelude::*;

#[pipeline]
mod broken {
    use super::*;

    #[stage(outs = [raw = "/data/raw.csv"], colour = "red")]
    fn prepare(ctx: &mut StageContext) -> Result<()> { ctx.write(prepare::raw, "") }

    #[stage(deps = [prepare::rwa], outs = [raw = "/data/raw.csv"])]
    fn train(ctx: &mut StageContext) -> Result<()> { ctx.write(train::raw, "") }
}

fn main() {}
