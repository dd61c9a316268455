use pipeline_core::prelude::*;

#[pipeline]
mod twice {
    use super::*;

    #[stage(outs = [raw = "raw.csv"])]
    fn prepare(ctx: &mut StageContext) -> Result<()> { ctx.write(prepare::raw, "") }

    #[stage(outs = [clean = "clean.csv"])]
    fn prepare(ctx: &mut StageContext) -> Result<()> { ctx.write(prepare::clean, "") }
}

fn main() {}
