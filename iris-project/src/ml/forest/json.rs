//! The model file: compact, byte-stable JSON, and loading it back with every invariant checked.

use super::RandomForest;
use crate::ml::error::MlError;

impl RandomForest {
    /// Serialises the model as compact JSON.
    ///
    /// Field order is fixed and floats use the shortest exact representation,
    /// so equal models give byte-identical documents.
    pub fn to_json(&self) -> String {
        // Serialising plain structs, vectors, strings and finite floats into a
        // String has no failure path; the fallback only guards that claim.
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":{:?}}}", e.to_string()))
    }

    /// Loads a model written by [`RandomForest::to_json`], checking every
    /// structural invariant so that a damaged file is reported here instead
    /// of causing a wrong index during prediction.
    pub fn from_json(json: &str) -> Result<RandomForest, MlError> {
        let model: RandomForest = serde_json::from_str(json)?;
        model.validate()?;
        Ok(model)
    }

    fn validate(&self) -> Result<(), MlError> {
        self.params.validate()?;
        if self.feature_names.is_empty() {
            return Err(MlError::Empty {
                name: "feature_names",
            });
        }
        if self.class_names.is_empty() {
            return Err(MlError::Empty {
                name: "class_names",
            });
        }
        if self.trees.len() != self.params.n_estimators {
            return Err(MlError::LengthMismatch {
                left_name: "trees",
                left: self.trees.len(),
                right_name: "params.n_estimators",
                right: self.params.n_estimators,
            });
        }
        if self.feature_importances.len() != self.feature_names.len() {
            return Err(MlError::LengthMismatch {
                left_name: "feature_importances",
                left: self.feature_importances.len(),
                right_name: "feature_names",
                right: self.feature_names.len(),
            });
        }
        for (i, tree) in self.trees.iter().enumerate() {
            tree.validate(i, self.feature_names.len(), self.class_names.len())?;
        }
        Ok(())
    }
}
