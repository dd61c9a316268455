//! The Iris project's random forest side by side with scikit-learn's `RandomForestClassifier`
//! and LightGBM's random-forest mode, on the same rows and splits.
//!
//! Quality: mean test accuracy and out-of-bag score over 5 seeds on Iris, on `winequality`
//! (from linfa-datasets) and on a generated 100,000 x 20 three-class problem, with the same
//! hyperparameters on both sides (100 trees, depth 10, `sqrt` features per split, bootstrap,
//! Gini). Speed: fit time of that forest on the generated training rows, on 2 threads, against
//! scikit-learn with `n_jobs=2` and LightGBM (`boosting_type="rf"`) with `n_jobs=2`; and
//! prediction throughput on 100,000 rows. Our side runs in process; the peers run in the venv
//! of `MLFLOW_VENV` (default `/root/.cache/pipeline-ci/mlflow-venv`) on CSV files written from
//! exactly the rows our side uses, and time only their `fit` and `predict` calls. Without the
//! venv only our figures are printed.
//!
//! LightGBM has no exact counterpart of the forest: it is given depth 10 with up to 1,024
//! leaves (what depth 10 allows), and, for reference, with its default 31 leaves; bagging of
//! 63.2% of the rows per tree and `sqrt` of the features per node; and its default
//! `min_child_samples=20` (with 1, as scikit-learn's `min_samples_leaf=1`, its fit took about
//! 100 s here). For three classes it grows one tree per class per round.

use super::report;
use iris_project::ml::{self, Dataset, ForestParams, MaxFeatures, RandomForest};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Seeds of the quality comparison: the split seed (Iris, wine) and the forest seed.
const SEEDS: [u64; 5] = [0, 1, 2, 3, 4];
/// Rows of the generated problem used for training, and held out.
const TRAIN_ROWS: usize = 100_000;
const TEST_ROWS: usize = 25_000;
const FEATURES: usize = 20;
/// Threads of both sides in the speed comparison: the machine's 2 cores.
const THREADS: usize = 2;

/// The hyperparameters both sides use.
fn params(seed: u64, oob: bool) -> ForestParams {
    ForestParams {
        n_estimators: 100,
        max_depth: Some(10),
        max_features: MaxFeatures::Sqrt,
        oob_score: oob,
        random_state: seed,
        ..ForestParams::default()
    }
}

/// The peers' side: fits every job of `spec` and prints one JSON object per job.
const PEER: &str = r#"
import json, sys, time
import numpy as np, pandas as pd

def load(path):
    frame = pd.read_csv(path)
    return frame.drop(columns="species").to_numpy(), frame["species"].astype(str).to_numpy()

out = []
for job in json.loads(sys.argv[1]):
    x, y = load(job["train"])
    xt, yt = load(job["test"])
    if job["model"] == "sklearn":
        from sklearn.ensemble import RandomForestClassifier
        model = RandomForestClassifier(
            n_estimators=100, max_depth=10, max_features="sqrt", bootstrap=True,
            criterion="gini", oob_score=job["oob"], n_jobs=job["threads"],
            random_state=job["seed"])
    else:
        import lightgbm
        features = x.shape[1]
        model = lightgbm.LGBMClassifier(
            boosting_type="rf", n_estimators=100, max_depth=10,
            num_leaves=1024 if job["model"] == "lightgbm" else 31,
            subsample=0.632, subsample_freq=1,
            colsample_bynode=max(1, int(np.sqrt(features))) / features,
            n_jobs=job["threads"], random_state=job["seed"], verbose=-1)
    start = time.perf_counter()
    model.fit(x, y)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    predicted = model.predict(xt)
    predict = time.perf_counter() - start
    oob = getattr(model, "oob_score_", None) if job["oob"] else None
    out.append({"fit": fit, "predict": predict, "rows": len(xt),
                "accuracy": float((predicted == yt).mean()), "oob": oob})
print(json.dumps(out))
"#;

/// One peer job's answer.
struct PeerRun {
    fit: f64,
    predict: f64,
    rows: usize,
    accuracy: f64,
    oob: Option<f64>,
}

/// Runs the peer script on `jobs` in the venv, or `None` when there is no venv.
fn peer(python: Option<&Path>, jobs: &serde_json::Value) -> anyhow::Result<Option<Vec<PeerRun>>> {
    let Some(python) = python else {
        return Ok(None);
    };
    let out = Command::new(python)
        .args(["-c", PEER, &jobs.to_string()])
        // Tuning for this machine's BLAS that the peers should not inherit.
        .env_remove("OPENBLAS_CORETYPE")
        .env_remove("OPENBLAS_L2_SIZE")
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "the peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)?;
    Ok(Some(
        answer
            .iter()
            .map(|a| PeerRun {
                fit: a["fit"].as_f64().unwrap_or(f64::NAN),
                predict: a["predict"].as_f64().unwrap_or(f64::NAN),
                rows: a["rows"].as_u64().unwrap_or(0) as usize,
                accuracy: a["accuracy"].as_f64().unwrap_or(f64::NAN),
                oob: a["oob"].as_f64(),
            })
            .collect(),
    ))
}

/// The venv's python, or `None` (after saying so) when it is missing or lacks a peer library.
fn python() -> Option<PathBuf> {
    let venv = std::env::var("MLFLOW_VENV")
        .unwrap_or_else(|_| "/root/.cache/pipeline-ci/mlflow-venv".into());
    let python = Path::new(&venv).join("bin/python");
    let usable = python.exists()
        && Command::new(&python)
            .args(["-c", "import sklearn, lightgbm, pandas"])
            .output()
            .is_ok_and(|o| o.status.success());
    if usable {
        Some(python)
    } else {
        println!("forest: no venv with scikit-learn, lightgbm and pandas at {venv}: the peers were not measured");
        None
    }
}

/// A seeded three-class problem shaped like scikit-learn's `make_classification`: two
/// Gaussian clusters per class around vertices of a 5-dimensional hypercube (side 2), 5
/// redundant features (random linear combinations of those), 10 features of pure noise, and
/// 2% of labels flipped at random.
fn generated(rows: usize, seed: u64) -> Dataset {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let normal = |rng: &mut Xoshiro256PlusPlus| {
        // Box-Muller, one value per call.
        let (u, v): (f64, f64) = (rng.gen::<f64>().max(1e-300), rng.gen());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let informative = 5;
    let mut centroid_rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let centroids: Vec<Vec<f64>> = (0..6)
        .map(|_| {
            (0..informative)
                .map(|_| {
                    if centroid_rng.gen::<bool>() {
                        1.0
                    } else {
                        -1.0
                    }
                })
                .collect()
        })
        .collect();
    let mixing: Vec<Vec<f64>> = (0..5)
        .map(|_| {
            (0..informative)
                .map(|_| centroid_rng.gen::<f64>() * 2.0 - 1.0)
                .collect()
        })
        .collect();
    let mut x = Array2::zeros((rows, FEATURES));
    let mut labels = Vec::with_capacity(rows);
    for r in 0..rows {
        let cluster = rng.gen_range(0..6usize);
        let mut class = cluster % 3;
        let point: Vec<f64> = centroids[cluster]
            .iter()
            .map(|c| c + normal(&mut rng))
            .collect();
        for (f, v) in point.iter().enumerate() {
            x[[r, f]] = *v;
        }
        for (j, weights) in mixing.iter().enumerate() {
            x[[r, informative + j]] = weights.iter().zip(&point).map(|(w, p)| w * p).sum();
        }
        for f in 2 * informative..FEATURES {
            x[[r, f]] = normal(&mut rng);
        }
        if rng.gen::<f64>() < 0.02 {
            class = rng.gen_range(0..3);
        }
        labels.push(class);
    }
    Dataset {
        features: x,
        labels,
        feature_names: (0..FEATURES).map(|f| format!("f{f}")).collect(),
        class_names: vec!["a".into(), "b".into(), "c".into()],
    }
}

/// The wine-quality data set: 1,599 red wines, 11 features, quality 3 to 8 as six classes.
fn wine() -> Dataset {
    let ds = linfa_datasets::winequality();
    let labels: Vec<usize> = ds.targets().iter().map(|&q| q - 3).collect();
    Dataset {
        features: ds.records().to_owned(),
        labels,
        feature_names: ds
            .feature_names()
            .iter()
            .map(|n| n.replace(' ', "_"))
            .collect(),
        class_names: (3..=8).map(|q| q.to_string()).collect(),
    }
}

fn write(dir: &Path, name: &str, data: &Dataset) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
    ml::write_csv(data, &mut file)?;
    Ok(path)
}

fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let values: Vec<f64> = values.into_iter().collect();
    values.iter().sum::<f64>() / values.len() as f64
}

fn accuracy(forest: &RandomForest, test: &Dataset) -> anyhow::Result<f64> {
    let predicted = forest.predict(test.features.view())?;
    let right = predicted
        .iter()
        .zip(&test.labels)
        .filter(|(p, l)| p == l)
        .count();
    Ok(right as f64 / test.labels.len() as f64)
}

/// Mean accuracy and OOB score of our forest and of scikit-learn's over the seeds, and whether
/// both gaps are within 1 point.
fn quality(
    name: &str,
    splits: &[(u64, Dataset, Dataset)],
    dir: &Path,
    python: Option<&Path>,
) -> anyhow::Result<()> {
    let mut ours = Vec::new();
    let mut jobs = Vec::new();
    for (seed, train, test) in splits {
        let forest = RandomForest::fit(&params(*seed, true), train)?;
        ours.push((
            accuracy(&forest, test)?,
            forest.oob_score().unwrap_or(f64::NAN),
        ));
        jobs.push(serde_json::json!({
            "model": "sklearn", "seed": seed, "oob": true, "threads": THREADS,
            "train": write(dir, &format!("{name}-train-{seed}.csv"), train)?,
            "test": write(dir, &format!("{name}-test-{seed}.csv"), test)?,
        }));
    }
    let (acc, oob) = (
        mean(ours.iter().map(|o| o.0)),
        mean(ours.iter().map(|o| o.1)),
    );
    report(
        &format!("forest quality, {name}: ours"),
        format!("accuracy {acc:.4}, OOB {oob:.4}"),
    );
    if let Some(runs) = peer(python, &serde_json::Value::Array(jobs))? {
        let peer_acc = mean(runs.iter().map(|r| r.accuracy));
        let peer_oob = mean(runs.iter().map(|r| r.oob.unwrap_or(f64::NAN)));
        report(
            &format!("forest quality, {name}: scikit-learn"),
            format!("accuracy {peer_acc:.4}, OOB {peer_oob:.4}"),
        );
        let within = |a: f64, b: f64| {
            if (a - b).abs() <= 0.01 {
                "within 1 point"
            } else {
                "MORE than 1 point"
            }
        };
        report(
            &format!("  {name}: ours - scikit-learn"),
            format!(
                "accuracy {:+.4} ({}), OOB {:+.4} ({})",
                acc - peer_acc,
                within(acc, peer_acc),
                oob - peer_oob,
                within(oob, peer_oob)
            ),
        );
    }
    Ok(())
}

fn in_pool<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> anyhow::Result<T> {
    Ok(rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?
        .install(work))
}

/// The median of `n` timings of `work` (which must succeed).
fn median_time(n: usize, mut work: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let mut samples = Vec::new();
    for _ in 0..n {
        let start = Instant::now();
        work()?;
        samples.push(start.elapsed());
    }
    Ok(super::median(samples))
}

fn secs(d: f64) -> String {
    format!("{d:.2} s")
}

pub fn run() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let python = python();
    let python = python.as_deref();

    let iris = ml::iris();
    let splits = SEEDS
        .iter()
        .map(|&s| {
            let (train, test) = ml::stratified_split(&iris, 0.2, s)?;
            Ok((s, train, test))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    quality("Iris", &splits, dir.path(), python)?;
    let wine = wine();
    let splits = SEEDS
        .iter()
        .map(|&s| {
            let (train, test) = ml::stratified_split(&wine, 0.25, s)?;
            Ok((s, train, test))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    quality("winequality", &splits, dir.path(), python)?;
    let train = generated(TRAIN_ROWS, 1);
    let test = generated(TEST_ROWS, 2);
    let splits: Vec<(u64, Dataset, Dataset)> = SEEDS
        .iter()
        .map(|&s| (s, train.clone(), test.clone()))
        .collect();
    quality("generated 100,000 x 20", &splits, dir.path(), python)?;

    // Speed: fit without the OOB pass, on 2 threads (and on 1, for reference).
    let mut ours = Duration::ZERO;
    for threads in [1, THREADS] {
        let took = in_pool(threads, || {
            median_time(3, || {
                RandomForest::fit(&params(0, false), &train)?;
                Ok(())
            })
        })??;
        report(
            &format!("forest fit, 100 trees depth 10, 100,000 x 20, {threads} thread(s)"),
            secs(took.as_secs_f64()),
        );
        ours = took;
    }
    let forest = RandomForest::fit(&params(0, false), &train)?;
    let predict = in_pool(THREADS, || {
        median_time(5, || {
            forest.predict_proba(train.features.view())?;
            Ok(())
        })
    })??;
    report(
        "forest predict_proba, 100,000 rows, 2 threads",
        format!("{:.0} rows/s", TRAIN_ROWS as f64 / predict.as_secs_f64()),
    );

    let train_csv = write(dir.path(), "speed-train.csv", &train)?;
    let ours = ours.as_secs_f64();
    let peers = [
        ("sklearn", "scikit-learn"),
        ("lightgbm", "LightGBM rf, 1,024 leaves"),
        ("lightgbm31", "LightGBM rf, 31 leaves"),
    ];
    for (model, label) in peers {
        // Each peer predicts the 100,000 training rows, for a throughput on the same rows.
        let jobs: Vec<serde_json::Value> = (0..3)
            .map(|_| {
                serde_json::json!({
                    "model": model, "seed": 0, "oob": false, "threads": THREADS,
                    "train": train_csv, "test": train_csv,
                })
            })
            .collect();
        let Some(runs) = peer(python, &serde_json::Value::Array(jobs))? else {
            break;
        };
        let fit = super::median(
            runs.iter()
                .map(|r| Duration::from_secs_f64(r.fit))
                .collect(),
        );
        let predict = super::median(
            runs.iter()
                .map(|r| Duration::from_secs_f64(r.predict))
                .collect(),
        );
        report(&format!("{label} fit, n_jobs=2"), secs(fit.as_secs_f64()));
        report(
            &format!("{label} predict, 100,000 rows, n_jobs=2"),
            format!("{:.0} rows/s", runs[0].rows as f64 / predict.as_secs_f64()),
        );
        report(
            &format!("  fit speed-up over {label}"),
            format!("{:.1}x", fit.as_secs_f64() / ours),
        );
    }
    // LightGBM's held-out accuracy on the generated problem, next to ours (seed 0).
    if python.is_some() {
        let test_csv = write(dir.path(), "speed-test.csv", &test)?;
        let jobs: Vec<serde_json::Value> = ["lightgbm", "lightgbm31"]
            .iter()
            .map(|model| {
                serde_json::json!({
                    "model": model, "seed": 0, "oob": false, "threads": THREADS,
                    "train": train_csv, "test": test_csv,
                })
            })
            .collect();
        if let Some(runs) = peer(python, &serde_json::Value::Array(jobs))? {
            report(
                "forest quality, generated, seed 0: ours",
                format!("accuracy {:.4}", accuracy(&forest, &test)?),
            );
            for (run, label) in runs.iter().zip(&peers[1..]) {
                report(
                    &format!("forest quality, generated, seed 0: {}", label.1),
                    format!("accuracy {:.4}", run.accuracy),
                );
            }
        }
    }
    Ok(())
}
