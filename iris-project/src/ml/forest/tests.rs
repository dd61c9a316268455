//! The forest's tests: determinism across thread counts and fits, agreement with linfa-trees on
//! small data, each hyper-parameter's effect, quality on Iris, the JSON round trip, linfa's
//! traits and the errors.

use super::sample::{splitmix64, tree_seed};
use super::tree::{Node, Tree};
use super::*;
use crate::ml::dataset::iris;
use crate::ml::metrics::evaluate;
use crate::ml::split::stratified_split;
use ndarray::{array, Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The `[train]` settings of the Iris pipeline's `params.toml`.
fn iris_params() -> ForestParams {
    ForestParams {
        n_estimators: 100,
        max_depth: Some(10),
        random_state: 42,
        ..ForestParams::default()
    }
}

/// A seeded classification problem: `informative` features carry the class (a noisy linear
/// rule per class), the rest are noise; values are continuous, so ties between splits are
/// improbable.
fn generated(rows: usize, features: usize, informative: usize, seed: u64) -> Dataset {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut x = Array2::zeros((rows, features));
    let mut labels = Vec::with_capacity(rows);
    for r in 0..rows {
        let class = rng.gen_range(0..3usize);
        for f in 0..features {
            let shift = if f < informative {
                (class as f64 - 1.0) * (1.0 + f as f64 * 0.3)
            } else {
                0.0
            };
            x[[r, f]] = shift + rng.gen::<f64>() * 2.5 - 1.25;
        }
        labels.push(class);
    }
    Dataset {
        features: x,
        labels,
        feature_names: (0..features).map(|f| format!("f{f}")).collect(),
        class_names: vec!["a".into(), "b".into(), "c".into()],
    }
}

fn in_pool<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
        .install(work)
}

fn accuracy(forest: &RandomForest, test: &Dataset) -> Result<f64, MlError> {
    let pred = forest.predict(test.features.view())?;
    Ok(evaluate(&test.labels, &pred, &test.class_names)?.accuracy)
}

fn iris_accuracy(params: &ForestParams, split_seed: u64) -> Result<f64, MlError> {
    let (train, test) = stratified_split(&iris(), 0.2, split_seed)?;
    accuracy(&RandomForest::fit(params, &train)?, &test)
}

/// The model JSON and the probability bits of a fit made on a pool of `threads` threads.
fn fit_bytes(
    threads: usize,
    params: &ForestParams,
    data: &Dataset,
) -> Result<(String, Vec<u64>), MlError> {
    in_pool(threads, || {
        let forest = RandomForest::fit(params, data)?;
        let proba = forest.predict_proba(data.features.view())?;
        Ok((
            forest.to_json(),
            proba.iter().map(|p| p.to_bits()).collect(),
        ))
    })
}

#[test]
fn fits_are_byte_identical_on_1_2_and_8_threads() -> TestResult {
    // A bootstrap sample of 60,000 rows holds about 63% of them once or more: the top nodes
    // are above the threshold for parallel histograms, so both parallel axes (trees and
    // features) are exercised.
    let big = generated(60_000, 6, 4, 1);
    const { assert!(60_000 * 6 / 10 > super::grow::PARALLEL_ROWS) };
    let (train, _) = stratified_split(&iris(), 0.2, 42)?;
    let cases = [
        (
            ForestParams {
                n_estimators: 8,
                max_depth: Some(8),
                oob_score: true,
                random_state: 5,
                ..ForestParams::default()
            },
            &big,
        ),
        (
            ForestParams {
                criterion: Criterion::Entropy,
                class_weight: Some(ClassWeight::Balanced),
                oob_score: true,
                max_features: MaxFeatures::Fraction(0.75),
                ..iris_params()
            },
            &train,
        ),
    ];
    for (params, data) in cases {
        let one = fit_bytes(1, &params, data)?;
        for threads in [2, 8] {
            assert!(
                fit_bytes(threads, &params, data)? == one,
                "{threads} threads, {params:?}"
            );
        }
    }
    Ok(())
}

#[test]
fn repeated_fits_are_identical_and_the_seed_matters() -> TestResult {
    let (train, _) = stratified_split(&iris(), 0.2, 42)?;
    let first = RandomForest::fit(&iris_params(), &train)?.to_json();
    for _ in 0..5 {
        assert_eq!(RandomForest::fit(&iris_params(), &train)?.to_json(), first);
    }
    let other = ForestParams {
        random_state: 43,
        ..iris_params()
    };
    assert_ne!(RandomForest::fit(&other, &train)?.to_json(), first);
    Ok(())
}

/// Predictions of a linfa-trees tree grown on all rows with all features.
fn linfa_tree_predictions(data: &Dataset, depth: usize, x: &Array2<f64>) -> Vec<usize> {
    use ::linfa::prelude::*;
    let dataset = ::linfa::Dataset::new(data.features.clone(), Array1::from(data.labels.clone()));
    let tree = linfa_trees::DecisionTree::<f64, usize>::params()
        .max_depth(Some(depth))
        .min_impurity_decrease(1e-12)
        .fit(&dataset)
        .expect("linfa fit");
    tree.predict(x).to_vec()
}

#[test]
fn single_trees_agree_with_linfa_trees_on_small_data() -> TestResult {
    // With at most 255 distinct values per feature every value has its own bin, so the
    // histogram search sees the same candidate splits as linfa-trees' sorted scan; with every
    // row and every feature, a tree is then plain CART, and both must partition the training
    // rows alike. The depth stays at most 4: deeper nodes hold a handful of rows, where splits
    // of equal score on different features are common and each implementation resolves the
    // tie its own way (linfa-trees by feature index, this forest by its random candidate
    // order, as scikit-learn does).
    for (seed, depth) in [
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 4),
        (5, 4),
        (6, 3),
        (7, 4),
        (8, 4),
    ] {
        let data = generated(200, 3, 2, seed);
        let params = ForestParams {
            n_estimators: 1,
            max_depth: Some(depth),
            max_features: MaxFeatures::Fraction(1.0),
            bootstrap: false,
            ..ForestParams::default()
        };
        let ours = RandomForest::fit(&params, &data)?;
        assert_eq!(
            ours.predict(data.features.view())?,
            linfa_tree_predictions(&data, depth, &data.features),
            "seed {seed}, depth {depth}"
        );
        // The root sees every row, where both place the threshold halfway between
        // neighbouring values: the same threshold, so unseen rows agree too. (Below the
        // root, linfa-trees takes the midpoint to the next value of the whole data set and
        // this forest, like scikit-learn, to the next value in the node.)
        if depth == 1 {
            let probe = generated(500, 3, 2, seed + 100).features;
            assert_eq!(
                ours.predict(probe.view())?,
                linfa_tree_predictions(&data, depth, &probe)
            );
        }
    }
    Ok(())
}

#[test]
fn features_are_drawn_at_every_split_not_once_per_tree() -> TestResult {
    let data = generated(600, 4, 4, 7);
    let params = ForestParams {
        n_estimators: 20,
        max_depth: Some(6),
        max_features: MaxFeatures::Count(1),
        random_state: 1,
        ..ForestParams::default()
    };
    let forest = RandomForest::fit(&params, &data)?;
    let split_features = |tree: &Tree| {
        let mut fs: Vec<usize> = tree
            .nodes
            .iter()
            .filter_map(|n| match n {
                Node::Split { feature, .. } => Some(*feature),
                Node::Leaf { .. } => None,
            })
            .collect();
        fs.sort_unstable();
        fs.dedup();
        fs
    };
    // One candidate per split: a random-subspace tree would use a single feature throughout.
    assert!(forest.trees.iter().all(|t| split_features(t).len() > 1));
    let mut roots: Vec<usize> = forest
        .trees
        .iter()
        .filter_map(|t| match &t.nodes[0] {
            Node::Split { feature, .. } => Some(*feature),
            Node::Leaf { .. } => None,
        })
        .collect();
    roots.sort_unstable();
    roots.dedup();
    assert_eq!(roots, vec![0, 1, 2, 3]);
    Ok(())
}

/// The training rows per leaf of `tree` (by leaf node index).
fn rows_per_leaf(tree: &Tree, x: &Array2<f64>) -> Vec<usize> {
    let mut counts = vec![0; tree.nodes.len()];
    for row in x.rows() {
        let mut at = 0;
        while let Node::Split {
            feature,
            threshold,
            left,
            right,
        } = &tree.nodes[at]
        {
            at = if row[*feature] <= *threshold {
                *left
            } else {
                *right
            };
        }
        counts[at] += 1;
    }
    counts
}

fn depth(tree: &Tree, at: usize) -> usize {
    match &tree.nodes[at] {
        Node::Leaf { .. } => 0,
        Node::Split { left, right, .. } => 1 + depth(tree, *left).max(depth(tree, *right)),
    }
}

#[test]
fn depth_and_leaf_size_limits_hold() -> TestResult {
    let data = generated(500, 5, 3, 11);
    for (max_depth, min_leaf) in [(Some(3), 1), (None, 7), (Some(5), 20)] {
        let params = ForestParams {
            n_estimators: 5,
            max_depth,
            min_samples_leaf: min_leaf,
            bootstrap: false,
            ..ForestParams::default()
        };
        let forest = RandomForest::fit(&params, &data)?;
        for tree in &forest.trees {
            if let Some(d) = max_depth {
                assert!(depth(tree, 0) <= d);
            }
            let counts = rows_per_leaf(tree, &data.features);
            for (at, node) in tree.nodes.iter().enumerate() {
                if let Node::Leaf { .. } = node {
                    assert!(counts[at] >= min_leaf, "leaf of {} rows", counts[at]);
                }
            }
        }
    }
    // Unlimited depth and leaves of one row fit the training rows exactly.
    let full = RandomForest::fit(
        &ForestParams {
            n_estimators: 1,
            bootstrap: false,
            ..ForestParams::default()
        },
        &data,
    )?;
    assert_eq!(full.predict(data.features.view())?, data.labels);
    // A node needs `min_samples_split` rows: with all 500, only the root may split.
    let stump = RandomForest::fit(
        &ForestParams {
            n_estimators: 3,
            min_samples_split: 500,
            bootstrap: false,
            ..ForestParams::default()
        },
        &data,
    )?;
    assert_eq!(stump.leaf_counts(), vec![2, 2, 2]);
    Ok(())
}

#[test]
fn bootstrap_size_follows_max_samples() -> TestResult {
    let data = generated(300, 3, 3, 2);
    // One draw per tree: one distinct row, so every tree is a single leaf.
    let one = RandomForest::fit(
        &ForestParams {
            n_estimators: 10,
            max_samples: Some(MaxSamples::Count(1)),
            ..ForestParams::default()
        },
        &data,
    )?;
    assert_eq!(one.leaf_counts(), vec![1; 10]);
    // Without bootstrap and with every feature a candidate, every tree sees the same rows and
    // candidates at the root, so every root split is the same; with bootstrap they vary.
    // (Deeper down, splits of equal score may be resolved differently by each tree's random
    // candidate order.)
    let roots = |bootstrap: bool| -> Result<Vec<Node>, MlError> {
        let forest = RandomForest::fit(
            &ForestParams {
                n_estimators: 4,
                max_features: MaxFeatures::Count(3),
                bootstrap,
                ..ForestParams::default()
            },
            &data,
        )?;
        Ok(forest.trees.iter().map(|t| t.nodes[0].clone()).collect())
    };
    assert!(roots(false)?.windows(2).all(|w| w[0] == w[1]));
    assert!(roots(true)?.windows(2).any(|w| w[0] != w[1]));
    Ok(())
}

#[test]
fn balanced_class_weights_reweigh_leaf_distributions() -> TestResult {
    // A constant feature cannot be split: the root is the only leaf and holds every row.
    let data = Dataset {
        features: array![[1.0], [1.0], [1.0], [1.0]],
        labels: vec![0, 0, 0, 1],
        feature_names: vec!["x".into()],
        class_names: vec!["a".into(), "b".into()],
    };
    let params = ForestParams {
        n_estimators: 1,
        bootstrap: false,
        ..ForestParams::default()
    };
    let plain = RandomForest::fit(&params, &data)?;
    assert_eq!(
        plain.predict_proba(array![[1.0]].view())?,
        array![[0.75, 0.25]]
    );
    let balanced = RandomForest::fit(
        &ForestParams {
            class_weight: Some(ClassWeight::Balanced),
            ..params
        },
        &data,
    )?;
    // Weights 4 / (2 * 3) and 4 / (2 * 1): both classes weigh 2 in total.
    assert_eq!(
        balanced.predict_proba(array![[1.0]].view())?,
        array![[0.5, 0.5]]
    );
    Ok(())
}

#[test]
fn probabilities_are_mean_leaf_distributions_and_predict_takes_their_argmax() -> TestResult {
    let (train, test) = stratified_split(&iris(), 0.2, 3)?;
    let forest = RandomForest::fit(&iris_params(), &train)?;
    let proba = forest.predict_proba(test.features.view())?;
    assert_eq!(proba.dim(), (30, 3));
    for (row, features) in proba.rows().into_iter().zip(test.features.rows()) {
        assert!((row.sum() - 1.0).abs() < 1e-12);
        let mut mean = [0.0; 3];
        for tree in &forest.trees {
            mean.iter_mut()
                .zip(tree.leaf_proba(&features.to_vec()))
                .for_each(|(m, p)| *m += p / 100.0);
        }
        for (a, b) in row.iter().zip(mean) {
            assert!((a - b).abs() < 1e-12);
        }
    }
    assert_eq!(forest.predict(test.features.view())?, argmax_rows(&proba));
    assert_eq!(
        argmax_rows(&array![[0.4, 0.4, 0.2], [0.1, 0.3, 0.6]]),
        vec![0, 2]
    );
    Ok(())
}

#[test]
fn oob_score_estimates_accuracy_on_unseen_rows() -> TestResult {
    let oob = |data: &Dataset| -> Result<f64, MlError> {
        let forest = RandomForest::fit(
            &ForestParams {
                n_estimators: 50,
                max_features: MaxFeatures::Fraction(1.0),
                oob_score: true,
                random_state: 9,
                ..ForestParams::default()
            },
            data,
        )?;
        Ok(forest.oob_score().unwrap_or(-1.0))
    };
    // Classes separated by wide gaps in feature 0, which is always a candidate, and with few
    // enough rows for each value to have its own bin, so a threshold falls in each gap: every
    // row is predicted right by the trees that never saw it.
    let mut separable = generated(200, 2, 0, 3);
    for (r, class) in separable.labels.iter().enumerate() {
        separable.features[[r, 0]] += *class as f64 * 10.0;
    }
    assert_eq!(oob(&separable)?, 1.0);
    // Labels independent of the features: out-of-bag accuracy is near chance (1/3), while
    // the same forest fits its training rows almost perfectly.
    let noise = generated(600, 3, 0, 4);
    let score = oob(&noise)?;
    assert!((0.25..0.42).contains(&score), "{score}");
    let (train, _) = stratified_split(&iris(), 0.2, 42)?;
    let plain = RandomForest::fit(&iris_params(), &train)?;
    assert_eq!(plain.oob_score(), None);
    Ok(())
}

#[test]
fn importances_favour_informative_features() -> TestResult {
    let mut data = generated(1000, 4, 2, 21);
    data.features.column_mut(3).fill(0.5);
    let forest = RandomForest::fit(
        &ForestParams {
            n_estimators: 30,
            max_depth: Some(6),
            ..ForestParams::default()
        },
        &data,
    )?;
    let imp = forest.feature_importances();
    assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(imp[0] > imp[2] && imp[1] > imp[2], "{imp:?}");
    assert_eq!(imp[3], 0.0);
    Ok(())
}

#[test]
fn quality_on_default_split() -> TestResult {
    let acc = iris_accuracy(&iris_params(), 42)?;
    println!("accuracy, split seed 42: {acc:.4}");
    assert!(acc >= 0.9, "accuracy {acc}");
    Ok(())
}

#[test]
fn quality_across_split_seeds() -> TestResult {
    for criterion in [Criterion::Gini, Criterion::Entropy] {
        let params = ForestParams {
            criterion,
            ..iris_params()
        };
        let mut accs = Vec::new();
        for seed in 0..10 {
            accs.push(iris_accuracy(&params, seed)?);
        }
        let mean = accs.iter().sum::<f64>() / accs.len() as f64;
        println!("{criterion:?}: mean accuracy over split seeds 0..10: {mean:.4} ({accs:?})");
        assert!(mean >= 0.95, "{criterion:?}: mean accuracy {mean}");
    }
    Ok(())
}

#[test]
fn json_round_trip_preserves_model_and_predictions() -> TestResult {
    let (train, test) = stratified_split(&iris(), 0.2, 1)?;
    let forest = RandomForest::fit(
        &ForestParams {
            oob_score: true,
            ..iris_params()
        },
        &train,
    )?;
    let json = forest.to_json();
    let back = RandomForest::from_json(&json)?;
    assert_eq!(back, forest);
    assert_eq!(back.to_json(), json);
    assert_eq!(
        back.predict_proba(test.features.view())?,
        forest.predict_proba(test.features.view())?
    );
    Ok(())
}

#[test]
fn linfa_traits_fit_and_predict() -> TestResult {
    use ::linfa::traits::{Fit, Predict};
    let dataset = linfa_datasets::iris();
    let params = iris_params();
    let forest: RandomForest = Fit::fit(&params, &dataset)?;
    assert_eq!(forest.class_names(), ["0", "1", "2"]);
    assert_eq!(forest.feature_names().len(), 4);
    let ours = iris();
    let direct = RandomForest::fit(&params, &ours)?;
    let via_trait: Array1<usize> = Predict::predict(&forest, dataset.records());
    assert_eq!(via_trait.to_vec(), direct.predict(ours.features.view())?);
    // Same data, same params: the same trees, whatever the names.
    assert_eq!(forest.trees, direct.trees);
    Ok(())
}

#[test]
fn invalid_params_are_errors_naming_the_parameter() {
    let data = iris();
    let with = |f: fn(&mut ForestParams)| {
        let mut p = ForestParams::default();
        f(&mut p);
        p
    };
    let bad = [
        ("n_estimators", with(|p| p.n_estimators = 0)),
        ("max_depth", with(|p| p.max_depth = Some(0))),
        (
            "max_features",
            with(|p| p.max_features = MaxFeatures::Fraction(0.0)),
        ),
        (
            "max_features",
            with(|p| p.max_features = MaxFeatures::Fraction(1.5)),
        ),
        (
            "max_features",
            with(|p| p.max_features = MaxFeatures::Fraction(f64::NAN)),
        ),
        (
            "max_features",
            with(|p| p.max_features = MaxFeatures::Count(0)),
        ),
        (
            "max_features",
            with(|p| p.max_features = MaxFeatures::Count(5)),
        ),
        ("min_samples_split", with(|p| p.min_samples_split = 1)),
        ("min_samples_leaf", with(|p| p.min_samples_leaf = 0)),
        (
            "max_samples",
            with(|p| p.max_samples = Some(MaxSamples::Fraction(0.0))),
        ),
        (
            "max_samples",
            with(|p| p.max_samples = Some(MaxSamples::Count(151))),
        ),
        (
            "max_samples",
            with(|p| {
                p.bootstrap = false;
                p.max_samples = Some(MaxSamples::Count(10));
            }),
        ),
        (
            "oob_score",
            with(|p| {
                p.bootstrap = false;
                p.oob_score = true;
            }),
        ),
    ];
    for (name, params) in bad {
        match RandomForest::fit(&params, &data) {
            Err(MlError::InvalidParameter { name: n, .. }) => assert_eq!(n, name),
            other => panic!("{params:?}: expected InvalidParameter, got {other:?}"),
        }
    }
}

#[test]
fn max_features_resolves_like_scikit_learn() -> TestResult {
    assert_eq!(MaxFeatures::Sqrt.resolve(20)?, 4);
    assert_eq!(MaxFeatures::Sqrt.resolve(3)?, 1);
    assert_eq!(MaxFeatures::Log2.resolve(20)?, 4);
    assert_eq!(MaxFeatures::Log2.resolve(1)?, 1);
    assert_eq!(MaxFeatures::Fraction(0.29).resolve(100)?, 29);
    assert_eq!(MaxFeatures::Fraction(0.01).resolve(4)?, 1);
    assert_eq!(MaxFeatures::Count(3).resolve(3)?, 3);
    assert_eq!(MaxSamples::Fraction(0.5).resolve(7)?, 4);
    assert_eq!(MaxSamples::Fraction(0.001).resolve(7)?, 1);
    Ok(())
}

#[test]
fn params_read_from_strings_fractions_and_counts() -> TestResult {
    let p: ForestParams = serde_json::from_str(
        r#"{"n_estimators":3,"max_depth":null,"max_features":"log2","min_samples_split":2,
            "min_samples_leaf":1,"criterion":"entropy","class_weight":"balanced",
            "bootstrap":true,"max_samples":0.5,"oob_score":false,"random_state":1}"#,
    )?;
    assert_eq!(p.max_features, MaxFeatures::Log2);
    assert_eq!(p.criterion, Criterion::Entropy);
    assert_eq!(p.class_weight, Some(ClassWeight::Balanced));
    assert_eq!(p.max_samples, Some(MaxSamples::Fraction(0.5)));
    for (value, expected) in [
        ("0.5", MaxFeatures::Fraction(0.5)),
        ("1.0", MaxFeatures::Fraction(1.0)),
        ("1", MaxFeatures::Count(1)),
        ("\"sqrt\"", MaxFeatures::Sqrt),
    ] {
        let back: MaxFeatures = serde_json::from_str(value)?;
        assert_eq!(back, expected);
        assert_eq!(serde_json::to_string(&back)?, value);
    }
    let err = serde_json::from_str::<MaxFeatures>("\"half\"").expect_err("word");
    assert!(err
        .to_string()
        .starts_with("invalid value: string \"half\", expected \"sqrt\""));
    let err = serde_json::from_str::<Criterion>("\"mse\"").expect_err("word");
    assert!(err
        .to_string()
        .starts_with("invalid value: string \"mse\", expected \"gini\" or \"entropy\""));
    assert!(serde_json::from_str::<ClassWeight>("1").is_err());
    assert!(serde_json::from_str::<MaxSamples>("-1").is_err());
    Ok(())
}

#[test]
fn invalid_data_is_an_error() {
    let params = ForestParams {
        n_estimators: 3,
        ..ForestParams::default()
    };
    let mut empty = iris();
    empty.features = Array2::zeros((0, 4));
    empty.labels.clear();
    assert!(matches!(
        RandomForest::fit(&params, &empty),
        Err(MlError::Empty { name: "features" })
    ));
    let mut no_features = iris();
    no_features.features = Array2::zeros((150, 0));
    no_features.feature_names.clear();
    assert!(matches!(
        RandomForest::fit(&params, &no_features),
        Err(MlError::InvalidParameter {
            name: "features",
            ..
        })
    ));
    let mut nan = iris();
    nan.features[[3, 2]] = f64::NAN;
    let err = RandomForest::fit(&params, &nan).expect_err("nan");
    assert!(
        err.to_string().contains("row 3, column 2 (`petal_length`)"),
        "{err}"
    );
    let mut bad_label = iris();
    bad_label.labels[10] = 3;
    assert!(matches!(
        RandomForest::fit(&params, &bad_label),
        Err(MlError::LabelOutOfRange {
            index: 10,
            label: 3,
            ..
        })
    ));
    let mut short = iris();
    short.labels.pop();
    assert!(matches!(
        RandomForest::fit(&params, &short),
        Err(MlError::LengthMismatch { .. })
    ));
}

#[test]
fn single_row_and_single_class_fit() -> TestResult {
    let one = Dataset {
        features: array![[1.0, 2.0]],
        labels: vec![1],
        feature_names: vec!["a".into(), "b".into()],
        class_names: vec!["x".into(), "y".into()],
    };
    let forest = RandomForest::fit(&ForestParams::default(), &one)?;
    assert_eq!(
        forest.predict(array![[0.0, 0.0], [5.0, 5.0]].view())?,
        vec![1, 1]
    );
    assert_eq!(forest.feature_importances(), [0.0, 0.0]);
    Ok(())
}

#[test]
fn predict_rejects_bad_input() -> TestResult {
    let forest = RandomForest::fit(
        &ForestParams {
            n_estimators: 5,
            ..ForestParams::default()
        },
        &iris(),
    )?;
    let err = forest
        .predict(Array2::zeros((2, 3)).view())
        .expect_err("ncols");
    assert!(matches!(
        err,
        MlError::FeatureCountMismatch {
            expected: 4,
            found: 3
        }
    ));
    let mut x = Array2::zeros((2, 4));
    x[[1, 3]] = f64::INFINITY;
    let err = forest.predict(x.view()).expect_err("inf");
    assert!(
        err.to_string().contains("row 1, column 3 (`petal_width`)"),
        "{err}"
    );
    assert!(forest.predict(Array2::zeros((0, 4)).view())?.is_empty());
    Ok(())
}

#[test]
fn split_goes_left_on_equal_threshold() {
    let tree = Tree {
        nodes: vec![
            Node::Split {
                feature: 1,
                threshold: 2.5,
                left: 1,
                right: 2,
            },
            Node::Leaf {
                proba: vec![1.0, 0.0],
            },
            Node::Leaf {
                proba: vec![0.0, 1.0],
            },
        ],
    };
    let x = array![[9.0, 2.5], [9.0, 2.6], [9.0, -1.0]];
    let got: Vec<f64> = x
        .rows()
        .into_iter()
        .map(|r| tree.leaf_proba(&r.to_vec())[0])
        .collect();
    assert_eq!(got, vec![1.0, 0.0, 1.0]);
}

#[test]
fn from_json_rejects_damaged_models() -> TestResult {
    let forest = RandomForest::fit(
        &ForestParams {
            n_estimators: 3,
            max_depth: Some(2),
            ..ForestParams::default()
        },
        &iris(),
    )?;
    let json = forest.to_json();
    assert!(matches!(
        RandomForest::from_json("{"),
        Err(MlError::Json(_))
    ));
    let damaged = |edit: fn(&mut serde_json::Value)| -> Result<String, Box<dyn std::error::Error>> {
        let mut value: serde_json::Value = serde_json::from_str(&json)?;
        edit(&mut value);
        Ok(RandomForest::from_json(&value.to_string())
            .expect_err("damaged")
            .to_string())
    };
    let err = damaged(|v| {
        v["trees"][0]["nodes"][1] = serde_json::json!({"leaf": {"proba": [1.0]}});
    })?;
    assert!(
        err.starts_with("tree 0: leaf 1 has 1 class probabilities"),
        "{err}"
    );
    let err = damaged(|v| {
        v["trees"][1]["nodes"][0]["split"]["feature"] = serde_json::json!(4);
    })?;
    assert!(err.starts_with("tree 1: split 0 on column 4"), "{err}");
    let err = damaged(|v| {
        v["trees"][2]["nodes"][0]["split"]["left"] = serde_json::json!(0);
    })?;
    assert!(err.starts_with("tree 2: split 0 points to node 0"), "{err}");
    let err = damaged(|v| v["params"]["n_estimators"] = serde_json::json!(4))?;
    assert!(err.contains("params.n_estimators"), "{err}");
    let err = damaged(|v| v["params"]["max_features"] = serde_json::json!("all"))?;
    assert!(err.contains("invalid value"), "{err}");
    Ok(())
}

#[test]
fn tree_seeds_differ_per_tree_and_state() {
    assert_ne!(tree_seed(42, 0), tree_seed(42, 1));
    assert_ne!(tree_seed(42, 0), tree_seed(43, 0));
    // SplitMix64 reference value for input 0 (first output of a SplitMix64 generator seeded
    // with 0).
    assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
}
