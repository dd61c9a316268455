//! Pre-binned features: every column becomes at most 255 bins, once per fit, so split finding
//! works on byte codes and small histograms instead of sorting values at every node.
//!
//! A column with at most [`MAX_BINS`] distinct values gets one bin per value, so trees see
//! every candidate split a sorting CART implementation sees. A column with more distinct
//! values is cut at quantiles of its rows (distinct values never straddle a cut). Each bin
//! keeps the smallest and largest value it holds: a split between bins `b` and `c` (the
//! nearest non-empty bins of a node) gets the threshold halfway between the largest value of
//! `b` and the smallest of `c`, which routes every training row of the node as its codes do
//! and, with one value per bin, is scikit-learn's threshold (the midpoint between the node's
//! neighbouring values), leaving unseen values in a gap to the nearer side.

use ndarray::ArrayView2;

/// Most bins per feature: codes fit a `u8`.
pub(crate) const MAX_BINS: usize = 255;

/// The binned feature matrix: codes column-major, one byte per cell.
pub(crate) struct Binned {
    n_rows: usize,
    codes: Vec<u8>,
    /// Per feature, the upper bound of every bin but the last, increasing: a value's code is
    /// the first bin whose bound is at least the value.
    cuts: Vec<Vec<f64>>,
    /// Per feature, the smallest and the largest value of every bin.
    ranges: Vec<Vec<(f64, f64)>>,
}

impl Binned {
    /// Bins every column of `x` (finite values, checked by the caller).
    pub(crate) fn new(x: ArrayView2<f64>) -> Binned {
        let n_rows = x.nrows();
        let mut codes = vec![0u8; n_rows * x.ncols()];
        let mut all_cuts = Vec::with_capacity(x.ncols());
        let mut all_ranges = Vec::with_capacity(x.ncols());
        for (f, column) in x.columns().into_iter().enumerate() {
            let values: Vec<f64> = column.iter().copied().collect();
            let cuts = cut_points(&values);
            let mut ranges = vec![(f64::INFINITY, f64::NEG_INFINITY); cuts.len() + 1];
            let out = &mut codes[f * n_rows..(f + 1) * n_rows];
            for (code, &v) in out.iter_mut().zip(&values) {
                let bin = cuts.partition_point(|&t| t < v);
                *code = bin as u8;
                let (lo, hi) = &mut ranges[bin];
                *lo = lo.min(v);
                *hi = hi.max(v);
            }
            all_cuts.push(cuts);
            all_ranges.push(ranges);
        }
        Binned {
            n_rows,
            codes,
            cuts: all_cuts,
            ranges: all_ranges,
        }
    }

    /// The codes of feature `f`, one per row.
    pub(crate) fn column(&self, f: usize) -> &[u8] {
        &self.codes[f * self.n_rows..(f + 1) * self.n_rows]
    }

    /// Number of bins of feature `f` (1 for a constant column).
    pub(crate) fn n_bins(&self, f: usize) -> usize {
        self.cuts[f].len() + 1
    }

    /// The raw-value threshold of a split of feature `f` whose left side ends with bin `left`
    /// and whose right side starts with bin `right` (`left < right`, both holding rows).
    pub(crate) fn threshold(&self, f: usize, left: usize, right: usize) -> f64 {
        midpoint(self.ranges[f][left].1, self.ranges[f][right].0)
    }

    pub(crate) fn n_features(&self) -> usize {
        self.cuts.len()
    }
}

/// Bin upper bounds for one column: midpoints between the last distinct value of a bin and the
/// first of the next. (Codes need only some bound in that gap; thresholds come from the bins'
/// value ranges.)
fn cut_points(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    // Distinct values and how many rows hold each.
    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for &v in &sorted {
        match distinct.last_mut() {
            // `==` rather than bit equality, so -0.0 and 0.0 share a bin.
            Some((last, count)) if *last == v => *count += 1,
            _ => distinct.push((v, 1)),
        }
    }
    if distinct.len() <= MAX_BINS {
        return distinct
            .windows(2)
            .map(|w| midpoint(w[0].0, w[1].0))
            .collect();
    }
    // Greedy quantile cuts: close a bin once it holds its share of the rows not yet binned,
    // so a value that fills many rows on its own does not starve the bins after it.
    let mut cuts = Vec::with_capacity(MAX_BINS - 1);
    let mut remaining_rows = sorted.len();
    let mut in_bin = 0usize;
    for (i, &(v, count)) in distinct.iter().enumerate() {
        in_bin += count;
        let bins_left = MAX_BINS - cuts.len();
        let values_left = distinct.len() - i - 1;
        if bins_left <= 1 || values_left == 0 {
            continue;
        }
        // Cut when this bin reached its share, or when every remaining value needs a bin.
        if in_bin * bins_left >= remaining_rows || values_left < bins_left {
            cuts.push(midpoint(v, distinct[i + 1].0));
            remaining_rows -= in_bin;
            in_bin = 0;
        }
    }
    cuts
}

/// A threshold `t` with `a <= t < b` for `a < b`: the midpoint, or `a` when the midpoint
/// rounds up to `b` (neighbouring floats).
fn midpoint(a: f64, b: f64) -> f64 {
    let m = a / 2.0 + b / 2.0;
    if m >= b || m < a {
        a
    } else {
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn few_distinct_values_get_one_bin_each_with_midpoints() {
        let x = Array2::from_shape_vec((5, 1), vec![3.0, 1.0, 2.0, 1.0, 3.0]).expect("shape");
        let b = Binned::new(x.view());
        assert_eq!(b.n_bins(0), 3);
        assert_eq!(b.column(0), &[2, 0, 1, 0, 2]);
        assert_eq!((b.threshold(0, 0, 1), b.threshold(0, 1, 2)), (1.5, 2.5));
        // A node without the middle value splits halfway between its own neighbours.
        assert_eq!(b.threshold(0, 0, 2), 2.0);
    }

    #[test]
    fn many_distinct_values_are_cut_at_quantiles_and_codes_respect_thresholds() {
        let n = 10_000;
        let values: Vec<f64> = (0..n).map(|i| ((i * 7919) % n) as f64 * 0.37).collect();
        let x = Array2::from_shape_vec((n, 1), values.clone()).expect("shape");
        let b = Binned::new(x.view());
        assert_eq!(b.n_bins(0), MAX_BINS);
        let mut per_bin = vec![0usize; MAX_BINS];
        for (&code, &v) in b.column(0).iter().zip(&values) {
            let code = code as usize;
            per_bin[code] += 1;
            if code < MAX_BINS - 1 {
                assert!(v <= b.cuts[0][code] && v <= b.threshold(0, code, code + 1));
            }
            if code > 0 {
                assert!(v > b.cuts[0][code - 1] && v > b.threshold(0, code - 1, code));
            }
        }
        // Equal-frequency bins: 10,000 rows over 255 bins is 39 or 40 rows each.
        assert!(
            per_bin.iter().all(|&c| (39..=40).contains(&c)),
            "{per_bin:?}"
        );
    }

    #[test]
    fn a_heavy_value_keeps_its_own_bin_and_later_values_still_get_bins() {
        let mut values = vec![0.0; 5000];
        values.extend((1..=1000).map(|i| i as f64));
        let x = Array2::from_shape_vec((values.len(), 1), values).expect("shape");
        let b = Binned::new(x.view());
        assert_eq!(b.n_bins(0), MAX_BINS);
        assert_eq!(b.threshold(0, 0, 1), 0.5);
        assert!(b.column(0)[..5000].iter().all(|&c| c == 0));
    }

    #[test]
    fn neighbouring_floats_split_at_the_lower_one() {
        let a = 1.0f64;
        let b = f64::from_bits(a.to_bits() + 1);
        assert_eq!(midpoint(a, b), a);
        let x = Array2::from_shape_vec((3, 1), vec![b, a, -0.0]).expect("shape");
        let binned = Binned::new(x.view());
        assert_eq!(binned.column(0), &[2, 1, 0]);
    }

    #[test]
    fn a_constant_column_has_one_bin() {
        let x = Array2::from_elem((4, 2), 7.0);
        let b = Binned::new(x.view());
        assert_eq!((b.n_bins(0), b.n_bins(1)), (1, 1));
        assert!(b.column(1).iter().all(|&c| c == 0));
    }
}
