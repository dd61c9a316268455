//! Recording pipeline runs in a tracking store, as MLflow users expect to find them: one parent
//! run per `repro` (or per experiment), one child run per stage that ran, with the stage's
//! params, metrics, artifacts and models; stages restored from the cache are noted on the parent.
//!
//! Nothing is opened until a stage actually runs or is restored, so a `repro` with nothing to do
//! costs no store access. Stage run ids in the embedded store follow from the stage fingerprint:
//! the same inputs give the same run id, which keeps outputs that mention it (the Iris
//! `metadata.json`) reproducible byte for byte.

use super::active_runs;
use super::model::{now_ms, TAG_PIPELINE_HOST, TAG_PIPELINE_PID};
use super::{
    LoggedModelStatus, Metric, NewLoggedModel, Param, RunStatus, SearchQuery, Tag, TrackingError,
    TrackingStore,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

pub use super::active_runs::sweep_abandoned;
pub use super::target::Target;

/// Tag naming what created a parent run: `repro` or `exp`.
pub const TAG_KIND: &str = "pipeline.kind";
/// Tag on stage runs: the stage's name.
pub const TAG_STAGE: &str = "pipeline.stage";
/// The id of the embedded store's run of the stage execution with `fingerprint`: the same in
/// every clone, so a run carried through a remote keeps its links.
pub fn stage_run_id(fingerprint: &str) -> String {
    crate::hash::bytes(format!("stage-run:{fingerprint}").as_bytes())[..32].to_string()
}

/// The id of the embedded store's logged model `name` of stage run `run_id`: the same in every
/// clone, as the run's own id is.
pub fn logged_model_id(run_id: &str, name: &str) -> String {
    let digest = crate::hash::bytes(format!("logged-model:{run_id}/{name}").as_bytes());
    format!("m-{}", &digest[..32])
}

/// Tag on stage runs: the stage fingerprint.
pub const TAG_FINGERPRINT: &str = "pipeline.fingerprint";

/// What a stage logged through its context while it ran.
#[derive(Debug, Default)]
pub struct StageLog {
    /// `ctx.log_param`.
    pub params: Vec<Param>,
    /// `ctx.log_metric`.
    pub metrics: Vec<Metric>,
    /// `ctx.log_artifact` and `ctx.log_model`: local file → artifact path.
    pub artifacts: Vec<(PathBuf, String)>,
    /// `ctx.log_model`: each model, also recorded as an MLflow 3 logged model.
    pub models: Vec<LoggedModelFiles>,
}

/// A model directory a stage logged.
#[derive(Debug)]
pub struct LoggedModelFiles {
    /// The name given to `ctx.log_model` (the directory's name among the run's artifacts).
    pub name: String,
    /// The local directory holding `MLmodel` and the model file.
    pub dir: PathBuf,
    /// The Rust type of the model.
    pub model_type: String,
}

struct Session {
    store: Arc<dyn TrackingStore>,
    experiment_id: String,
    parent: String,
}

/// Records one pipeline run (a `repro` or one experiment).
pub struct Recorder {
    target: Target,
    experiment: String,
    run_name: String,
    kind: &'static str,
    root: PathBuf,
    session: OnceLock<Result<Session, String>>,
    restored: Mutex<BTreeMap<String, String>>,
}

impl Recorder {
    /// A recorder for a run called `run_name` in experiment `experiment` (the pipeline name).
    pub fn new(
        target: Target,
        experiment: &str,
        run_name: &str,
        kind: &'static str,
        root: &Path,
    ) -> Self {
        Recorder {
            target,
            experiment: experiment.to_string(),
            run_name: run_name.to_string(),
            kind,
            root: root.to_path_buf(),
            session: OnceLock::new(),
            restored: Mutex::new(BTreeMap::new()),
        }
    }

    fn session(&self) -> Result<&Session, TrackingError> {
        let session = self
            .session
            .get_or_init(|| self.open_session().map_err(|e| e.to_string()));
        session
            .as_ref()
            .map_err(|message| TrackingError::Unavailable(message.clone()))
    }

    fn open_session(&self) -> Result<Session, TrackingError> {
        let store = self.target.open()?;
        let experiment_id = store.get_or_create_experiment(&self.experiment)?;
        let mut tags = process_tags(&self.root);
        tags.push(Tag::new(TAG_KIND, self.kind));
        let parent = store.create_run(&experiment_id, &self.run_name, None, &tags, now_ms())?;
        // A marker while the run is open: if this process dies, the next `repro` finds it and
        // has the store mark the run KILLED, without opening the store on every start.
        active_runs::opened(&self.root, &parent.run_id, &self.run_name);
        Ok(Session {
            store,
            experiment_id,
            parent: parent.run_id,
        })
    }

    /// The parent run's id, if the run has started.
    pub fn parent_run_id(&self) -> Option<String> {
        self.session
            .get()
            .and_then(|s| s.as_ref().ok())
            .map(|s| s.parent.clone())
    }

    /// The store, opened on first use.
    pub fn store(&self) -> Result<Arc<dyn TrackingStore>, TrackingError> {
        Ok(self.session()?.store.clone())
    }

    /// Starts the child run of a stage about to run; returns its id.
    pub fn start_stage(
        &self,
        stage: &str,
        fingerprint: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<String, TrackingError> {
        let session = self.session()?;
        let wanted = self.target.chooses_ids().then(|| stage_run_id(fingerprint));
        let mut tags = process_tags(&self.root);
        tags.push(Tag::new(TAG_STAGE, stage));
        tags.push(Tag::new(TAG_FINGERPRINT, fingerprint));
        let run_id = match session.store.create_run_with_id(
            wanted.as_deref(),
            &session.experiment_id,
            stage,
            Some(&session.parent),
            &tags,
            now_ms(),
        ) {
            Ok(info) => info.run_id,
            // The same fingerprint ran before (forced, or a parallel experiment): it is the
            // same run, started again under this parent.
            Err(TrackingError::AlreadyExists(_)) if wanted.is_some() => {
                let id = wanted.unwrap_or_default();
                session.store.update_run(&id, RunStatus::Running, None)?;
                tags.push(Tag::new(
                    super::model::TAG_PARENT_RUN_ID,
                    session.parent.as_str(),
                ));
                session.store.log_batch(&id, &[], &[], &tags)?;
                id
            }
            Err(e) => return Err(e),
        };
        active_runs::opened(&self.root, &run_id, stage);
        session
            .store
            .log_batch(&run_id, &[], &logged_params(params), &[])?;
        Ok(run_id)
    }

    /// Completes a stage's run: what it logged, its metrics files, its artifacts.
    pub fn finish_stage(
        &self,
        run_id: &str,
        log: StageLog,
        metrics: &BTreeMap<String, f64>,
        artifacts: &[(PathBuf, String)],
        data: &[(String, String)],
    ) -> Result<(), TrackingError> {
        let session = self.session()?;
        let now = now_ms();
        // The data the stage read, as MLflow's dataset inputs: a stage that logs a model trained
        // on them, any other evaluated with them.
        let trains = !log.models.is_empty();
        let inputs = datasets(data, if trains { "training" } else { "evaluation" });
        session.store.log_inputs(run_id, &inputs)?;
        session.store.log_inputs(&session.parent, &inputs)?;
        let models = self.log_models(session, run_id, &log.models)?;
        let mut all_metrics = log.metrics;
        all_metrics.extend(metrics.iter().map(|(k, v)| Metric::new(k, *v, now, 0)));
        // A stage that logged one model measured that model: its metrics are linked to it, as
        // `mlflow.log_metric(..., model_id=...)` links them.
        if let [model_id] = models.as_slice() {
            for metric in &mut all_metrics {
                metric.model_id = Some(model_id.clone());
            }
        }
        session
            .store
            .log_batch(run_id, &all_metrics, &log.params, &[])?;
        // The parent run gathers every stage's artifacts, so the pipeline run itself carries
        // the model, as an MLflow user looking at that one run expects.
        for (file, path) in log.artifacts.iter().chain(artifacts) {
            session.store.log_artifact(run_id, file, path)?;
            session.store.log_artifact(&session.parent, file, path)?;
        }
        session
            .store
            .update_run(run_id, RunStatus::Finished, Some(now_ms()))?;
        active_runs::closed(&self.root, run_id);
        Ok(())
    }

    /// Records each model a stage logged as an MLflow 3 logged model of its run, with the run's
    /// params, its files and `READY` once they are all in; returns their ids.
    fn log_models(
        &self,
        session: &Session,
        run_id: &str,
        models: &[LoggedModelFiles],
    ) -> Result<Vec<String>, TrackingError> {
        if models.is_empty() {
            return Ok(Vec::new());
        }
        let params = session.store.get_run(run_id)?.params;
        let mut ids = Vec::with_capacity(models.len());
        for files in models {
            let wanted = self
                .target
                .chooses_ids()
                .then(|| logged_model_id(run_id, &files.name));
            let new = NewLoggedModel {
                experiment_id: session.experiment_id.clone(),
                name: files.name.clone(),
                source_run_id: Some(run_id.to_string()),
                model_type: files.model_type.clone(),
                params: params.clone(),
                tags: Vec::new(),
                model_id: wanted.clone(),
            };
            let model_id = match session.store.create_logged_model(&new) {
                Ok(model) => model.model_id,
                // The same stage run again (forced, or a parallel experiment): the same model.
                Err(TrackingError::AlreadyExists(_)) if wanted.is_some() => {
                    wanted.unwrap_or_default()
                }
                Err(e) => return Err(e),
            };
            for file in [crate::predict::MLMODEL_FILE, crate::predict::MODEL_FILE] {
                session
                    .store
                    .log_model_artifact(&model_id, &files.dir.join(file), file)?;
            }
            session
                .store
                .finalize_logged_model(&model_id, LoggedModelStatus::Ready)?;
            ids.push(model_id);
        }
        Ok(ids)
    }

    /// The run that recorded the stage execution with this fingerprint, if the store has one.
    fn run_of(&self, session: &Session, fingerprint: &str) -> Option<String> {
        if self.target.chooses_ids() {
            let id = stage_run_id(fingerprint);
            return session.store.get_run(&id).ok().map(|r| r.info.run_id);
        }
        let query = SearchQuery {
            filter: format!("tags.`{TAG_FINGERPRINT}` = '{fingerprint}'"),
            order_by: vec!["attributes.start_time DESC".to_string()],
            max_results: 1,
            ..SearchQuery::new(std::slice::from_ref(&session.experiment_id))
        };
        let page = session.store.search_runs(&query).ok()?;
        page.runs.into_iter().next().map(|r| r.info.run_id)
    }

    /// Copies every artifact of run `from` onto the parent run.
    fn copy_artifacts(&self, session: &Session, from: &str) -> Result<(), TrackingError> {
        if session.store.list_artifacts(from, None)?.is_empty() {
            return Ok(());
        }
        let scratch =
            tempfile::tempdir().map_err(|e| TrackingError::io("a scratch directory", e))?;
        session.store.download_artifact(from, "", scratch.path())?;
        let mut files = Vec::new();
        collect_files(scratch.path(), scratch.path(), &mut files)
            .map_err(|e| TrackingError::io(scratch.path(), e))?;
        for (file, path) in files {
            session.store.log_artifact(&session.parent, &file, &path)?;
        }
        Ok(())
    }

    /// Marks a stage's run FAILED.
    pub fn fail_stage(&self, run_id: &str, error: &str) {
        if let Ok(session) = self.session() {
            let message: String = error.chars().take(4000).collect();
            let _ = session.store.set_tag(run_id, "pipeline.error", &message);
            if session
                .store
                .update_run(run_id, RunStatus::Failed, Some(now_ms()))
                .is_ok()
            {
                active_runs::closed(&self.root, run_id);
            }
        }
    }

    /// Notes that a stage was restored from the cache instead of running.
    pub fn restored(&self, stage: &str, fingerprint: &str) -> Result<(), TrackingError> {
        let session = self.session()?;
        self.restored
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(stage.to_string(), fingerprint.to_string());
        let source = self.run_of(session, fingerprint);
        if let Some(from) = &source {
            self.copy_artifacts(session, from)?;
        }
        session.store.set_tag(
            &session.parent,
            &format!("pipeline.restored.{stage}"),
            source.as_deref().unwrap_or(fingerprint),
        )
    }

    /// Ends the parent run with the pipeline's params and metrics, if it was started.
    pub fn finish(
        &self,
        ok: bool,
        params: &BTreeMap<String, String>,
        metrics: &BTreeMap<String, f64>,
        artifacts: &[(PathBuf, String)],
    ) -> Result<Option<String>, TrackingError> {
        let Some(Ok(session)) = self.session.get() else {
            return Ok(None);
        };
        let now = now_ms();
        let params = logged_params(params);
        let metrics: Vec<Metric> = metrics
            .iter()
            .map(|(k, v)| Metric::new(k, *v, now, 0))
            .collect();
        session
            .store
            .log_batch(&session.parent, &metrics, &params, &[])?;
        for (file, path) in artifacts {
            session.store.log_artifact(&session.parent, file, path)?;
        }
        let status = if ok {
            RunStatus::Finished
        } else {
            RunStatus::Failed
        };
        session
            .store
            .update_run(&session.parent, status, Some(now_ms()))?;
        active_runs::closed(&self.root, &session.parent);
        Ok(Some(session.parent.clone()))
    }

    /// Starts the parent run even if no stage runs (experiments always get one).
    pub fn ensure_started(&self) -> Result<String, TrackingError> {
        Ok(self.session()?.parent.clone())
    }
}

fn collect_files(base: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(base, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(base) {
            let rel = rel.to_string_lossy().replace('\\', "/");
            out.push((path.clone(), rel));
        }
    }
    Ok(())
}

/// Params as logged: every `section.key`, plus the bare `key` where only one section has it,
/// so MLflow-style filters such as `params.max_depth = '10'` work as they did before.
pub fn logged_params(flat: &BTreeMap<String, String>) -> Vec<Param> {
    let mut bare: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for (key, value) in flat {
        if let Some((_, leaf)) = key.split_once('.') {
            bare.entry(leaf).or_default().push(value);
        }
    }
    let mut out: Vec<Param> = flat.iter().map(|(k, v)| Param::new(k, v)).collect();
    for (leaf, values) in bare {
        if values.len() == 1 && !flat.contains_key(leaf) {
            out.push(Param::new(leaf, values[0].as_str()));
        }
    }
    out
}

/// Tags every run carries: who, where, which commit, which process.
fn process_tags(root: &Path) -> Vec<Tag> {
    let mut tags = vec![
        Tag::new(TAG_PIPELINE_PID, std::process::id().to_string()),
        Tag::new(TAG_PIPELINE_HOST, hostname()),
        Tag::new("mlflow.source.type", "LOCAL"),
        Tag::new("mlflow.source.name", source_name()),
    ];
    tags.push(Tag::new("mlflow.user", user_name()));
    if let Some(commit) = git_commit(root) {
        tags.push(Tag::new("mlflow.source.git.commit", commit));
    }
    tags
}

/// Data dependencies (workspace path, content hash) as MLflow data sets used in `context`.
fn datasets(data: &[(String, String)], context: &str) -> Vec<super::DatasetInput> {
    data.iter()
        .map(|(path, hash)| super::DatasetInput {
            dataset: super::Dataset {
                name: path.clone(),
                digest: hash.chars().take(12).collect(),
                source_type: "local".to_string(),
                source: serde_json::json!({ "uri": path }).to_string(),
                schema: None,
            },
            context: Some(context.to_string()),
        })
        .collect()
}

/// What MLflow calls the run's source: the program that recorded it (the pipeline binary).
fn source_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "pipeline".to_string())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}

/// The login name, as MLflow's `getpass.getuser()` finds it: the environment, else the
/// password database entry of the process's user id.
fn user_name() -> String {
    if let Ok(user) = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")) {
        return user;
    }
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        });
    let from_passwd = uid.and_then(|uid| {
        std::fs::read_to_string("/etc/passwd")
            .ok()?
            .lines()
            .find_map(|line| {
                let fields: Vec<&str> = line.split(':').collect();
                (fields.get(2) == Some(&uid.as_str())).then(|| fields[0].to_string())
            })
    });
    from_passwd.unwrap_or_else(|| "unknown".to_string())
}

fn git_commit(root: &Path) -> Option<String> {
    static COMMIT: OnceLock<Option<String>> = OnceLock::new();
    COMMIT
        .get_or_init(|| {
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(root)
                .args(["rev-parse", "HEAD"])
                .stderr(std::process::Stdio::null())
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
                .filter(|s| s.len() == 40)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_param_names_only_where_unambiguous() {
        let flat = BTreeMap::from([
            ("data.random_state".to_string(), "1".to_string()),
            ("train.random_state".to_string(), "2".to_string()),
            ("train.max_depth".to_string(), "10".to_string()),
        ]);
        let keys: Vec<String> = logged_params(&flat).into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "data.random_state",
                "train.max_depth",
                "train.random_state",
                "max_depth"
            ]
        );
    }
}
