//! Files read from disk are input, not truth: pointer files, the lock file, run records and a
//! remote's content cannot make a command touch anything outside the workspace, panic, hang or
//! delete what is still referenced; `add` refuses what it must not version; files keep sane
//! modes. Each test is one case of the trust issue.

use pipeline_core::testing::TestWorkspace;
use pipeline_tests::{numbers, PARAMS};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn workspace() -> TestWorkspace {
    TestWorkspace::new()
        .and_then(|ws| ws.with_file("params.toml", PARAMS))
        .and_then(|ws| ws.with_file("inputs/extra.txt", "ok\n"))
        .unwrap()
}

fn run(ws: &TestWorkspace, args: &[&str]) -> String {
    ws.run(numbers::pipeline(), args)
        .unwrap_or_else(|e| panic!("{args:?}: {e:#}"))
}

fn err(ws: &TestWorkspace, args: &[&str]) -> String {
    format!("{:#}", ws.run(numbers::pipeline(), args).unwrap_err())
}

fn hash(bytes: &[u8]) -> String {
    pipeline_core::hash::bytes(bytes)
}

/// A directory outside any workspace holding a file a malicious input aims at.
fn victim() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("victim.txt");
    fs::write(&file, "precious").unwrap();
    (dir, file)
}

/// Runs the fixture binary with a deadline; `None` if it had to be killed.
fn fixture_within(dir: &Path, args: &[&str], limit: Duration) -> Option<std::process::Output> {
    // A memory limit too, so that a regression reading an endless file fails instead of
    // exhausting the machine.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4000000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_fixture"))
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Case 4: a hash that is a path names no file; nothing outside the workspace is deleted.
#[test]
fn case4_a_hash_that_is_a_path_deletes_nothing() {
    let (_dir, victim) = victim();
    // `..` then an absolute path: what the store once joined into the victim's own path.
    let evil = format!("../{}", victim.display());
    let ws = workspace();
    ws.write("raw/x.csv.ptr", format!("hash: '{evil}'\nsize: 8\n"))
        .unwrap();
    let e = err(&ws, &["checkout"]);
    assert!(
        e.contains("raw/x.csv.ptr") && e.contains("hash") && e.contains("not a content hash"),
        "{e}"
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");

    // The same hash in the lock file.
    let ws = workspace();
    run(&ws, &["repro"]);
    let lock = ws.read("pipeline.lock").unwrap();
    let scaled = hash(b"3\n6\n9\n12\n15\n");
    ws.write("pipeline.lock", lock.replace(&scaled, &evil))
        .unwrap();
    fs::remove_file(ws.path().join("data/scaled.txt")).unwrap();
    let e = err(&ws, &["checkout"]);
    assert!(
        e.contains("pipeline.lock") && e.contains("hash") && e.contains("not a content hash"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
}

/// Case 5: output paths in the lock file that leave the workspace are refused.
#[test]
fn case5_lock_paths_outside_the_workspace_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    for evil in [
        "../../x".to_string(),
        outside.path().join("x").display().to_string(),
        ".pipeline/cache/x".to_string(),
    ] {
        let ws = workspace();
        run(&ws, &["repro"]);
        let lock = ws.read("pipeline.lock").unwrap();
        ws.write("pipeline.lock", lock.replace("data/scaled.txt", &evil))
            .unwrap();
        let e = err(&ws, &["checkout"]);
        assert!(e.contains("pipeline.lock") && e.contains(&evil), "{e}");
        assert!(!outside.path().join("x").exists());
        assert!(!ws.path().join("../../x").exists());
    }
}

/// The fixture's run record of `stage` in a run cache directory: (file, parsed).
fn record_of(runs: &Path, stage: &str) -> (std::path::PathBuf, serde_json::Value) {
    for shard in fs::read_dir(runs).unwrap().flatten() {
        if !shard.path().is_dir() {
            continue;
        }
        for file in fs::read_dir(shard.path()).unwrap().flatten() {
            let value: serde_json::Value =
                serde_json::from_slice(&fs::read(file.path()).unwrap()).unwrap();
            if value["stage"] == stage {
                return (file.path(), value);
            }
        }
    }
    panic!("no record of {stage}");
}

/// Case 5: a remote's run record with an extra output is never used; one leaving the workspace
/// is not even fetched. A corrupt remote object is reported and skipped, the rest fetched.
#[test]
fn case5_remote_records_and_objects_are_verified() {
    let remote = tempfile::tempdir().unwrap();
    let remote_dir = remote.path().join("store");
    let a = workspace();
    run(&a, &["repro"]);
    run(
        &a,
        &["remote", "add", "shared", remote_dir.to_str().unwrap()],
    );
    run(&a, &["push"]);

    // The remote's record of `total` gains outputs: one outside, and one inside the workspace.
    let payload = hash(b"{\"sum\": 45}\n");
    let (file, mut record) = record_of(&remote_dir.join("runs"), "total");
    let extra = |path: &str| serde_json::json!({"path": path, "hash": payload, "size": 12});
    record["outs"]
        .as_array_mut()
        .unwrap()
        .push(extra("../../escaped.txt"));
    fs::write(&file, serde_json::to_vec(&record).unwrap()).unwrap();
    let (file2, mut record2) = record_of(&remote_dir.join("runs"), "scale");
    record2["outs"]
        .as_array_mut()
        .unwrap()
        .push(extra("README.md"));
    fs::write(&file2, serde_json::to_vec(&record2).unwrap()).unwrap();
    // And one object of `generate` is corrupt.
    let numbers_hash = hash(b"1\n2\n3\n4\n5\n");
    fs::write(
        remote_dir
            .join("cache")
            .join(&numbers_hash[..2])
            .join(&numbers_hash[2..]),
        "tampered",
    )
    .unwrap();

    let b = TestWorkspace::new().unwrap();
    b.write("params.toml", PARAMS).unwrap();
    b.write("inputs/extra.txt", "ok\n").unwrap();
    run(
        &b,
        &["remote", "add", "shared", remote_dir.to_str().unwrap()],
    );
    let e = err(&b, &["fetch", "--run-cache"]);
    assert!(e.contains("escaped.txt") && e.contains("skipped"), "{e}");
    assert!(
        e.contains(&format!("object {numbers_hash}")) && e.contains("corrupt"),
        "{e}"
    );
    let objects = b.path().join(".pipeline/cache");
    let summary = objects.join(&payload[..2]).join(&payload[2..]);
    assert!(summary.is_file(), "the rest of the fetch went on");
    assert!(!objects
        .join(&numbers_hash[..2])
        .join(&numbers_hash[2..])
        .exists());

    let out = run(&b, &["repro"]);
    assert!(out.contains("Running stage `generate`"), "{out}");
    assert!(
        out.contains("Running stage `scale`"),
        "the record with an extra output is not used: {out}"
    );
    assert!(!b.path().join("../../escaped.txt").exists());
    assert!(!b.path().join("README.md").exists());
    let lock = b.read("pipeline.lock").unwrap();
    assert!(
        !lock.contains("escaped") && !lock.contains("README"),
        "{lock}"
    );
    assert_eq!(b.read("results/summary.json").unwrap(), "{\"sum\": 45}\n");
}

/// Case 6: a hash that is not ASCII is an error, not a panic.
#[test]
fn case6_non_ascii_hash_is_an_error() {
    let ws = workspace();
    let evil = format!("a\u{e9}{}", "b".repeat(61));
    ws.write("raw/x.csv.ptr", format!("hash: {evil}\nsize: 1\n"))
        .unwrap();
    let e = err(&ws, &["checkout"]);
    assert!(
        e.contains("raw/x.csv.ptr") && e.contains("not a content hash"),
        "{e}"
    );

    let ws = workspace();
    run(&ws, &["repro"]);
    let lock = ws.read("pipeline.lock").unwrap();
    let scaled = hash(b"3\n6\n9\n12\n15\n");
    ws.write("pipeline.lock", lock.replace(&scaled, &evil))
        .unwrap();
    let e = err(&ws, &["checkout"]);
    assert!(
        e.contains("pipeline.lock") && e.contains("not a content hash"),
        "{e}"
    );
    let e = err(&ws, &["status"]);
    assert!(e.contains("pipeline.lock"), "{e}");
}

/// Case 7: a lock file linked to an endless device and a FIFO dependency fail fast.
#[test]
fn case7_endless_and_blocking_files_are_refused() {
    let ws = tempfile::tempdir().unwrap();
    fs::write(ws.path().join("params.toml"), PARAMS).unwrap();
    fs::create_dir_all(ws.path().join("inputs")).unwrap();
    fs::write(ws.path().join("inputs/extra.txt"), "ok\n").unwrap();
    std::os::unix::fs::symlink("/dev/urandom", ws.path().join("pipeline.lock")).unwrap();
    let out = fixture_within(ws.path(), &["status"], Duration::from_secs(20))
        .expect("status on a lock linked to /dev/urandom must end");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pipeline.lock"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");

    fs::remove_file(ws.path().join("pipeline.lock")).unwrap();
    let out = fixture_within(ws.path(), &["repro"], Duration::from_secs(60)).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::remove_file(ws.path().join("inputs/extra.txt")).unwrap();
    let fifo = ws.path().join("inputs/extra.txt");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let out = fixture_within(ws.path(), &["status"], Duration::from_secs(20))
        .expect("status with a FIFO dependency must not hang");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("inputs/extra.txt") && text.contains("not a regular file"),
        "{text}"
    );
}

/// Case 9: gc with a corrupt directory manifest stops and deletes nothing; `--dry` removes
/// nothing and lists what would go.
#[test]
fn case9_gc_stops_on_an_unreadable_manifest_and_has_a_dry_run() {
    let ws = workspace();
    for i in 0..5 {
        ws.write(&format!("raw/images/{i}.bin"), format!("image {i}"))
            .unwrap();
    }
    run(&ws, &["add", "raw/images"]);
    let pointer = ws.read("raw/images.ptr").unwrap();
    let manifest = pointer
        .lines()
        .find_map(|l| l.strip_prefix("hash: "))
        .unwrap()
        .to_string();
    let objects = ws.path().join(".pipeline/cache");
    let object = |h: &str| objects.join(&h[..2]).join(&h[2..]);
    fs::write(object(&manifest), "not a manifest").unwrap();
    for _ in 0..2 {
        let e = err(&ws, &["gc"]);
        assert!(
            e.contains("raw/images") && e.contains("raw/images.ptr") && e.contains("gc stopped"),
            "{e}"
        );
        for i in 0..5 {
            assert!(object(&hash(format!("image {i}").as_bytes())).is_file());
        }
    }

    let ws = workspace();
    run(&ws, &["repro"]);
    ws.write("params.toml", "[numbers]\ncount = 5\nfactor = 4\n")
        .unwrap();
    run(&ws, &["repro"]);
    let count = |ws: &TestWorkspace| {
        walk(&ws.path().join(".pipeline/cache"))
            .iter()
            .filter(|p| p.is_file())
            .count()
    };
    let before = count(&ws);
    let out = run(&ws, &["gc", "--workspace", "--dry"]);
    let old = hash(b"3\n6\n9\n12\n15\n");
    assert!(out.contains(&format!("Would remove object {old}")), "{out}");
    assert!(out.contains("Would remove run record"), "{out}");
    assert_eq!(count(&ws), before, "a dry run removes nothing");
    let out = run(&ws, &["gc", "--workspace"]);
    assert!(
        out.starts_with("Removed ") && !out.starts_with("Removed 0"),
        "{out}"
    );
    assert!(count(&ws) < before);
}

/// gc only reads the tracking store: it works when that database cannot be written.
#[test]
fn gc_reads_the_tracking_store_without_writing_it() {
    let ws = workspace();
    run(&ws, &["repro"]);
    let db = ws.path().join(".pipeline/tracking.db");
    assert!(db.is_file());
    let journal_before: Vec<String> = walk(&ws.path().join(".pipeline"))
        .iter()
        .map(|p| p.display().to_string())
        .filter(|p| p.contains("tracking.db-"))
        .collect();
    let db_bytes = fs::read(&db).unwrap();
    run(&ws, &["gc"]);
    assert_eq!(fs::read(&db).unwrap(), db_bytes, "{journal_before:?}");
    for file in walk(&ws.path().join(".pipeline")) {
        if file.display().to_string().ends_with("tracking.db-wal") {
            assert_eq!(fs::metadata(&file).unwrap().len(), 0, "nothing written");
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
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

/// Case 12: what `add` refuses.
#[test]
fn case12_add_refuses_what_it_must_not_version() {
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret.csv"), "s").unwrap();
    let ws = workspace();
    std::os::unix::fs::symlink(outside.path(), ws.path().join("ext")).unwrap();
    let e = err(&ws, &["add", "ext/secret.csv"]);
    assert!(
        e.contains("ext/secret.csv") && e.contains("outside the workspace"),
        "{e}"
    );
    assert!(!outside.path().join("secret.csv.ptr").exists());
    assert!(!outside.path().join(".gitignore").exists());

    run(&ws, &["repro"]);
    for (path, says) in [
        ("pipeline.lock", "versioned by git"),
        ("params.toml", "versioned by git"),
        (
            "data",
            "holds `data/numbers.txt`, an output of stage `generate`",
        ),
        ("results/summary.json", "output of stage `total`"),
        (".pipeline/state.json", "not a path inside the workspace"),
    ] {
        let e = err(&ws, &["add", path]);
        assert!(e.contains(path) && e.contains(says), "{path}: {e}");
    }
    assert!(!ws.path().join(".gitignore").exists());

    ws.write("raw/a/x.bin", "x").unwrap();
    ws.write("raw/a/sub/y.bin", "y").unwrap();
    ws.write("raw/b.bin", "b").unwrap();
    run(&ws, &["add", "raw/a"]);
    let e = err(&ws, &["add", "raw/a/sub"]);
    assert!(
        e.contains("raw/a/sub") && e.contains("inside `raw/a`"),
        "{e}"
    );
    run(&ws, &["add", "raw/b.bin"]);
    let e = err(&ws, &["add", "raw"]);
    assert!(e.contains("holds `raw/"), "{e}");

    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.csv");
    fs::write(ws.path().join("inputs").join(name), "latin-1 name").unwrap();
    let e = format!(
        "{:#}",
        pipeline_core::cli::App::new(numbers::pipeline())
            .run_args(
                [
                    std::ffi::OsStr::new("-C"),
                    ws.path().as_os_str(),
                    std::ffi::OsStr::new("add"),
                    Path::new("inputs").join(name).as_os_str(),
                ],
                &pipeline_core::cli::Printer::new(Box::new(std::io::sink())),
            )
            .unwrap_err()
    );
    assert!(e.contains("not valid UTF-8"), "{e}");
    let e = err(&ws, &["add", "inputs"]);
    assert!(
        e.contains("not valid UTF-8") && e.contains("inputs/caf"),
        "{e}"
    );
    assert!(!ws.path().join("inputs.ptr").exists());
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Case 15: what the runtime writes gets the user's umask, not 0600; executable data stays
/// executable through the cache.
#[test]
fn case15_files_keep_sane_modes() {
    let ws = workspace();
    let plain = ws.path().join("plain.txt");
    fs::write(&plain, "x").unwrap();
    let expected = mode(&plain);
    run(&ws, &["repro"]);
    run(&ws, &["add", "inputs/extra.txt"]);
    fs::remove_file(ws.path().join("data/scaled.txt")).unwrap();
    run(&ws, &["checkout"]);
    // Files older than the racy window are remembered, so the state cache is written.
    std::thread::sleep(Duration::from_millis(200));
    run(&ws, &["status"]);
    for rel in [
        "pipeline.lock",
        ".pipeline/state.json",
        "inputs/extra.txt.ptr",
        "inputs/.gitignore",
        "data/scaled.txt",
        "data/numbers.txt",
    ] {
        assert_eq!(mode(&ws.path().join(rel)), expected, "{rel}");
    }

    ws.write("tools/run.sh", "#!/bin/sh\n").unwrap();
    let script = ws.path().join("tools/run.sh");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    run(&ws, &["add", "tools/run.sh"]);
    assert!(ws.read("tools/run.sh.ptr").unwrap().contains("mode: '755'"));
    fs::remove_file(&script).unwrap();
    run(&ws, &["checkout"]);
    assert_eq!(mode(&script), 0o755);
}

#[test]
fn case5_lock_outputs_a_stage_does_not_declare_are_left_alone() {
    let ws = workspace();
    run(&ws, &["repro"]);
    ws.write("notes.txt", "mine").unwrap();
    let lock = ws.read("pipeline.lock").unwrap();
    // Stage `scale` now claims the user's notes.txt (with the hash of its own output).
    ws.write(
        "pipeline.lock",
        lock.replace("data/scaled.txt", "notes.txt"),
    )
    .unwrap();
    let out = run(&ws, &["checkout"]);
    assert!(
        out.contains("warning: notes.txt left alone") && out.contains("`scale`"),
        "{out}"
    );
    assert_eq!(ws.read("notes.txt").unwrap(), "mine");
}
