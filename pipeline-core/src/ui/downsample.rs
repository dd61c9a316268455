//! Metric histories thinned for drawing. A chart a few hundred pixels wide cannot show 10,000
//! steps; sending them all made a 2 MB page drawn as a smear. As MLflow's UI does, the history is
//! cut into buckets of consecutive steps and each keeps its lowest and highest point, so spikes
//! and dips survive while the page stays small. The run page links to the full history.

/// Buckets a drawn history is cut into (so at most twice as many points are drawn).
pub(crate) const BUCKETS: usize = 500;

/// `points` (in step order) thinned to the lowest and highest point of each of `buckets` runs of
/// consecutive points, in step order; the first and last points are always kept. Histories of
/// at most `2 * buckets` points come back whole.
pub(crate) fn min_max(points: &[(i64, f64)], buckets: usize) -> Vec<(i64, f64)> {
    if points.len() <= 2 * buckets || buckets == 0 {
        return points.to_vec();
    }
    let mut out = Vec::with_capacity(2 * buckets + 2);
    for b in 0..buckets {
        let (start, end) = (b * points.len() / buckets, (b + 1) * points.len() / buckets);
        let chunk = &points[start..end];
        let low = (0..chunk.len())
            .min_by(|&i, &j| chunk[i].1.total_cmp(&chunk[j].1))
            .unwrap_or(0);
        let high = (0..chunk.len())
            .max_by(|&i, &j| chunk[i].1.total_cmp(&chunk[j].1))
            .unwrap_or(0);
        let (first, second) = (low.min(high), low.max(high));
        out.push(chunk[first]);
        if second != first {
            out.push(chunk[second]);
        }
    }
    if out.first() != points.first() {
        out.insert(0, points[0]);
    }
    if out.last() != points.last() {
        out.push(points[points.len() - 1]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_histories_are_kept_whole() {
        let points: Vec<(i64, f64)> = (0..10).map(|i| (i, i as f64)).collect();
        assert_eq!(min_max(&points, 5), points);
    }

    #[test]
    fn each_bucket_keeps_its_lowest_and_highest_point_in_step_order() {
        // 10,000 steps of a slow rise with one spike and one dip.
        let mut points: Vec<(i64, f64)> = (0..10_000).map(|i| (i, i as f64 / 10_000.0)).collect();
        points[4_321].1 = 50.0;
        points[7_777].1 = -50.0;
        let thinned = min_max(&points, BUCKETS);
        assert!(thinned.len() <= 2 * BUCKETS + 2, "{}", thinned.len());
        assert!(thinned.contains(&(4_321, 50.0)) && thinned.contains(&(7_777, -50.0)));
        assert_eq!(thinned.first(), Some(&(0, 0.0)));
        assert_eq!(thinned.last(), Some(&(9_999, 0.9999)));
        assert!(thinned.windows(2).all(|w| w[0].0 < w[1].0), "in step order");
    }
}
