//! Tracking runs through a remote, for the embedded store: `push` sends each ended run as one
//! record (`tracking/<run id>.json`) with its artifacts as cache objects, `fetch` imports the
//! runs this store lacks under their own ids. Against an MLflow server there is nothing to carry:
//! the server is already shared.

use super::backend::BackendError;
use super::transfer::{self, get_small, in_parallel, Meter};
use super::{Opened, Transfer};
use crate::cas::ContentStore;
use crate::data::DataError;
use crate::tracking::{RunBundle, SqliteStore, Target, TrackingStore};
use crate::workspace::Workspace;
use std::collections::BTreeSet;

/// The largest tracking record accepted from a remote.
const MAX_BUNDLE: usize = 64 << 20;

fn key(run_id: &str) -> String {
    format!("tracking/{run_id}.json")
}

fn listed(keys: Vec<String>) -> BTreeSet<String> {
    keys.into_iter()
        .filter_map(|k| {
            let id = k.strip_prefix("tracking/")?.strip_suffix(".json")?;
            (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_string())
        })
        .collect()
}

/// The objects the runs' artifacts are.
fn artifacts_of(bundles: &[RunBundle]) -> BTreeSet<String> {
    bundles
        .iter()
        .flat_map(|b| b.artifacts.iter().map(|a| a.hash.clone()))
        .collect()
}

/// The embedded store, when runs are recorded there (and, unless `create`, only if it exists).
fn embedded(ws: &Workspace, create: bool) -> Result<Option<SqliteStore>, DataError> {
    match Target::choose(ws, None)? {
        Target::Embedded { db, objects } if create || db.is_file() => {
            Ok(Some(SqliteStore::open(&db, &objects)?))
        }
        _ => Ok(None),
    }
}

/// Sends the ended runs the remote lacks, artifacts first.
pub(super) fn push(
    ws: &Workspace,
    remote: &Opened,
    jobs: usize,
    store: &ContentStore,
    t: &mut Transfer,
) -> Result<(), DataError> {
    let Some(db) = embedded(ws, false)? else {
        return Ok(());
    };
    let fail = |e| remote.error(e);
    let present = listed(remote.backend.list("tracking/").map_err(fail)?);
    let mut bundles = Vec::new();
    for id in db.ended_run_ids()? {
        if !present.contains(&id) {
            bundles.push(db.export_run(&id)?);
        }
    }
    if bundles.is_empty() {
        return Ok(());
    }
    let meter = Meter::new("push");
    // Artifacts are mostly stage outputs sent a moment ago: not counted twice as present.
    let present = t.present;
    let sent = transfer::upload(remote, jobs, store, &artifacts_of(&bundles), &meter, t);
    t.present = present;
    meter.finish();
    sent.map_err(fail)?;
    remote.backend.flush().map_err(fail)?;
    let results = in_parallel(jobs, &bundles, |b| {
        let bytes = serde_json::to_vec(b).map_err(|e| BackendError::Other(e.to_string()))?;
        remote.backend.put_bytes(&key(&b.info.run_id), bytes)
    });
    for result in results {
        result.map_err(fail)?;
        t.tracking_runs += 1;
    }
    Ok(())
}

/// Imports the runs this store lacks; a record that does not parse or import is reported and
/// skipped.
pub(super) fn fetch(
    ws: &Workspace,
    remote: &Opened,
    jobs: usize,
    store: &ContentStore,
    t: &mut Transfer,
) -> Result<(), DataError> {
    let listed = listed(
        remote
            .backend
            .list("tracking/")
            .map_err(|e| remote.error(e))?,
    );
    if listed.is_empty() {
        return Ok(());
    }
    let Some(db) = embedded(ws, true)? else {
        return Ok(());
    };
    let wanted: Vec<String> = listed
        .into_iter()
        .filter(|id| db.get_run(id).is_err())
        .collect();
    import(&db, remote, jobs, store, &wanted, t)
}

/// Brings the tracking run of the stage execution with `fingerprint`, if the remote has it and
/// this store does not. Returns the pipeline run it belongs to, for [`bring_runs`] once every
/// stage is done (bringing it now would bring its artifacts, the other stages' outputs, and
/// those stages would then be restored locally without their own runs).
pub(super) fn bring_stage_run(
    ws: &Workspace,
    remote: &Opened,
    fingerprint: &str,
    store: &ContentStore,
) -> Result<Option<String>, DataError> {
    let Some(db) = embedded(ws, true)? else {
        return Ok(None);
    };
    let id = crate::tracking::stage_run_id(fingerprint);
    if db.get_run(&id).is_err() {
        bring(&db, remote, store, std::slice::from_ref(&id))?;
    }
    Ok(db.get_run(&id).ok().and_then(|run| {
        run.tags
            .into_iter()
            .find(|tag| tag.key == crate::tracking::model::TAG_PARENT_RUN_ID)
            .map(|tag| tag.value)
    }))
}

/// Brings the runs of `ids` this store lacks.
pub(super) fn bring_runs(
    ws: &Workspace,
    remote: &Opened,
    ids: &[String],
    store: &ContentStore,
) -> Result<(), DataError> {
    let Some(db) = embedded(ws, true)? else {
        return Ok(());
    };
    let missing: Vec<String> = ids
        .iter()
        .filter(|id| db.get_run(id).is_err())
        .cloned()
        .collect();
    bring(&db, remote, store, &missing)
}

/// [`import`], with its first problem as the error.
fn bring(
    db: &SqliteStore,
    remote: &Opened,
    store: &ContentStore,
    ids: &[String],
) -> Result<(), DataError> {
    let mut t = Transfer::default();
    import(db, remote, remote.jobs, store, ids, &mut t)?;
    match t.problems.into_iter().next() {
        Some(problem) => Err(DataError::Remote {
            remote: remote.name.clone(),
            url: String::new(),
            message: problem,
        }),
        None => Ok(()),
    }
}

/// Fetches the records of `ids`, their artifacts, and imports them.
fn import(
    db: &SqliteStore,
    remote: &Opened,
    jobs: usize,
    store: &ContentStore,
    ids: &[String],
    t: &mut Transfer,
) -> Result<(), DataError> {
    let fail = |e| remote.error(e);
    let got = in_parallel(jobs, ids, |id| {
        get_small(&*remote.backend, &key(id), MAX_BUNDLE)
    });
    let mut bundles = Vec::new();
    for (id, result) in ids.iter().zip(got) {
        let bytes = match result {
            Ok(bytes) => bytes,
            Err(BackendError::NotFound) => continue,
            Err(BackendError::Other(e)) => {
                t.problems.push(format!("tracking run {id}: {e}; skipped"));
                continue;
            }
            Err(e) => return Err(fail(e)),
        };
        match serde_json::from_slice::<RunBundle>(&bytes) {
            Ok(bundle) if bundle.info.run_id == *id => bundles.push(bundle),
            Ok(_) => t.problems.push(format!(
                "tracking run {id} on the remote: its record names another run; skipped"
            )),
            Err(e) => t
                .problems
                .push(format!("tracking run {id} on the remote: {e}; skipped")),
        }
    }
    let meter = Meter::new("fetch");
    let present = t.present;
    let got = transfer::download(remote, jobs, store, &artifacts_of(&bundles), &meter, t);
    t.present = present;
    meter.finish();
    got.map_err(fail)?;
    for bundle in &bundles {
        match db.import_run(bundle) {
            Ok(true) => t.tracking_runs += 1,
            Ok(false) => {}
            Err(e) => t.problems.push(format!(
                "tracking run {} on the remote: {e}; skipped",
                bundle.info.run_id
            )),
        }
    }
    Ok(())
}
