//! Remotes: another cache to share objects and run records with, named in
//! `.pipeline/config.toml`. A remote is a directory (a local path, a mounted share, `file://…`),
//! laid out like the local cache (`cache/ab/cdef…`, `runs/ab/cdef….json`), so copying is all
//! there is to it; every object is verified by hash as it is copied.
//!
//! A remote's content is untrusted input: a record that does not parse (bad hash, a path leaving
//! the workspace) or an object whose content does not match its name is reported and skipped,
//! never copied, and the rest of the transfer goes on. `push` and `fetch` hold the remote's lock
//! file while they work, and sweep the temp files a killed transfer left in the remote.

use super::{versioned, DataError};
use crate::atomic;
use crate::cas::{CasError, ContentStore};
use crate::engine::run_cache::RunCache;
use crate::entry::PathEntry;
use crate::workspace::Workspace;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Config {
    #[serde(default)]
    default_remote: Option<String>,
    #[serde(default)]
    remote: BTreeMap<String, RemoteConfig>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct RemoteConfig {
    url: String,
}

fn config_error(message: impl std::fmt::Display) -> DataError {
    DataError::Config {
        path: ".pipeline/config.toml".to_string(),
        message: message.to_string(),
    }
}

fn load(ws: &Workspace) -> Result<Config, DataError> {
    match atomic::read_text_limited(&ws.layout().config_file(), 1 << 20) {
        Ok(Some(text)) => toml::from_str(&text).map_err(config_error),
        Ok(None) => Ok(Config::default()),
        Err(e) => Err(config_error(e)),
    }
}

fn save(ws: &Workspace, config: &Config) -> Result<(), DataError> {
    let text = toml::to_string(config).map_err(config_error)?;
    atomic::write(&ws.layout().config_file(), text.as_bytes()).map_err(config_error)
}

/// Records remote `name` at `url`; the first remote becomes the default.
pub fn add(ws: &Workspace, name: &str, url: &str, make_default: bool) -> Result<(), DataError> {
    directory(ws, url)?;
    let mut config = load(ws)?;
    config.remote.insert(
        name.to_string(),
        RemoteConfig {
            url: url.to_string(),
        },
    );
    if make_default || config.default_remote.is_none() {
        config.default_remote = Some(name.to_string());
    }
    save(ws, &config)
}

/// Forgets remote `name`.
pub fn remove(ws: &Workspace, name: &str) -> Result<(), DataError> {
    let mut config = load(ws)?;
    if config.remote.remove(name).is_none() {
        return Err(config_error(format!("no remote named `{name}`")));
    }
    if config.default_remote.as_deref() == Some(name) {
        config.default_remote = config.remote.keys().next().cloned();
    }
    save(ws, &config)
}

/// Every remote: (name, url, is default).
pub fn list(ws: &Workspace) -> Result<Vec<(String, String, bool)>, DataError> {
    let config = load(ws)?;
    Ok(config
        .remote
        .iter()
        .map(|(name, r)| {
            (
                name.clone(),
                r.url.clone(),
                config.default_remote.as_deref() == Some(name),
            )
        })
        .collect())
}

/// The directory a remote URL names. Object-storage URLs are refused with a clear message.
fn directory(ws: &Workspace, url: &str) -> Result<PathBuf, DataError> {
    if let Some((scheme, _)) = url.split_once("://") {
        if scheme != "file" {
            return Err(config_error(format!(
                "remote `{url}`: {scheme}:// remotes are not available in this build; use a directory (a local path, a mounted share or file://)"
            )));
        }
    }
    let path = Path::new(url.strip_prefix("file://").unwrap_or(url));
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        ws.root().join(path)
    })
}

/// The directory of remote `name`, or of the default remote.
fn resolve(ws: &Workspace, name: Option<&str>) -> Result<(String, PathBuf), DataError> {
    let config = load(ws)?;
    let name = match name {
        Some(name) => name.to_string(),
        None => config
            .default_remote
            .clone()
            .ok_or_else(|| config_error("no remote configured: `remote add NAME DIR` first"))?,
    };
    let remote = config
        .remote
        .get(&name)
        .ok_or_else(|| config_error(format!("no remote named `{name}`")))?;
    Ok((name, directory(ws, &remote.url)?))
}

/// How much a transfer moved.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Transfer {
    /// Objects copied.
    pub objects: usize,
    /// Objects already there.
    pub present: usize,
    /// Run records copied.
    pub runs: usize,
    /// The remote's name.
    pub remote: String,
    /// What was skipped, one line each: unreadable records, corrupt or unreadable objects.
    pub problems: Vec<String>,
}

/// Hashes of every object `entries` need (directories: manifest and files, read from `store`).
fn objects_of(store: &ContentStore, entries: &[PathEntry]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in entries {
        out.insert(entry.hash.clone());
        if entry.dir {
            if let Ok(manifest) = store.read_manifest(&entry.hash) {
                out.extend(manifest.into_iter().map(|f| f.hash));
            }
        }
    }
    out
}

/// Copies objects from one store to another, verifying each; a missing source object is left
/// out, a corrupt or unreadable one reported and skipped.
fn copy_objects(
    from: &ContentStore,
    to: &ContentStore,
    hashes: &BTreeSet<String>,
    t: &mut Transfer,
) {
    for hash in hashes {
        if to.has(hash) {
            t.present += 1;
            continue;
        }
        let source = from.object_path(hash);
        if !source.is_file() {
            continue;
        }
        match to.write_verified(&source, hash) {
            Ok(_) => t.objects += 1,
            Err(CasError::Corrupt { object, actual, .. }) => t.problems.push(format!(
                "object {hash} ({}): corrupt, its content hashes to {actual}; skipped",
                object.display()
            )),
            Err(e) => t.problems.push(format!("{e}; skipped")),
        }
    }
}

/// Copies run records missing on the other side; records that do not parse are reported and
/// skipped. Returns the outputs of every valid record.
fn copy_runs(from: &RunCache, to: &RunCache, t: &mut Transfer) -> Vec<PathEntry> {
    let mut outs = Vec::new();
    let (have, _) = to.all();
    let have: BTreeSet<String> = have.into_iter().map(|(f, _)| f).collect();
    let (records, bad) = from.all();
    t.problems
        .extend(bad.into_iter().map(|b| format!("{b}; skipped")));
    for (fingerprint, record) in records {
        outs.extend(record.outs.iter().cloned());
        if !have.contains(&fingerprint) {
            match to.put(&fingerprint, &record) {
                Ok(()) => t.runs += 1,
                Err(e) => t
                    .problems
                    .push(format!("{}: {e}; skipped", to.dir().display())),
            }
        }
    }
    outs
}

/// The two ends of a transfer: (local store, local runs), (remote store, remote runs), and the
/// remote's lock, held until the transfer ends.
struct Ends {
    local: (ContentStore, RunCache),
    remote: (ContentStore, RunCache),
    transfer: Transfer,
    _lock: std::fs::File,
}

/// Opens remote `name`, waits for its lock, and sweeps what killed transfers left in it.
fn ends(ws: &Workspace, name: Option<&str>) -> Result<Ends, DataError> {
    let (name, dir) = resolve(ws, name)?;
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| DataError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let lock_path = dir.join("lock");
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    lock.lock().map_err(io(&lock_path))?;
    let remote = (
        ContentStore::new(dir.join("cache")),
        RunCache::new(dir.join("runs")),
    );
    crate::layout::sweep(remote.0.dir());
    crate::layout::sweep(remote.1.dir());
    Ok(Ends {
        local: (
            ContentStore::new(ws.layout().objects_dir()),
            RunCache::new(ws.layout().run_cache_dir()),
        ),
        remote,
        transfer: Transfer {
            remote: name,
            ..Transfer::default()
        },
        _lock: lock,
    })
}

/// Sends what the workspace versions and every run record (with its outputs) to a remote.
pub fn push(ws: &Workspace, name: Option<&str>) -> Result<Transfer, DataError> {
    let Ends {
        local,
        remote,
        mut transfer,
        _lock,
    } = ends(ws, name)?;
    let mut entries = versioned(ws)?;
    entries.extend(
        local
            .1
            .all()
            .0
            .into_iter()
            .flat_map(|(_, record)| record.outs),
    );
    // Objects first, then the records naming them: a killed push leaves no record without its
    // objects.
    copy_objects(
        &local.0,
        &remote.0,
        &objects_of(&local.0, &entries),
        &mut transfer,
    );
    copy_runs(&local.1, &remote.1, &mut transfer);
    Ok(transfer)
}

/// Brings what the workspace versions, and the remote's run records, into the local cache.
/// Call while holding the workspace lock.
pub fn fetch(ws: &Workspace, name: Option<&str>) -> Result<Transfer, DataError> {
    let Ends {
        local,
        remote,
        mut transfer,
        _lock,
    } = ends(ws, name)?;
    let mut entries = versioned(ws)?;
    entries.extend(copy_runs(&remote.1, &local.1, &mut transfer));
    // Manifests first (verified), so that directory files can be listed from the local copy.
    let manifests: BTreeSet<String> = entries
        .iter()
        .filter(|e| e.dir)
        .map(|e| e.hash.clone())
        .collect();
    copy_objects(&remote.0, &local.0, &manifests, &mut transfer);
    copy_objects(
        &remote.0,
        &local.0,
        &objects_of(&local.0, &entries),
        &mut transfer,
    );
    Ok(transfer)
}
