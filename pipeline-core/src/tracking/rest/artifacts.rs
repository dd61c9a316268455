//! Artifacts through the server's artifact proxy (`mlflow server --serve-artifacts`): a run's
//! `mlflow-artifacts:/<experiment>/<run>/artifacts` root maps to
//! `<base>/api/2.0/mlflow-artifacts/artifacts/<experiment>/<run>/artifacts/<path>`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::PoisonError;

use super::client::ARTIFACTS_API;
use super::wire::has_more;
use super::wire::ListArtifactsResp;
use super::RestStore;
use crate::tracking::error::{Result, TrackingError};
use crate::tracking::model::{artifact_file_path, normalize_artifact_path, FileInfo, RunInfo};
use crate::tracking::store::TrackingStore;

/// Percent-encodes each `/`-separated segment of a path for use in a URL.
pub(super) fn encode_path(path: &str) -> String {
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
pub(super) fn proxied_artifact_root(artifact_uri: &str) -> Option<String> {
    let rest = artifact_uri.strip_prefix("mlflow-artifacts:")?;
    let path = match rest.strip_prefix("//") {
        Some(with_authority) => with_authority.find('/').map(|i| &with_authority[i..])?,
        None => rest,
    };
    Some(path.trim_matches('/').to_string())
}

impl RestStore {
    /// The run's artifact root as an artifact-proxy URL prefix.
    pub(super) fn artifact_base(&self, run_id: &str) -> Result<String> {
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

    pub(super) fn remember_artifact_root(&self, info: &RunInfo) {
        self.artifact_roots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(info.run_id.clone(), info.artifact_uri.clone());
    }

    pub(super) fn download_file(
        &self,
        run_id: &str,
        base: &str,
        path: &str,
        dest: &Path,
    ) -> Result<()> {
        let url = format!("{base}/{}", encode_path(path));
        let endpoint = format!("GET mlflow-artifacts {path}");
        let mut resp = self
            .authorize(self.agent.get(&url))
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
            return Err(self.explain(Self::error_from_body(&endpoint, status, &body)));
        }
        let parent = match dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(p) => p.to_path_buf(),
            None => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(|e| TrackingError::io(&parent, e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(crate::layout::TMP_PREFIX)
            .tempfile_in(&parent)
            .map_err(|e| TrackingError::io(&parent, e))?;
        let mut reader = resp.body_mut().as_reader();
        io::copy(&mut reader, &mut tmp).map_err(|e| TrackingError::Backend {
            backend: "mlflow server",
            context: format!("{endpoint} to {}", dest.display()),
            message: e.to_string(),
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

pub(super) fn log_artifact(
    store: &RestStore,
    run_id: &str,
    local_file: &Path,
    artifact_path: &str,
) -> Result<()> {
    let path = artifact_file_path(artifact_path)?;
    let url = format!("{}/{}", store.artifact_base(run_id)?, encode_path(&path));
    put_file(
        store,
        &url,
        local_file,
        &format!("PUT mlflow-artifacts {path} of run {run_id}"),
    )
}

/// Uploads a local file to an artifact-proxy URL.
pub(super) fn put_file(
    store: &RestStore,
    url: &str,
    local_file: &Path,
    endpoint: &str,
) -> Result<()> {
    let file = fs::File::open(local_file).map_err(|e| TrackingError::io(local_file, e))?;
    let resp = store
        .authorize(store.agent.put(url))
        .header("Content-Type", "application/octet-stream")
        .send(file)
        .map_err(|e| RestStore::transport_error(endpoint, e))?;
    let _: serde_json::Value = RestStore::decode(endpoint, resp).map_err(|e| store.explain(e))?;
    Ok(())
}

pub(super) fn list_artifacts(
    store: &RestStore,
    run_id: &str,
    dir: Option<&str>,
) -> Result<Vec<FileInfo>> {
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
        let resp: ListArtifactsResp = store.get("artifacts/list", &q)?;
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

pub(super) fn download_artifact(
    store: &RestStore,
    run_id: &str,
    path: &str,
    dest: &Path,
) -> Result<()> {
    let norm = normalize_artifact_path(path)?;
    let base = store.artifact_base(run_id)?;
    // Listing a file (or nothing) yields no entries; a directory yields its children.
    let children = store.list_artifacts(run_id, Some(&norm))?;
    if children.is_empty() {
        if norm.is_empty() {
            return Err(TrackingError::ArtifactNotFound {
                run_id: run_id.to_string(),
                path: path.to_string(),
            });
        }
        return store.download_file(run_id, &base, &norm, dest);
    }
    let mut files = Vec::new();
    store.list_all_files(run_id, &norm, &mut files)?;
    fs::create_dir_all(dest).map_err(|e| TrackingError::io(dest, e))?;
    let skip = if norm.is_empty() { 0 } else { norm.len() + 1 };
    for f in files {
        let rel = f.path.get(skip..).unwrap_or(&f.path);
        let mut target = dest.to_path_buf();
        target.extend(rel.split('/'));
        store.download_file(run_id, &base, &f.path, &target)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
