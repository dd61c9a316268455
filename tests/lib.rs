//! Shared fixtures for the cross-crate tests: small pipelines written with the DSL whose stages
//! leave traces (run counters, start and end instants) that tests can inspect.

use pipeline_core::prelude::*;
use std::time::{SystemTime, UNIX_EPOCH};

/// `[numbers]` of the fixture's params.toml.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Numbers {
    /// How many numbers `generate` writes.
    pub count: u32,
    /// What `scale` multiplies them by.
    pub factor: i64,
}

impl ParamsSection for Numbers {
    fn validate(&self) -> Result<(), Invalid> {
        Invalid::check("count", self.count, self.count >= 1, "must be at least 1")?;
        Invalid::check("factor", self.factor, self.factor != 0, "must not be 0")
    }
}

/// Appends `stage start end` (microseconds since the epoch) to `trace.log` in the workspace root,
/// outside the pipeline's outputs, so tests see every real run.
fn trace(ctx: &StageContext, start: u128) -> Result<()> {
    use std::io::Write;
    let end = now_us();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(ctx.root().join("trace.log"))?;
    // One write per line: parallel stages append to the same file.
    file.write_all(format!("{} {start} {end}\n", ctx.stage()).as_bytes())?;
    Ok(())
}

fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

/// Milliseconds the `slow_*` stages sleep, from the environment (default 0).
fn pause() -> std::time::Duration {
    let ms = std::env::var("FIXTURE_SLEEP_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    std::time::Duration::from_millis(ms)
}

/// generate → scale → total, plus two independent slow stages.
#[pipeline]
pub mod numbers {
    use super::*;

    /// Writes `count` numbers, one per line.
    #[stage(outs = [list = "data/numbers.txt"], params = [numbers])]
    fn generate(ctx: &mut StageContext, numbers: &Numbers) -> Result<()> {
        let start = now_us();
        let text: String = (1..=numbers.count).map(|n| format!("{n}\n")).collect();
        ctx.write(generate::list, text)?;
        trace(ctx, start)
    }

    /// Multiplies each number by `factor`.
    #[stage(deps = [generate::list], outs = [scaled = "data/scaled.txt"], params = [numbers])]
    fn scale(ctx: &mut StageContext, numbers: &Numbers) -> Result<()> {
        let start = now_us();
        let input = ctx.read_to_string(generate::list)?;
        let mut out = String::new();
        for line in input.lines() {
            let n: i64 = line.parse().context("bad number")?;
            out.push_str(&format!("{}\n", n * numbers.factor));
        }
        ctx.write(scale::scaled, out)?;
        trace(ctx, start)
    }

    /// Sums the scaled numbers into a metrics file; fails when the input says `fail`, panics
    /// when it says `panic`.
    #[stage(deps = [scale::scaled, "inputs/extra.txt"], metrics = [summary = "results/summary.json"])]
    fn total(ctx: &mut StageContext) -> Result<()> {
        let start = now_us();
        let extra = ctx.read_to_string("inputs/extra.txt")?;
        if extra.trim() == "panic" {
            panic!("inputs/extra.txt asked this stage to panic");
        }
        if extra.trim() == "fail" {
            bail!("inputs/extra.txt asked this stage to fail");
        }
        let sum: i64 = ctx
            .read_to_string(scale::scaled)?
            .lines()
            .map(|l| l.parse::<i64>().unwrap_or(0))
            .sum();
        ctx.write(total::summary, format!("{{\"sum\": {sum}}}\n"))?;
        trace(ctx, start)
    }

    /// Independent of everything else; sleeps `FIXTURE_SLEEP_MS`.
    #[stage(outs = [a = "slow/a.txt"])]
    fn slow_a(ctx: &mut StageContext) -> Result<()> {
        let start = now_us();
        std::thread::sleep(pause());
        ctx.write(slow_a::a, "a\n")?;
        trace(ctx, start)
    }

    /// Independent of everything else; sleeps `FIXTURE_SLEEP_MS`.
    #[stage(outs = [b = "slow/b.txt"])]
    fn slow_b(ctx: &mut StageContext) -> Result<()> {
        let start = now_us();
        std::thread::sleep(pause());
        ctx.write(slow_b::b, "b\n")?;
        trace(ctx, start)
    }
}

/// The params.toml the fixture starts with.
pub const PARAMS: &str = "[numbers]\ncount = 5\nfactor = 3\n";

/// Parses `trace.log`: (stage, start µs, end µs) per real run, in order of completion.
pub fn read_trace(root: &std::path::Path) -> Vec<(String, u128, u128)> {
    std::fs::read_to_string(root.join("trace.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            Some((
                parts.next()?.to_string(),
                parts.next()?.parse().ok()?,
                parts.next()?.parse().ok()?,
            ))
        })
        .collect()
}

/// Deterministic bytes that do not compress into shared objects: test data for transfers.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect()
}

/// Starts `command` with its output discarded and kills it (SIGKILL) after `delay_ms`.
pub fn kill_after(mut command: std::process::Command, delay_ms: u64) {
    use std::process::Stdio;
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(delay_ms));
    let _ = child.kill();
    let _ = child.wait();
}
