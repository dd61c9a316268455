//! Data versioning through the CLI: `add` and pointer files, `checkout`, `status` of data, `gc`,
//! and sharing a cache through a directory remote (`push`, then `pull` in a second workspace).

use pipeline_core::testing::TestWorkspace;
use pipeline_tests::{numbers, read_trace, PARAMS};
use std::fs;

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

#[test]
fn add_status_and_checkout() {
    let ws = workspace();
    let file = ws.path().join("inputs/extra.txt");
    let out = run(&ws, &["add", file.to_str().unwrap()]);
    assert!(out.starts_with("Added inputs/extra.txt (3 bytes)"), "{out}");
    let pointer = ws.read("inputs/extra.txt.ptr").unwrap();
    assert_eq!(
        pointer,
        format!("hash: {}\nsize: 3\n", pipeline_core::hash::bytes(b"ok\n"))
    );
    assert_eq!(ws.read("inputs/.gitignore").unwrap(), "/extra.txt\n");
    run(&ws, &["add", file.to_str().unwrap()]);
    assert_eq!(
        ws.read("inputs/.gitignore").unwrap(),
        "/extra.txt\n",
        "listed once"
    );

    run(&ws, &["repro"]);
    assert_eq!(run(&ws, &["status"]).trim(), "Everything is up to date.");
    fs::write(&file, "changed\n").unwrap();
    let status = run(&ws, &["status"]);
    assert!(status.contains("inputs/extra.txt: modified"), "{status}");
    let json: serde_json::Value = serde_json::from_str(&run(&ws, &["status", "--json"])).unwrap();
    assert_eq!(json["data"][0]["state"], "modified");
    run(&ws, &["checkout", "inputs/extra.txt"]);
    assert_eq!(ws.read("inputs/extra.txt").unwrap(), "ok\n");
    fs::remove_file(&file).unwrap();
    fs::remove_file(ws.path().join("data/scaled.txt")).unwrap();
    assert!(run(&ws, &["status"]).contains("inputs/extra.txt: missing"));
    let out = run(&ws, &["checkout"]);
    assert!(
        out.contains("Restored inputs/extra.txt") && out.contains("Restored data/scaled.txt"),
        "{out}"
    );
    assert_eq!(
        run(&ws, &["checkout"]).trim(),
        "Everything is already in place."
    );
}

#[test]
fn add_directories_and_refuse_stage_outputs() {
    let ws = workspace();
    ws.write("raw/images/a.bin", [1u8, 2, 3]).unwrap();
    ws.write("raw/images/sub/b.bin", [4u8]).unwrap();
    let out = run(
        &ws,
        &["add", ws.path().join("raw/images").to_str().unwrap()],
    );
    assert!(out.contains("4 bytes, directory"), "{out}");
    fs::remove_dir_all(ws.path().join("raw/images")).unwrap();
    run(&ws, &["checkout"]);
    assert_eq!(
        fs::read(ws.path().join("raw/images/sub/b.bin")).unwrap(),
        [4u8]
    );

    run(&ws, &["repro"]);
    let e = err(
        &ws,
        &["add", ws.path().join("data/scaled.txt").to_str().unwrap()],
    );
    assert!(e.contains("output of stage `scale`"), "{e}");
    let e = err(&ws, &["add", "/etc/hostname"]);
    assert!(e.contains("not a path inside the workspace"), "{e}");
}

#[test]
fn gc_keeps_what_is_referenced() {
    let ws = workspace();
    run(&ws, &["repro"]);
    ws.write("params.toml", "[numbers]\ncount = 5\nfactor = 4\n")
        .unwrap();
    run(&ws, &["repro"]);
    // The factor-3 outputs are still referenced by the run cache: nothing to collect.
    let out = run(&ws, &["gc"]);
    assert!(out.starts_with("Removed 0 objects"), "{out}");
    // Without the run cache's history, the factor-3 outputs go.
    let out = run(&ws, &["gc", "--workspace"]);
    assert!(!out.starts_with("Removed 0 objects"), "{out}");
    // What the workspace uses survives: deleting an output still restores it without running.
    fs::remove_file(ws.path().join("data/scaled.txt")).unwrap();
    let runs_before = read_trace(ws.path()).len();
    run(&ws, &["repro"]);
    assert_eq!(read_trace(ws.path()).len(), runs_before);
    assert_eq!(ws.read("data/scaled.txt").unwrap(), "4\n8\n12\n16\n20\n");
}

#[test]
fn push_then_pull_into_another_workspace() {
    let remote = tempfile::tempdir().unwrap();
    let remote_dir = remote.path().to_str().unwrap();
    let a = workspace();
    run(
        &a,
        &["add", a.path().join("inputs/extra.txt").to_str().unwrap()],
    );
    run(&a, &["repro"]);
    run(&a, &["remote", "add", "shared", remote_dir]);
    assert!(run(&a, &["remote", "list"]).contains("shared\t"));
    let out = run(&a, &["push"]);
    assert!(
        out.starts_with("push: ") && out.contains("remote `shared`"),
        "{out}"
    );
    let again = run(&a, &["push"]);
    assert!(again.starts_with("push: 0 objects copied"), "{again}");

    // A second workspace with what git would carry: params, lock file, pointer files.
    let b = TestWorkspace::new().unwrap();
    for file in ["params.toml", "pipeline.lock", "inputs/extra.txt.ptr"] {
        b.write(file, a.read(file).unwrap()).unwrap();
    }
    run(&b, &["remote", "add", "shared", remote_dir]);
    let out = run(&b, &["pull"]);
    assert!(
        out.contains("Restored inputs/extra.txt") && out.contains("Restored results/summary.json"),
        "{out}"
    );
    assert_eq!(b.read("results/summary.json").unwrap(), "{\"sum\": 45}\n");
    assert_eq!(run(&b, &["repro"]).trim(), "Everything is up to date.");
    assert!(
        read_trace(b.path()).is_empty(),
        "nothing ran in the second workspace"
    );

    let e = err(&b, &["remote", "add", "web", "ftp://host/cache"]);
    assert!(e.contains("ftp:// is not a remote kind"), "{e}");
}

#[test]
fn add_link_shares_the_inode_and_marks_read_only() {
    use std::os::unix::fs::MetadataExt;
    let ws = workspace();
    ws.write("raw/big.bin", vec![7u8; 4096]).unwrap();
    run(&ws, &["add", "--link", "raw/big.bin"]);
    let meta = fs::metadata(ws.path().join("raw/big.bin")).unwrap();
    assert!(meta.permissions().readonly());
    assert_eq!(
        meta.nlink(),
        2,
        "the workspace file and its cache object are one inode"
    );
    fs::remove_file(ws.path().join("raw/big.bin")).unwrap();
    run(&ws, &["checkout"]);
    assert_eq!(
        fs::read(ws.path().join("raw/big.bin")).unwrap(),
        vec![7u8; 4096]
    );
}

/// Many small files travel in a few packs, not one request each; an object corrupted inside a
/// pack is refused and named, the others arrive; re-adding the directory after changing one file
/// sends that file and the manifest only.
#[test]
fn small_files_travel_in_packs() {
    let remote = tempfile::tempdir().unwrap();
    let remote_dir = remote.path().to_str().unwrap();
    let a = workspace();
    for i in 0..300 {
        a.write(&format!("many/{i:03}.txt"), format!("file {i}\n"))
            .unwrap();
    }
    run(&a, &["add", "many"]);
    run(&a, &["remote", "add", "shared", remote_dir]);
    let out = run(&a, &["push"]);
    assert!(out.starts_with("push: 301 objects copied"), "{out}");
    let packs: Vec<String> = fs::read_dir(remote.path().join("packs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(packs.len(), 2, "one pack and its index: {packs:?}");
    assert!(
        !remote.path().join("cache").exists()
            || fs::read_dir(remote.path().join("cache")).unwrap().count() <= 1,
        "only the manifest travels loose"
    );

    // One changed file: one object and the new manifest.
    a.write("many/007.txt", "changed\n").unwrap();
    run(&a, &["add", "many"]);
    let out = run(&a, &["push"]);
    assert!(out.starts_with("push: 2 objects copied"), "{out}");

    // A byte flipped inside the pack spoils one object, and only that one.
    let pack = packs.iter().find(|p| p.ends_with(".pack")).unwrap();
    let pack_path = remote.path().join("packs").join(pack);
    let mut bytes = fs::read(&pack_path).unwrap();
    bytes[0] ^= 1;
    fs::write(&pack_path, bytes).unwrap();
    let b = TestWorkspace::new().unwrap();
    b.write("params.toml", PARAMS).unwrap();
    b.write("many.ptr", a.read("many.ptr").unwrap()).unwrap();
    run(&b, &["remote", "add", "shared", remote_dir]);
    let e = err(&b, &["fetch"]);
    assert!(
        e.contains("corrupt on the remote") && e.contains(pack),
        "{e}"
    );
    assert_eq!(e.matches("corrupt").count(), 1, "{e}");
    let cached = fs::read_dir(b.path().join(".pipeline/cache"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_type().unwrap().is_dir())
        .flat_map(|d| fs::read_dir(d.unwrap().path()).unwrap())
        .count();
    assert_eq!(cached, 300, "every other object arrived, and the manifest");
}
