use pipeline_core::prelude::*;

#[pipeline]
mod escape {
    use super::*;

    #[stage(outs = [abs = "/etc/model.json", up = "../model.json", inner = "data/../../x.csv"])]
    fn train(ctx: &mut StageContext) -> Result<()> { ctx.write(train::abs, "") }
}

fn main() {}
