//! Small objects travel in packs: a push of thousands of small files sends a few objects of a
//! few megabytes instead of one request per file, which is what makes many small files cost no
//! more than their bytes on object storage. A pack is `packs/<id>.pack`, the objects end to end,
//! with `packs/<id>.idx` listing each object's hash, offset and size; `<id>` is the pack's own
//! hash. The index is written after the pack, so an index always names a complete pack.
//!
//! A pack and its index come from the remote: untrusted. An index that does not parse is
//! reported and its pack ignored; every object taken out of a pack is hashed and refused unless
//! it hashes to its name.

use super::backend::{Backend, BackendError};
use crate::cas::ContentStore;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;

/// Objects up to this size may travel in packs.
pub(crate) const PACKABLE: u64 = 256 << 10;
/// A push with fewer small objects than this sends them one by one.
pub(crate) const PACK_MIN: usize = 64;
/// A pack holds at most this many bytes...
const PACK_BYTES: u64 = 8 << 20;
/// ...and this many objects.
const PACK_OBJECTS: usize = 4096;
/// The largest index or pack read.
const MAX_INDEX: usize = 4 << 20;
const MAX_PACK: usize = (PACK_BYTES + PACKABLE) as usize;

/// One object in a pack.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Packed {
    #[serde(deserialize_with = "crate::entry::content_hash")]
    pub hash: String,
    pub offset: u64,
    pub size: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    objects: Vec<Packed>,
}

fn pack_key(id: &str) -> String {
    format!("packs/{id}.pack")
}

fn index_key(id: &str) -> String {
    format!("packs/{id}.idx")
}

/// What a remote holds: loose objects, and objects in packs.
#[derive(Default)]
pub(crate) struct Inventory {
    loose: BTreeSet<String>,
    packed: HashMap<String, (String, Packed)>,
}

impl Inventory {
    /// Whether the remote has object `hash`.
    pub fn has(&self, hash: &str) -> bool {
        self.loose.contains(hash) || self.packed.contains_key(hash)
    }

    /// The pack holding `hash`, and where in it.
    pub fn pack_of(&self, hash: &str) -> Option<&(String, Packed)> {
        self.packed.get(hash)
    }

    /// Records objects sent loose.
    pub fn add_loose(&mut self, hashes: impl IntoIterator<Item = String>) {
        self.loose.extend(hashes);
    }

    /// Records a pack sent.
    pub fn add_pack(&mut self, id: &str, objects: &[Packed]) {
        for object in objects {
            self.packed
                .entry(object.hash.clone())
                .or_insert_with(|| (id.to_string(), object.clone()));
        }
    }
}

/// Lists the remote's loose objects and packs, reading every pack index. Returns the inventory
/// and a line per index that could not be used.
pub(crate) fn inventory(
    backend: &dyn Backend,
    jobs: usize,
) -> Result<(Inventory, Vec<String>), BackendError> {
    let mut inventory = Inventory {
        loose: super::transfer::listed_objects(backend.list("cache/")?),
        ..Inventory::default()
    };
    let ids: Vec<String> = backend
        .list("packs/")?
        .into_iter()
        .filter_map(|key| {
            let id = key.strip_prefix("packs/")?.strip_suffix(".idx")?;
            crate::entry::is_hash(id).then(|| id.to_string())
        })
        .collect();
    let indexes = super::transfer::in_parallel(jobs, &ids, |id| {
        super::transfer::get_small(backend, &index_key(id), MAX_INDEX)
    });
    let mut problems = Vec::new();
    for (id, index) in ids.iter().zip(indexes) {
        let bytes = match index {
            Ok(bytes) => bytes,
            Err(BackendError::NotFound) => continue,
            Err(BackendError::Other(e)) => {
                problems.push(format!(
                    "pack index {}: {e}; its pack ignored",
                    index_key(id)
                ));
                continue;
            }
            Err(e) => return Err(e),
        };
        match serde_json::from_slice::<Index>(&bytes) {
            Ok(index) => inventory.add_pack(id, &index.objects),
            Err(e) => problems.push(format!(
                "pack index {} on the remote: {e}; its pack ignored",
                index_key(id)
            )),
        }
    }
    Ok((inventory, problems))
}

/// Splits small objects (hash, size) into packs by size and count, in order.
pub(crate) fn group(objects: Vec<(String, u64)>) -> Vec<Vec<(String, u64)>> {
    let mut groups: Vec<Vec<(String, u64)>> = Vec::new();
    let mut bytes = 0;
    for (hash, size) in objects {
        let full = groups
            .last()
            .is_none_or(|g| g.len() >= PACK_OBJECTS || bytes + size > PACK_BYTES);
        if full {
            groups.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(group) = groups.last_mut() {
            group.push((hash, size));
        }
    }
    groups
}

/// What sending one pack did.
pub(crate) struct Sent {
    pub id: String,
    pub objects: Vec<Packed>,
    pub bytes: u64,
    pub problems: Vec<String>,
}

/// Reads the objects of `group` from `local` (each verified), sends them as one pack, then its
/// index. An object that vanished is left out; one that no longer hashes to its name is
/// reported and left out.
pub(crate) fn send(
    backend: &dyn Backend,
    local: &ContentStore,
    group: &[(String, u64)],
) -> Result<Sent, BackendError> {
    let mut pack = Vec::with_capacity(group.iter().map(|(_, s)| *s as usize).sum());
    let mut objects = Vec::with_capacity(group.len());
    let mut problems = Vec::new();
    for (hash, _) in group {
        let path = local.object_path(hash);
        let bytes = match crate::atomic::read_limited(&path, PACKABLE) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => continue,
            Err(e) => {
                problems.push(format!("{}: {e}; not sent", path.display()));
                continue;
            }
        };
        let actual = crate::hash::bytes(&bytes);
        if actual != *hash {
            problems.push(format!(
                "object {hash} ({}): corrupt in the local cache, its content hashes to {actual}; not sent",
                path.display()
            ));
            continue;
        }
        objects.push(Packed {
            hash: hash.clone(),
            offset: pack.len() as u64,
            size: bytes.len() as u64,
        });
        pack.extend_from_slice(&bytes);
    }
    let id = crate::hash::bytes(&pack);
    let bytes = pack.len() as u64;
    if !objects.is_empty() {
        backend.put_bytes(&pack_key(&id), pack)?;
        let index = serde_json::to_vec(&Index {
            objects: objects.clone(),
        })
        .map_err(|e| BackendError::Other(e.to_string()))?;
        backend.put_bytes(&index_key(&id), index)?;
    }
    Ok(Sent {
        id,
        objects,
        bytes,
        problems,
    })
}

/// Takes the `wanted` objects out of pack `id` into `local`, each verified. Returns, per object,
/// its size or why it was refused.
pub(crate) fn take(
    backend: &dyn Backend,
    local: &ContentStore,
    id: &str,
    wanted: &[Packed],
) -> Result<Vec<Result<u64, String>>, BackendError> {
    let pack = match super::transfer::get_small(backend, &pack_key(id), MAX_PACK) {
        Ok(pack) => pack,
        Err(BackendError::Other(e)) => {
            let line = format!("pack {}: {e}; its objects skipped", pack_key(id));
            return Ok(wanted.iter().map(|_| Err(line.clone())).collect());
        }
        Err(e) => return Err(e),
    };
    Ok(wanted
        .iter()
        .map(|object| {
            let hash = &object.hash;
            let range = usize::try_from(object.offset)
                .ok()
                .zip(usize::try_from(object.offset + object.size).ok())
                .and_then(|(start, end)| pack.get(start..end));
            let Some(bytes) = range else {
                return Err(format!(
                    "object {hash}: outside pack {} on the remote; skipped",
                    pack_key(id)
                ));
            };
            let actual = crate::hash::bytes(bytes);
            if actual != *hash {
                return Err(format!(
                    "object {hash}: corrupt on the remote (in {}), its content hashes to {actual}; skipped",
                    pack_key(id)
                ));
            }
            let mut tmp = local.incoming().map_err(|e| e.to_string())?;
            tmp.write_all(bytes)
                .map_err(|e| format!("object {hash}: {e}; skipped"))?;
            local
                .admit(tmp, hash, &actual)
                .map_err(|e| format!("{e}; skipped"))?;
            Ok(object.size)
        })
        .collect())
}

/// The wanted objects of each pack, by pack id.
pub(crate) fn by_pack<'a>(
    inventory: &'a Inventory,
    hashes: impl IntoIterator<Item = &'a String>,
) -> BTreeMap<String, Vec<Packed>> {
    let mut out: BTreeMap<String, Vec<Packed>> = BTreeMap::new();
    for hash in hashes {
        if let Some((id, object)) = inventory.pack_of(hash) {
            out.entry(id.clone()).or_default().push(object.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_respect_bytes_and_count() {
        let many: Vec<(String, u64)> = (0..10_000).map(|i| (format!("{i}"), 1024)).collect();
        let groups = group(many);
        assert_eq!(groups.len(), 3);
        assert!(groups.iter().all(|g| g.len() <= PACK_OBJECTS));
        let big: Vec<(String, u64)> = (0..100).map(|i| (format!("{i}"), PACKABLE)).collect();
        let groups = group(big);
        assert!(groups
            .iter()
            .all(|g| g.iter().map(|(_, s)| s).sum::<u64>() <= PACK_BYTES));
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 100);
    }
}
