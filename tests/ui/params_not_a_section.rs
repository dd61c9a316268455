use pipeline_core::prelude::*;

#[derive(serde::Serialize, serde::Deserialize)]
struct TrainParams {
    depth: u32,
}

#[pipeline]
mod unbound {
    use super::*;

    #[stage(outs = [model = "model.json"], params = [train])]
    fn train(ctx: &mut StageContext, train: &TrainParams) -> Result<()> {
        ctx.write(train::model, train.depth.to_string())
    }
}

fn main() {}
