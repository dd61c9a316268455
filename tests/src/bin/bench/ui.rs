//! The `ui` group: the web UI's runs page over a generated store of 100,000 runs, sorted by a
//! metric and filtered, from one client and from 8 at once (with the DAG page timed during the
//! load), side by side with MLflow's own server answering the same `runs/search` over the same
//! runs (the same ids, params and metrics, loaded into its SQLite database), in the same run.

use super::report;
use pipeline_core::tracking::{Metric, Param, SqliteStore, TrackingStore};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const RUNS: usize = 100_000;
const CLIENTS: usize = 8;
const FILTER: &str = "params.max_depth = '10' AND metrics.accuracy > 0.5";
const ORDER: &str = "metrics.accuracy DESC";

/// One request on a fresh connection (`Connection: close`), the same for both servers: the
/// status and the body.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no status line in {:.200}", text))?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)?
    } else {
        body.to_string()
    };
    Ok((status, body))
}

/// The body of a chunked response (MLflow's server answers so).
fn dechunk(mut rest: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    loop {
        let (size, after) = rest
            .split_once("\r\n")
            .ok_or_else(|| anyhow::anyhow!("a cut chunked body"))?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)?;
        if size == 0 {
            return Ok(out);
        }
        anyhow::ensure!(after.len() >= size + 2, "a cut chunk");
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

/// Latencies of `per_client` requests from each of `clients` clients started together.
fn load(
    clients: usize,
    per_client: usize,
    send: Arc<dyn Fn() -> anyhow::Result<()> + Send + Sync>,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (barrier, send) = (barrier.clone(), send.clone());
            std::thread::spawn(move || -> anyhow::Result<Vec<Duration>> {
                send()?;
                barrier.wait();
                (0..per_client)
                    .map(|_| {
                        let start = Instant::now();
                        send()?;
                        Ok(start.elapsed())
                    })
                    .collect()
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut all = Vec::new();
    for thread in threads {
        all.extend(
            thread
                .join()
                .map_err(|_| anyhow::anyhow!("a client panicked"))??,
        );
    }
    let took = start.elapsed();
    all.sort();
    Ok((all, took))
}

fn at(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

fn summary(sorted: &[Duration], took: Duration) -> String {
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, {:.0} pages/s",
        at(sorted, 0.5).as_secs_f64() * 1000.0,
        at(sorted, 0.99).as_secs_f64() * 1000.0,
        sorted.len() as f64 / took.as_secs_f64()
    )
}

/// The generated runs: id, name, start time, accuracy, loss, max_depth, n_estimators.
struct Generated {
    rows: Vec<(String, String, i64, f64, f64, u32, u32)>,
}

fn generate(store: &SqliteStore, experiment: &str) -> anyhow::Result<Generated> {
    let mut seed: u64 = 7;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as f64 / (1u64 << 31) as f64
    };
    let mut rows = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        let name = format!("run-{i}");
        let start = 1_700_000_000_000 + i as i64;
        let run = store.create_run(experiment, &name, None, &[], start)?;
        let (accuracy, loss) = (next(), next());
        let (depth, trees) = (1 + (i % 20) as u32, 10 * (1 + (i % 10) as u32));
        store.log_batch(
            &run.run_id,
            &[
                Metric::new("accuracy", accuracy, start, 0),
                Metric::new("loss", loss, start, 0),
            ],
            &[
                Param::new("max_depth", depth.to_string()),
                Param::new("n_estimators", trees.to_string()),
            ],
            &[],
        )?;
        rows.push((run.run_id, name, start, accuracy, loss, depth, trees));
    }
    Ok(Generated { rows })
}

/// Kills a server started in its own process group, with its workers.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

/// Starts `mlflow server` on a SQLite store in `state` with one worker per core, as a user
/// would run it on this machine; its address once `/health` answers.
fn mlflow(venv: &Path, state: &Path) -> anyhow::Result<(Server, SocketAddr)> {
    use std::os::unix::process::CommandExt as _;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let log = std::fs::File::create(state.join("server.log"))?;
    let child = Command::new(venv.join("bin/mlflow"))
        .args(["server", "--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--backend-store-uri")
        .arg(format!("sqlite:///{}", state.join("mlflow.db").display()))
        .args(["--workers", &workers.to_string()])
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()?;
    let server = Server(child);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(180);
    while !matches!(request(addr, "GET", "/health", ""), Ok((200, _))) {
        anyhow::ensure!(Instant::now() < deadline, "mlflow did not start");
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok((server, addr))
}

/// Loads the generated runs into MLflow's database under `experiment_id`, with the columns its
/// own client would have written (a run's params, its metric history and latest values, its
/// name tag), through the venv's Python `sqlite3` in one transaction.
fn load_into_mlflow(
    venv: &Path,
    state: &Path,
    experiment_id: &str,
    runs: &Generated,
) -> anyhow::Result<()> {
    let csv = state.join("runs.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv)?);
    for (id, name, start, accuracy, loss, depth, trees) in &runs.rows {
        writeln!(out, "{id},{name},{start},{accuracy},{loss},{depth},{trees}")?;
    }
    out.flush()?;
    drop(out);
    let script = r#"
import csv, sqlite3, sys
db, path, exp = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = list(csv.reader(open(path)))
c = sqlite3.connect(db)
c.executemany("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) VALUES (?, ?, 'LOCAL', '', '', 'bench', 'FINISHED', ?, ?, '', 'active', '', ?)",
              [(r[0], r[1], int(r[2]), int(r[2]) + 1, exp) for r in rows])
c.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
              [(k, r[i], r[0]) for r in rows for k, i in (("max_depth", 5), ("n_estimators", 6))])
for table in ("metrics", "latest_metrics"):
    c.executemany(f"INSERT INTO {table} (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, 0, 0, ?)",
                  [(k, float(r[i]), int(r[2]), r[0]) for r in rows for k, i in (("accuracy", 3), ("loss", 4))])
c.executemany("INSERT INTO tags (key, value, run_uuid) VALUES ('mlflow.runName', ?, ?)", [(r[1], r[0]) for r in rows])
c.commit()
"#;
    let status = Command::new(venv.join("bin/python"))
        .arg("-c")
        .arg(script)
        .arg(state.join("mlflow.db"))
        .arg(&csv)
        .arg(experiment_id)
        .status()?;
    anyhow::ensure!(status.success(), "loading the runs into mlflow failed");
    Ok(())
}

pub fn run() -> anyhow::Result<()> {
    let ws = tempfile::tempdir()?;
    std::fs::write(ws.path().join("params.toml"), pipeline_tests::PARAMS)?;
    let state = ws.path().join(".pipeline");
    let db = state.join("tracking.db");
    let objects = state.join("cache");
    let store = SqliteStore::open(&db, &objects)?;
    let experiment = store.get_or_create_experiment("numbers")?;
    let start = Instant::now();
    let runs = generate(&store, &experiment)?;
    report(
        "generating 100,000 runs (embedded store)",
        format!("{:.1} s", start.elapsed().as_secs_f64()),
    );
    // What one page costs the store: the count and the search the page makes.
    let query = pipeline_core::tracking::SearchQuery {
        filter: FILTER.into(),
        order_by: vec![ORDER.into()],
        max_results: 100,
        top_level_only: true,
        ..pipeline_core::tracking::SearchQuery::new(std::slice::from_ref(&experiment))
    };
    let time = |f: &dyn Fn() -> anyhow::Result<()>| -> anyhow::Result<Duration> {
        f()?;
        let mut samples = (0..10)
            .map(|_| {
                let start = Instant::now();
                f()?;
                Ok(start.elapsed())
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        samples.sort();
        Ok(samples[5])
    };
    let count = time(&|| Ok(store.count_runs(&query).map(|_| ())?))?;
    let search = time(&|| Ok(store.search_runs(&query).map(|_| ())?))?;
    report(
        "store: count, then one sorted page (filtered)",
        format!(
            "{:.1} ms + {:.1} ms",
            count.as_secs_f64() * 1000.0,
            search.as_secs_f64() * 1000.0
        ),
    );
    drop(store);

    // Our UI, as `ui` serves it: one store connection per core.
    let target = pipeline_core::tracking::recorder::Target::Embedded {
        db: db.clone(),
        objects: objects.clone(),
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let readers = (1..cores.max(2))
        .map(|_| target.open())
        .collect::<Result<Vec<_>, _>>()?;
    let state_ui = pipeline_core::ui::UiState::new(
        target.open()?,
        pipeline_core::session::Session::new(
            pipeline_core::workspace::Workspace::at(ws.path()),
            pipeline_core::dag::Dag::new(pipeline_tests::numbers::pipeline())?,
            target,
        ),
    )
    .with_readers(readers);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = pipeline_core::ui::serve(state_ui, ([127, 0, 0, 1], 0).into(), |addr| {
            let _ = tx.send(addr);
        });
    });
    let ui = rx.recv()?;
    let q = |s: &str| -> String {
        s.replace(' ', "+")
            .replace('\'', "%27")
            .replace('>', "%3E")
            .replace('=', "%3D")
    };
    let page = format!(
        "/experiments/{experiment}?filter={}&order_by={}",
        q(FILTER),
        q(ORDER)
    );
    let (status, first) = request(ui, "GET", &page, "")?;
    anyhow::ensure!(status == 200, "runs page: {status}");
    anyhow::ensure!(
        first.contains(" runs; 1 to 100<"),
        "the runs page did not filter: {:.300}",
        first
    );
    let ours: Arc<dyn Fn() -> anyhow::Result<()> + Send + Sync> = {
        let page = page.clone();
        Arc::new(move || {
            let (status, _) = request(ui, "GET", &page, "")?;
            anyhow::ensure!(status == 200, "runs page: {status}");
            Ok(())
        })
    };
    let (single, took) = load(1, 30, ours.clone())?;
    report(
        "UI runs page, 100,000 runs, 1 client",
        summary(&single, took),
    );
    // The DAG page, timed while 8 clients load the runs page.
    let dag = std::thread::spawn(move || -> anyhow::Result<Vec<Duration>> {
        std::thread::sleep(Duration::from_millis(200));
        let mut times: Vec<Duration> = (0..10)
            .map(|_| {
                let start = Instant::now();
                let (status, _) = request(ui, "GET", "/dag", "")?;
                anyhow::ensure!(status == 200, "dag page: {status}");
                std::thread::sleep(Duration::from_millis(50));
                Ok(start.elapsed())
            })
            .collect::<anyhow::Result<_>>()?;
        times.sort();
        Ok(times)
    });
    let (many, took) = load(CLIENTS, 20, ours)?;
    report(
        "UI runs page, 100,000 runs, 8 clients",
        summary(&many, took),
    );
    let dag = dag
        .join()
        .map_err(|_| anyhow::anyhow!("dag client panicked"))??;
    report(
        "UI DAG page during that load (median)",
        format!("{:.1} ms", at(&dag, 0.5).as_secs_f64() * 1000.0),
    );

    // MLflow's server over the same runs.
    let venv = std::env::var_os("MLFLOW_VENV")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| std::path::PathBuf::from(h).join(".cache/pipeline-ci/mlflow-venv"))
        })
        .filter(|v| v.join("bin/mlflow").is_file());
    let Some(venv) = venv else {
        report(
            "MLflow runs/search",
            "skipped: no MLflow venv (scripts/mlflow-server.sh install)".into(),
        );
        return Ok(());
    };
    let mlflow_state = tempfile::tempdir()?;
    let (server, addr) = mlflow(&venv, mlflow_state.path())?;
    let (status, created) = request(
        addr,
        "POST",
        "/api/2.0/mlflow/experiments/create",
        r#"{"name": "numbers"}"#,
    )?;
    anyhow::ensure!(status == 200, "creating the experiment: {created}");
    let created: serde_json::Value = serde_json::from_str(&created)?;
    let experiment_id = created["experiment_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let start = Instant::now();
    load_into_mlflow(&venv, mlflow_state.path(), &experiment_id, &runs)?;
    report(
        "loading them into MLflow's database",
        format!("{:.1} s", start.elapsed().as_secs_f64()),
    );
    let search = serde_json::json!({
        "experiment_ids": [experiment_id], "filter": FILTER, "order_by": [ORDER], "max_results": 100,
    })
    .to_string();
    let (status, answer) = request(addr, "POST", "/api/2.0/mlflow/runs/search", &search)?;
    anyhow::ensure!(status == 200, "mlflow search: {answer:.300}");
    let answer: serde_json::Value = serde_json::from_str(&answer)?;
    let top = answer["runs"][0]["info"]["run_id"]
        .as_str()
        .unwrap_or_default();
    anyhow::ensure!(
        answer["runs"].as_array().map_or(0, Vec::len) == 100 && first.contains(top),
        "MLflow and the UI disagree on the best run ({top})"
    );
    let theirs: Arc<dyn Fn() -> anyhow::Result<()> + Send + Sync> = Arc::new(move || {
        let (status, _) = request(addr, "POST", "/api/2.0/mlflow/runs/search", &search)?;
        anyhow::ensure!(status == 200, "mlflow search: {status}");
        Ok(())
    });
    // A search takes MLflow seconds here: few samples keep the group to minutes.
    let (single, took) = load(1, 5, theirs.clone())?;
    report(
        "MLflow runs/search, same runs, 1 client",
        summary(&single, took),
    );
    let (many, took) = load(CLIENTS, 2, theirs)?;
    report(
        "MLflow runs/search, same runs, 8 clients",
        summary(&many, took),
    );
    drop(server);
    Ok(())
}
