//! Behaviour that needs real processes: parallel stages overlapping in time, the workspace lock
//! between two `repro`s, and `kill -9` at any moment leaving a workspace that the next `repro`
//! completes into exactly what an uninterrupted run gives.

use pipeline_tests::{read_trace, PARAMS};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn fixture() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fixture"))
}

fn new_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("params.toml"), PARAMS).unwrap();
    fs::create_dir_all(dir.path().join("inputs")).unwrap();
    fs::write(dir.path().join("inputs/extra.txt"), "ok\n").unwrap();
    dir
}

fn repro(dir: &Path, args: &[&str], sleep_ms: u64) -> Output {
    fixture()
        .arg("-C")
        .arg(dir)
        .arg("repro")
        .args(args)
        .env("FIXTURE_SLEEP_MS", sleep_ms.to_string())
        .output()
        .unwrap()
}

#[test]
fn independent_stages_overlap_in_time() {
    let ws = new_workspace();
    let out = repro(ws.path(), &["-j", "2", "slow_a", "slow_b"], 300);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trace = read_trace(ws.path());
    let a = trace.iter().find(|t| t.0 == "slow_a").unwrap();
    let b = trace.iter().find(|t| t.0 == "slow_b").unwrap();
    assert!(
        a.1 < b.2 && b.1 < a.2,
        "intervals do not overlap: {a:?} {b:?}"
    );

    let ws = new_workspace();
    let out = repro(ws.path(), &["-j", "1", "slow_a", "slow_b"], 50);
    assert!(out.status.success());
    let trace = read_trace(ws.path());
    let (a, b) = (&trace[0], &trace[1]);
    assert!(a.2 <= b.1, "-j 1 must run one stage at a time: {a:?} {b:?}");
}

#[test]
fn failing_stage_exits_non_zero_with_one_line() {
    let ws = new_workspace();
    fs::write(ws.path().join("inputs/extra.txt"), "fail\n").unwrap();
    let out = repro(ws.path(), &[], 0);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "error: stage `total` failed: inputs/extra.txt asked this stage to fail"
    );
}

#[test]
fn second_repro_waits_for_the_first() {
    let ws = new_workspace();
    let mut first = fixture()
        .arg("-C")
        .arg(ws.path())
        .args(["repro", "-j", "1", "slow_a", "slow_b"])
        .env("FIXTURE_SLEEP_MS", "400")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first process holds the lock (it writes its pid into the lock file).
    let lock = ws.path().join(".pipeline/lock");
    for _ in 0..200 {
        if fs::read_to_string(&lock).is_ok_and(|s| s.starts_with("pid")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = repro(ws.path(), &["slow_a", "slow_b"], 0);
    assert!(first.wait().unwrap().success());
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(
        stdout.contains("waiting for the workspace lock held by pid"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Everything is up to date."),
        "the second saw the first's work: {stdout}"
    );
    let runs: Vec<String> = read_trace(ws.path()).into_iter().map(|t| t.0).collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
}

/// Files that must come out identical: every output, the lock file.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = vec![PathBuf::from("pipeline.lock")];
    for rel in [
        "data/numbers.txt",
        "data/scaled.txt",
        "results/summary.json",
        "slow/a.txt",
        "slow/b.txt",
    ] {
        files.push(PathBuf::from(rel));
    }
    files
        .into_iter()
        .map(|rel| {
            let bytes =
                fs::read(dir.join(&rel)).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
            (rel, bytes)
        })
        .collect()
}

#[test]
fn kill_9_at_any_moment_then_repro_gives_the_same_result() {
    let reference = new_workspace();
    assert!(repro(reference.path(), &[], 0).status.success());
    let expected = snapshot(reference.path());

    // Kill at increasing delays so that runs die while hashing, running, caching, placing
    // outputs and writing the lock file; then change params and back to also cover restores.
    for (round, delay_ms) in [0u64, 2, 5, 10, 20, 35, 50, 80, 120, 200]
        .into_iter()
        .enumerate()
    {
        let ws = new_workspace();
        if round % 2 == 1 {
            assert!(repro(ws.path(), &[], 0).status.success());
            fs::write(
                ws.path().join("params.toml"),
                "[numbers]\ncount = 9\nfactor = 2\n",
            )
            .unwrap();
        }
        let mut child = fixture()
            .arg("-C")
            .arg(ws.path())
            .args(["repro", "-j", "2"])
            .env("FIXTURE_SLEEP_MS", "30")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        fs::write(ws.path().join("params.toml"), PARAMS).unwrap();
        let out = repro(ws.path(), &[], 0);
        assert!(
            out.status.success(),
            "round {round}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            snapshot(ws.path()),
            expected,
            "round {round} (killed after {delay_ms} ms)"
        );
        let leftovers: Vec<String> = walk(ws.path())
            .into_iter()
            .filter(|p| p.contains(".pipeline-tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "round {round}: {leftovers:?}");
        let again = repro(ws.path(), &[], 0);
        assert!(String::from_utf8_lossy(&again.stdout).contains("Everything is up to date."));
    }
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        out.push(path.display().to_string());
        if path.is_dir() {
            out.extend(walk(&path));
        }
    }
    out
}

#[test]
fn a_killed_run_is_marked_killed_at_the_next_start() {
    let ws = new_workspace();
    let mut child = fixture()
        .arg("-C")
        .arg(ws.path())
        .args(["repro", "slow_a"])
        .env("FIXTURE_SLEEP_MS", "5000")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the stage to start (its run exists), then kill the process outright.
    let mut line = String::new();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
    assert!(line.starts_with("Running stage `slow_a`"), "{line}");
    std::thread::sleep(Duration::from_millis(100));
    let killed_pid = child.id().to_string();
    child.kill().unwrap();
    child.wait().unwrap();

    // The next command that starts runs marks them; read-only commands never write.
    let next = repro(ws.path(), &["slow_b"], 0);
    assert!(
        next.status.success(),
        "{}",
        String::from_utf8_lossy(&next.stderr)
    );
    let out = fixture()
        .arg("-C")
        .arg(ws.path())
        .args(["runs", "list", "--all", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let statuses: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["key"] == "pipeline.pid" && t["value"] == killed_pid.as_str())
        })
        .map(|r| r["info"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["KILLED", "KILLED"],
        "the pipeline run and its stage run"
    );
}

#[test]
fn a_panicking_stage_is_one_line_with_its_message_and_location() {
    let ws = new_workspace();
    fs::write(ws.path().join("inputs/extra.txt"), "panic\n").unwrap();
    let out = repro(ws.path(), &[], 0);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with(
            "error: stage `total` failed: panicked: inputs/extra.txt asked this stage to panic at tests/lib.rs:"
        ),
        "{stderr}"
    );
}

#[test]
fn gc_waits_for_a_running_experiment_and_keeps_what_it_recorded() {
    let ws = new_workspace();
    let mut exp = fixture()
        .arg("-C")
        .arg(ws.path())
        .args(["exp", "run", "--grid", "numbers.factor=2,3,4", "-j", "2"])
        .env("FIXTURE_SLEEP_MS", "400")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Once a stage of an experiment runs, collect garbage.
    let mut reader = std::io::BufReader::new(exp.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("running stage") {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
        assert!(n > 0, "the experiments ended before a stage ran: {seen}");
        seen.push_str(&line);
    }
    let gc = fixture()
        .arg("-C")
        .arg(ws.path())
        .arg("gc")
        .output()
        .unwrap();
    let gc_out = String::from_utf8_lossy(&gc.stdout);
    assert!(
        gc.status.success(),
        "{}",
        String::from_utf8_lossy(&gc.stderr)
    );
    assert!(
        gc_out.contains("waiting for the workspace lock held by pid"),
        "{gc_out}"
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    assert!(exp.wait().unwrap().success(), "{rest}");
    let show = fixture()
        .arg("-C")
        .arg(ws.path())
        .args(["exp", "show", "--json"])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let experiments = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["id"] != "workspace")
        .count();
    assert_eq!(experiments, 3, "{rows}");
    // Applying one restores every stage from what gc kept.
    let id = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] != "workspace")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let apply = fixture()
        .arg("-C")
        .arg(ws.path())
        .args(["exp", "apply", &id])
        .output()
        .unwrap();
    assert!(
        apply.status.success(),
        "{}",
        String::from_utf8_lossy(&apply.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&apply.stdout).contains("Running stage"),
        "{}",
        String::from_utf8_lossy(&apply.stdout)
    );
}

#[test]
fn kill_9_of_exp_run_at_any_moment_then_exp_run_completes_with_nothing_left_over() {
    let exp_run = |dir: &Path, sleep_ms: &str| {
        let mut command = fixture();
        command
            .arg("-C")
            .arg(dir)
            .args(["exp", "run", "--grid", "numbers.factor=2,4", "-j", "2"])
            .env("FIXTURE_SLEEP_MS", sleep_ms);
        command
    };
    let sums = |out: &Output| -> Vec<String> {
        let mut sums: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(": sum=").map(|(_, s)| s.to_string()))
            .collect();
        sums.sort();
        sums
    };
    let reference = new_workspace();
    let expected = sums(&exp_run(reference.path(), "0").output().unwrap());
    assert_eq!(expected.len(), 2, "{expected:?}");
    for (round, delay_ms) in [0u64, 5, 15, 30, 60, 100, 160, 250].into_iter().enumerate() {
        let ws = new_workspace();
        let mut child = exp_run(ws.path(), "30")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let out = exp_run(ws.path(), "0").output().unwrap();
        assert!(
            out.status.success(),
            "round {round}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            sums(&out),
            expected,
            "round {round} (killed after {delay_ms} ms)"
        );
        let leftovers: Vec<String> = walk(ws.path())
            .into_iter()
            .filter(|p| p.contains(".pipeline-tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "round {round}: {leftovers:?}");
        assert!(
            !ws.path().join("slow").exists() && !ws.path().join("pipeline.lock").exists(),
            "round {round}: experiments leave the workspace alone"
        );
    }
}

/// A small filesystem of its own (tmpfs, so this needs root, as CI has), unmounted on drop.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(bytes: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn a_full_disk_during_repro_leaves_outputs_and_lock_and_gc_still_runs() {
    let Some(disk) = SmallDisk::mount("4m") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root and must be able to mount a tmpfs"
        );
        eprintln!("skipping: mounting a tmpfs needs root");
        return;
    };
    let ws = disk.0.path().join("ws");
    fs::create_dir_all(ws.join("inputs")).unwrap();
    fs::write(ws.join("params.toml"), PARAMS).unwrap();
    fs::write(ws.join("inputs/extra.txt"), "ok\n").unwrap();
    assert!(repro(&ws, &[], 0).status.success());
    let lock = fs::read(ws.join("pipeline.lock")).unwrap();
    let scaled = fs::read(ws.join("data/scaled.txt")).unwrap();
    fs::write(
        ws.join("params.toml"),
        "[numbers]\ncount = 10\nfactor = 7\n",
    )
    .unwrap();
    // Fill the disk to the last byte.
    let mut filler = fs::File::create(ws.join("filler")).unwrap();
    let block = vec![0u8; 64 << 10];
    while std::io::Write::write_all(&mut filler, &block).is_ok() {}
    drop(filler);

    let out = repro(&ws, &[], 0);
    assert!(!out.status.success(), "a full disk is an error");
    assert_eq!(fs::read(ws.join("pipeline.lock")).unwrap(), lock);
    assert_eq!(fs::read(ws.join("data/scaled.txt")).unwrap(), scaled);
    let gc = fixture().arg("-C").arg(&ws).arg("gc").output().unwrap();
    assert!(
        gc.status.success(),
        "{}",
        String::from_utf8_lossy(&gc.stderr)
    );

    fs::remove_file(ws.join("filler")).unwrap();
    let out = repro(&ws, &[], 0);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let leftovers: Vec<String> = walk(&ws)
        .into_iter()
        .filter(|p| p.contains(".pipeline-tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
