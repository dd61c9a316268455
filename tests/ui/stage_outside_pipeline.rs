use pipeline_core::prelude::*;

#[stage(outs = [a = "a.txt"])]
fn lonely(_ctx: &mut StageContext) -> Result<()> { Ok(()) }

fn main() {}
