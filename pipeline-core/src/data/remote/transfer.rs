//! Moving objects and run records between the local cache and a remote, the same way for every
//! kind of remote: one listing tells what the other side has (never a request per object), only
//! what it lacks moves, many requests are in flight at once, and every object is hashed as it
//! arrives and refused unless it hashes to its name. An interrupted transfer leaves nothing
//! half-written on either side (writes are atomic), so running it again sends only the rest.

use super::backend::{Backend, BackendError};
use super::{packs, Opened, Transfer};
use crate::cas::{CasError, ContentStore};
use crate::engine::run_cache::{RunCache, RunRecord};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Objects up to this size are read into memory, hashed and sent in one request.
const SMALL: u64 = 8 << 20;
/// The largest run record accepted from a remote.
const MAX_RECORD: usize = 16 << 20;

/// The key of object `hash` on a remote.
pub(crate) fn object_key(hash: &str) -> String {
    format!("cache/{}/{}", &hash[..2], &hash[2..])
}

/// The key of the run record of `fingerprint` on a remote.
pub(crate) fn record_key(fingerprint: &str) -> String {
    format!("runs/{}/{}.json", &fingerprint[..2], &fingerprint[2..])
}

/// The hashes in a listing of `cache/` (anything else there is ignored).
pub(crate) fn listed_objects(keys: Vec<String>) -> BTreeSet<String> {
    keys.into_iter()
        .filter_map(|key| {
            let rest = key.strip_prefix("cache/")?;
            let (head, tail) = rest.split_once('/')?;
            let hash = format!("{head}{tail}");
            crate::entry::is_hash(&hash).then_some(hash)
        })
        .collect()
}

/// The fingerprints in a listing of `runs/`.
pub(crate) fn listed_records(keys: Vec<String>) -> BTreeSet<String> {
    keys.into_iter()
        .filter_map(|key| {
            let rest = key.strip_prefix("runs/")?.strip_suffix(".json")?;
            let (head, tail) = rest.split_once('/')?;
            let fingerprint = format!("{head}{tail}");
            crate::entry::is_hash(&fingerprint).then_some(fingerprint)
        })
        .collect()
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Live counts of a transfer, shown as a progress bar on a terminal.
pub(crate) struct Meter {
    bar: indicatif::ProgressBar,
    bytes: AtomicU64,
}

impl Meter {
    /// A bar on stderr when it is a terminal, nothing otherwise.
    pub fn new(verb: &str) -> Self {
        use std::io::IsTerminal;
        let bar = if io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} objects, {msg} ({per_sec}, eta {eta})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(verb.to_string());
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        Meter {
            bar,
            bytes: AtomicU64::new(0),
        }
    }

    fn expect(&self, objects: usize) {
        self.bar.inc_length(objects as u64);
    }

    fn done(&self, bytes: u64) {
        self.done_many(1, bytes);
    }

    fn done_many(&self, objects: usize, bytes: u64) {
        let total = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.bar
            .set_message(indicatif::HumanBytes(total).to_string());
        self.bar.inc(objects as u64);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// What happened to one item.
enum Moved {
    Sent(u64),
    Absent,
    Problem(String),
}

/// Runs `work` on every item with `jobs` requests in flight, results in the items' order.
/// Plain scoped threads, not a rayon pool: a caller may itself be a stage running on the
/// engine's pool, and a rayon worker waiting on another pool steals unrelated work, which could
/// re-enter a lock this thread holds.
pub(crate) fn in_parallel<T: Sync, R: Send>(
    jobs: usize,
    items: &[T],
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let workers = jobs.clamp(1, items.len().max(1));
    if workers == 1 {
        return items.iter().map(work).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        out.push((i, work(item)));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Moves loose objects, one request each, `jobs` in flight. A remote failure (`Err` of `one`:
/// no network, denied) stops the transfer; what happened to each object is returned otherwise.
fn move_loose<T: Sync>(
    jobs: usize,
    items: &[T],
    meter: &Meter,
    one: impl Fn(&T) -> Result<Moved, BackendError> + Sync,
) -> Result<Vec<Moved>, BackendError> {
    let fatal = std::sync::Mutex::new(None);
    let results = in_parallel(jobs, items, |item| match one(item) {
        Ok(moved) => {
            if let Moved::Sent(bytes) = moved {
                meter.done(bytes);
            }
            moved
        }
        Err(e) => {
            *fatal.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            Moved::Absent
        }
    });
    match fatal.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(results),
    }
}

fn tally(results: Vec<Moved>, t: &mut Transfer) {
    for result in results {
        match result {
            Moved::Sent(bytes) => {
                t.objects += 1;
                t.bytes += bytes;
            }
            Moved::Absent => t.missing += 1,
            Moved::Problem(line) => t.problems.push(line),
        }
    }
}

/// Sends the objects among `hashes` that the remote lacks and the local store has: small ones
/// in packs when there are many, the rest one request each. A local object that no longer
/// hashes to its name is reported, never sent.
pub(crate) fn upload(
    remote: &Opened,
    jobs: usize,
    local: &ContentStore,
    hashes: &BTreeSet<String>,
    meter: &Meter,
    t: &mut Transfer,
) -> Result<(), BackendError> {
    let backend = &*remote.backend;
    let wanted: Vec<(String, u64)> = remote.with_inventory(jobs, &mut t.problems, |inventory| {
        hashes
            .iter()
            .filter(|h| {
                let there = inventory.has(h);
                t.present += usize::from(there);
                !there
            })
            .filter_map(|h| {
                let size = std::fs::metadata(local.object_path(h)).ok()?.len();
                Some((h.clone(), size))
            })
            .collect()
    })?;
    meter.expect(wanted.len());
    let (small, large): (Vec<_>, Vec<_>) = wanted
        .into_iter()
        .partition(|(_, size)| *size <= packs::PACKABLE);
    let (packed, loose) = if small.len() >= packs::PACK_MIN {
        (packs::group(small), large)
    } else {
        (Vec::new(), small.into_iter().chain(large).collect())
    };
    let sent_packs = in_parallel(jobs, &packed, |group| {
        let sent = packs::send(backend, local, group);
        if let Ok(sent) = &sent {
            meter.done_many(sent.objects.len(), sent.bytes);
        }
        sent
    });
    let mut sent_loose = Vec::new();
    let results = move_loose(jobs, &loose, meter, |(hash, _)| {
        upload_one(backend, local, hash)
    });
    let mut inventory_update = Vec::new();
    for sent in sent_packs {
        let sent = sent?;
        t.objects += sent.objects.len();
        t.bytes += sent.bytes;
        t.problems.extend(sent.problems.iter().cloned());
        inventory_update.push(sent);
    }
    let results = results?;
    for ((hash, _), result) in loose.iter().zip(&results) {
        if matches!(result, Moved::Sent(_)) {
            sent_loose.push(hash.clone());
        }
    }
    tally(results, t);
    remote.with_inventory(jobs, &mut t.problems, |inventory| {
        inventory.add_loose(sent_loose);
        for sent in &inventory_update {
            inventory.add_pack(&sent.id, &sent.objects);
        }
    })?;
    Ok(())
}

/// Sends one object. `Err` is a remote failure that stops the transfer (no network, denied);
/// a local problem with one object is `Moved::Problem`.
fn upload_one(
    backend: &dyn Backend,
    local: &ContentStore,
    hash: &str,
) -> Result<Moved, BackendError> {
    let path = local.object_path(hash);
    let corrupt = |actual: &str| {
        Moved::Problem(format!(
            "object {hash} ({}): corrupt in the local cache, its content hashes to {actual}; not sent",
            path.display()
        ))
    };
    let size = match std::fs::metadata(&path) {
        Ok(meta) => meta.len(),
        Err(_) => return Ok(Moved::Absent),
    };
    if size <= SMALL {
        let bytes = match crate::atomic::read_limited(&path, SMALL) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(Moved::Absent),
            Err(e) => return Ok(Moved::Problem(format!("{}: {e}", path.display()))),
        };
        let actual = crate::hash::bytes(&bytes);
        if actual != hash {
            return Ok(corrupt(&actual));
        }
        let len = bytes.len() as u64;
        backend.put_bytes(&object_key(hash), bytes)?;
        return Ok(Moved::Sent(len));
    }
    match crate::hash::file(&path) {
        Ok((actual, _)) if actual != hash => return Ok(corrupt(&actual)),
        Ok(_) => {}
        Err(e) => return Ok(Moved::Problem(format!("{}: {e}", path.display()))),
    }
    backend.put_file(&object_key(hash), &path)?;
    Ok(Moved::Sent(size))
}

/// Brings the objects among `hashes` that the local store lacks, from packs or one request
/// each. An object the remote does not have is counted as missing; one whose content does not
/// hash to its name is reported and dropped; the rest goes on.
pub(crate) fn download(
    remote: &Opened,
    jobs: usize,
    local: &ContentStore,
    hashes: &BTreeSet<String>,
    meter: &Meter,
    t: &mut Transfer,
) -> Result<(), BackendError> {
    let backend = &*remote.backend;
    let wanted: Vec<&String> = hashes
        .iter()
        .filter(|h| {
            let there = local.has(h);
            t.present += usize::from(there);
            !there
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let (packed, loose, missing) = remote.with_inventory(jobs, &mut t.problems, |inventory| {
        let packed: Vec<(String, Vec<packs::Packed>)> =
            packs::by_pack(inventory, wanted.iter().copied())
                .into_iter()
                .collect();
        let loose: Vec<&String> = wanted
            .iter()
            .copied()
            .filter(|h| inventory.pack_of(h).is_none() && inventory.has(h))
            .collect();
        let missing = wanted.iter().filter(|h| !inventory.has(h)).count();
        (packed, loose, missing)
    })?;
    t.missing += missing;
    meter.expect(wanted.len() - missing);
    let taken = in_parallel(jobs, &packed, |(id, objects)| {
        let taken = packs::take(backend, local, id, objects);
        if let Ok(results) = &taken {
            let bytes = results.iter().flatten().sum();
            meter.done_many(results.len(), bytes);
        }
        taken
    });
    for results in taken {
        for result in results? {
            match result {
                Ok(bytes) => {
                    t.objects += 1;
                    t.bytes += bytes;
                }
                Err(line) => t.problems.push(line),
            }
        }
    }
    let results = move_loose(jobs, &loose, meter, |hash| {
        download_one(backend, local, hash)
    })?;
    tally(results, t);
    Ok(())
}

fn download_one(
    backend: &dyn Backend,
    local: &ContentStore,
    hash: &str,
) -> Result<Moved, BackendError> {
    let tmp = match local.incoming() {
        Ok(tmp) => tmp,
        Err(e) => return Ok(Moved::Problem(e.to_string())),
    };
    let (size, actual) = {
        let mut into = Hashing {
            inner: io::BufWriter::with_capacity(1 << 20, tmp.as_file()),
            hasher: Sha256::new(),
        };
        let size = match backend.get(&object_key(hash), &mut into) {
            Ok(size) => size,
            Err(BackendError::NotFound) => return Ok(Moved::Absent),
            Err(e @ BackendError::Other(_)) => {
                return Ok(Moved::Problem(format!("object {hash}: {e}; skipped")))
            }
            Err(e) => return Err(e),
        };
        if let Err(e) = into.flush() {
            return Ok(Moved::Problem(format!("object {hash}: {e}; skipped")));
        }
        (size, crate::hash::hex(&into.hasher.finalize()))
    };
    match local.admit(tmp, hash, &actual) {
        Ok(()) => Ok(Moved::Sent(size)),
        Err(CasError::Corrupt { actual, .. }) => Ok(Moved::Problem(format!(
            "object {hash}: corrupt on the remote, its content hashes to {actual}; skipped"
        ))),
        Err(e) => Ok(Moved::Problem(format!("{e}; skipped"))),
    }
}

/// Sends the run records the remote lacks.
pub(crate) fn upload_records(
    backend: &dyn Backend,
    jobs: usize,
    records: &[(String, RunRecord)],
    present: &BTreeSet<String>,
    t: &mut Transfer,
) -> Result<(), BackendError> {
    let wanted: Vec<&(String, RunRecord)> = records
        .iter()
        .filter(|(f, _)| !present.contains(f))
        .collect();
    let results = in_parallel(jobs, &wanted, |(fingerprint, record)| {
        let bytes = serde_json::to_vec_pretty(record).unwrap_or_default();
        backend.put_bytes(&record_key(fingerprint), bytes)
    });
    for result in results {
        result?;
        t.runs += 1;
    }
    Ok(())
}

/// Reads one small key whole, refusing more than `limit` bytes.
pub(crate) fn get_small(
    backend: &dyn Backend,
    key: &str,
    limit: usize,
) -> Result<Vec<u8>, BackendError> {
    struct Capped(Vec<u8>, usize);
    impl Write for Capped {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0.len() + buf.len() > self.1 {
                return Err(io::Error::other(format!("larger than {} bytes", self.1)));
            }
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut out = Capped(Vec::new(), limit);
    backend.get(key, &mut out)?;
    Ok(out.0)
}

/// Brings the run records of `fingerprints` into `local`, each validated as it is parsed (hashes,
/// paths inside the workspace); an invalid one is reported and never stored. Returns the valid
/// records.
pub(crate) fn download_records(
    backend: &dyn Backend,
    jobs: usize,
    local: &RunCache,
    fingerprints: &[String],
    t: &mut Transfer,
) -> Result<Vec<(String, RunRecord)>, BackendError> {
    let results = in_parallel(jobs, fingerprints, |fingerprint| {
        let key = record_key(fingerprint);
        match get_small(backend, &key, MAX_RECORD) {
            Ok(bytes) => Ok(Some((key, bytes))),
            Err(BackendError::NotFound) => Ok(None),
            Err(BackendError::Other(e)) => Err(Ok(format!("run record {key}: {e}; skipped"))),
            Err(e) => Err(Err(e)),
        }
    });
    let mut out = Vec::new();
    for (fingerprint, result) in fingerprints.iter().zip(results) {
        let (key, bytes) = match result {
            Ok(Some(found)) => found,
            Ok(None) => continue,
            Err(Ok(problem)) => {
                t.problems.push(problem);
                continue;
            }
            Err(Err(fatal)) => return Err(fatal),
        };
        let record: RunRecord = match serde_json::from_slice(&bytes) {
            Ok(record) => record,
            Err(e) => {
                t.problems
                    .push(format!("run record {key} on the remote: {e}; skipped"));
                continue;
            }
        };
        match local.put(fingerprint, &record) {
            Ok(()) => {
                t.runs += 1;
                out.push((fingerprint.clone(), record));
            }
            Err(e) => t
                .problems
                .push(format!("{}: {e}; skipped", local.dir().display())),
        }
    }
    Ok(out)
}

/// Makes what arrived in the local store durable.
pub(crate) fn sync_local(dir: &Path) {
    let _ = crate::atomic::sync_filesystem(dir);
}
