//! Tracking store backed by an MLflow tracking server's REST API.
//!
//! Teams that already run MLflow can point the engine at their server and see
//! pipeline runs in the MLflow UI. The client keeps MLflow's rules on its side
//! too (key validation, param immutability, filter syntax) so that mistakes
//! produce the same typed errors as with the embedded store, and it splits
//! large batches to stay within the server's per-request limits.
//!
//! Artifacts go through the server's artifact proxy (`mlflow server
//! --serve-artifacts`): a run's `artifact_uri` of the form
//! `mlflow-artifacts:/<experiment>/<run>/artifacts` maps to
//! `<base>/api/2.0/mlflow-artifacts/artifacts/<experiment>/<run>/artifacts/<path>`.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;

use super::error::{Result, TrackingError};
use super::filter::{Filter, OrderBy};
use super::model::{
    normalize_artifact_path, now_ms, validate_alias, validate_batch, validate_experiment_name,
    validate_model_name, validate_tag, Experiment, FileInfo, Metric, ModelVersion, Param,
    RegisteredModel, Run, RunInfo, RunStatus, Tag, MAX_ENTITIES_PER_BATCH, MAX_METRICS_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH, MAX_SEARCH_RESULTS, TAG_PARENT_RUN_ID, TAG_RUN_NAME,
};
use super::store::TrackingStore;

/// Largest JSON body sent to `log-batch`; MLflow rejects requests over 1,000,000 bytes.
const MAX_BATCH_BYTES: usize = 900_000;
/// Largest JSON response read into memory.
const MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;
const API: &str = "/api/2.0/mlflow";
const ARTIFACTS_API: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// Client for an MLflow tracking server.
#[derive(Debug)]
pub struct RestStore {
    agent: ureq::Agent,
    base: String,
    /// run id -> artifact_uri; a run's artifact root never changes.
    artifact_roots: Mutex<HashMap<String, String>>,
}

// ---------------------------------------------------------------------------
// Wire format

/// Accepts an int64 as a JSON number or string (protobuf's JSON mapping
/// allows both; MLflow emits numbers).
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrStr {
        I(i64),
        F(f64),
        S(String),
    }
    Ok(match Option::<NumOrStr>::deserialize(d)? {
        None => None,
        Some(NumOrStr::I(v)) => Some(v),
        Some(NumOrStr::F(v)) => Some(v as i64),
        Some(NumOrStr::S(s)) => Some(
            s.parse::<i64>()
                .map_err(|_| serde::de::Error::custom(format!("'{s}' is not an integer")))?,
        ),
    })
}

#[derive(Deserialize)]
struct WireExperiment {
    experiment_id: String,
    name: String,
    #[serde(default)]
    lifecycle_stage: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    creation_time: Option<i64>,
}

impl From<WireExperiment> for Experiment {
    fn from(w: WireExperiment) -> Self {
        Experiment {
            experiment_id: w.experiment_id,
            name: w.name,
            lifecycle_stage: w.lifecycle_stage.unwrap_or_else(|| "active".into()),
            creation_time: w.creation_time.unwrap_or(0),
        }
    }
}

#[derive(Deserialize)]
struct WireRunInfo {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    #[serde(default)]
    run_name: Option<String>,
    experiment_id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    start_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    end_time: Option<i64>,
    #[serde(default)]
    artifact_uri: Option<String>,
}

#[derive(Deserialize)]
struct WireMetric {
    key: String,
    #[serde(with = "super::model::json_f64")]
    value: f64,
    #[serde(default, deserialize_with = "lenient_i64")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    step: Option<i64>,
}

impl From<WireMetric> for Metric {
    fn from(w: WireMetric) -> Self {
        Metric {
            key: w.key,
            value: w.value,
            timestamp: w.timestamp.unwrap_or(0),
            step: w.step.unwrap_or(0),
        }
    }
}

#[derive(Deserialize, Default)]
struct WireRunData {
    #[serde(default)]
    metrics: Vec<WireMetric>,
    #[serde(default)]
    params: Vec<Param>,
    #[serde(default)]
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
struct WireRun {
    info: WireRunInfo,
    #[serde(default)]
    data: WireRunData,
}

fn run_info_from_wire(w: WireRunInfo, endpoint: &str) -> Result<RunInfo> {
    let run_id = w
        .run_id
        .or(w.run_uuid)
        .ok_or_else(|| TrackingError::Protocol {
            endpoint: endpoint.to_string(),
            message: "run info without run_id".into(),
        })?;
    Ok(RunInfo {
        run_name: w.run_name.unwrap_or_default(),
        experiment_id: w.experiment_id,
        status: w.status.as_deref().unwrap_or("RUNNING").parse()?,
        start_time: w.start_time.unwrap_or(0),
        end_time: w.end_time,
        artifact_uri: w.artifact_uri.unwrap_or_default(),
        run_id,
    })
}

fn run_from_wire(w: WireRun, endpoint: &str) -> Result<Run> {
    let mut params = w.data.params;
    let mut tags = w.data.tags;
    let mut metrics: Vec<Metric> = w.data.metrics.into_iter().map(Metric::from).collect();
    params.sort_by(|a, b| a.key.cmp(&b.key));
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    metrics.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Run {
        info: run_info_from_wire(w.info, endpoint)?,
        params,
        metrics,
        tags,
    })
}

#[derive(Deserialize)]
struct WireModelVersion {
    name: String,
    #[serde(deserialize_with = "lenient_i64")]
    version: Option<i64>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    creation_timestamp: Option<i64>,
}

impl From<WireModelVersion> for ModelVersion {
    fn from(w: WireModelVersion) -> Self {
        ModelVersion {
            name: w.name,
            version: w.version.and_then(|v| u64::try_from(v).ok()).unwrap_or(0),
            source: w.source.unwrap_or_default(),
            run_id: w.run_id.filter(|r| !r.is_empty()),
            creation_time: w.creation_timestamp.unwrap_or(0),
        }
    }
}

#[derive(Deserialize)]
struct WireAlias {
    alias: String,
    #[serde(deserialize_with = "lenient_i64")]
    version: Option<i64>,
}

#[derive(Deserialize)]
struct WireRegisteredModel {
    name: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    creation_timestamp: Option<i64>,
    #[serde(default)]
    latest_versions: Vec<WireModelVersion>,
    #[serde(default)]
    aliases: Vec<WireAlias>,
}

impl From<WireRegisteredModel> for RegisteredModel {
    fn from(w: WireRegisteredModel) -> Self {
        // MLflow reports the newest version per stage; the overall newest is their maximum.
        let latest = w
            .latest_versions
            .into_iter()
            .map(ModelVersion::from)
            .max_by_key(|v| v.version);
        let mut aliases: Vec<(String, u64)> = w
            .aliases
            .into_iter()
            .map(|a| {
                (
                    a.alias,
                    a.version.and_then(|v| u64::try_from(v).ok()).unwrap_or(0),
                )
            })
            .collect();
        aliases.sort();
        RegisteredModel {
            name: w.name,
            creation_time: w.creation_timestamp.unwrap_or(0),
            latest_versions: latest.into_iter().collect(),
            aliases,
        }
    }
}

#[derive(Deserialize)]
struct WireFileInfo {
    path: String,
    #[serde(default)]
    is_dir: bool,
    #[serde(default, deserialize_with = "lenient_i64")]
    file_size: Option<i64>,
}

#[derive(Deserialize)]
struct ErrorDoc {
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// One `log-batch` request's worth of entities.
#[derive(Debug, Default, Serialize)]
struct BatchChunk<'a> {
    metrics: Vec<&'a Metric>,
    params: Vec<&'a Param>,
    tags: Vec<&'a Tag>,
}

/// Splits a batch into requests within MLflow's limits: at most 1,000
/// metrics, 100 params, 100 tags and 1,000 entities in all per request, and
/// a JSON body under 1 MB. Params go first so a rejected param stops the
/// batch before any metric is written.
fn chunk_batch<'a>(
    metrics: &'a [Metric],
    params: &'a [Param],
    tags: &'a [Tag],
) -> Vec<BatchChunk<'a>> {
    enum Item<'a> {
        M(&'a Metric),
        P(&'a Param),
        T(&'a Tag),
    }
    let items = params
        .iter()
        .map(Item::P)
        .chain(tags.iter().map(Item::T))
        .chain(metrics.iter().map(Item::M));
    let mut chunks = Vec::new();
    let mut cur = BatchChunk::default();
    let mut bytes = 64;
    for item in items {
        let size = match &item {
            Item::M(m) => m.key.len() + 96,
            Item::P(p) => json_len(&p.key) + json_len(&p.value) + 32,
            Item::T(t) => json_len(&t.key) + json_len(&t.value) + 32,
        };
        let total = cur.metrics.len() + cur.params.len() + cur.tags.len();
        let full = total >= MAX_ENTITIES_PER_BATCH
            || bytes + size > MAX_BATCH_BYTES
            || match &item {
                Item::M(_) => cur.metrics.len() >= MAX_METRICS_PER_BATCH,
                Item::P(_) => cur.params.len() >= MAX_PARAMS_TAGS_PER_BATCH,
                Item::T(_) => cur.tags.len() >= MAX_PARAMS_TAGS_PER_BATCH,
            };
        if full && total > 0 {
            chunks.push(std::mem::take(&mut cur));
            bytes = 64;
        }
        bytes += size;
        match item {
            Item::M(m) => cur.metrics.push(m),
            Item::P(p) => cur.params.push(p),
            Item::T(t) => cur.tags.push(t),
        }
    }
    if cur.metrics.len() + cur.params.len() + cur.tags.len() > 0 {
        chunks.push(cur);
    }
    chunks
}

/// Upper bound of a string's JSON-encoded length (escapes included).
fn json_len(s: &str) -> usize {
    s.len()
        + s.bytes()
            .filter(|b| matches!(b, b'"' | b'\\') || *b < 0x20)
            .count()
            * 5
        + 2
}

/// Percent-encodes each `/`-separated segment of a path for use in a URL.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        for b in seg.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// The artifact-proxy path (`<exp>/<run>/artifacts`) of an
/// `mlflow-artifacts:` URI, with or without an authority part.
fn proxied_artifact_root(artifact_uri: &str) -> Option<String> {
    let rest = artifact_uri.strip_prefix("mlflow-artifacts:")?;
    let path = match rest.strip_prefix("//") {
        Some(with_authority) => with_authority.find('/').map(|i| &with_authority[i..])?,
        None => rest,
    };
    Some(path.trim_matches('/').to_string())
}

// ---------------------------------------------------------------------------
// HTTP plumbing

impl RestStore {
    /// A client for the server at `base_url` (`http://host:port`, optionally
    /// with a path prefix; `https://` is supported through rustls).
    ///
    /// No request is made here; the first call reports an unreachable server.
    pub fn new(base_url: &str) -> Result<Self> {
        let base = base_url.trim_end_matches('/').to_string();
        let bad = |reason: &str| TrackingError::InvalidUri {
            uri: base_url.to_string(),
            reason: reason.to_string(),
        };
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(bad("expected an http:// or https:// URL"));
        }
        let uri: ureq::http::Uri = base.parse().map_err(|e| bad(&format!("{e}")))?;
        if uri.host().is_none_or(str::is_empty) {
            return Err(bad("missing host"));
        }
        if uri.query().is_some() {
            return Err(bad("must not contain a query string"));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_send_request(Some(Duration::from_secs(60)))
            .timeout_recv_response(Some(Duration::from_secs(300)))
            .timeout_per_read(Some(Duration::from_secs(120)))
            .timeout_per_write(Some(Duration::from_secs(120)))
            .user_agent(concat!("pipeline-tracking/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(RestStore {
            agent: config.new_agent(),
            base,
            artifact_roots: Mutex::new(HashMap::new()),
        })
    }

    /// The server URL this client talks to.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, endpoint: &str) -> String {
        format!("{}{API}/{endpoint}", self.base)
    }

    fn transport_error(endpoint: &str, e: ureq::Error) -> TrackingError {
        TrackingError::Http {
            endpoint: endpoint.to_string(),
            message: e.to_string(),
        }
    }

    /// Turns a response into `T`, or into an error carrying MLflow's
    /// `error_code` and `message` when the status is not 2xx.
    fn decode<T: DeserializeOwned>(
        endpoint: &str,
        mut resp: ureq::http::Response<ureq::Body>,
    ) -> Result<T> {
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_string()
            .map_err(|e| Self::transport_error(endpoint, e))?;
        if !(200..300).contains(&status) {
            return Err(Self::error_from_body(endpoint, status, &body));
        }
        let text = if body.trim().is_empty() { "{}" } else { &body };
        serde_json::from_str(text).map_err(|e| TrackingError::Protocol {
            endpoint: endpoint.to_string(),
            message: format!("{e}; body starts with: {}", snippet(&body)),
        })
    }

    fn error_from_body(endpoint: &str, status: u16, body: &str) -> TrackingError {
        match serde_json::from_str::<ErrorDoc>(body) {
            Ok(ErrorDoc {
                error_code: Some(code),
                message,
            }) => TrackingError::Mlflow {
                endpoint: endpoint.to_string(),
                status,
                error_code: code,
                message: message.unwrap_or_default(),
            },
            _ => TrackingError::Mlflow {
                endpoint: endpoint.to_string(),
                status,
                error_code: if status == 404 {
                    "RESOURCE_DOES_NOT_EXIST".into()
                } else {
                    format!("HTTP_{status}")
                },
                message: snippet(body),
            },
        }
    }

    fn get<T: DeserializeOwned>(&self, endpoint: &str, query: &[(&str, &str)]) -> Result<T> {
        let mut req = self.agent.get(self.url(endpoint));
        for (k, v) in query {
            req = req.query(k, v);
        }
        let resp = req.call().map_err(|e| Self::transport_error(endpoint, e))?;
        Self::decode(endpoint, resp)
    }

    fn post<T: DeserializeOwned>(&self, endpoint: &str, body: &serde_json::Value) -> Result<T> {
        let resp = self
            .agent
            .post(self.url(endpoint))
            .send_json(body)
            .map_err(|e| Self::transport_error(endpoint, e))?;
        Self::decode(endpoint, resp)
    }

    /// The run's artifact root as an artifact-proxy URL prefix.
    fn artifact_base(&self, run_id: &str) -> Result<String> {
        let cached = self
            .artifact_roots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(run_id)
            .cloned();
        let uri = match cached {
            Some(u) => u,
            None => self.get_run(run_id)?.info.artifact_uri,
        };
        let root = proxied_artifact_root(&uri).ok_or_else(|| {
            TrackingError::Unsupported(format!(
                "run {run_id} has artifact_uri '{uri}', which cannot be reached through the server; \
                 start the server with --serve-artifacts so runs get mlflow-artifacts:/ URIs"
            ))
        })?;
        Ok(format!(
            "{}{ARTIFACTS_API}/{}",
            self.base,
            encode_path(&root)
        ))
    }

    fn remember_artifact_root(&self, info: &RunInfo) {
        self.artifact_roots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(info.run_id.clone(), info.artifact_uri.clone());
    }

    fn download_file(&self, run_id: &str, base: &str, path: &str, dest: &Path) -> Result<()> {
        let url = format!("{base}/{}", encode_path(path));
        let endpoint = format!("GET mlflow-artifacts {path}");
        let mut resp = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| Self::transport_error(&endpoint, e))?;
        let status = resp.status().as_u16();
        if status == 404 {
            return Err(TrackingError::ArtifactNotFound {
                run_id: run_id.to_string(),
                path: path.to_string(),
            });
        }
        if !(200..300).contains(&status) {
            let body = resp
                .body_mut()
                .with_config()
                .limit(1024 * 1024)
                .read_to_string()
                .unwrap_or_default();
            return Err(Self::error_from_body(&endpoint, status, &body));
        }
        let parent = match dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(p) => p.to_path_buf(),
            None => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(|e| TrackingError::io(&parent, e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".download-")
            .tempfile_in(&parent)
            .map_err(|e| TrackingError::io(&parent, e))?;
        let mut reader = resp.body_mut().as_reader();
        io::copy(&mut reader, &mut tmp).map_err(|e| TrackingError::Http {
            endpoint: endpoint.clone(),
            message: format!("downloading to {}: {e}", dest.display()),
        })?;
        tmp.persist(dest)
            .map_err(|e| TrackingError::io(dest, e.error))?;
        Ok(())
    }

    fn list_all_files(&self, run_id: &str, dir: &str, out: &mut Vec<FileInfo>) -> Result<()> {
        for f in self.list_artifacts(run_id, Some(dir))? {
            if f.is_dir {
                self.list_all_files(run_id, &f.path, out)?;
            } else {
                out.push(f);
            }
        }
        Ok(())
    }
}

fn snippet(body: &str) -> String {
    let s: String = body.chars().take(300).collect();
    s.trim().to_string()
}

// ---------------------------------------------------------------------------

#[derive(Deserialize)]
struct ExperimentResp {
    experiment: WireExperiment,
}
#[derive(Deserialize)]
struct CreateExperimentResp {
    experiment_id: String,
}
#[derive(Deserialize)]
struct SearchExperimentsResp {
    #[serde(default)]
    experiments: Vec<WireExperiment>,
    #[serde(default)]
    next_page_token: Option<String>,
}
#[derive(Deserialize)]
struct RunResp {
    run: WireRun,
}
#[derive(Deserialize)]
struct SearchRunsResp {
    #[serde(default)]
    runs: Vec<WireRun>,
    #[serde(default)]
    next_page_token: Option<String>,
}
#[derive(Deserialize)]
struct HistoryResp {
    #[serde(default)]
    metrics: Vec<WireMetric>,
    #[serde(default)]
    next_page_token: Option<String>,
}
#[derive(Deserialize)]
struct ListArtifactsResp {
    #[serde(default)]
    files: Vec<WireFileInfo>,
    #[serde(default)]
    next_page_token: Option<String>,
}
#[derive(Deserialize)]
struct RegisteredModelResp {
    registered_model: WireRegisteredModel,
}
#[derive(Deserialize)]
struct SearchModelsResp {
    #[serde(default)]
    registered_models: Vec<WireRegisteredModel>,
    #[serde(default)]
    next_page_token: Option<String>,
}
#[derive(Deserialize)]
struct ModelVersionResp {
    model_version: WireModelVersion,
}
#[derive(Deserialize)]
struct Empty {}

fn has_more(token: &Option<String>) -> Option<String> {
    token.clone().filter(|t| !t.is_empty())
}

impl TrackingStore for RestStore {
    fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        validate_experiment_name(name)?;
        if let Some(e) = self.get_experiment_by_name(name)? {
            return Ok(e.experiment_id);
        }
        match self.post::<CreateExperimentResp>("experiments/create", &json!({ "name": name })) {
            Ok(r) => Ok(r.experiment_id),
            // Someone else created it between our lookup and create.
            Err(TrackingError::Mlflow { error_code, .. })
                if error_code == "RESOURCE_ALREADY_EXISTS" =>
            {
                self.get_experiment_by_name(name)?
                    .map(|e| e.experiment_id)
                    .ok_or_else(|| TrackingError::ExperimentNotFound {
                        experiment: name.to_string(),
                    })
            }
            Err(e) => Err(e),
        }
    }

    fn list_experiments(&self) -> Result<Vec<Experiment>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = vec![("max_results", "1000"), ("view_type", "ACTIVE_ONLY")];
            if let Some(t) = token.as_deref() {
                q.push(("page_token", t));
            }
            let resp: SearchExperimentsResp = self.get("experiments/search", &q)?;
            out.extend(resp.experiments.into_iter().map(Experiment::from));
            token = has_more(&resp.next_page_token);
            if token.is_none() {
                break;
            }
        }
        out.sort_by_key(|e| {
            (
                e.experiment_id.parse::<i64>().unwrap_or(i64::MAX),
                e.experiment_id.clone(),
            )
        });
        Ok(out)
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        match self.get::<ExperimentResp>("experiments/get-by-name", &[("experiment_name", name)]) {
            Ok(r) => Ok(Some(r.experiment.into())),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        parent_run_id: Option<&str>,
        tags: &[Tag],
        start_time_ms: i64,
    ) -> Result<RunInfo> {
        tags.iter().try_for_each(validate_tag)?;
        let mut wire_tags: Vec<&Tag> = tags.iter().filter(|t| t.key != TAG_RUN_NAME).collect();
        let parent_tag = parent_run_id.map(|p| Tag::new(TAG_PARENT_RUN_ID, p));
        if let Some(t) = &parent_tag {
            wire_tags.retain(|x| x.key != TAG_PARENT_RUN_ID);
            wire_tags.push(t);
        }
        let mut body = json!({
            "experiment_id": experiment_id,
            "start_time": start_time_ms,
            "tags": wire_tags,
        });
        if !run_name.is_empty() {
            validate_tag(&Tag::new(TAG_RUN_NAME, run_name))?;
            body["run_name"] = json!(run_name);
        }
        let resp: RunResp = self.post("runs/create", &body)?;
        let run = run_from_wire(resp.run, "runs/create")?;
        self.remember_artifact_root(&run.info);
        Ok(run.info)
    }

    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()> {
        validate_batch(run_id, metrics, params, tags)?;
        // Params are immutable: compare against what the server already has
        // so a conflict is reported as ParamChanged before anything is sent.
        let mut new_params: Vec<Param> = Vec::with_capacity(params.len());
        if !params.is_empty() {
            let existing = self.get_run(run_id)?;
            for p in params {
                match existing.param(&p.key) {
                    Some(old) if old == p.value => {}
                    Some(old) => {
                        return Err(TrackingError::ParamChanged {
                            run_id: run_id.to_string(),
                            key: p.key.clone(),
                            old_value: old.to_string(),
                            new_value: p.value.clone(),
                        })
                    }
                    None if new_params.iter().any(|q| q.key == p.key) => {}
                    None => new_params.push(p.clone()),
                }
            }
        }
        let chunks = chunk_batch(metrics, &new_params, tags);
        if chunks.is_empty() && params.is_empty() {
            // Nothing to send; still report a missing run like the SQLite store.
            self.get_run(run_id)?;
        }
        for chunk in chunks {
            let body = json!({
                "run_id": run_id,
                "metrics": chunk.metrics,
                "params": chunk.params,
                "tags": chunk.tags,
            });
            let _: Empty = self.post("runs/log-batch", &body)?;
        }
        Ok(())
    }

    fn update_run(&self, run_id: &str, status: RunStatus, end_time_ms: Option<i64>) -> Result<()> {
        let mut body = json!({ "run_id": run_id, "status": status.as_str() });
        if let Some(t) = end_time_ms {
            body["end_time"] = json!(t);
        }
        let _: serde_json::Value = self.post("runs/update", &body)?;
        Ok(())
    }

    fn get_run(&self, run_id: &str) -> Result<Run> {
        let resp: RunResp = self.get("runs/get", &[("run_id", run_id)])?;
        let run = run_from_wire(resp.run, "runs/get")?;
        self.remember_artifact_root(&run.info);
        Ok(run)
    }

    fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        let mut out: Vec<Metric> = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = vec![
                ("run_id", run_id),
                ("metric_key", key),
                ("max_results", "25000"),
            ];
            if let Some(t) = token.as_deref() {
                q.push(("page_token", t));
            }
            let resp: HistoryResp = self.get("metrics/get-history", &q)?;
            out.extend(resp.metrics.into_iter().map(Metric::from));
            token = has_more(&resp.next_page_token);
            if token.is_none() {
                break;
            }
        }
        out.sort_by_key(|m| (m.step, m.timestamp));
        Ok(out)
    }

    fn search_runs(
        &self,
        experiment_ids: &[String],
        filter: &str,
        order_by: &[String],
        max_results: usize,
    ) -> Result<Vec<Run>> {
        // Parse locally so bad filters fail exactly as with the SQLite store,
        // then send the canonical spelling the server is sure to accept.
        let parsed = Filter::parse(filter)?;
        let order: Vec<String> = OrderBy::parse_all(order_by)?
            .iter()
            .map(|o| format!("{o:#}"))
            .collect();
        let limit = max_results.min(MAX_SEARCH_RESULTS);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = if experiment_ids.is_empty() {
            self.list_experiments()?
                .into_iter()
                .map(|e| e.experiment_id)
                .collect()
        } else {
            experiment_ids.to_vec()
        };
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        while out.len() < limit {
            let mut body = json!({
                "experiment_ids": ids,
                "filter": format!("{parsed:#}"),
                "run_view_type": "ACTIVE_ONLY",
                "max_results": (limit - out.len()).min(MAX_SEARCH_RESULTS),
                "order_by": order,
            });
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let resp: SearchRunsResp = self.post("runs/search", &body)?;
            for r in resp.runs {
                out.push(run_from_wire(r, "runs/search")?);
            }
            token = has_more(&resp.next_page_token);
            if token.is_none() {
                break;
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    fn log_artifact(&self, run_id: &str, local_file: &Path, artifact_path: &str) -> Result<()> {
        let path = normalize_artifact_path(artifact_path)?;
        if path.is_empty() {
            return Err(TrackingError::InvalidArtifactPath {
                path: artifact_path.to_string(),
                reason: "must name a file inside the run's artifact root".into(),
            });
        }
        let file = fs::File::open(local_file).map_err(|e| TrackingError::io(local_file, e))?;
        let url = format!("{}/{}", self.artifact_base(run_id)?, encode_path(&path));
        let endpoint = format!("PUT mlflow-artifacts {path} of run {run_id}");
        let resp = self
            .agent
            .put(&url)
            .header("Content-Type", "application/octet-stream")
            .send(file)
            .map_err(|e| Self::transport_error(&endpoint, e))?;
        let _: serde_json::Value = Self::decode(&endpoint, resp)?;
        Ok(())
    }

    fn list_artifacts(&self, run_id: &str, dir: Option<&str>) -> Result<Vec<FileInfo>> {
        let dir = normalize_artifact_path(dir.unwrap_or(""))?;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = vec![("run_id", run_id)];
            if !dir.is_empty() {
                q.push(("path", dir.as_str()));
            }
            if let Some(t) = token.as_deref() {
                q.push(("page_token", t));
            }
            let resp: ListArtifactsResp = self.get("artifacts/list", &q)?;
            out.extend(resp.files.into_iter().map(|f| FileInfo {
                path: f.path,
                is_dir: f.is_dir,
                file_size: if f.is_dir {
                    None
                } else {
                    f.file_size.and_then(|s| u64::try_from(s).ok())
                },
            }));
            token = has_more(&resp.next_page_token);
            if token.is_none() {
                break;
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn download_artifact(&self, run_id: &str, path: &str, dest: &Path) -> Result<()> {
        let norm = normalize_artifact_path(path)?;
        let base = self.artifact_base(run_id)?;
        // Listing a file (or nothing) yields no entries; a directory yields its children.
        let children = self.list_artifacts(run_id, Some(&norm))?;
        if children.is_empty() {
            if norm.is_empty() {
                return Err(TrackingError::ArtifactNotFound {
                    run_id: run_id.to_string(),
                    path: path.to_string(),
                });
            }
            return self.download_file(run_id, &base, &norm, dest);
        }
        let mut files = Vec::new();
        self.list_all_files(run_id, &norm, &mut files)?;
        fs::create_dir_all(dest).map_err(|e| TrackingError::io(dest, e))?;
        let skip = if norm.is_empty() { 0 } else { norm.len() + 1 };
        for f in files {
            let rel = f.path.get(skip..).unwrap_or(&f.path);
            let mut target = dest.to_path_buf();
            target.extend(rel.split('/'));
            self.download_file(run_id, &base, &f.path, &target)?;
        }
        Ok(())
    }

    fn create_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        validate_model_name(name)?;
        let resp: RegisteredModelResp =
            self.post("registered-models/create", &json!({ "name": name }))?;
        Ok(resp.registered_model.into())
    }

    fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
    ) -> Result<ModelVersion> {
        if source.is_empty() {
            return Err(TrackingError::InvalidArgument(format!(
                "model version source for '{name}' must not be empty"
            )));
        }
        let mut body = json!({ "name": name, "source": source });
        if let Some(r) = run_id {
            body["run_id"] = json!(r);
        }
        let resp: ModelVersionResp = self.post("model-versions/create", &body)?;
        Ok(resp.model_version.into())
    }

    fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        let v = version.to_string();
        let resp: ModelVersionResp =
            self.get("model-versions/get", &[("name", name), ("version", &v)])?;
        Ok(resp.model_version.into())
    }

    fn latest_model_version(&self, name: &str) -> Result<ModelVersion> {
        self.get_registered_model(name)?
            .latest_versions
            .into_iter()
            .max_by_key(|v| v.version)
            .ok_or_else(|| TrackingError::NoModelVersions {
                name: name.to_string(),
            })
    }

    fn set_model_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        validate_alias(alias)?;
        let _: serde_json::Value = self.post(
            "registered-models/alias",
            &json!({ "name": name, "alias": alias, "version": version.to_string() }),
        )?;
        Ok(())
    }

    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        let resp: ModelVersionResp = self.get(
            "registered-models/alias",
            &[("name", name), ("alias", alias)],
        )?;
        Ok(resp.model_version.into())
    }

    fn list_registered_models(&self) -> Result<Vec<RegisteredModel>> {
        let mut out: Vec<RegisteredModel> = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = vec![("max_results", "1000")];
            if let Some(t) = token.as_deref() {
                q.push(("page_token", t));
            }
            let resp: SearchModelsResp = self.get("registered-models/search", &q)?;
            out.extend(
                resp.registered_models
                    .into_iter()
                    .map(RegisteredModel::from),
            );
            token = has_more(&resp.next_page_token);
            if token.is_none() {
                break;
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let resp: RegisteredModelResp = self.get("registered-models/get", &[("name", name)])?;
        Ok(resp.registered_model.into())
    }

    /// Over REST the status check and the update are separate calls, so a
    /// run that finishes in between can still be marked KILLED; the window
    /// is one round trip.
    fn mark_abandoned_runs(&self, is_alive: &dyn Fn(&Run) -> bool) -> Result<Vec<String>> {
        let running = self.search_runs(
            &[],
            "attributes.status = 'RUNNING'",
            &[],
            MAX_SEARCH_RESULTS,
        )?;
        let mut killed = Vec::new();
        for run in running.iter().filter(|r| !is_alive(r)) {
            self.update_run(&run.info.run_id, RunStatus::Killed, Some(now_ms()))?;
            killed.push(run.info.run_id.clone());
        }
        Ok(killed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_mlflow_limits() {
        let metrics: Vec<Metric> = (0..2500)
            .map(|i| Metric::new("m", i as f64, 0, i))
            .collect();
        let params: Vec<Param> = (0..250).map(|i| Param::new(format!("p{i}"), "v")).collect();
        let tags: Vec<Tag> = (0..150).map(|i| Tag::new(format!("t{i}"), "v")).collect();
        let chunks = chunk_batch(&metrics, &params, &tags);
        let (mut m, mut p, mut t) = (0, 0, 0);
        for c in &chunks {
            assert!(c.metrics.len() <= 1000);
            assert!(c.params.len() <= 100);
            assert!(c.tags.len() <= 100);
            assert!(c.metrics.len() + c.params.len() + c.tags.len() <= 1000);
            assert!(serde_json::to_string(c).unwrap().len() < 1_000_000);
            m += c.metrics.len();
            p += c.params.len();
            t += c.tags.len();
        }
        assert_eq!((m, p, t), (2500, 250, 150));
        // Params are all sent before the first metric.
        let first_metric_chunk = chunks.iter().position(|c| !c.metrics.is_empty()).unwrap();
        assert!(chunks[first_metric_chunk + 1..]
            .iter()
            .all(|c| c.params.is_empty()));
        assert!(chunk_batch(&[], &[], &[]).is_empty());
    }

    #[test]
    fn chunks_respect_request_size() {
        let params: Vec<Param> = (0..100)
            .map(|i| Param::new(format!("p{i}"), "x".repeat(6000)))
            .collect();
        let tags: Vec<Tag> = (0..100)
            .map(|i| Tag::new(format!("t{i}"), "\"".repeat(8000)))
            .collect();
        let chunks = chunk_batch(&[], &params, &tags);
        assert!(chunks.len() > 1);
        for c in &chunks {
            assert!(serde_json::to_string(c).unwrap().len() < 1_000_000);
        }
    }

    #[test]
    fn artifact_roots_and_paths() {
        assert_eq!(
            proxied_artifact_root("mlflow-artifacts:/1/abc/artifacts").as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(
            proxied_artifact_root("mlflow-artifacts://host:5000/1/abc/artifacts").as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(proxied_artifact_root("/tmp/mlruns/1/abc/artifacts"), None);
        assert_eq!(proxied_artifact_root("s3://b/1/abc/artifacts"), None);
        assert_eq!(encode_path("model/a b%.json"), "model/a%20b%25.json");
    }

    #[test]
    fn base_url_validation() {
        RestStore::new("http://127.0.0.1:5000").unwrap();
        RestStore::new("https://mlflow.example.com/prefix/").unwrap();
        for bad in ["ftp://x", "127.0.0.1:5000", "http://", "http://h:5000?x=1"] {
            assert!(RestStore::new(bad).is_err(), "{bad}");
        }
        assert_eq!(
            RestStore::new("http://h:1/").unwrap().base_url(),
            "http://h:1"
        );
    }

    #[test]
    fn server_errors_are_typed() {
        let e = RestStore::error_from_body(
            "runs/get",
            404,
            r#"{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run 'x' not found"}"#,
        );
        match &e {
            TrackingError::Mlflow {
                error_code,
                message,
                status,
                ..
            } => {
                assert_eq!(error_code, "RESOURCE_DOES_NOT_EXIST");
                assert_eq!(message, "Run 'x' not found");
                assert_eq!(*status, 404);
            }
            other => panic!("{other}"),
        }
        assert!(e.is_not_found());
        let e = RestStore::error_from_body("x", 502, "<html>bad gateway</html>");
        assert!(
            matches!(e, TrackingError::Mlflow { ref error_code, .. } if error_code == "HTTP_502")
        );
    }

    #[test]
    fn wire_run_parsing() {
        let body = r#"{"run": {"info": {"run_uuid": "abc", "run_id": "abc", "experiment_id": "1",
            "run_name": "r", "status": "FINISHED", "start_time": "17", "end_time": 20,
            "artifact_uri": "mlflow-artifacts:/1/abc/artifacts", "lifecycle_stage": "active"},
            "data": {"metrics": [{"key": "b", "value": "NaN", "timestamp": 1, "step": 0},
                                 {"key": "a", "value": 1.5, "timestamp": 1, "step": 3}],
                     "params": [{"key": "p", "value": "1"}]}}}"#;
        let resp: RunResp = serde_json::from_str(body).unwrap();
        let run = run_from_wire(resp.run, "t").unwrap();
        assert_eq!(run.info.start_time, 17);
        assert_eq!(run.info.end_time, Some(20));
        assert_eq!(run.info.status, RunStatus::Finished);
        assert_eq!(run.metrics[0].key, "a");
        assert!(run.metrics[1].value.is_nan());
        assert!(run.tags.is_empty());
    }
}
