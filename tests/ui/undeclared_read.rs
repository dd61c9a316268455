use pipeline_core::prelude::*;

#[pipeline]
mod sneaky {
    use super::*;

    #[stage(outs = [out = "p.txt"])]
    fn producer(ctx: &mut StageContext) -> Result<()> { ctx.write(producer::out, "made") }

    #[stage(outs = [out = "c.txt"])]
    fn consumer(ctx: &mut StageContext) -> Result<()> {
        let text = ctx.read_to_string(producer::out)?;
        ctx.write(consumer::out, text)
    }
}

fn main() {}
