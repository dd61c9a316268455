//! Remotes in object storage, against real servers on loopback: S3 through moto and Azure Blob
//! Storage through azurite, started by `scripts/storage-servers.sh` (as `.ci/run` does) and
//! found through `S3_TEST_ENDPOINT` and `AZURE_TEST_ENDPOINT`. Each test works under a prefix
//! of its own in the bucket `pipeline-test`.
//!
//! For each server: a teammate's clone restores every stage from the remote without running
//! any; killed pushes and pulls finish when run again; a corrupt object on the server is
//! refused while the rest transfers; a missing bucket, refused credentials and a dead endpoint
//! each give one line naming the remote.

use object_store::ObjectStoreExt;
use pipeline_tests::{noise, read_trace, PARAMS};
use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A bucket on a test server, and how the CLI reaches it.
struct Server {
    /// `s3://pipeline-test/<unique prefix>`.
    url: String,
    /// Environment of every command.
    env: Vec<(&'static str, String)>,
    /// `remote modify` options set after `remote add`.
    options: Vec<(&'static str, String)>,
    /// The bucket, for tampering with objects behind the CLI's back.
    store: std::sync::Arc<dyn object_store::ObjectStore>,
    /// The prefix of this test's keys in the bucket.
    prefix: String,
}

fn endpoint(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: start the servers with scripts/storage-servers.sh (see .ci/run)")
    })
}

fn unique() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "t{}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

fn s3() -> Server {
    let endpoint = endpoint("S3_TEST_ENDPOINT");
    let prefix = unique();
    let store = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name("pipeline-test")
        .with_endpoint(&endpoint)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .build()
        .unwrap();
    Server {
        url: format!("s3://pipeline-test/{prefix}"),
        env: vec![
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ],
        options: vec![("endpoint", endpoint), ("allow_http", "true".into())],
        store: std::sync::Arc::new(store),
        prefix,
    }
}

fn azure() -> Server {
    let endpoint = endpoint("AZURE_TEST_ENDPOINT");
    let prefix = unique();
    // With the emulator, the crate reads azurite's URL from the environment.
    std::env::set_var("AZURITE_BLOB_STORAGE_URL", &endpoint);
    let store = object_store::azure::MicrosoftAzureBuilder::new()
        .with_container_name("pipeline-test")
        .with_use_emulator(true)
        .build()
        .unwrap();
    Server {
        url: format!("azure://pipeline-test/{prefix}"),
        env: vec![
            ("AZURE_STORAGE_USE_EMULATOR", "true".into()),
            ("AZURITE_BLOB_STORAGE_URL", endpoint),
        ],
        options: vec![],
        store: std::sync::Arc::new(store),
        prefix,
    }
}

fn fixture(server: &Server, dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fixture"));
    command.arg("-C").arg(dir).args(args);
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "MLFLOW_TRACKING_URI",
    ] {
        command.env_remove(var);
    }
    command.envs(server.env.iter().map(|(k, v)| (*k, v.as_str())));
    command
}

fn run(server: &Server, dir: &Path, args: &[&str]) -> String {
    let out: Output = fixture(server, dir, args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fail(server: &Server, dir: &Path, args: &[&str]) -> String {
    let out = fixture(server, dir, args).output().unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh workspace of the fixture pipeline with `server` as its default remote.
fn workspace(server: &Server) -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    fs::write(ws.path().join("params.toml"), PARAMS).unwrap();
    fs::create_dir_all(ws.path().join("inputs")).unwrap();
    fs::write(ws.path().join("inputs/extra.txt"), "ok\n").unwrap();
    run(server, ws.path(), &["remote", "add", "origin", &server.url]);
    for (key, value) in &server.options {
        run(
            server,
            ws.path(),
            &["remote", "modify", "origin", key, value],
        );
    }
    ws
}

/// A teammate's clone: what git carries (params, lock file, pointers, inputs and the committed
/// remote config), nothing of the cache.
fn clone_of(server: &Server, from: &Path, files: &[&str]) -> tempfile::TempDir {
    let b = tempfile::tempdir().unwrap();
    for rel in files.iter().chain(&[".pipeline/config.toml"]) {
        let dest = b.path().join(rel);
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::copy(from.join(rel), dest).unwrap_or_else(|e| panic!("{rel}: {e}"));
    }
    let _ = server;
    b
}

fn teammate_restores_every_stage(server: Server) {
    let a = workspace(&server);
    run(&server, a.path(), &["repro"]);
    let pushed = run(&server, a.path(), &["push"]);
    assert!(
        pushed.starts_with("push: ") && pushed.contains("remote `origin`"),
        "{pushed}"
    );
    let again = run(&server, a.path(), &["push"]);
    assert!(again.starts_with("push: 0 objects copied"), "{again}");

    let b = clone_of(
        &server,
        a.path(),
        &["params.toml", "pipeline.lock", "inputs/extra.txt"],
    );
    let status = run(&server, b.path(), &["status"]);
    assert!(status.contains("restorable from remote"), "{status}");
    let out = run(&server, b.path(), &["repro"]);
    assert!(out.contains("Restored stage `total`"), "{out}");
    assert!(read_trace(b.path()).is_empty(), "nothing ran: {out}");
    for rel in [
        "data/numbers.txt",
        "data/scaled.txt",
        "results/summary.json",
    ] {
        assert_eq!(
            fs::read(a.path().join(rel)).unwrap(),
            fs::read(b.path().join(rel)).unwrap(),
            "{rel}"
        );
    }
    // The stage runs came along with the outputs, and so did the pipeline run they belong to.
    let runs = run(&server, b.path(), &["runs", "list", "--all"]);
    assert!(
        runs.contains("generate") && runs.contains("total"),
        "{runs}"
    );
    let ours = run(&server, a.path(), &["runs", "list"]);
    let id = ours
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let theirs = run(&server, b.path(), &["runs", "list"]);
    assert!(theirs.contains(id), "{theirs}");
    let pulled = run(&server, b.path(), &["pull"]);
    assert!(pulled.contains("tracking run"), "{pulled}");
    // Turned off, the remote is not asked: the stage runs.
    let c = clone_of(
        &server,
        a.path(),
        &["params.toml", "pipeline.lock", "inputs/extra.txt"],
    );
    run(&server, c.path(), &["repro", "--no-remote"]);
    assert!(!read_trace(c.path()).is_empty());
}

/// One file large enough for a multipart upload, and a directory of smaller ones.
fn data() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![("raw/big.bin".to_string(), noise(1, 20 << 20))];
    for i in 0..40 {
        files.push((format!("raw/shards/{i:02}.bin"), noise(10 + i, 64 << 10)));
    }
    files
}

fn with_data(server: &Server) -> tempfile::TempDir {
    let ws = workspace(server);
    for (rel, bytes) in data() {
        let path = ws.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }
    run(server, ws.path(), &["add", "raw/big.bin", "raw/shards"]);
    ws
}

fn kill_after(server: &Server, dir: &Path, args: &[&str], delay_ms: u64) {
    pipeline_tests::kill_after(fixture(server, dir, args), delay_ms);
}

fn assert_data(dir: &Path, what: &str) {
    for (rel, bytes) in data() {
        assert!(
            fs::read(dir.join(&rel)).is_ok_and(|b| b == bytes),
            "{what}: {rel}"
        );
    }
}

fn killed_transfers_finish_when_run_again(server: Server) {
    let a = with_data(&server);
    for delay in [30, 120, 300] {
        kill_after(&server, a.path(), &["push"], delay);
    }
    let out = run(&server, a.path(), &["push"]);
    assert!(out.starts_with("push: "), "{out}");
    let files = ["params.toml", "raw/big.bin.ptr", "raw/shards.ptr"];
    let b = clone_of(&server, a.path(), &files);
    for delay in [30, 120, 300] {
        kill_after(&server, b.path(), &["pull"], delay);
    }
    run(&server, b.path(), &["pull"]);
    assert_data(b.path(), "pull after killed pulls");
    let again = run(&server, b.path(), &["fetch"]);
    assert!(again.starts_with("fetch: 0 objects copied"), "{again}");
}

fn corrupt_object_is_refused(server: Server) {
    let a = with_data(&server);
    run(&server, a.path(), &["push"]);
    let shard = pipeline_core::hash::bytes(&data()[3].1);
    let key = object_store::path::Path::from(format!(
        "{}/cache/{}/{}",
        server.prefix,
        &shard[..2],
        &shard[2..]
    ));
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(server.store.put(&key, b"tampered".to_vec().into()))
        .unwrap();
    let b = clone_of(
        &server,
        a.path(),
        &["params.toml", "raw/big.bin.ptr", "raw/shards.ptr"],
    );
    let e = fail(&server, b.path(), &["pull"]);
    assert!(
        e.contains(&format!("object {shard}")) && e.contains("corrupt"),
        "{e}"
    );
    assert_eq!(
        fs::read(b.path().join("raw/big.bin")).unwrap(),
        data()[0].1,
        "the rest was transferred"
    );
    let cached = b
        .path()
        .join(".pipeline/cache")
        .join(&shard[..2])
        .join(&shard[2..]);
    assert!(
        !cached.exists(),
        "the corrupt object never entered the cache"
    );
}

#[test]
#[ignore = "needs S3_TEST_ENDPOINT (scripts/storage-servers.sh)"]
fn s3_teammate_restores_every_stage() {
    teammate_restores_every_stage(s3());
}

#[test]
#[ignore = "needs S3_TEST_ENDPOINT (scripts/storage-servers.sh)"]
fn s3_killed_transfers_finish_when_run_again() {
    killed_transfers_finish_when_run_again(s3());
}

#[test]
#[ignore = "needs S3_TEST_ENDPOINT (scripts/storage-servers.sh)"]
fn s3_corrupt_object_is_refused() {
    corrupt_object_is_refused(s3());
}

#[test]
#[ignore = "needs S3_TEST_ENDPOINT (scripts/storage-servers.sh)"]
fn s3_errors_name_the_remote() {
    let server = s3();
    let ws = workspace(&server);
    run(&server, ws.path(), &["repro"]);
    run(
        &server,
        ws.path(),
        &["remote", "add", "nobucket", "s3://no-such-bucket/x"],
    );
    for (key, value) in &server.options {
        run(
            &server,
            ws.path(),
            &["remote", "modify", "nobucket", key, value],
        );
    }
    let e = fail(&server, ws.path(), &["push", "-r", "nobucket"]);
    assert!(
        e.contains("remote `nobucket`") && e.contains("does not exist"),
        "{e}"
    );
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    run(
        &server,
        ws.path(),
        &["remote", "add", "dead", "s3://pipeline-test/x"],
    );
    run(
        &server,
        ws.path(),
        &[
            "remote",
            "modify",
            "dead",
            "endpoint",
            &format!("http://127.0.0.1:{port}"),
        ],
    );
    run(
        &server,
        ws.path(),
        &["remote", "modify", "dead", "allow_http", "true"],
    );
    let e = fail(&server, ws.path(), &["push", "-r", "dead"]);
    assert!(
        e.contains("remote `dead`") && e.contains("cannot reach"),
        "{e}"
    );
    let e = fail(&server, ws.path(), &["remote", "list", "--check"]);
    assert!(e.contains("2 remotes did not answer"), "{e}");
    // Credentials set with `remote modify` stay out of the committed config.
    run(
        &server,
        ws.path(),
        &["remote", "modify", "origin", "secret_access_key", "test"],
    );
    let shared = fs::read_to_string(ws.path().join(".pipeline/config.toml")).unwrap();
    assert!(!shared.contains("secret"), "{shared}");
    let local = fs::read_to_string(ws.path().join(".pipeline/config.local.toml")).unwrap();
    assert!(local.contains("secret_access_key"), "{local}");
    let listed = run(&server, ws.path(), &["remote", "list"]);
    assert!(listed.contains("secret_access_key=***"), "{listed}");
    let e = fail(
        &server,
        ws.path(),
        &["remote", "modify", "origin", "no_such_option", "1"],
    );
    assert!(e.contains("no_such_option"), "{e}");
}

#[test]
#[ignore = "needs AZURE_TEST_ENDPOINT (scripts/storage-servers.sh)"]
fn azure_teammate_restores_every_stage() {
    teammate_restores_every_stage(azure());
}

#[test]
#[ignore = "needs AZURE_TEST_ENDPOINT (scripts/storage-servers.sh)"]
fn azure_killed_transfers_finish_when_run_again() {
    killed_transfers_finish_when_run_again(azure());
}

#[test]
#[ignore = "needs AZURE_TEST_ENDPOINT (scripts/storage-servers.sh)"]
fn azure_corrupt_object_is_refused() {
    corrupt_object_is_refused(azure());
}

#[test]
#[ignore = "needs AZURE_TEST_ENDPOINT (scripts/storage-servers.sh)"]
fn azure_refused_credentials_name_the_remote() {
    let mut server = azure();
    server
        .env
        .retain(|(k, _)| *k != "AZURE_STORAGE_USE_EMULATOR");
    let endpoint = endpoint("AZURE_TEST_ENDPOINT");
    server.options = vec![
        ("endpoint", format!("{endpoint}/devstoreaccount1")),
        ("account_name", "devstoreaccount1".into()),
        ("allow_http", "true".into()),
        ("access_key", "bm90IHRoZSBrZXk=".into()),
    ];
    let ws = workspace(&server);
    run(&server, ws.path(), &["repro"]);
    let e = fail(&server, ws.path(), &["push"]);
    assert!(
        e.contains("remote `origin`") && e.contains("access denied"),
        "{e}"
    );
}
