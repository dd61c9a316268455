//! Remotes: another place holding the cache, to share versioned data, stage outputs, run records
//! and tracking runs with a team. A remote is a directory (a local path, a mounted share,
//! `file://…`) or a bucket (`s3://`, `gs://`, `azure://`); all lay their content out alike and
//! are reached through one [`backend::Backend`] API, so what moves and how it is verified is the
//! same for all of them (`transfer.rs`).
//!
//! A remote's content is untrusted input: a record that does not parse (bad hash, a path leaving
//! the workspace) or an object whose content does not match its name is reported and skipped,
//! never stored, and the rest of the transfer goes on.

pub(crate) mod backend;
mod cloud;
pub(crate) mod config;
mod directory;
mod packs;
pub(crate) mod runs;
mod tracking;
pub(crate) mod transfer;

use super::{versioned_of, DataError};
use crate::cas::ContentStore;
use crate::engine::run_cache::RunCache;
use crate::entry::PathEntry;
use crate::workspace::Workspace;
use backend::{Backend, BackendError};
use config::Kind;
use std::collections::BTreeSet;
use std::path::Path;

/// How much a transfer moved.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Transfer {
    /// Objects copied.
    pub objects: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Objects already there.
    pub present: usize,
    /// Objects wanted that the source does not have.
    pub missing: usize,
    /// Run records copied.
    pub runs: usize,
    /// Tracking runs copied.
    pub tracking_runs: usize,
    /// The remote's name.
    pub remote: String,
    /// What was skipped, one line each: unreadable records, corrupt or unreadable objects.
    pub problems: Vec<String>,
}

/// What a `push`, `fetch` or `pull` moves.
#[derive(Debug, Default, Clone)]
pub struct TransferOptions {
    /// The remote (default: the default remote).
    pub remote: Option<String>,
    /// Requests in flight (default: 4 for a directory, 32 for object storage).
    pub jobs: Option<usize>,
    /// `fetch`: also the outputs of every run record, not only the records.
    pub run_cache: bool,
    /// Only these stages (their outputs and run records) or paths (versioned files and
    /// directories, or outputs, at or under them). Empty: everything.
    pub targets: Vec<String>,
}

/// A remote, opened.
pub(crate) struct Opened {
    pub name: String,
    pub backend: Box<dyn Backend>,
    pub jobs: usize,
    url: String,
    /// What the remote holds, listed on first use and kept up to date with what is sent.
    inventory: std::sync::Mutex<Option<packs::Inventory>>,
}

impl Opened {
    /// Runs `f` on the remote's inventory, listing it first if this is the first use (a line
    /// per unusable pack index goes to `problems`).
    pub fn with_inventory<R>(
        &self,
        jobs: usize,
        problems: &mut Vec<String>,
        f: impl FnOnce(&mut packs::Inventory) -> R,
    ) -> Result<R, BackendError> {
        let mut guard = self.inventory.lock().unwrap_or_else(|p| p.into_inner());
        let inventory = match guard.as_mut() {
            Some(inventory) => inventory,
            None => {
                let (inventory, bad) = packs::inventory(&*self.backend, jobs)?;
                problems.extend(bad);
                guard.insert(inventory)
            }
        };
        Ok(f(inventory))
    }

    /// A remote failure as one line naming the remote.
    pub fn error(&self, e: BackendError) -> DataError {
        DataError::Remote {
            remote: self.name.clone(),
            url: self.url.clone(),
            message: e.to_string(),
        }
    }
}

/// The directory a directory remote's URL names.
fn directory_of(ws: &Workspace, url: &str) -> std::path::PathBuf {
    let path = Path::new(url.strip_prefix("file://").unwrap_or(url));
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        ws.root().join(path)
    }
}

/// Opens remote `name` (default: the default remote).
pub(crate) fn open(ws: &Workspace, name: Option<&str>) -> Result<Opened, DataError> {
    let (name, remote) = config::resolve(ws, name)?;
    let fail = |message: String| DataError::Remote {
        remote: name.clone(),
        url: remote.url.clone(),
        message,
    };
    let kind = Kind::of(&remote.url).map_err(&fail)?;
    let (backend, jobs): (Box<dyn Backend>, usize) = match kind {
        Kind::Directory => (
            Box::new(
                directory::Directory::open(directory_of(ws, &remote.url))
                    .map_err(|e| fail(e.to_string()))?,
            ),
            4,
        ),
        kind => (
            Box::new(
                cloud::Cloud::open(kind, &remote.url, &remote.options)
                    .map_err(|e| fail(e.to_string()))?,
            ),
            32,
        ),
    };
    Ok(Opened {
        name,
        url: remote.url,
        backend,
        jobs,
        inventory: std::sync::Mutex::new(None),
    })
}

/// Records remote `name` at `url` in the committed config; the first remote becomes the default.
pub fn add(ws: &Workspace, name: &str, url: &str, make_default: bool) -> Result<(), DataError> {
    let path = ws.layout().config_file().display().to_string();
    Kind::of(url).map_err(|message| DataError::Config {
        path: path.clone(),
        message,
    })?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(DataError::Config {
            path,
            message: format!("`{name}`: a remote name is letters, digits, `-`, `_` and `.`"),
        });
    }
    let mut shared = config::load_shared(ws)?;
    let had_default = config::default_remote(ws)?.is_some();
    shared.remote.entry(name.to_string()).or_default().url = url.to_string();
    if make_default || !had_default {
        shared.default_remote = Some(name.to_string());
    }
    config::save_shared(ws, &shared)
}

/// Which file an option was written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFile {
    /// `.pipeline/config.toml`, committed.
    Shared,
    /// `.pipeline/config.local.toml`, never committed: credentials.
    Local,
}

/// Sets (or, with `None`, unsets) option `key` of remote `name`. Credentials go to the local
/// file whatever `local` says; anything goes there with `local`.
pub fn modify(
    ws: &Workspace,
    name: &str,
    key: &str,
    value: Option<&str>,
    local: bool,
) -> Result<ConfigFile, DataError> {
    let (_, remote) = config::resolve(ws, Some(name))?;
    let path = ws.layout().config_file().display().to_string();
    let bad = |message: String| DataError::Config {
        path: path.clone(),
        message,
    };
    let kind = Kind::of(&remote.url).map_err(&bad)?;
    if key == "url" {
        return Err(bad("`url`: use `remote add NAME URL` to change it".into()));
    }
    config::check_option(kind, key).map_err(&bad)?;
    let file = if local || config::is_secret(key) {
        ConfigFile::Local
    } else {
        ConfigFile::Shared
    };
    let (mut shared, mut own) = (config::load_shared(ws)?, config::load_local(ws)?);
    // The key leaves the other file, so the two never disagree.
    for config in [&mut shared, &mut own] {
        if let Some(r) = config.remote.get_mut(name) {
            r.options.remove(key);
        }
    }
    if let Some(value) = value {
        let target = match file {
            ConfigFile::Shared => &mut shared,
            ConfigFile::Local => &mut own,
        };
        target
            .remote
            .entry(name.to_string())
            .or_default()
            .options
            .insert(key.to_string(), value.to_string());
    }
    own.remote
        .retain(|_, r| !r.options.is_empty() || !r.url.is_empty());
    config::save_shared(ws, &shared)?;
    config::save_local(ws, &own)?;
    Ok(file)
}

/// Forgets remote `name` (in both config files).
pub fn remove(ws: &Workspace, name: &str) -> Result<(), DataError> {
    let mut shared = config::load_shared(ws)?;
    let mut own = config::load_local(ws)?;
    let known = shared.remote.remove(name).is_some() | own.remote.remove(name).is_some();
    if !known {
        return Err(DataError::Config {
            path: ws.layout().config_file().display().to_string(),
            message: format!("no remote named `{name}`"),
        });
    }
    if shared.default_remote.as_deref() == Some(name) {
        shared.default_remote = shared.remote.keys().next().cloned();
    }
    if own.default_remote.as_deref() == Some(name) {
        own.default_remote = None;
    }
    config::save_shared(ws, &shared)?;
    config::save_local(ws, &own)
}

/// A configured remote, for `remote list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteInfo {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// Whether it is the default.
    pub default: bool,
    /// Its options, credentials shown as `***`.
    pub options: Vec<(String, String)>,
}

/// Every remote.
pub fn list(ws: &Workspace) -> Result<Vec<RemoteInfo>, DataError> {
    let config = config::load(ws)?;
    Ok(config
        .remote
        .iter()
        .filter(|(_, r)| !r.url.is_empty())
        .map(|(name, r)| RemoteInfo {
            name: name.clone(),
            url: r.url.clone(),
            default: config.default_remote.as_deref() == Some(name),
            options: r
                .options
                .iter()
                .map(|(k, v)| {
                    let shown = if config::is_secret(k) { "***" } else { v };
                    (k.clone(), shown.to_string())
                })
                .collect(),
        })
        .collect())
}

/// Whether remote `name` answers: one listing request.
pub fn check(ws: &Workspace, name: &str) -> Result<(), DataError> {
    let remote = open(ws, Some(name))?;
    remote
        .backend
        .list("runs/")
        .map(|_| ())
        .map_err(|e| remote.error(e))
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

fn local_ends(ws: &Workspace) -> (ContentStore, RunCache) {
    (
        ContentStore::new(ws.layout().objects_dir()),
        RunCache::new(ws.layout().run_cache_dir()),
    )
}

/// Sends what the workspace versions and the run records (with their outputs) to a remote.
pub fn push(ws: &Workspace, options: &TransferOptions) -> Result<Transfer, DataError> {
    let remote = open(ws, options.remote.as_deref())?;
    let jobs = options.jobs.unwrap_or(remote.jobs).max(1);
    let (store, runs) = local_ends(ws);
    let selection = versioned_of(ws, &options.targets)?;
    let (records, bad) = runs.all();
    let records: Vec<_> = records
        .into_iter()
        .filter(|(_, r)| selection.wants_stage(&r.stage))
        .collect();
    let mut entries = selection.entries;
    entries.extend(records.iter().flat_map(|(_, r)| r.outs.iter().cloned()));
    let mut t = Transfer {
        remote: remote.name.clone(),
        problems: bad.into_iter().map(|b| format!("{b}; skipped")).collect(),
        ..Transfer::default()
    };
    let fail = |e| remote.error(e);
    let meter = transfer::Meter::new("push");
    let hashes = objects_of(&store, &entries);
    let sent = transfer::upload(&remote, jobs, &store, &hashes, &meter, &mut t);
    meter.finish();
    sent.map_err(fail)?;
    // Objects first, then the records naming them: a killed push leaves no record without its
    // objects.
    remote.backend.flush().map_err(fail)?;
    let present = transfer::listed_records(remote.backend.list("runs/").map_err(fail)?);
    transfer::upload_records(&*remote.backend, jobs, &records, &present, &mut t).map_err(fail)?;
    tracking::push(ws, &remote, jobs, &store, &mut t)?;
    remote.backend.flush().map_err(fail)?;
    Ok(t)
}

/// Brings what the workspace versions and the remote's run records into the local cache (with
/// `run_cache`, the records' outputs too). Call while holding the workspace lock.
pub fn fetch(ws: &Workspace, options: &TransferOptions) -> Result<Transfer, DataError> {
    let remote = open(ws, options.remote.as_deref())?;
    let jobs = options.jobs.unwrap_or(remote.jobs).max(1);
    let (store, runs) = local_ends(ws);
    let selection = versioned_of(ws, &options.targets)?;
    let mut t = Transfer {
        remote: remote.name.clone(),
        ..Transfer::default()
    };
    let fail = |e| remote.error(e);
    let listed = transfer::listed_records(remote.backend.list("runs/").map_err(fail)?);
    let (local, _) = runs.all();
    let have: BTreeSet<&String> = local.iter().map(|(f, _)| f).collect();
    let wanted: Vec<String> = listed.into_iter().filter(|f| !have.contains(f)).collect();
    let fetched =
        transfer::download_records(&*remote.backend, jobs, &runs, &wanted, &mut t).map_err(fail)?;
    let mut entries = selection.entries.clone();
    if options.run_cache {
        entries.extend(
            local
                .into_iter()
                .chain(fetched)
                .filter(|(_, r)| selection.wants_stage(&r.stage))
                .flat_map(|(_, r)| r.outs),
        );
    }
    let meter = transfer::Meter::new("fetch");
    // Manifests first (verified), so that directory files can be listed from the local copy.
    let manifests: BTreeSet<String> = entries
        .iter()
        .filter(|e| e.dir)
        .map(|e| e.hash.clone())
        .collect();
    let got =
        transfer::download(&remote, jobs, &store, &manifests, &meter, &mut t).and_then(|()| {
            let mut rest = objects_of(&store, &entries);
            rest.retain(|h| !manifests.contains(h));
            transfer::download(&remote, jobs, &store, &rest, &meter, &mut t)
        });
    meter.finish();
    got.map_err(fail)?;
    tracking::fetch(ws, &remote, jobs, &store, &mut t)?;
    transfer::sync_local(store.dir());
    Ok(t)
}

/// Downloads every object under an object-storage URL (`s3://bucket/models/iris`, `gs://…`,
/// `azure://…`) into `dest`: a registered model version whose source is a bucket. Credentials
/// and endpoints come from the cloud's environment variables. Keys are untrusted: one that is
/// not a plain relative path is refused before anything is written for it.
pub fn download_prefix(url: &str, dest: &Path) -> Result<usize, DataError> {
    let fail = |message: String| DataError::Remote {
        remote: "model source".into(),
        url: url.to_string(),
        message,
    };
    let kind = Kind::of(url).map_err(&fail)?;
    if kind == Kind::Directory {
        return Err(fail("not an object-storage URL".into()));
    }
    let cloud = cloud::Cloud::open(kind, url, &std::collections::BTreeMap::new())
        .map_err(|e| fail(e.to_string()))?;
    let keys = cloud.list("").map_err(|e| fail(e.to_string()))?;
    if keys.is_empty() {
        return Err(fail("no objects under this URL".into()));
    }
    for key in &keys {
        if let Some(problem) = crate::entry::inner_path_problem(key) {
            return Err(fail(problem));
        }
        let path = dest.join(key);
        let io = |e: std::io::Error| fail(format!("{}: {e}", path.display()));
        crate::atomic::parent_dir(&path).map_err(io)?;
        let mut file = std::fs::File::create(&path).map_err(io)?;
        cloud
            .get(key, &mut file)
            .map_err(|e| fail(format!("{key}: {e}")))?;
    }
    Ok(keys.len())
}
