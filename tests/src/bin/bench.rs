//! Benchmarks of the hot paths, one command: `cargo run --release -p pipeline-tests --bin bench`.
//!
//! Whole-process figures (no-op `repro`, `status`, `dag`, the cold Iris pipeline, two 1-second
//! stages with `-j 2`, `runs list --filter` over 10,000 runs) spawn the release binaries;
//! hashing, the 1,000-stage status and tracking writes run in process. Each figure is a median; nothing here asserts a time.

use pipeline_core::cli::{run_args, Printer};
use pipeline_core::{OutKind, OutputRef, Pipeline, StageDef};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "bench/forest.rs"]
mod forest;
#[path = "bench/remote.rs"]
mod remote;
#[path = "bench/tracking_server.rs"]
mod tracking_server;
#[path = "bench/ui.rs"]
mod ui;

fn main() -> anyhow::Result<()> {
    // The peers' own usage reporting stays off: traffic stays on loopback.
    std::env::set_var("MLFLOW_DISABLE_TELEMETRY", "true");
    std::env::set_var("DO_NOT_TRACK", "true");
    std::env::set_var("DVC_NO_ANALYTICS", "true");
    let bins = build_binaries()?;
    let only: Vec<String> = std::env::args().skip(1).collect();
    let want = |name: &str| only.is_empty() || only.iter().any(|o| name.contains(o.as_str()));
    println!("{:<48} {:>12}", "benchmark", "median");
    if want("iris") {
        iris(&bins.iris)?;
    }
    if want("parallel") {
        parallel(&bins.fixture)?;
    }
    if want("stages") {
        thousand_stages()?;
    }
    if want("hash") {
        hashing()?;
    }
    if want("tracking") {
        tracking(&bins.fixture)?;
    }
    if want("data-big") {
        data_big(&bins.fixture)?;
    }
    if want("data-small") {
        data_small(&bins.fixture)?;
    }
    if want("serve") {
        serve::run(&bins.iris)?;
    }
    if want("remote") {
        remote::run(&bins.fixture)?;
    }
    if want("forest") {
        forest::run()?;
    }
    if want("server") {
        tracking_server::run(&bins)?;
    }
    if want("ui") {
        ui::run()?;
    }
    Ok(())
}

struct Bins {
    iris: PathBuf,
    fixture: PathBuf,
}

/// Builds the release binaries this benchmark spawns, next to its own executable.
fn build_binaries() -> anyhow::Result<Bins> {
    let dir = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "iris-project",
            "-p",
            "pipeline-tests",
            "--bins",
        ])
        .status()?;
    anyhow::ensure!(status.success(), "building the release binaries failed");
    Ok(Bins {
        iris: dir.join("iris-project"),
        fixture: dir.join("fixture"),
    })
}

/// The median of `n` runs of `sample`.
fn median_of(
    n: usize,
    mut sample: impl FnMut() -> anyhow::Result<Duration>,
) -> anyhow::Result<Duration> {
    let samples = (0..n)
        .map(|_| sample())
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(median(samples))
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn report(name: &str, value: String) {
    println!("{name:<48} {value:>12}");
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn time_process(
    bin: &Path,
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let status = Command::new(bin)
        .arg("-C")
        .arg(dir)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .status()?;
    let took = start.elapsed();
    anyhow::ensure!(status.success(), "{} {args:?} failed", bin.display());
    Ok(took)
}

fn iris(bin: &Path) -> anyhow::Result<()> {
    let params = std::fs::read_to_string("params.toml")?;
    let mut cold = Vec::new();
    for _ in 0..5 {
        let ws = tempfile::tempdir()?;
        std::fs::write(ws.path().join("params.toml"), &params)?;
        cold.push(time_process(bin, ws.path(), &["repro"], &[])?);
    }
    report("iris: cold repro (fresh workspace)", ms(median(cold)));
    let ws = tempfile::tempdir()?;
    std::fs::write(ws.path().join("params.toml"), &params)?;
    time_process(bin, ws.path(), &["repro"], &[])?;
    // Let the racy-timestamp window pass so the state cache holds every file, as it does for a
    // user who runs `repro` again a moment later.
    std::thread::sleep(Duration::from_millis(200));
    time_process(bin, ws.path(), &["repro"], &[])?;
    for (name, args) in [
        ("iris: no-op repro (process)", &["repro"][..]),
        ("iris: status (process)", &["status"][..]),
        ("iris: dag (process)", &["dag"][..]),
    ] {
        let samples = (0..50)
            .map(|_| time_process(bin, ws.path(), args, &[]))
            .collect::<anyhow::Result<Vec<_>>>()?;
        report(name, ms(median(samples)));
    }
    Ok(())
}

fn parallel(bin: &Path) -> anyhow::Result<()> {
    let mut samples = Vec::new();
    for _ in 0..3 {
        let ws = tempfile::tempdir()?;
        std::fs::write(ws.path().join("params.toml"), pipeline_tests::PARAMS)?;
        samples.push(time_process(
            bin,
            ws.path(),
            &["repro", "-j", "2", "slow_a", "slow_b"],
            &[("FIXTURE_SLEEP_MS", "1000")],
        )?);
    }
    report(
        "two independent 1 s stages, -j 2 (process)",
        ms(median(samples)),
    );
    Ok(())
}

/// A layered pipeline of 1,000 stages: each depends on up to two stages of the layer above.
fn generated(n: usize) -> Pipeline {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let width = 20;
    let stages = (0..n)
        .map(|i| {
            let name = leak(format!("s{i:04}"));
            let path = leak(format!("out/{name}.txt"));
            let handle = OutputRef::new(name, "o", path);
            let mut stage = StageDef::new(name, format!("code{i}"), move |ctx, _| {
                ctx.write(handle, name)?;
                Ok(())
            })
            .out("o", path, OutKind::Out);
            if i >= width {
                for up in [i - width, i - width + (i % width + 1) % width] {
                    stage = stage.dep_output(format!("s{up:04}"), "o", format!("out/s{up:04}.txt"));
                }
            }
            stage
        })
        .collect();
    Pipeline::new("generated", stages)
}

fn thousand_stages() -> anyhow::Result<()> {
    let ws = tempfile::tempdir()?;
    let root = ws.path().to_string_lossy().into_owned();
    let quiet = || Printer::new(Box::new(std::io::sink()));
    let start = Instant::now();
    run_args(generated(1000), ["-C", root.as_str(), "repro"], &quiet())?;
    report(
        "1,000 stages: first repro (in process)",
        ms(start.elapsed()),
    );
    std::thread::sleep(Duration::from_millis(200));
    run_args(generated(1000), ["-C", root.as_str(), "status"], &quiet())?;
    let took = median_of(10, || {
        let start = Instant::now();
        run_args(generated(1000), ["-C", root.as_str(), "status"], &quiet())?;
        Ok(start.elapsed())
    })?;
    report("1,000 stages: plan + status (in process)", ms(took));
    let took = median_of(10, || {
        let start = Instant::now();
        run_args(generated(1000), ["-C", root.as_str(), "repro"], &quiet())?;
        Ok(start.elapsed())
    })?;
    report("1,000 stages: no-op repro (in process)", ms(took));
    Ok(())
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn hashing() -> anyhow::Result<()> {
    use std::io::Write;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("big.bin");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
    let block: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    for _ in 0..1024 {
        file.write_all(&block)?;
    }
    file.flush()?;
    drop(file);
    let before = peak_rss_kb();
    let mut samples = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let (_, len) = pipeline_core::hash::file(&path)?;
        samples.push(start.elapsed());
        anyhow::ensure!(len == 1 << 30);
    }
    let took = median(samples);
    report(
        "SHA-256 of a 1 GiB file (page cache warm)",
        format!("{:.2} GB/s", (1u64 << 30) as f64 / took.as_secs_f64() / 1e9),
    );
    report(
        "  peak memory growth while hashing",
        format!("{} KiB", peak_rss_kb().saturating_sub(before)),
    );
    Ok(())
}

fn tracking(fixture: &Path) -> anyhow::Result<()> {
    use pipeline_core::tracking::{Metric, Param, SqliteStore, TrackingStore};
    let ws = tempfile::tempdir()?;
    let state = ws.path().join(".pipeline");
    let store = SqliteStore::open(&state.join("tracking.db"), &state.join("cache"))?;
    let exp = store.get_or_create_experiment("numbers")?;

    let run = store.create_run(&exp, "throughput", None, &[], 0)?;
    let batches = 200;
    let start = Instant::now();
    for b in 0..batches {
        let batch: Vec<Metric> = (0..1000)
            .map(|i| {
                let step = (b * 1000 + i) as i64;
                Metric::new(format!("m{}", i % 10), step as f64 * 0.001, step, step)
            })
            .collect();
        store.log_batch(&run.run_id, &batch, &[], &[])?;
    }
    let rate = (batches * 1000) as f64 / start.elapsed().as_secs_f64();
    report(
        "metric points logged per second (batches of 1,000)",
        format!("{rate:.0}/s"),
    );

    // Logging a model: write the model directory and store both files as artifacts.
    let model: Vec<f64> = (0..5000).map(|i| i as f64 * 0.5).collect();
    let samples = (0..10)
        .map(|i| {
            let dir = ws.path().join(format!("model-{i}"));
            let start = Instant::now();
            pipeline_core::predict::save_model(&model, &dir, "model")?;
            for file in ["MLmodel", "model.json"] {
                store.log_artifact(&run.run_id, &dir.join(file), &format!("model-{i}/{file}"))?;
            }
            Ok(start.elapsed())
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    report(
        "logging a model (40 kB, embedded store)",
        ms(median(samples)),
    );

    let mut seed: u64 = 42;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as f64 / (1u64 << 31) as f64
    };
    for i in 0..10_000 {
        let r = store.create_run(&exp, &format!("run-{i}"), None, &[], i as i64)?;
        let metrics = [
            Metric::new("accuracy", next(), 0, 0),
            Metric::new("loss", next(), 0, 0),
        ];
        let params = [
            Param::new("max_depth", format!("{}", 1 + i % 20)),
            Param::new("n_estimators", format!("{}", 10 * (1 + i % 10))),
        ];
        store.log_batch(&r.run_id, &metrics, &params, &[])?;
    }
    drop(store);
    let filter = "metrics.accuracy > 0.9 AND params.max_depth = '10'";
    let args = [
        "runs",
        "list",
        "--filter",
        filter,
        "--order-by",
        "metrics.accuracy DESC",
    ];
    time_process(fixture, ws.path(), &args, &[])?;
    let samples = (0..10)
        .map(|_| time_process(fixture, ws.path(), &args, &[]))
        .collect::<anyhow::Result<Vec<_>>>()?;
    report(
        "runs list --filter over 10,000 runs (process)",
        ms(median(samples)),
    );

    // The UI's runs page over the same 10,000 runs.
    let ui_state = pipeline_core::ui::UiState::new(
        std::sync::Arc::new(SqliteStore::open(
            &state.join("tracking.db"),
            &state.join("cache"),
        )?),
        pipeline_core::session::Session::new(
            pipeline_core::workspace::Workspace::at(ws.path()),
            pipeline_core::dag::Dag::new(pipeline_tests::numbers::pipeline())?,
            pipeline_core::tracking::recorder::Target::Embedded {
                db: state.join("tracking.db"),
                objects: state.join("cache"),
            },
        ),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = pipeline_core::ui::serve(ui_state, ([127, 0, 0, 1], 0).into(), |addr| {
            let _ = tx.send(addr);
        });
    });
    let addr = rx.recv()?;
    let url = format!("http://{addr}/experiments/{exp}?order_by=metrics.accuracy+DESC");
    let samples = (0..10)
        .map(|_| {
            let start = Instant::now();
            let page = Command::new("curl").args(["-sf", &url]).output()?;
            anyhow::ensure!(page.status.success(), "GET {url} failed");
            Ok(start.elapsed())
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    report(
        "UI runs page, 10,000 runs sorted by a metric",
        ms(median(samples)),
    );
    Ok(())
}

/// `add` of one 1 GiB file (copied, then hard-linked), and `status` after.
fn data_big(fixture: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    let ws = tempfile::tempdir()?;
    std::fs::write(ws.path().join("params.toml"), pipeline_tests::PARAMS)?;
    std::fs::create_dir_all(ws.path().join("inputs"))?;
    std::fs::write(ws.path().join("inputs/extra.txt"), "ok\n")?;
    let big = ws.path().join("big.bin");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&big)?);
    let block: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    for i in 0..1024u32 {
        file.write_all(&i.to_le_bytes())?;
        file.write_all(&block[4..])?;
    }
    file.flush()?;
    drop(file);
    let took = time_process(fixture, ws.path(), &["add", "big.bin"], &[])?;
    report("add a 1 GiB file (process; copy, fsync)", ms(took));
    let linked = ws.path().join("big-linked.bin");
    std::fs::copy(&big, &linked)?;
    let took = time_process(
        fixture,
        ws.path(),
        &["add", "--link", "big-linked.bin"],
        &[],
    )?;
    report("add --link a 1 GiB file (process)", ms(took));
    std::thread::sleep(Duration::from_millis(200));
    time_process(fixture, ws.path(), &["status"], &[])?;
    let took = median_of(10, || time_process(fixture, ws.path(), &["status"], &[]))?;
    report("  status after (process)", ms(took));
    Ok(())
}

/// `add` of a directory of 10,000 small files, and `status` after.
fn data_small(fixture: &Path) -> anyhow::Result<()> {
    let ws = tempfile::tempdir()?;
    std::fs::write(ws.path().join("params.toml"), pipeline_tests::PARAMS)?;
    std::fs::create_dir_all(ws.path().join("inputs"))?;
    std::fs::write(ws.path().join("inputs/extra.txt"), "ok\n")?;
    for i in 0..10_000 {
        let dir = ws.path().join(format!("many/{:02}", i % 100));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("{i}.txt")), format!("file {i}\n"))?;
    }
    let start = Instant::now();
    let cpu_before = cpu_time_of_children();
    time_process(fixture, ws.path(), &["add", "many"], &[])?;
    let took = start.elapsed();
    let cpu = cpu_time_of_children() - cpu_before;
    report(
        "add 10,000 small files (process)",
        format!("{} ({:.2} s CPU)", ms(took), cpu),
    );
    std::thread::sleep(Duration::from_millis(200));
    time_process(fixture, ws.path(), &["status"], &[])?;
    let took = median_of(10, || time_process(fixture, ws.path(), &["status"], &[]))?;
    report("  status after (process)", ms(took));
    Ok(())
}

/// User + system seconds of the children this process waited for.
fn cpu_time_of_children() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    // After the command name: field 14 and 15 of the full line are cutime and cstime (ticks).
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(13) + ticks(14)) / 100.0
}

/// `serve` against `mlflow models serve --env-manager local`: requests per second and p50/p99
/// latency of 1-row and 100-row `dataframe_split` requests from 8 concurrent keep-alive clients on
/// loopback. The peer serves a scikit-learn forest (100 trees, max depth 10) trained on the same
/// Iris split, from the venv in `MLFLOW_VENV` (default `/root/.cache/pipeline-ci/mlflow-venv`);
/// without it only our figures are printed.
mod serve {
    use super::report;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    const CLIENTS: usize = 8;

    /// One keep-alive HTTP/1.1 connection.
    struct Conn {
        stream: TcpStream,
        buf: Vec<u8>,
    }

    impl Conn {
        fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
            let stream = TcpStream::connect(addr)?;
            stream.set_nodelay(true)?;
            Ok(Conn {
                stream,
                buf: Vec::new(),
            })
        }

        /// POSTs `body` to `/invocations`; the status and the answer.
        fn post(&mut self, body: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
            let head = format!(
                "POST /invocations HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            self.stream.write_all(head.as_bytes())?;
            self.stream.write_all(body)?;
            let mut chunk = [0u8; 16384];
            let header_end = loop {
                if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
                let n = self.stream.read(&mut chunk)?;
                anyhow::ensure!(n > 0, "the server closed the connection");
                self.buf.extend_from_slice(&chunk[..n]);
            };
            let head = String::from_utf8_lossy(&self.buf[..header_end]).to_ascii_lowercase();
            let status: u16 = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| anyhow::anyhow!("no status in {head}"))?;
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| anyhow::anyhow!("no content-length in {head}"))?;
            while self.buf.len() < header_end + length {
                let n = self.stream.read(&mut chunk)?;
                anyhow::ensure!(n > 0, "the server closed the connection");
                self.buf.extend_from_slice(&chunk[..n]);
            }
            let answer = self.buf[header_end..header_end + length].to_vec();
            self.buf.drain(..header_end + length);
            Ok((status, answer))
        }
    }

    /// Throughput and latency percentiles of one load.
    struct Load {
        per_second: f64,
        p50: Duration,
        p99: Duration,
    }

    /// `per_client` requests of `body` from each of 8 clients (after 10 unmeasured ones each);
    /// every answer must be a 200 with `rows` predictions.
    fn load(addr: SocketAddr, body: &str, rows: usize, per_client: usize) -> anyhow::Result<Load> {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(CLIENTS + 1));
        let threads: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (barrier, body) = (barrier.clone(), body.to_string());
                std::thread::spawn(move || -> anyhow::Result<Vec<Duration>> {
                    let mut conn = Conn::open(addr)?;
                    let check = |(status, answer): (u16, Vec<u8>)| -> anyhow::Result<()> {
                        anyhow::ensure!(
                            status == 200,
                            "status {status}: {}",
                            String::from_utf8_lossy(&answer)
                        );
                        let answer: serde_json::Value = serde_json::from_slice(&answer)?;
                        let n = answer["predictions"].as_array().map_or(0, Vec::len);
                        anyhow::ensure!(n == rows, "{n} predictions for {rows} rows");
                        Ok(())
                    };
                    for _ in 0..10 {
                        check(conn.post(body.as_bytes())?)?;
                    }
                    barrier.wait();
                    let mut latencies = Vec::with_capacity(per_client);
                    for _ in 0..per_client {
                        let start = Instant::now();
                        let answer = conn.post(body.as_bytes())?;
                        latencies.push(start.elapsed());
                        check(answer)?;
                    }
                    Ok(latencies)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let mut latencies = Vec::new();
        for thread in threads {
            latencies.extend(
                thread
                    .join()
                    .map_err(|_| anyhow::anyhow!("a client panicked"))??,
            );
        }
        let took = start.elapsed();
        latencies.sort();
        let at =
            |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        Ok(Load {
            per_second: latencies.len() as f64 / took.as_secs_f64(),
            p50: at(0.5),
            p99: at(0.99),
        })
    }

    /// Kills a server started in its own process group, with its children.
    struct Server(Child);

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = Command::new("kill")
                .args(["-TERM", "--", &format!("-{}", self.0.id())])
                .status();
            let _ = self.0.wait();
        }
    }

    fn spawn(command: &mut Command) -> anyhow::Result<Server> {
        use std::os::unix::process::CommandExt as _;
        Ok(Server(command.process_group(0).spawn()?))
    }

    pub fn run(iris: &Path) -> anyhow::Result<()> {
        let ws = tempfile::tempdir()?;
        std::fs::copy("params.toml", ws.path().join("params.toml"))?;
        let status = Command::new(iris)
            .arg("-C")
            .arg(ws.path())
            .arg("repro")
            .stdout(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "repro failed");
        let metadata: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
            ws.path().join("models/metadata.json"),
        )?)?;
        let uri = metadata["model_uri"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let test = std::fs::read_to_string(ws.path().join("data/processed/test.csv"))?;
        let rows: Vec<Vec<f64>> = test
            .lines()
            .skip(1)
            .map(|l| {
                l.split(',')
                    .take(4)
                    .map(|v| v.parse().unwrap_or(0.0))
                    .collect()
            })
            .collect();
        let body = |n: usize| {
            let data: Vec<&Vec<f64>> = rows.iter().cycle().take(n).collect();
            serde_json::json!({"dataframe_split": {
                "columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
                "data": data,
            }})
            .to_string()
        };
        let (one, hundred) = (body(1), body(100));

        let mut ours = spawn(
            Command::new(iris)
                .arg("-C")
                .arg(ws.path())
                .args(["serve", "--model", &uri, "--port", "0"])
                .stdout(Stdio::piped()),
        )?;
        let mut line = String::new();
        BufReader::new(ours.0.stdout.take().expect("piped")).read_line(&mut line)?;
        let addr: SocketAddr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| anyhow::anyhow!("no address in {line:?}"))?
            .parse()?;
        let our_one = load(addr, &one, 1, 3000)?;
        let our_hundred = load(addr, &hundred, 100, 1000)?;
        drop(ours);
        let show = |name: &str, l: &Load| {
            report(
                name,
                format!(
                    "{:.0} req/s, p50 {:.3} ms, p99 {:.3} ms",
                    l.per_second,
                    l.p50.as_secs_f64() * 1e3,
                    l.p99.as_secs_f64() * 1e3
                ),
            )
        };
        show("serve: 1-row requests, 8 clients", &our_one);
        show("serve: 100-row requests, 8 clients", &our_hundred);

        let venv = std::env::var("MLFLOW_VENV")
            .unwrap_or_else(|_| "/root/.cache/pipeline-ci/mlflow-venv".into());
        let python = Path::new(&venv).join("bin/python");
        if !python.exists() {
            println!("serve: no MLflow venv at {venv}: the peer was not measured");
            return Ok(());
        }
        let model = ws.path().join("sklearn-model");
        let script = "import sys, pandas as pd, mlflow.sklearn\n\
            from sklearn.ensemble import RandomForestClassifier\n\
            train = pd.read_csv(sys.argv[1])\n\
            features = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']\n\
            forest = RandomForestClassifier(n_estimators=100, max_depth=10, random_state=42)\n\
            forest.fit(train[features], train['species'])\n\
            mlflow.sklearn.save_model(forest, sys.argv[2], skops_trusted_types=['sklearn.tree._tree.Tree'])\n";
        let status = Command::new(&python)
            .args(["-c", script])
            .arg(ws.path().join("data/processed/train.csv"))
            .arg(&model)
            .output()?;
        anyhow::ensure!(
            status.status.success(),
            "training the scikit-learn forest failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let _peer = spawn(
            Command::new(Path::new(&venv).join("bin/mlflow"))
                .args([
                    "models",
                    "serve",
                    "--env-manager",
                    "local",
                    "-h",
                    "127.0.0.1",
                    "-p",
                ])
                .arg(port.to_string())
                .arg("-m")
                .arg(&model)
                // The server it starts (uvicorn) is found on PATH: the venv's own bin.
                .env(
                    "PATH",
                    format!("{venv}/bin:{}", std::env::var("PATH").unwrap_or_default()),
                )
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut up = false;
        for _ in 0..600 {
            if let Ok(mut conn) = Conn::open(addr) {
                if conn.post(one.as_bytes()).is_ok_and(|(s, _)| s == 200) {
                    up = true;
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        if !up {
            println!("serve: mlflow models serve did not answer within 2 minutes: the peer was not measured");
            return Ok(());
        }
        let peer_one = load(addr, &one, 1, 50)?;
        let peer_hundred = load(addr, &hundred, 100, 50)?;
        show("mlflow models serve: 1-row requests, 8 clients", &peer_one);
        show(
            "mlflow models serve: 100-row requests, 8 clients",
            &peer_hundred,
        );
        report(
            "serve / mlflow throughput, 1-row",
            format!("{:.0}x", our_one.per_second / peer_one.per_second),
        );
        report(
            "serve / mlflow throughput, 100-row",
            format!("{:.0}x", our_hundred.per_second / peer_hundred.per_second),
        );
        Ok(())
    }
}
