//! linfa's `Fit` and `Predict` traits, so any linfa pipeline can train and use the forest on
//! a `DatasetBase<Array2<f64>, Array1<usize>>`.

use linfa::dataset::DatasetBase;
use linfa::traits::{Fit, PredictInplace};
use ndarray::{Array1, Array2, ArrayBase, Data, Ix2};

use super::{ForestParams, RandomForest};
use crate::ml::dataset::Dataset;
use crate::ml::error::MlError;

impl Fit<Array2<f64>, Array1<usize>, MlError> for ForestParams {
    type Object = RandomForest;

    /// Fits a forest as [`RandomForest::fit`] does. Classes are the labels `0..=max`, named by
    /// their number; features keep the dataset's names, or are named `x0`, `x1`, … when it
    /// has none. The dataset's sample weights are not used (use `class_weight` for
    /// per-class weights).
    fn fit(
        &self,
        dataset: &DatasetBase<Array2<f64>, Array1<usize>>,
    ) -> Result<RandomForest, MlError> {
        let features = dataset.records().clone();
        let labels: Vec<usize> = dataset.targets().iter().copied().collect();
        let n_classes = labels.iter().max().map_or(0, |&m| m + 1);
        let feature_names = match dataset.feature_names() {
            names if names.len() == features.ncols() => names.to_vec(),
            _ => (0..features.ncols()).map(|i| format!("x{i}")).collect(),
        };
        let data = Dataset {
            features,
            labels,
            feature_names,
            class_names: (0..n_classes).map(|c| c.to_string()).collect(),
        };
        RandomForest::fit(self, &data)
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<usize>> for RandomForest {
    /// Writes the predicted class of every row into `y`.
    ///
    /// linfa's trait has no error path, so, like linfa's own models, this panics when `x`
    /// has a different number of columns than the training data or `y` a different length
    /// than `x`; [`RandomForest::predict`] reports those as errors instead.
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<usize>) {
        assert_eq!(
            x.ncols(),
            self.feature_names.len(),
            "the forest was trained on {} features",
            self.feature_names.len()
        );
        assert_eq!(x.nrows(), y.len(), "one target per row");
        let classes = super::argmax_rows(&self.proba_unchecked(x.view()));
        y.iter_mut().zip(classes).for_each(|(t, c)| *t = c);
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<usize> {
        Array1::zeros(x.nrows())
    }
}
