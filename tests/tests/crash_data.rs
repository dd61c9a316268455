//! `kill -9` of `add`, `pull`, `push` and `gc` at many moments: the next run of the same command
//! completes, leaves no temp file anywhere (workspace, next to the data, in the remote), and the
//! data comes out byte for byte what it was.

use pipeline_tests::{noise, PARAMS};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DELAYS_MS: [u64; 9] = [0, 5, 15, 30, 60, 100, 160, 250, 400];

fn fixture(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fixture"));
    command.arg("-C").arg(dir).args(args);
    command
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let out = fixture(dir, args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Starts `args` and kills it after `delay_ms`.
fn kill_after(dir: &Path, args: &[&str], delay_ms: u64) {
    pipeline_tests::kill_after(fixture(dir, args), delay_ms);
}

/// The data the tests version: one big file and a directory of smaller ones.
fn data() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![("raw/big.bin".to_string(), noise(1, 12 << 20))];
    for i in 0..12 {
        files.push((format!("raw/shards/{i:02}.bin"), noise(10 + i, 512 << 10)));
    }
    files
}

fn new_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("params.toml"), PARAMS).unwrap();
    fs::create_dir_all(dir.path().join("inputs")).unwrap();
    fs::write(dir.path().join("inputs/extra.txt"), "ok\n").unwrap();
    dir
}

fn with_data() -> tempfile::TempDir {
    let dir = new_workspace();
    for (rel, bytes) in data() {
        let path = dir.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }
    dir
}

const ADD: [&str; 3] = ["add", "raw/big.bin", "raw/shards"];

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        out.push(path.clone());
        if path.is_dir() && !path.is_symlink() {
            out.extend(walk(&path));
        }
    }
    out
}

fn assert_no_leftovers(dir: &Path, what: &str) {
    let leftovers: Vec<PathBuf> = walk(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".pipeline-tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{what}: {leftovers:?}");
}

/// Every data file is there with its bytes; after deleting them, `checkout` brings them back.
fn assert_data(dir: &Path, what: &str) {
    for (rel, bytes) in data() {
        assert!(
            fs::read(dir.join(&rel)).is_ok_and(|b| b == bytes),
            "{what}: {rel}"
        );
    }
    fs::remove_file(dir.join("raw/big.bin")).unwrap();
    fs::remove_dir_all(dir.join("raw/shards")).unwrap();
    run(dir, &["checkout"]);
    for (rel, bytes) in data() {
        assert!(
            fs::read(dir.join(&rel)).is_ok_and(|b| b == bytes),
            "{what}: {rel} after checkout"
        );
    }
}

fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for path in walk(dir) {
        if path.is_file() {
            let _ = fs::set_permissions(&path, fs::Permissions::from_mode(0o644));
        }
    }
}

#[test]
fn kill_9_during_add_then_add_again() {
    for delay in DELAYS_MS {
        let ws = with_data();
        kill_after(ws.path(), &ADD, delay);
        run(ws.path(), &ADD);
        let what = format!("add killed after {delay} ms");
        assert_no_leftovers(ws.path(), &what);
        assert_data(ws.path(), &what);
        let status = String::from_utf8_lossy(&run(ws.path(), &["status"]).stdout).into_owned();
        assert!(!status.contains("raw/"), "{what}: {status}");
    }
}

/// A workspace with the data added and pushed to a fresh remote: (workspace, remote).
fn pushed() -> (tempfile::TempDir, tempfile::TempDir) {
    let ws = with_data();
    run(ws.path(), &ADD);
    let remote = tempfile::tempdir().unwrap();
    run(
        ws.path(),
        &["remote", "add", "shared", remote.path().to_str().unwrap()],
    );
    (ws, remote)
}

/// A second workspace holding what git carries (params and pointers) and the remote.
fn clone_of(ws: &Path, remote: &Path) -> tempfile::TempDir {
    let b = new_workspace();
    fs::create_dir_all(b.path().join("raw")).unwrap();
    for rel in ["raw/big.bin.ptr", "raw/shards.ptr"] {
        fs::copy(ws.join(rel), b.path().join(rel)).unwrap();
    }
    run(
        b.path(),
        &["remote", "add", "shared", remote.to_str().unwrap()],
    );
    b
}

#[test]
fn kill_9_during_push_then_push_again() {
    for delay in DELAYS_MS {
        let (ws, remote) = pushed();
        kill_after(ws.path(), &["push"], delay);
        run(ws.path(), &["push"]);
        let what = format!("push killed after {delay} ms");
        assert_no_leftovers(remote.path(), &what);
        let b = clone_of(ws.path(), remote.path());
        run(b.path(), &["pull"]);
        assert_no_leftovers(b.path(), &what);
        assert_data(b.path(), &what);
        make_writable(ws.path());
    }
}

#[test]
fn kill_9_during_pull_then_pull_again() {
    let (ws, remote) = pushed();
    run(ws.path(), &["push"]);
    for delay in DELAYS_MS {
        let b = clone_of(ws.path(), remote.path());
        kill_after(b.path(), &["pull"], delay);
        run(b.path(), &["pull"]);
        let what = format!("pull killed after {delay} ms");
        assert_no_leftovers(b.path(), &what);
        assert_no_leftovers(remote.path(), &what);
        assert_data(b.path(), &what);
    }
    make_writable(ws.path());
}

#[test]
fn kill_9_during_gc_then_gc_again() {
    for delay in DELAYS_MS {
        let ws = with_data();
        run(ws.path(), &ADD);
        run(ws.path(), &["repro"]);
        // Garbage: an older version of the big file, and outputs of other params.
        fs::write(
            ws.path().join("params.toml"),
            "[numbers]\ncount = 9\nfactor = 2\n",
        )
        .unwrap();
        run(ws.path(), &["repro"]);
        fs::write(ws.path().join("params.toml"), PARAMS).unwrap();
        run(ws.path(), &["repro"]);
        let extra = ws.path().join("raw/old.bin");
        fs::write(&extra, noise(99, 4 << 20)).unwrap();
        run(ws.path(), &["add", "raw/old.bin"]);
        fs::remove_file(ws.path().join("raw/old.bin.ptr")).unwrap();

        kill_after(ws.path(), &["gc", "--workspace"], delay);
        run(ws.path(), &["gc", "--workspace"]);
        let what = format!("gc killed after {delay} ms");
        assert_no_leftovers(ws.path(), &what);
        let again = run(ws.path(), &["gc", "--workspace"]);
        assert!(
            String::from_utf8_lossy(&again.stdout).starts_with("Removed 0 objects"),
            "{what}"
        );
        assert_data(ws.path(), &what);
        let repro = run(ws.path(), &["repro"]);
        assert!(
            String::from_utf8_lossy(&repro.stdout).contains("Everything is up to date."),
            "{what}"
        );
        make_writable(ws.path());
    }
}
