use pipeline_core::prelude::*;

#[pipeline]
mod looped {
    use super::*;

    #[stage(deps = [c::out], outs = [out = "a.txt"])]
    fn a(ctx: &mut StageContext) -> Result<()> { ctx.write(a::out, "") }

    #[stage(deps = [a::out], outs = [out = "b.txt"])]
    fn b(ctx: &mut StageContext) -> Result<()> { ctx.write(b::out, "") }

    #[stage(deps = [b::out], outs = [out = "c.txt"])]
    fn c(ctx: &mut StageContext) -> Result<()> { ctx.write(c::out, "") }
}

fn main() {}
