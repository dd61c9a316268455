//! The tracking server side by side with `mlflow server --backend-store-uri sqlite:///…
//! --serve-artifacts` (its default 4 workers) on the same machine, in the same run, both driven
//! by MLflow's own Python client: 8 clients logging 1,000 runs of 10 params and 100 metric steps
//! (`log_batch`), `search_runs` with a filter over 100,000 runs, and a 100 MB artifact up and
//! down. Needs the venv with mlflow (`MLFLOW_VENV`, default
//! `$HOME/.cache/pipeline-ci/mlflow-venv`); without it nothing is measured, since the client
//! is the peer's.

use super::{report, Bins};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CLIENTS: usize = 8;
const RUNS: usize = 1000;
const SEARCH_RUNS: usize = 100_000;
const FILTER: &str = "metrics.accuracy > 0.9 AND params.max_depth = '10'";

/// 8 clients; each waits for the shared start time, logs its runs, prints its end time.
const LOG_SCRIPT: &str = r#"
import sys, time
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
uri, exp, n, worker, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
client = MlflowClient(uri)
while time.time() < start:
    time.sleep(0.001)
for r in range(n):
    run = client.create_run(exp, run_name=f"w{worker}-r{r}")
    ts = int(time.time() * 1000)
    client.log_batch(
        run.info.run_id,
        metrics=[Metric("loss", 1.0 / (s + 1), ts, s) for s in range(100)],
        params=[Param(f"p{i}", str(i)) for i in range(10)],
    )
    client.set_terminated(run.info.run_id)
print(time.time())
"#;

const SEARCH_SCRIPT: &str = r#"
import sys, time
from mlflow import MlflowClient
uri, exp, flt = sys.argv[1], sys.argv[2], sys.argv[3]
client = MlflowClient(uri)
times = []
for _ in range(11):
    t = time.perf_counter()
    runs = client.search_runs([exp], flt, max_results=100, order_by=["metrics.accuracy DESC"])
    times.append(time.perf_counter() - t)
times.sort()
print(times[len(times) // 2], len(runs))
"#;

const ARTIFACT_SCRIPT: &str = r#"
import os, sys, time, tempfile
from mlflow import MlflowClient
uri, exp = sys.argv[1], sys.argv[2]
client = MlflowClient(uri)
work = tempfile.mkdtemp()
path = os.path.join(work, "big.bin")
with open(path, "wb") as f:
    f.write(os.urandom(100 * 1024 * 1024))
run = client.create_run(exp)
t = time.perf_counter()
client.log_artifact(run.info.run_id, path)
up = time.perf_counter() - t
t = time.perf_counter()
back = client.download_artifacts(run.info.run_id, "big.bin", os.path.join(work, "back"))
down = time.perf_counter() - t
assert open(back, "rb").read() == open(path, "rb").read()
print(up, down)
"#;

/// Rows MLflow's own schema needs for 100,000 runs, inserted straight into its database.
const POPULATE_MLFLOW: &str = r#"
import sqlite3, sys, uuid
db, exp, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
conn = sqlite3.connect(db)
runs, params, latest, metrics = [], [], [], []
for i in range(n):
    rid = uuid.UUID(int=i + 1).hex
    runs.append((rid, f"run-{i}", "LOCAL", "bench", "", "bench", "FINISHED", i, i, "", "active", f"mlflow-artifacts:/{exp}/{rid}/artifacts", exp))
    acc = ((i * 7919) % 10007) / 10007
    loss = ((i * 104729) % 10009) / 10009
    for key, value in (("max_depth", str(1 + i % 20)), ("n_estimators", str(10 * (1 + i % 10)))):
        params.append((key, value, rid))
    for key, value in (("accuracy", acc), ("loss", loss)):
        latest.append((key, value, 0, 0, 0, rid))
        metrics.append((key, value, 0, rid, 0, 0))
conn.executemany("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", runs)
conn.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?,?,?)", params)
conn.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?,?,?,?,?,?)", latest)
conn.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?,?,?,?,?,?)", metrics)
conn.commit()
"#;

fn venv() -> Option<PathBuf> {
    let venv = std::env::var("MLFLOW_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(&std::env::var("HOME").unwrap_or_default())
                .join(".cache/pipeline-ci/mlflow-venv")
        });
    venv.join("bin/mlflow").exists().then_some(venv)
}

/// A server process stopped when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        // `mlflow server` runs its workers in its own process group.
        let _ = Command::new("kill")
            .args(["-TERM", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn wait_healthy(url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(180);
    while Instant::now() < deadline {
        if ureq::get(&format!(
            "{url}/api/2.0/mlflow/experiments/search?max_results=1"
        ))
        .call()
        .is_ok()
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    anyhow::bail!("{url} did not answer within 180 s")
}

fn mlflow_server(venv: &Path, dir: &Path) -> anyhow::Result<(String, Server)> {
    use std::os::unix::process::CommandExt as _;
    let port = free_port()?;
    let child = Command::new(venv.join("bin/mlflow"))
        .args(["server", "--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--backend-store-uri")
        .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
        .arg("--serve-artifacts")
        .arg("--artifacts-destination")
        .arg(dir.join("artifacts"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    let server = Server(child);
    let url = format!("http://127.0.0.1:{port}");
    wait_healthy(&url)?;
    Ok((url, server))
}

fn our_server(iris: &Path, dir: &Path) -> anyhow::Result<(String, Server)> {
    let port = free_port()?;
    std::fs::write(
        dir.join("params.toml"),
        std::fs::read_to_string("params.toml")?,
    )?;
    let child = Command::new(iris)
        .arg("-C")
        .arg(dir)
        .args(["ui", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let server = Server(child);
    let url = format!("http://127.0.0.1:{port}");
    wait_healthy(&url)?;
    Ok((url, server))
}

fn python(venv: &Path, script: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(venv.join("bin/python"))
        .arg("-c")
        .arg(script)
        .args(args)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(last_line(&out.stdout))
}

/// What a script printed last (MLflow may print notices before it).
fn last_line(stdout: &[u8]) -> String {
    String::from_utf8_lossy(stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn create_experiment(url: &str, name: &str) -> anyhow::Result<String> {
    let mut response = ureq::post(&format!("{url}/api/2.0/mlflow/experiments/create"))
        .send_json(serde_json::json!({ "name": name }))?;
    let body: serde_json::Value = serde_json::from_str(&response.body_mut().read_to_string()?)?;
    Ok(body["experiment_id"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// Runs per second with 8 clients logging `RUNS` runs in all.
fn logging(venv: &Path, url: &str) -> anyhow::Result<f64> {
    let exp = create_experiment(url, "bench-logging")?;
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs_f64()
        + 8.0;
    let per = (RUNS / CLIENTS).to_string();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|w| {
            Command::new(venv.join("bin/python"))
                .arg("-c")
                .arg(LOG_SCRIPT)
                .args([url, &exp, &per, &w.to_string(), &start.to_string()])
                .stdout(Stdio::piped())
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    let mut end: f64 = 0.0;
    for worker in workers {
        let out = worker.wait_with_output()?;
        anyhow::ensure!(out.status.success(), "a logging client failed");
        let line = last_line(&out.stdout);
        end = end.max(
            line.parse()
                .map_err(|e| anyhow::anyhow!("a logging client printed '{line}': {e}"))?,
        );
    }
    Ok(RUNS as f64 / (end - start))
}

/// The embedded store of `dir` holding the same 100,000 runs as `POPULATE_MLFLOW` writes.
fn populate_ours(dir: &Path, experiment: &str) -> anyhow::Result<String> {
    use pipeline_core::tracking::{Metric, Param, RunStatus, SqliteStore, TrackingStore};
    let state = dir.join(".pipeline");
    let store = SqliteStore::open(&state.join("tracking.db"), &state.join("cache"))?;
    let exp = store.get_or_create_experiment(experiment)?;
    for i in 0..SEARCH_RUNS {
        let run = store.create_run(&exp, &format!("run-{i}"), None, &[], i as i64)?;
        let accuracy = ((i * 7919) % 10007) as f64 / 10007.0;
        let loss = ((i * 104729) % 10009) as f64 / 10009.0;
        store.log_batch(
            &run.run_id,
            &[
                Metric::new("accuracy", accuracy, 0, 0),
                Metric::new("loss", loss, 0, 0),
            ],
            &[
                Param::new("max_depth", (1 + i % 20).to_string()),
                Param::new("n_estimators", (10 * (1 + i % 10)).to_string()),
            ],
            &[],
        )?;
        store.update_run(&run.run_id, RunStatus::Finished, Some(i as i64))?;
    }
    Ok(exp)
}

/// Every figure of one server: logging rate, search time and count, upload and download.
struct Figures {
    rate: f64,
    search: f64,
    count: String,
    up: f64,
    down: f64,
}

fn measure(venv: &Path, url: &str, search_exp: &str) -> anyhow::Result<Figures> {
    let rate = logging(venv, url)?;
    let out = python(venv, SEARCH_SCRIPT, &[url, search_exp, FILTER])?;
    let (search, count) = out.split_once(' ').unwrap_or((&out, ""));
    let exp = create_experiment(url, "bench-artifacts")?;
    let out = python(venv, ARTIFACT_SCRIPT, &[url, &exp])?;
    let (up, down) = out.split_once(' ').unwrap_or((&out, "0"));
    Ok(Figures {
        rate,
        search: search.parse()?,
        count: count.to_string(),
        up: up.parse()?,
        down: down.parse()?,
    })
}

pub fn run(bins: &Bins) -> anyhow::Result<()> {
    let Some(venv) = venv() else {
        report(
            "tracking server",
            "needs MLFLOW_VENV (mlflow's client)".into(),
        );
        return Ok(());
    };
    // One server at a time, so neither competes with the other's idle processes.
    let ours = {
        let dir = tempfile::tempdir()?;
        let search_exp = populate_ours(dir.path(), "bench-search")?;
        let (url, _server) = our_server(&bins.iris, dir.path())?;
        measure(&venv, &url, &search_exp)?
    };
    let theirs = {
        let dir = tempfile::tempdir()?;
        let (url, _server) = mlflow_server(&venv, dir.path())?;
        let search_exp = create_experiment(&url, "bench-search")?;
        python(
            &venv,
            POPULATE_MLFLOW,
            &[
                &dir.path().join("mlflow.db").display().to_string(),
                &search_exp,
                &SEARCH_RUNS.to_string(),
            ],
        )?;
        measure(&venv, &url, &search_exp)?
    };
    anyhow::ensure!(
        ours.count == theirs.count,
        "the searches disagree: {} runs here, {} from mlflow server",
        ours.count,
        theirs.count
    );
    report(
        "log 1,000 runs, 8 Python clients: ours",
        format!("{:.0} runs/s", ours.rate),
    );
    report("  mlflow server", format!("{:.0} runs/s", theirs.rate));
    report("  ratio", format!("{:.1}x", ours.rate / theirs.rate));
    report(
        "search_runs, filter + order, 100,000 runs: ours",
        format!("{:.1} ms", ours.search * 1000.0),
    );
    report(
        "  mlflow server",
        format!("{:.1} ms", theirs.search * 1000.0),
    );
    report("  ratio", format!("{:.1}x", theirs.search / ours.search));
    for (name, a, b) in [
        ("100 MB artifact upload", ours.up, theirs.up),
        ("100 MB artifact download", ours.down, theirs.down),
    ] {
        report(&format!("{name}: ours"), format!("{:.0} ms", a * 1000.0));
        report("  mlflow server", format!("{:.0} ms", b * 1000.0));
    }
    Ok(())
}
