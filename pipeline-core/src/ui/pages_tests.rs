//! The run, model and version pages over HTTP: breadcrumb, parent and stage runs by name,
//! registered versions, the artifact tree and its previews (escaped, sandboxed), version pages
//! over numbers with gaps, styled 404s.

use super::tests::{fetch, start};
use crate::tracking::{Metric, SqliteStore, Tag, TrackingStore};
use std::sync::Arc;

struct Fixture {
    _dir: tempfile::TempDir,
    base: String,
    parent: String,
    child: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("tracking.db"), &dir.path().join("cache")).unwrap(),
    );
    let experiment = store.get_or_create_experiment("p").unwrap();
    let parent = store
        .create_run(&experiment, "repro", None, &[], 0)
        .unwrap();
    let child = store
        .create_run(&experiment, "train", Some(&parent.run_id), &[], 1)
        .unwrap();
    store
        .log_batch(
            &child.run_id,
            &[
                Metric::new("loss", 1.0, 0, 0),
                Metric::new("loss", 0.5, 1, 1),
            ],
            &[],
            &[Tag::new("note", "<b>bold</b>")],
        )
        .unwrap();
    let files = [
        (
            "metrics.json",
            r#"{"accuracy": 0.9, "confusion_matrix": {"labels": ["a", "b"], "rows_true_columns_predicted": [[3, 1], [0, 4]]}}"#,
        ),
        ("data/rows.csv", "x,name\n1,<i>one</i>\n2,two\n"),
        (
            "report.html",
            "<html><body><script>parent.document.title='pwned'</script>hi</body></html>",
        ),
        ("notes.txt", "a <script> in text"),
        ("model/MLmodel", "flavors: {}"),
    ];
    for (i, (path, text)) in files.iter().enumerate() {
        let local = dir.path().join(format!("f{i}"));
        std::fs::write(&local, text).unwrap();
        store.log_artifact(&child.run_id, &local, path).unwrap();
    }
    store.create_registered_model("iris").unwrap();
    for _ in 0..3 {
        store
            .create_model_version(
                "iris",
                &format!("runs:/{}/model", child.run_id),
                Some(&child.run_id),
            )
            .unwrap();
    }
    store.delete_model_version("iris", 2).unwrap();
    store.set_model_alias("iris", "champion", 3).unwrap();
    let addr = start(dir.path(), store);
    Fixture {
        _dir: dir,
        base: format!("http://{addr}"),
        parent: parent.run_id,
        child: child.run_id,
    }
}

fn ok(url: &str) -> String {
    let (code, _, body) = fetch("GET", url);
    assert_eq!(code, 200, "{url}: {body}");
    body
}

#[test]
fn a_stage_run_page_has_its_breadcrumb_parent_versions_and_chartable_metrics() {
    let f = fixture();
    let page = ok(&format!("{}/runs/{}", f.base, f.child));
    let crumbs = page.split("<p class=\"crumbs\">").nth(1).unwrap();
    let crumbs = crumbs.split("</p>").next().unwrap();
    assert!(
        crumbs.contains(">Experiments</a> › <a href=\"/experiments/"),
        "{crumbs}"
    );
    assert!(crumbs.contains(&format!(
        ">p</a> › <a href=\"/runs/{}\">repro</a> › train",
        f.parent
    )));
    assert!(page.contains("<a href=\"/models/iris/versions/1\">iris version 1</a>"));
    assert!(page.contains("<a href=\"/models/iris/versions/3\">iris version 3</a>"));
    assert!(!page.contains("iris version 2"), "deleted");
    assert!(page.contains("\"keys\":[\"loss\"]") && page.contains("<div id=\"run-charts\"></div>"));
    assert!(page.contains("&lt;b&gt;bold&lt;/b&gt;") && !page.contains("<b>bold</b>"));
    let parent = ok(&format!("{}/runs/{}", f.base, f.parent));
    assert!(
        parent.contains(&format!("<a href=\"/runs/{}\">train</a>", f.child)),
        "stage runs by name"
    );
    assert!(
        parent.contains("iris version 3"),
        "versions made by its stage runs"
    );
}

#[test]
fn artifacts_preview_in_the_page_escaped_and_sandboxed() {
    let f = fixture();
    let url = |path: &str| format!("{}/runs/{}?preview={path}", f.base, f.child);
    let page = ok(&format!("{}/runs/{}", f.base, f.child));
    assert!(
        page.contains("<details open><summary>data/"),
        "directories in the tree"
    );
    assert!(page.contains(
        "?preview=data%2Frows.csv#preview\" data-artifact=\"data/rows.csv\">rows.csv</a>"
    ));
    let json = ok(&url("metrics.json"));
    assert!(
        json.contains("<h3>Confusion matrix</h3><table class=\"heatmap\">"),
        "{json}"
    );
    let csv = ok(&url("data%2Frows.csv"));
    assert!(csv.contains("<th>name</th>") && csv.contains("<td>&lt;i&gt;one&lt;/i&gt;</td>"));
    let html = ok(&url("report.html"));
    assert!(
        html.contains("<iframe class=\"artifact\" sandbox=\"\""),
        "{html}"
    );
    assert!(
        !html.contains("<script>parent"),
        "the report is text of the frame"
    );
    let text = ok(&url("notes.txt"));
    assert!(text.contains("<pre>a &lt;script&gt; in text</pre>"));
    let missing = ok(&url("nope.txt"));
    assert!(missing.contains("<div class=\"error\">"), "{missing}");
    // A directory lists its files; unknown pages are styled 404s.
    ok(&format!("{}/runs/{}/artifacts/data", f.base, f.child));
    for path in [
        "/no/such/page",
        "/models/nope",
        "/models/iris/versions/2",
        "/models/iris/versions/x",
    ] {
        let (code, headers, body) = fetch("GET", &format!("{}{path}", f.base));
        assert_eq!(code, 404, "{path}");
        assert_eq!(
            super::tests::header(&headers, "content-type"),
            "text/html; charset=utf-8"
        );
        assert!(body.contains("<div class=\"error\">"), "{path}: {body}");
    }
}

#[test]
fn model_and_version_pages_follow_the_registry_with_gaps() {
    let f = fixture();
    let model = ok(&format!("{}/models/iris", f.base));
    assert!(model.contains("<a href=\"/models/iris/versions/1\">1</a>"));
    assert!(model.contains("<a href=\"/models/iris/versions/3\">3</a>"));
    assert!(!model.contains("/versions/2\""));
    assert!(model.contains("@champion"));
    let version = ok(&format!("{}/models/iris/versions/3", f.base));
    assert!(
        version.contains(&format!("<a href=\"/runs/{}\">{}</a>", f.child, f.child)),
        "source run"
    );
    assert!(version.contains("@champion") && version.contains("Metrics of the source run"));
    assert!(version.contains(">loss</td>") && version.contains("0.5"));
    let list = ok(&format!("{}/models", f.base));
    assert!(list.contains("<a href=\"/models/iris\">iris</a>"));
}
