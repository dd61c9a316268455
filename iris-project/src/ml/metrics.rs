//! Classification metrics computed from scratch.
//!
//! Kept independent of linfa so the definitions are visible in one place and
//! match scikit-learn's (`precision_recall_fscore_support` with
//! `average="macro"` over all classes and `zero_division=0`), which makes the
//! numbers directly comparable with a Python reference run.

use serde::Serialize;

use crate::ml::dataset::check_labels;
use crate::ml::error::MlError;

/// Scores of one class in a one-vs-rest view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    /// Class name.
    pub class: String,
    /// Of the rows predicted as this class, the share that truly are.
    pub precision: f64,
    /// Of the rows truly of this class, the share predicted as it.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Number of rows truly of this class.
    pub support: usize,
}

/// Summary of a set of predictions against the truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Share of rows predicted correctly.
    pub accuracy: f64,
    /// Unweighted mean of per-class precision over all classes.
    pub macro_precision: f64,
    /// Unweighted mean of per-class recall over all classes.
    pub macro_recall: f64,
    /// Unweighted mean of per-class F1 over all classes.
    pub macro_f1: f64,
    /// One entry per class, in class-index order.
    pub per_class: Vec<ClassMetrics>,
    /// `confusion_matrix[t][p]` counts rows of true class `t` predicted as `p`.
    pub confusion_matrix: Vec<Vec<usize>>,
}

/// `num / den`, or 0 when the denominator is 0 (scikit-learn's
/// `zero_division=0`), so a class that is never predicted or never present
/// scores 0 instead of producing NaN.
fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Compares `pred` with `truth`; both hold class indices into `class_names`.
///
/// Macro averages include every class in `class_names`, also those absent
/// from both inputs (scikit-learn with an explicit `labels=` list). F1 is
/// computed as `2tp / (2tp + fp + fn)`, which equals the harmonic mean and is
/// 0 when there are no true or predicted rows of the class.
///
/// Errors on different lengths, empty input, no classes, or labels that are
/// not class indices (the message names `truth` or `pred` and the index).
pub fn evaluate(
    truth: &[usize],
    pred: &[usize],
    class_names: &[String],
) -> Result<Metrics, MlError> {
    if truth.len() != pred.len() {
        return Err(MlError::LengthMismatch {
            left_name: "truth",
            left: truth.len(),
            right_name: "pred",
            right: pred.len(),
        });
    }
    if truth.is_empty() {
        return Err(MlError::Empty { name: "truth" });
    }
    if class_names.is_empty() {
        return Err(MlError::Empty {
            name: "class_names",
        });
    }
    let k = class_names.len();
    check_labels("truth", truth, k)?;
    check_labels("pred", pred, k)?;

    let mut cm = vec![vec![0usize; k]; k];
    for (&t, &p) in truth.iter().zip(pred) {
        cm[t][p] += 1;
    }
    let correct: usize = (0..k).map(|c| cm[c][c]).sum();
    let per_class: Vec<ClassMetrics> = (0..k)
        .map(|c| {
            let tp = cm[c][c];
            let support: usize = cm[c].iter().sum();
            let predicted: usize = cm.iter().map(|row| row[c]).sum();
            let (fp, fn_) = (predicted - tp, support - tp);
            ClassMetrics {
                class: class_names[c].clone(),
                precision: ratio(tp, predicted),
                recall: ratio(tp, support),
                f1: ratio(2 * tp, 2 * tp + fp + fn_),
                support,
            }
        })
        .collect();
    let mean = |f: fn(&ClassMetrics) -> f64| per_class.iter().map(f).sum::<f64>() / k as f64;
    Ok(Metrics {
        accuracy: ratio(correct, truth.len()),
        macro_precision: mean(|m| m.precision),
        macro_recall: mean(|m| m.recall),
        macro_f1: mean(|m| m.f1),
        per_class,
        confusion_matrix: cm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        ["a", "b", "c", "d"][..n]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn perfect_predictions() {
        let m = evaluate(&[0, 1, 2, 2], &[0, 1, 2, 2], &names(3)).expect("ok");
        assert_eq!(m.accuracy, 1.0);
        assert_eq!(
            (m.macro_precision, m.macro_recall, m.macro_f1),
            (1.0, 1.0, 1.0)
        );
        assert_eq!(
            m.confusion_matrix,
            vec![vec![1, 0, 0], vec![0, 1, 0], vec![0, 0, 2]]
        );
        assert_eq!(
            m.per_class.iter().map(|c| c.support).collect::<Vec<_>>(),
            vec![1, 1, 2]
        );
    }

    #[test]
    fn asymmetric_hand_computed_case() {
        // truth = [0, 0, 0, 1, 1, 2], pred = [0, 0, 1, 1, 2, 2]
        // Confusion matrix (rows = truth, columns = prediction):
        //   a: [2, 1, 0]   b: [0, 1, 1]   c: [0, 0, 1]
        // class a: tp=2, predicted=2, support=3 -> P = 2/2 = 1,   R = 2/3, F1 = 4/(4+0+1) = 4/5
        // class b: tp=1, predicted=2, support=2 -> P = 1/2,       R = 1/2, F1 = 2/(2+1+1) = 1/2
        // class c: tp=1, predicted=2, support=1 -> P = 1/2,       R = 1,   F1 = 2/(2+1+0) = 2/3
        // accuracy = 4/6; macro P = (1 + 1/2 + 1/2)/3 = 2/3;
        // macro R = (2/3 + 1/2 + 1)/3 = 13/18; macro F1 = (4/5 + 1/2 + 2/3)/3 = 59/90.
        // Class a has P > R and class c has P < R, so swapping the two fails.
        let m = evaluate(&[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 2, 2], &names(3)).expect("ok");
        assert_eq!(
            m.confusion_matrix,
            vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]
        );
        assert!(close(m.accuracy, 4.0 / 6.0));
        let expected = [
            (1.0, 2.0 / 3.0, 0.8, 3),
            (0.5, 0.5, 0.5, 2),
            (0.5, 1.0, 2.0 / 3.0, 1),
        ];
        for (c, (p, r, f, s)) in m.per_class.iter().zip(expected) {
            assert!(
                close(c.precision, p),
                "{} precision {}",
                c.class,
                c.precision
            );
            assert!(close(c.recall, r), "{} recall {}", c.class, c.recall);
            assert!(close(c.f1, f), "{} f1 {}", c.class, c.f1);
            assert_eq!(c.support, s);
        }
        assert_eq!(m.per_class[0].class, "a");
        assert!(close(m.macro_precision, 2.0 / 3.0));
        assert!(close(m.macro_recall, 13.0 / 18.0));
        assert!(close(m.macro_f1, 59.0 / 90.0));
    }

    #[test]
    fn zero_division_gives_zero() {
        // truth = [0, 0], pred = [0, 1], classes a, b, c.
        // a: tp=1, predicted=1, support=2 -> P = 1, R = 1/2, F1 = 2/(2+0+1) = 2/3
        // b: tp=0, predicted=1, support=0 -> P = 0/1 = 0, R = 0/0 -> 0, F1 = 0/1 = 0
        // c: never seen -> P = R = F1 = 0
        // macro P = 1/3, macro R = 1/6, macro F1 = 2/9, accuracy = 1/2.
        let m = evaluate(&[0, 0], &[0, 1], &names(3)).expect("ok");
        assert!(close(m.accuracy, 0.5));
        assert!(close(m.per_class[0].f1, 2.0 / 3.0));
        assert_eq!(
            (
                m.per_class[1].precision,
                m.per_class[1].recall,
                m.per_class[1].f1
            ),
            (0.0, 0.0, 0.0)
        );
        assert_eq!(
            (
                m.per_class[2].precision,
                m.per_class[2].recall,
                m.per_class[2].f1
            ),
            (0.0, 0.0, 0.0)
        );
        assert!(close(m.macro_precision, 1.0 / 3.0));
        assert!(close(m.macro_recall, 1.0 / 6.0));
        assert!(close(m.macro_f1, 2.0 / 9.0));
        assert!(m.macro_f1.is_finite());
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(matches!(
            evaluate(&[0, 1], &[0], &names(2)),
            Err(MlError::LengthMismatch { .. })
        ));
        assert!(matches!(
            evaluate(&[], &[], &names(2)),
            Err(MlError::Empty { .. })
        ));
        assert!(matches!(
            evaluate(&[0], &[0], &[]),
            Err(MlError::Empty { .. })
        ));
        let err = evaluate(&[0, 1], &[0, 5], &names(2)).expect_err("range");
        assert_eq!(
            err.to_string(),
            "`pred`[1] = 5 is not a valid class index (there are 2 classes)"
        );
    }

    #[test]
    fn serialises_to_json() {
        let m = evaluate(&[0, 1], &[0, 0], &names(2)).expect("ok");
        let json = serde_json::to_string(&m).expect("json");
        assert!(json.contains("\"confusion_matrix\":[[1,0],[1,0]]"));
        assert!(json.contains("\"class\":\"b\""));
    }
}
