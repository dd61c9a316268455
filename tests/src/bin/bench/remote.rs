//! `push` and `pull` to an S3 server on loopback (moto), side by side with `dvc push` and
//! `dvc pull` to the same server in the same run: 10,000 small files, and one 1 GiB file. The
//! server comes from `S3_TEST_ENDPOINT`, else `scripts/storage-servers.sh` starts one; DVC from
//! the venv in `DVC_VENV` (default `$HOME/.cache/pipeline-ci/dvc-venv`, `pip install "dvc[s3]"`);
//! without it only our figures are printed.

use super::{ms, report, time_process};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CREDENTIALS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
];

/// The servers this benchmark started, stopped when it ends.
struct Servers(Option<tempfile::TempDir>);

impl Drop for Servers {
    fn drop(&mut self) {
        if let Some(state) = &self.0 {
            let _ = Command::new("bash")
                .arg(repo().join("scripts/storage-servers.sh"))
                .arg("stop")
                .arg(state.path())
                .status();
        }
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The S3 endpoint, starting the servers if none is given.
fn endpoint() -> anyhow::Result<(String, Servers)> {
    if let Ok(url) = std::env::var("S3_TEST_ENDPOINT") {
        return Ok((url, Servers(None)));
    }
    let state = tempfile::tempdir()?;
    let out = Command::new("bash")
        .arg(repo().join("scripts/storage-servers.sh"))
        .arg("start")
        .arg(state.path())
        .stderr(Stdio::null())
        .output()?;
    anyhow::ensure!(out.status.success(), "starting the storage servers failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let url = text
        .lines()
        .find_map(|l| l.strip_prefix("export S3_TEST_ENDPOINT="))
        .ok_or_else(|| anyhow::anyhow!("no S3 endpoint from storage-servers.sh"))?
        .to_string();
    Ok((url, Servers(Some(state))))
}

fn timed(command: &mut Command) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let out = command.stdout(Stdio::null()).output()?;
    let took = start.elapsed();
    anyhow::ensure!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(took)
}

fn dvc(venv: &Path, dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(venv.join("bin/dvc"));
    command.current_dir(dir).args(args).envs(CREDENTIALS);
    command
}

/// Writes the data set `name` under `dir/blobs`.
fn write_data(dir: &Path, name: &str) -> anyhow::Result<()> {
    let data = dir.join("blobs");
    if name == "small" {
        for i in 0..10_000u32 {
            let shard = data.join(format!("{:02}", i % 100));
            fs::create_dir_all(&shard)?;
            let body: Vec<u8> = (0..1024u32)
                .map(|j| (i.wrapping_mul(2_654_435_761).wrapping_add(j * 40_503) >> 11) as u8)
                .collect();
            fs::write(shard.join(format!("{i}.bin")), body)?;
        }
    } else {
        use std::io::Write;
        fs::create_dir_all(&data)?;
        let mut file = std::io::BufWriter::new(fs::File::create(data.join("big.bin"))?);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..1024 {
            for chunk in block.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes());
            }
            file.write_all(&block)?;
        }
    }
    Ok(())
}

struct Times {
    push: Duration,
    pull: Duration,
}

fn measure_ours(bin: &Path, endpoint: &str, name: &str, prefix: &str) -> anyhow::Result<Times> {
    let ours = |dir: &Path, args: &[&str]| time_process(bin, dir, args, &CREDENTIALS);
    let a = tempfile::tempdir()?;
    fs::write(a.path().join("params.toml"), pipeline_tests::PARAMS)?;
    write_data(a.path(), name)?;
    ours(a.path(), &["add", "blobs"])?;
    let url = format!("s3://pipeline-test/{prefix}");
    ours(a.path(), &["remote", "add", "origin", &url])?;
    ours(
        a.path(),
        &["remote", "modify", "origin", "endpoint", endpoint],
    )?;
    ours(
        a.path(),
        &["remote", "modify", "origin", "allow_http", "true"],
    )?;
    let push = ours(a.path(), &["push"])?;
    let b = tempfile::tempdir()?;
    fs::create_dir_all(b.path().join(".pipeline"))?;
    for rel in ["params.toml", "blobs.ptr", ".pipeline/config.toml"] {
        fs::copy(a.path().join(rel), b.path().join(rel))?;
    }
    let pull = ours(b.path(), &["pull"])?;
    Ok(Times { push, pull })
}

fn measure_dvc(venv: &Path, endpoint: &str, name: &str, prefix: &str) -> anyhow::Result<Times> {
    let a = tempfile::tempdir()?;
    timed(&mut dvc(venv, a.path(), &["init", "--no-scm", "-q"]))?;
    timed(&mut dvc(
        venv,
        a.path(),
        &["config", "core.analytics", "false"],
    ))?;
    write_data(a.path(), name)?;
    timed(&mut dvc(venv, a.path(), &["add", "-q", "blobs"]))?;
    let url = format!("s3://pipeline-test/{prefix}");
    timed(&mut dvc(
        venv,
        a.path(),
        &["remote", "add", "-d", "origin", &url],
    ))?;
    timed(&mut dvc(
        venv,
        a.path(),
        &["remote", "modify", "origin", "endpointurl", endpoint],
    ))?;
    let push = timed(&mut dvc(venv, a.path(), &["push", "-q"]))?;
    let b = tempfile::tempdir()?;
    timed(&mut dvc(venv, b.path(), &["init", "--no-scm", "-q"]))?;
    fs::copy(a.path().join(".dvc/config"), b.path().join(".dvc/config"))?;
    fs::copy(a.path().join("blobs.dvc"), b.path().join("blobs.dvc"))?;
    let pull = timed(&mut dvc(venv, b.path(), &["pull", "-q"]))?;
    Ok(Times { push, pull })
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        ms(d)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

pub fn run(bin: &Path) -> anyhow::Result<()> {
    let (endpoint, _servers) = endpoint()?;
    let venv = std::env::var("DVC_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/pipeline-ci/dvc-venv")
        });
    let has_dvc = venv.join("bin/dvc").is_file();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    for (name, label) in [("small", "10,000 x 1 KiB files"), ("big", "one 1 GiB file")] {
        let t = measure_ours(bin, &endpoint, name, &format!("bench-{stamp}-ours-{name}"))?;
        report(&format!("push {label} to S3 (moto)"), secs(t.push));
        report(&format!("pull {label} from S3 (moto)"), secs(t.pull));
        if !has_dvc {
            println!(
                "remote: no DVC at {}: the peer was not measured",
                venv.display()
            );
            continue;
        }
        let d = measure_dvc(&venv, &endpoint, name, &format!("bench-{stamp}-dvc-{name}"))?;
        report(&format!("  dvc push {label}"), secs(d.push));
        report(&format!("  dvc pull {label}"), secs(d.pull));
        report(
            &format!("  push / dvc push, {name}"),
            format!("{:.1}x", d.push.as_secs_f64() / t.push.as_secs_f64()),
        );
        report(
            &format!("  pull / dvc pull, {name}"),
            format!("{:.1}x", d.pull.as_secs_f64() / t.pull.as_secs_f64()),
        );
    }
    Ok(())
}
