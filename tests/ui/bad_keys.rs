use pipeline_core::prelude::*;

#[pipeline]
mod keys {
    use super::*;

    #[stage(outs = [a = "a.txt"], dep = ["x.txt"], outs = [b = "b.txt"])]
    fn train(ctx: &mut StageContext) -> Result<()> { ctx.write(train::a, "") }
}

fn main() {}
