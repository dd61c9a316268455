use pipeline_core::prelude::*;

#[pipeline]
mod looped {
    use super::*;

    #[stage(deps = [b::out], outs = [out = "/abs/a.txt"])]
    fn a(ctx: &mut StageContext) -> Result<()> { ctx.write(a::out, "") }

    #[stage(deps = [a::out], outs = [out = "b.txt"])]
    fn b(ctx: &mut StageContext) -> Result<()> { ctx.write(b::out, "") }
}

fn main() {}
