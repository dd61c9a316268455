//! Where the served model comes from: the URIs `predict` takes (`runs:/…`, `models:/name/N`,
//! `models:/name/latest`, `models:/name@alias`, or a path), resolved against the tracking store,
//! downloaded into a scratch directory and loaded once through the pipeline's `Predictor`.

use crate::predict::{LoadedModel, Predictor};
use crate::tracking::{ModelUri, Target, TrackingStore};
use anyhow::{bail, Context as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Which stored model a URI names right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Designation {
    /// The `runs:/` URI of the model files, or the local path.
    pub source: String,
    /// The run that produced the model, when known.
    pub run_id: Option<String>,
    /// The registered model's name and version, for `models:/` URIs.
    pub version: Option<(String, u64)>,
    /// The MLflow 3 logged model, when known.
    pub model_id: Option<String>,
}

/// A model ready to serve, with what `/metadata` says about it.
pub struct ServedModel {
    /// The loaded model.
    pub model: Box<dyn LoadedModel>,
    /// Which stored model it is.
    pub designation: Designation,
    /// The latest value of each metric of the run that produced it (empty when unknown).
    pub metrics: Vec<(String, f64)>,
}

/// Resolves and loads the model a URI names.
pub struct ModelSource {
    uri: String,
    root: PathBuf,
    tracking: Target,
    store: std::sync::OnceLock<Arc<dyn TrackingStore>>,
    predictor: Arc<dyn Predictor>,
}

impl ModelSource {
    /// The model named `uri`; a path is relative to `root` (the workspace); `runs:/` and
    /// `models:/` URIs are resolved in `tracking`.
    pub fn new(
        uri: &str,
        root: &Path,
        tracking: Target,
        predictor: Arc<dyn Predictor>,
    ) -> anyhow::Result<Self> {
        if is_store_uri(uri) {
            ModelUri::parse(uri)?;
        }
        Ok(ModelSource {
            uri: uri.to_string(),
            root: root.to_path_buf(),
            tracking,
            store: std::sync::OnceLock::new(),
            predictor,
        })
    }

    /// The URI as given.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The alias of a `models:/name@alias` URI: only such a model can move.
    pub fn alias(&self) -> Option<String> {
        match ModelUri::parse(&self.uri) {
            Ok(ModelUri::ModelAlias { alias, .. }) => Some(alias),
            _ => None,
        }
    }

    /// Whether the URI can name another model later (an alias or `latest`).
    pub fn can_move(&self) -> bool {
        matches!(
            ModelUri::parse(&self.uri),
            Ok(ModelUri::ModelAlias { .. } | ModelUri::ModelLatest { .. })
        )
    }

    fn store(&self) -> anyhow::Result<&Arc<dyn TrackingStore>> {
        if let Some(store) = self.store.get() {
            return Ok(store);
        }
        let store = self.tracking.open().context("opening the tracking store")?;
        Ok(self.store.get_or_init(|| store))
    }

    /// Which model the URI names now: a registry look-up for `models:/` URIs, nothing is
    /// downloaded.
    pub fn designate(&self) -> anyhow::Result<Designation> {
        if !is_store_uri(&self.uri) {
            let path = self.root.join(&self.uri);
            if !path.exists() {
                bail!(
                    "model `{}` not found (expected runs:/…, models:/… or a path)",
                    self.uri
                );
            }
            return Ok(Designation {
                source: path.display().to_string(),
                run_id: None,
                version: None,
                model_id: None,
            });
        }
        match ModelUri::parse(&self.uri)? {
            ModelUri::Run { run_id, .. } => Ok(Designation {
                source: self.uri.clone(),
                run_id: Some(run_id),
                version: None,
                model_id: None,
            }),
            ModelUri::LoggedModel { model_id } => {
                let model = self.store()?.get_logged_model(&model_id)?;
                Ok(Designation {
                    source: self.uri.clone(),
                    run_id: model.source_run_id,
                    version: None,
                    model_id: Some(model_id),
                })
            }
            _ => {
                let version = self.store()?.resolve_model_uri(&self.uri)?;
                Ok(Designation {
                    source: version.source,
                    run_id: version.run_id,
                    version: Some((version.name, version.version)),
                    model_id: version.model_id,
                })
            }
        }
    }

    /// Downloads (into `scratch`, for store URIs) the model `designation` names and returns its
    /// local path.
    pub fn fetch(&self, designation: &Designation, scratch: &Path) -> anyhow::Result<PathBuf> {
        if !is_store_uri(&self.uri) {
            return Ok(PathBuf::from(&designation.source));
        }
        let dest = scratch.join("model");
        // A version whose source is a bucket.
        let in_bucket = ["s3://", "gs://", "az://", "azure://"]
            .iter()
            .any(|scheme| designation.source.starts_with(scheme));
        if in_bucket {
            crate::data::remote::download_prefix(&designation.source, &dest)
                .with_context(|| format!("downloading {}", designation.source))?;
            return Ok(dest);
        }
        // `runs:/…`, or the `mlflow-artifacts:/<exp>/<run>/artifacts/…` a Python-registered
        // version carries; else an MLflow 3 logged model, by its source (`models:/m-<id>`) or
        // by the id the version carries.
        let run_artifact = crate::tracking::run_artifact_of_source(&designation.source);
        let logged = crate::tracking::logged_model_of_source(&designation.source).or_else(|| {
            run_artifact
                .is_none()
                .then(|| designation.model_id.clone())
                .flatten()
        });
        match (logged, run_artifact) {
            (Some(model_id), _) => self
                .store()?
                .download_model_artifact(&model_id, "", &dest)
                .with_context(|| format!("downloading logged model {model_id}"))?,
            (None, Some((run_id, path))) => self
                .store()?
                .download_artifact(&run_id, &path, &dest)
                .with_context(|| format!("downloading {}", designation.source))?,
            (None, None) => bail!(
                "model `{}` points at `{}`, which names no run's artifact (runs:/… or mlflow-artifacts:/…/<run>/artifacts/…), no logged model (models:/m-<id>) nor a bucket (s3://, gs://, azure://)",
                self.uri,
                designation.source
            ),
        }
        Ok(dest)
    }

    /// Loads the model `designation` names, with the metrics of its run.
    pub fn load(&self, designation: Designation) -> anyhow::Result<ServedModel> {
        let scratch = tempfile::tempdir().context("creating a scratch directory")?;
        let path = self.fetch(&designation, scratch.path())?;
        let model = self
            .predictor
            .load(&path)
            .with_context(|| format!("loading {}", designation.source))?;
        let metrics = match &designation.run_id {
            Some(run_id) if is_store_uri(&self.uri) => self
                .store()?
                .get_run(run_id)
                .map(|run| run.metrics.into_iter().map(|m| (m.key, m.value)).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        Ok(ServedModel {
            model,
            designation,
            metrics,
        })
    }
}

/// Whether `uri` names a model in the tracking store rather than a path.
fn is_store_uri(uri: &str) -> bool {
    uri.starts_with("runs:/") || uri.starts_with("models:/")
}
