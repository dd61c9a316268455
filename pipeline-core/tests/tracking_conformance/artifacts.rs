//! Artifacts: storing, listing, downloading files and directories.

use std::fs;

use pipeline_core::tracking::{TrackingError, TrackingStore};

use super::experiment;

pub fn artifacts_round_trip(store: &dyn TrackingStore) {
    let exp = experiment(store, "artifacts");
    let id = &store.create_run(&exp, "r", None, &[], 0).unwrap().run_id;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("model.json"), b"{\"weights\": [1, 2, 3]}").unwrap();
    fs::write(src.join("same.txt"), b"identical bytes").unwrap();
    fs::write(src.join("big.bin"), vec![7u8; 1_000_003]).unwrap();
    fs::write(src.join("notes.txt"), "with a space in the name\n").unwrap();

    store
        .log_artifact(id, &src.join("model.json"), "model/model.json")
        .unwrap();
    store
        .log_artifact(id, &src.join("same.txt"), "model/extra/a.txt")
        .unwrap();
    store
        .log_artifact(id, &src.join("notes.txt"), "model/docs/read me.txt")
        .unwrap();
    store
        .log_artifact(id, &src.join("same.txt"), "b.txt")
        .unwrap();
    store
        .log_artifact(id, &src.join("big.bin"), "data/big.bin")
        .unwrap();

    let root = store.list_artifacts(id, None).unwrap();
    let shown: Vec<_> = root
        .iter()
        .map(|f| (f.path.as_str(), f.is_dir, f.file_size))
        .collect();
    assert_eq!(
        shown,
        [
            ("b.txt", false, Some(15)),
            ("data", true, None),
            ("model", true, None)
        ]
    );
    let model = store.list_artifacts(id, Some("model")).unwrap();
    let shown: Vec<_> = model.iter().map(|f| (f.path.as_str(), f.is_dir)).collect();
    assert_eq!(
        shown,
        [
            ("model/docs", true),
            ("model/extra", true),
            ("model/model.json", false)
        ]
    );
    assert!(store
        .list_artifacts(id, Some("model/model.json"))
        .unwrap()
        .is_empty());
    assert!(store
        .list_artifacts(id, Some("nothing"))
        .unwrap()
        .is_empty());
    let files: Vec<String> = store
        .list_artifact_files(id)
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(
        files,
        [
            "b.txt",
            "data/big.bin",
            "model/docs/read me.txt",
            "model/extra/a.txt",
            "model/model.json"
        ]
    );

    // A single file to an exact destination.
    let out = dir.path().join("out");
    store
        .download_artifact(id, "model/model.json", &out.join("m.json"))
        .unwrap();
    assert_eq!(
        fs::read(out.join("m.json")).unwrap(),
        fs::read(src.join("model.json")).unwrap()
    );
    // A directory, recursively.
    store
        .download_artifact(id, "model", &out.join("model"))
        .unwrap();
    assert_eq!(
        fs::read(out.join("model/extra/a.txt")).unwrap(),
        b"identical bytes"
    );
    assert_eq!(
        fs::read_to_string(out.join("model/docs/read me.txt")).unwrap(),
        "with a space in the name\n"
    );
    assert!(out.join("model/model.json").is_file());
    // The whole root.
    store.download_artifact(id, "", &out.join("all")).unwrap();
    assert_eq!(
        fs::read(out.join("all/data/big.bin")).unwrap().len(),
        1_000_003
    );
    let err = store
        .download_artifact(id, "nope", &out.join("x"))
        .unwrap_err();
    assert!(
        matches!(err, TrackingError::ArtifactNotFound { .. }),
        "{err}"
    );

    // Replacing a path points it at the new content.
    store
        .log_artifact(id, &src.join("model.json"), "b.txt")
        .unwrap();
    store
        .download_artifact(id, "b.txt", &out.join("b2"))
        .unwrap();
    assert_eq!(
        fs::read(out.join("b2")).unwrap(),
        fs::read(src.join("model.json")).unwrap()
    );
}

pub fn artifact_paths_are_checked(store: &dyn TrackingStore) {
    let exp = experiment(store, "artifact-paths");
    let id = &store.create_run(&exp, "r", None, &[], 0).unwrap().run_id;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("same.txt");
    fs::write(&file, b"bytes").unwrap();
    // Paths that escape the root are refused before anything is sent.
    for bad in ["/etc/passwd", "../x", "a/../../x", ""] {
        assert!(
            matches!(
                store.log_artifact(id, &file, bad),
                Err(TrackingError::InvalidArtifactPath { .. })
            ),
            "{bad}"
        );
    }
    let err = store
        .log_artifact(id, &dir.path().join("missing.bin"), "m.bin")
        .unwrap_err();
    assert!(err.to_string().contains("missing.bin"), "{err}");
}
