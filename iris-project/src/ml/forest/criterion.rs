//! Impurities of weighted class counts, and the score that ranks candidate splits.
//!
//! Every function here uses only `+ - * /`, which IEEE 754 rounds the same way on every
//! machine, and a logarithm of its own built from them: the platform's `ln` may differ in the
//! last bit between C libraries, which would let near-tied entropy splits swap between
//! machines and break the promise that a model depends only on data and params.

use super::params::Criterion;

/// `ln(x)` for finite `x > 0`, to within a few units in the last place, computed identically on
/// every platform: `x = m * 2^e` with `m` in `[sqrt(1/2), sqrt(2))`, then
/// `ln m = 2 atanh(s)`, `s = (m - 1) / (m + 1)`, by its odd power series (|s| < 0.172, so 12
/// terms reach below 1e-19).
pub(crate) fn portable_ln(x: f64) -> f64 {
    if x <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let (mut m, mut e) = if x < f64::MIN_POSITIVE {
        // Subnormal: scale into the normal range first (exact).
        (x * 2f64.powi(54), -54i64)
    } else {
        (x, 0i64)
    };
    let bits = m.to_bits();
    e += ((bits >> 52) & 0x7ff) as i64 - 1022;
    m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52)); // in [0.5, 1)
    if m < std::f64::consts::FRAC_1_SQRT_2 {
        m *= 2.0;
        e -= 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = 0.0;
    for k in 0..12 {
        sum += term / (2 * k + 1) as f64;
        term *= s2;
    }
    // ln 2 split in a part exact in few bits and a correction, so `e * ln2` stays accurate.
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let e = e as f64;
    e * LN2_HI + (2.0 * sum + e * LN2_LO)
}

/// `W * impurity` of a node whose class weights are `w` (summing to `total`): the quantity
/// whose decrease ranks splits and accumulates into feature importances.
pub(crate) fn weighted_impurity(criterion: Criterion, w: &[f64], total: f64) -> f64 {
    if total <= 0.0 {
        return 0.0;
    }
    match criterion {
        // W (1 - sum p^2) = W - sum w^2 / W
        Criterion::Gini => total - w.iter().map(|&c| c * c).sum::<f64>() / total,
        // W (-sum p ln p) = W ln W - sum w ln w
        Criterion::Entropy => {
            total * portable_ln(total)
                - w.iter()
                    .filter(|&&c| c > 0.0)
                    .map(|&c| c * portable_ln(c))
                    .sum::<f64>()
        }
    }
}

/// Score of a split into `left` and `right` (class weights and their sums): higher is better.
/// Only the children's impurities matter, since the parent's is the same for every candidate.
pub(crate) fn split_score(
    criterion: Criterion,
    left: &[f64],
    left_total: f64,
    right: &[f64],
    right_total: f64,
) -> f64 {
    match criterion {
        // Dropping the constant W_L + W_R from -(W_L gini_L + W_R gini_R).
        Criterion::Gini => {
            left.iter().map(|&c| c * c).sum::<f64>() / left_total
                + right.iter().map(|&c| c * c).sum::<f64>() / right_total
        }
        Criterion::Entropy => {
            -(weighted_impurity(criterion, left, left_total)
                + weighted_impurity(criterion, right, right_total))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_ln_matches_the_library_logarithm() {
        let mut x = 1e-310;
        while x < 1e300 {
            let (ours, std) = (portable_ln(x), x.ln());
            assert!(
                (ours - std).abs() <= 4.0 * f64::EPSILON * std.abs().max(1.0),
                "ln({x}) = {ours}, std {std}"
            );
            x *= 1.37;
        }
        assert_eq!(portable_ln(1.0), 0.0);
        assert_eq!(portable_ln(0.0), f64::NEG_INFINITY);
    }

    #[test]
    fn impurities_of_known_counts() {
        // Two equal classes: Gini 0.5, entropy ln 2, times the weight 4.
        let w = [2.0, 2.0];
        assert_eq!(weighted_impurity(Criterion::Gini, &w, 4.0), 2.0);
        let e = weighted_impurity(Criterion::Entropy, &w, 4.0);
        assert!((e - 4.0 * std::f64::consts::LN_2).abs() < 1e-12, "{e}");
        // A pure node has no impurity.
        assert_eq!(weighted_impurity(Criterion::Gini, &[3.0, 0.0], 3.0), 0.0);
        assert_eq!(weighted_impurity(Criterion::Entropy, &[3.0, 0.0], 3.0), 0.0);
    }

    #[test]
    fn the_purer_split_scores_higher() {
        for criterion in [Criterion::Gini, Criterion::Entropy] {
            let pure = split_score(criterion, &[4.0, 0.0], 4.0, &[0.0, 4.0], 4.0);
            let mixed = split_score(criterion, &[3.0, 1.0], 4.0, &[1.0, 3.0], 4.0);
            assert!(pure > mixed, "{criterion:?}");
        }
    }
}
