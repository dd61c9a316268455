//! Seeded, stratified train/test splitting.
//!
//! Stratification keeps the class proportions of both sides close to those of
//! the full data set, which matters on a data set as small as Iris where a
//! plain shuffle can easily under-represent a species in the test set. The
//! sizes follow scikit-learn's `train_test_split(..., stratify=y)` so numbers
//! are comparable with the Python reference.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::ml::dataset::{check_labels, Dataset};
use crate::ml::error::MlError;

/// Splits `ds` into `(train, test)` with per-class proportions preserved.
///
/// See [`stratified_split_indices`] for how sizes and rows are chosen. Both
/// halves keep the feature and class names of `ds`.
pub fn stratified_split(
    ds: &Dataset,
    test_size: f64,
    seed: u64,
) -> Result<(Dataset, Dataset), MlError> {
    ds.validate()?;
    let (train, test) = stratified_split_indices(&ds.labels, &ds.class_names, test_size, seed)?;
    Ok((ds.select_rows(&train), ds.select_rows(&test)))
}

/// Returns the row indices `(train, test)` of a stratified split of `labels`.
///
/// * The test side has `ceil(test_size * n)` rows in total, as in
///   scikit-learn. That total is shared out over the classes in proportion
///   to their sizes: each class first gets the floor of its exact share and
///   the leftover rows go to the classes with the largest fractional parts.
///   This gives the same per-class counts as scikit-learn's
///   `_approximate_mode`, except that scikit-learn breaks equal fractional
///   parts at random while here the lower class index wins, so the counts
///   never depend on the seed.
/// * Within each class (in class order) the rows are shuffled with one
///   `Xoshiro256PlusPlus::seed_from_u64(seed)` generator, a portable PRNG, so
///   the same seed gives the same split on every platform.
/// * Both index lists are sorted ascending, so row order follows the input.
///
/// Errors: `test_size` not strictly between 0 and 1, no rows, a label that is
/// not a class index, or a class that would be left without a test row or
/// without a training row (see [`test_counts`]).
pub fn stratified_split_indices(
    labels: &[usize],
    class_names: &[String],
    test_size: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>), MlError> {
    if labels.is_empty() {
        return Err(MlError::Empty { name: "labels" });
    }
    let n_classes = class_names.len();
    check_labels("labels", labels, n_classes)?;

    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l].push(i);
    }
    let counts: Vec<usize> = by_class.iter().map(Vec::len).collect();
    let test_counts = test_counts(&counts, class_names, test_size)?;

    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let n_test: usize = test_counts.iter().sum();
    let mut train = Vec::with_capacity(labels.len() - n_test);
    let mut test = Vec::with_capacity(n_test);
    for (mut rows, n_class_test) in by_class.into_iter().zip(test_counts) {
        rows.shuffle(&mut rng);
        test.extend_from_slice(&rows[..n_class_test]);
        train.extend_from_slice(&rows[n_class_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

/// The number of test rows each class gets when classes of `counts` rows are
/// split with `test_size`, as [`stratified_split_indices`] splits them.
///
/// Every class present must keep at least one test row (else its scores are
/// undefined and the split is not stratified) and at least one training row
/// (else the model never sees it); a `test_size` that breaks either is an
/// error naming the class. Classes with no rows at all are ignored.
pub fn test_counts(
    counts: &[usize],
    class_names: &[String],
    test_size: f64,
) -> Result<Vec<usize>, MlError> {
    if !(test_size > 0.0 && test_size < 1.0) {
        return Err(MlError::InvalidParameter {
            name: "test_size",
            reason: format!("must be strictly between 0 and 1, got {test_size:?}"),
        });
    }
    let n: usize = counts.iter().sum();
    if n == 0 {
        return Err(MlError::Empty { name: "labels" });
    }
    // `ceil` of a product of a value in (0, 1) and n lies in 1..=n.
    let n_test = ((test_size * n as f64).ceil() as usize).clamp(1, n);
    let test_counts = approximate_mode(counts, n_test);
    for (class, (&available, &test)) in counts.iter().zip(&test_counts).enumerate() {
        let name = class_names.get(class).map_or("?", String::as_str);
        if available > 0 && test == 0 {
            return Err(MlError::InvalidParameter {
                name: "test_size",
                reason: format!(
                    "{test_size:?} gives {n_test} test row(s) of {n} and none of class `{name}` \
                     ({available} rows); each class needs at least one test row and one \
                     training row"
                ),
            });
        }
        if available > 0 && test == available {
            return Err(MlError::ClassWithoutTrainRows {
                class: name.to_string(),
                available,
                test,
            });
        }
    }
    Ok(test_counts)
}

/// The smallest and largest number of test rows that leave every class of
/// `counts` at least one test row and one training row, if any does.
pub fn valid_test_rows(counts: &[usize]) -> Option<(usize, usize)> {
    let n: usize = counts.iter().sum();
    let valid = |n_test: usize| {
        approximate_mode(counts, n_test)
            .iter()
            .zip(counts)
            .all(|(&test, &available)| available == 0 || (test >= 1 && test < available))
    };
    let lo = (1..n).find(|&m| valid(m))?;
    let hi = (lo..n).rev().find(|&m| valid(m))?;
    Some((lo, hi))
}

/// Shares `n_draws` among classes proportionally to `counts` using exact
/// integer arithmetic (largest remainder, ties to the lower index), so the
/// result never depends on floating-point rounding.
fn approximate_mode(counts: &[usize], n_draws: usize) -> Vec<usize> {
    let total: usize = counts.iter().sum();
    if total == 0 {
        return vec![0; counts.len()];
    }
    let mut alloc: Vec<usize> = counts.iter().map(|&c| n_draws * c / total).collect();
    let mut left = n_draws - alloc.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..counts.len()).collect();
    // Remainder numerators are comparable because they share the denominator.
    order.sort_by_key(|&c| (std::cmp::Reverse(n_draws * counts[c] % total), c));
    for c in order {
        if left == 0 {
            break;
        }
        if alloc[c] < counts[c] {
            alloc[c] += 1;
            left -= 1;
        }
    }
    alloc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::dataset::iris;

    fn class_counts(ds: &Dataset) -> Vec<usize> {
        let mut c = vec![0; ds.n_classes()];
        for &l in &ds.labels {
            c[l] += 1;
        }
        c
    }

    #[test]
    fn iris_default_split_sizes() {
        let (train, test) = stratified_split(&iris(), 0.2, 42).expect("split");
        assert_eq!((train.n_rows(), test.n_rows()), (120, 30));
        assert_eq!(class_counts(&train), vec![40, 40, 40]);
        assert_eq!(class_counts(&test), vec![10, 10, 10]);
        train.validate().expect("train valid");
        test.validate().expect("test valid");
    }

    #[test]
    fn other_sizes_match_sklearn_totals() {
        // (test_size, expected test total, expected per-class test counts);
        // totals are ceil(test_size * 150) as in scikit-learn. For 0.25 each
        // class's exact share is 38 / 3 = 12.67: 12 each, and the 2 leftover
        // rows go to the two lowest class indices (scikit-learn with
        // random_state=0 happens to produce the same [13, 13, 12]).
        let cases: [(f64, usize, [usize; 3]); 4] = [
            (0.25, 38, [13, 13, 12]),
            (0.1, 15, [5, 5, 5]),
            (0.33, 50, [17, 17, 16]),
            (0.5, 75, [25, 25, 25]),
        ];
        let ds = iris();
        for (ts, total, per_class) in cases {
            let (train, test) = stratified_split(&ds, ts, 7).expect("split");
            assert_eq!(test.n_rows(), total, "test_size {ts}");
            assert_eq!(train.n_rows(), 150 - total, "test_size {ts}");
            assert_eq!(class_counts(&test), per_class, "test_size {ts}");
        }
    }

    #[test]
    fn unbalanced_classes_are_proportional() {
        let mut labels = vec![0; 60];
        labels.extend(vec![1; 30]);
        labels.extend(vec![2; 10]);
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let (train, test) = stratified_split_indices(&labels, &names, 0.2, 1).expect("split");
        assert_eq!((train.len(), test.len()), (80, 20));
        let count = |idx: &[usize], c: usize| idx.iter().filter(|&&i| labels[i] == c).count();
        assert_eq!(
            [count(&test, 0), count(&test, 1), count(&test, 2)],
            [12, 6, 2]
        );
    }

    #[test]
    fn indices_are_sorted_disjoint_and_complete() {
        let ds = iris();
        let (train, test) =
            stratified_split_indices(&ds.labels, &ds.class_names, 0.2, 3).expect("split");
        assert!(train.windows(2).all(|w| w[0] < w[1]));
        assert!(test.windows(2).all(|w| w[0] < w[1]));
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..150).collect::<Vec<_>>());
    }

    #[test]
    fn same_seed_same_split_different_seed_different_split() {
        let ds = iris();
        let a = stratified_split_indices(&ds.labels, &ds.class_names, 0.2, 42).expect("a");
        let b = stratified_split_indices(&ds.labels, &ds.class_names, 0.2, 42).expect("b");
        let c = stratified_split_indices(&ds.labels, &ds.class_names, 0.2, 43).expect("c");
        assert_eq!(a, b);
        assert_ne!(a.1, c.1);
        let (train_a, test_a) = stratified_split(&ds, 0.2, 42).expect("split");
        let (train_b, test_b) = stratified_split(&ds, 0.2, 42).expect("split");
        assert_eq!(train_a, train_b);
        assert_eq!(test_a, test_b);
    }

    #[test]
    fn every_class_keeps_a_test_row_and_a_training_row() {
        // A tiny test_size used to give a one-row test side holding a single class.
        let err = stratified_split(&iris(), 1e-320, 42).expect_err("one test row");
        assert_eq!(
            err.to_string(),
            "invalid parameter `test_size`: 1e-320 gives 1 test row(s) of 150 and none of \
             class `versicolor` (50 rows); each class needs at least one test row and one \
             training row"
        );
        // Any data: 2 test rows of 10 cannot cover three classes.
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let labels = [0, 0, 0, 0, 0, 0, 1, 1, 2, 2];
        let err = stratified_split_indices(&labels, &names, 0.2, 0).expect_err("class c");
        assert!(
            err.to_string().contains("none of class `c` (2 rows)"),
            "{err}"
        );
        let (train, test) = stratified_split_indices(&labels, &names, 0.4, 0).expect("split");
        let classes = |rows: &[usize]| {
            let mut c: Vec<usize> = rows.iter().map(|&i| labels[i]).collect();
            c.dedup();
            c
        };
        assert_eq!(classes(&test), [0, 1, 2]);
        assert_eq!(classes(&train), [0, 1, 2]);
        assert_eq!(valid_test_rows(&[6, 2, 2]), Some((4, 6)));
        assert_eq!(valid_test_rows(&[50, 50, 50]), Some((3, 147)));
        assert_eq!(valid_test_rows(&[3, 1]), None);
        assert_eq!(
            test_counts(&[50, 50, 50], &names, 0.2).unwrap(),
            [10, 10, 10]
        );
    }

    #[test]
    fn invalid_arguments_are_rejected() {
        let ds = iris();
        for ts in [0.0, 1.0, -0.1, 1.5, f64::NAN] {
            assert!(
                matches!(
                    stratified_split(&ds, ts, 0),
                    Err(MlError::InvalidParameter {
                        name: "test_size",
                        ..
                    })
                ),
                "test_size {ts}"
            );
        }
        // Three rows of class 0 and one of class 1 with test_size 0.75: 3 test
        // rows, exact shares 2.25 and 0.75, so class 0 gets 2, the leftover
        // row goes to class 1 (larger fraction) and class 1 has no train row.
        let names: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let err = stratified_split_indices(&[0, 0, 0, 1], &names, 0.75, 0).expect_err("class");
        assert!(err.to_string().contains("class `b`"), "{err}");
        assert!(matches!(
            stratified_split_indices(&[], &names, 0.5, 0),
            Err(MlError::Empty { .. })
        ));
        assert!(matches!(
            stratified_split_indices(&[0, 2], &names, 0.5, 0),
            Err(MlError::LabelOutOfRange { index: 1, .. })
        ));
    }
}
