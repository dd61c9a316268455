//! Workspace files and directories in and out of the content store. A directory is stored file
//! by file plus a manifest object listing them; restoring builds the new content beside the old
//! and swaps it in only once complete, so a kill leaves either version, never a mix.

use super::{io_err, CasError, ContentStore};
use crate::atomic;
use crate::entry::{Manifest, PathEntry};
use crate::hash;
use crate::layout::TMP_PREFIX;
use crate::state::{manifest_bytes, StateCache};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// How a file enters the store.
#[derive(Clone, Copy)]
enum Keep {
    /// Copied (stage outputs: the workspace copy stays writable and independent).
    Copy,
    /// Hard-linked and made read-only (added data: no second copy written).
    Link,
}

impl ContentStore {
    /// Whether every object `entry` needs is present (a directory: its manifest and files).
    pub fn contains(&self, entry: &PathEntry) -> bool {
        if !self.has(&entry.hash) {
            return false;
        }
        if !entry.dir {
            return true;
        }
        match self.read_manifest(&entry.hash) {
            Ok(manifest) => manifest.iter().all(|f| self.has(&f.hash)),
            Err(_) => false,
        }
    }

    /// Stores the file or directory at `root/rel` and returns its entry. A directory is stored
    /// file by file, plus its manifest.
    pub fn store_path(&self, root: &Path, rel: &str) -> Result<PathEntry, CasError> {
        // A throwaway state cache: files in a staging area are hashed once, here.
        let scratch = StateCache::load(&self.dir().join("never-saved.json"));
        self.put_path(root, rel, Keep::Copy, &scratch)
    }

    /// [`store_path`](Self::store_path) of workspace data (`add`), hashing only the files
    /// `state` has not seen unchanged: adding again a directory of 100,000 files where one
    /// changed rehashes and stores that one file and the manifest. With `link`, files are
    /// hard-linked into the cache instead of copied and marked read-only, so an edit in place
    /// cannot change a cached object (editors that save by rename are unaffected); copying is
    /// the fallback across filesystems. A 1 GiB data file then costs one hashing pass, not a
    /// second gigabyte written.
    pub fn add_path(
        &self,
        root: &Path,
        rel: &str,
        link: bool,
        state: &StateCache,
    ) -> Result<PathEntry, CasError> {
        let keep = if link { Keep::Link } else { Keep::Copy };
        self.put_path(root, rel, keep, state)
    }

    fn put_path(
        &self,
        root: &Path,
        rel: &str,
        keep: Keep,
        state: &StateCache,
    ) -> Result<PathEntry, CasError> {
        let abs = root.join(rel);
        let meta = fs::metadata(&abs).map_err(io_err(&abs))?;
        if !meta.is_dir() {
            if !meta.is_file() {
                return Err(io_err(&abs)(io::Error::other(
                    "not a regular file or directory (a FIFO, device or socket is never read)",
                )));
            }
            let (hash, size) = self.put_file(&abs, keep)?;
            return Ok(PathEntry {
                path: rel.to_string(),
                hash,
                size,
                dir: false,
                mode: crate::entry::mode_of(&meta),
            });
        }
        let manifest = state
            .manifest(root, rel)
            .map_err(|e| io_err(&abs)(io::Error::other(e.to_string())))?;
        // Sequential: with one filesystem sync at the end, storing is bound by the disk.
        let stored = manifest
            .iter()
            .map(|file| {
                let path = abs.join(&file.path);
                // Content already cached (another file, an earlier add) costs nothing.
                if self.has(&file.hash) {
                    return Ok(None);
                }
                let (hash, _, parent) = match keep {
                    Keep::Copy => {
                        let input = File::open(&path).map_err(io_err(&path))?;
                        self.write_unsynced_dir(input, &path, false)?
                    }
                    Keep::Link => {
                        let (hash, size) = self.link_file(&path)?;
                        (hash, size, None)
                    }
                };
                if hash != file.hash {
                    return Err(io_err(&path)(io::Error::other(
                        "changed while being stored",
                    )));
                }
                Ok(parent)
            })
            .collect::<Result<Vec<Option<PathBuf>>, CasError>>()?;
        // One sync for every file and rename above, before the manifest names them.
        let shards: std::collections::BTreeSet<PathBuf> = stored.into_iter().flatten().collect();
        if !shards.is_empty() && atomic::sync_filesystem(self.dir()).is_err() {
            for shard in shards {
                atomic::sync_dir(&shard);
            }
        }
        let hash = self.write_bytes(&manifest_bytes(&manifest))?;
        Ok(PathEntry {
            path: rel.to_string(),
            hash,
            size: manifest.iter().map(|f| f.size).sum(),
            dir: true,
            mode: None,
        })
    }

    fn put_file(&self, src: &Path, keep: Keep) -> Result<(String, u64), CasError> {
        match keep {
            Keep::Copy => self.write_file(src),
            Keep::Link => self.link_file(src),
        }
    }

    /// Hashes `src` and hard-links it in as its object.
    fn link_file(&self, src: &Path) -> Result<(String, u64), CasError> {
        let (hash, size) = hash::file(src).map_err(io_err(src))?;
        let object = self.object_path(&hash);
        if !object.is_file() {
            fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
            atomic::parent_dir(&object).map_err(io_err(&object))?;
            let tmp = self.dir.join(format!("{}{hash}", TMP_PREFIX));
            let _ = fs::remove_file(&tmp);
            if fs::hard_link(src, &tmp).is_err() {
                return self.write_file(src);
            }
            fs::rename(&tmp, &object).map_err(io_err(&object))?;
        }
        let mut permissions = fs::metadata(src).map_err(io_err(src))?.permissions();
        permissions.set_readonly(true);
        fs::set_permissions(src, permissions).map_err(io_err(src))?;
        Ok((hash, size))
    }

    /// Reads a directory manifest object.
    pub fn read_manifest(&self, hash: &str) -> Result<Manifest, CasError> {
        let bytes = self.read(hash, "a directory manifest")?;
        serde_json::from_slice(&bytes).map_err(|e| CasError::BadManifest {
            object: self.object_path(hash),
            message: e.to_string(),
        })
    }

    /// Puts `entry` back at `root/entry.path`, verifying every object on the way. The previous
    /// content is replaced only once the new one is complete.
    pub fn restore(
        &self,
        root: &Path,
        entry: &PathEntry,
        state: &StateCache,
    ) -> Result<(), CasError> {
        let dest = root.join(&entry.path);
        if !entry.dir {
            let tmp = self.copy_out(&entry.hash, &entry.path, &dest, true)?;
            set_mode(tmp.path(), entry.mode)?;
            replace(tmp, &dest)?;
            state.remember(&dest, &entry.path, &entry.hash);
            return Ok(());
        }
        let manifest = self.read_manifest(&entry.hash)?;
        let parent = atomic::parent_dir(&dest).map_err(io_err(&dest))?;
        let staging = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .permissions(atomic::default_dir_permissions())
            .tempdir_in(parent)
            .map_err(io_err(parent))?;
        for file in &manifest {
            let target = staging.path().join(&file.path);
            let rel = format!("{}/{}", entry.path, file.path);
            let tmp = self.copy_out(&file.hash, &rel, &target, false)?;
            set_mode(tmp.path(), file.mode)?;
            tmp.persist(&target).map_err(|e| io_err(&target)(e.error))?;
        }
        // One sync for every file above, before the new directory takes the old one's place.
        atomic::sync_filesystem(staging.path()).map_err(io_err(staging.path()))?;
        let built = staging.keep();
        replace_dir(&built, &dest)?;
        for file in &manifest {
            let rel = format!("{}/{}", entry.path, file.path);
            state.remember(&dest.join(&file.path), &rel, &file.hash);
        }
        Ok(())
    }
}

/// Gives a restored file the permission bits recorded for it; without any, it keeps those it was
/// created with (the user's umask).
fn set_mode(path: &Path, mode: Option<u32>) -> Result<(), CasError> {
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err(path))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Renames a finished temp file over `dest`, removing a directory that stood there.
fn replace(tmp: tempfile::NamedTempFile, dest: &Path) -> Result<(), CasError> {
    if dest.is_dir() {
        fs::remove_dir_all(dest).map_err(io_err(dest))?;
    }
    tmp.persist(dest).map_err(|e| io_err(dest)(e.error))?;
    if let Some(parent) = dest.parent() {
        atomic::sync_dir(parent);
    }
    Ok(())
}

/// Moves the finished directory `built` to `dest`, swapping out whatever was there.
pub fn replace_dir(built: &Path, dest: &Path) -> Result<(), CasError> {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let old = dest.with_file_name(format!("{}old-{name}", TMP_PREFIX));
    let had_old = match fs::symlink_metadata(dest) {
        Ok(_) => {
            let _ = fs::remove_dir_all(&old);
            fs::rename(dest, &old).map_err(io_err(dest))?;
            true
        }
        Err(_) => false,
    };
    fs::rename(built, dest).map_err(io_err(dest))?;
    if had_old {
        let _ = fs::remove_dir_all(&old).or_else(|_| fs::remove_file(&old));
    }
    if let Some(parent) = dest.parent() {
        atomic::sync_dir(parent);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let ws = tempfile::tempdir().unwrap();
        let store = ContentStore::new(ws.path().join(".pipeline/cache"));
        let state = StateCache::load(&ws.path().join(".pipeline/state.json"));
        fs::write(ws.path().join("a.txt"), "hello").unwrap();
        let entry = store.store_path(ws.path(), "a.txt").unwrap();
        assert_eq!(entry.hash, hash::bytes(b"hello"));
        fs::remove_file(ws.path().join("a.txt")).unwrap();
        store.restore(ws.path(), &entry, &state).unwrap();
        assert_eq!(
            fs::read_to_string(ws.path().join("a.txt")).unwrap(),
            "hello"
        );

        fs::write(store.object_path(&entry.hash), "tampered").unwrap();
        fs::write(ws.path().join("a.txt"), "kept").unwrap();
        let err = store.restore(ws.path(), &entry, &state).unwrap_err();
        assert!(matches!(err, CasError::Corrupt { .. }), "{err}");
        assert_eq!(fs::read_to_string(ws.path().join("a.txt")).unwrap(), "kept");
        assert!(!store.object_path(&entry.hash).exists());
    }

    #[test]
    fn directories_round_trip() {
        let ws = tempfile::tempdir().unwrap();
        let store = ContentStore::new(ws.path().join(".pipeline/cache"));
        let state = StateCache::load(&ws.path().join(".pipeline/state.json"));
        fs::create_dir_all(ws.path().join("out/deep")).unwrap();
        fs::write(ws.path().join("out/x"), "x").unwrap();
        fs::write(ws.path().join("out/deep/y"), "yy").unwrap();
        let entry = store.store_path(ws.path(), "out").unwrap();
        assert!(entry.dir && entry.size == 3);
        fs::remove_dir_all(ws.path().join("out")).unwrap();
        fs::create_dir_all(ws.path().join("out")).unwrap();
        fs::write(ws.path().join("out/stale"), "s").unwrap();
        store.restore(ws.path(), &entry, &state).unwrap();
        assert_eq!(
            fs::read_to_string(ws.path().join("out/deep/y")).unwrap(),
            "yy"
        );
        assert!(!ws.path().join("out/stale").exists());
        assert_eq!(state.hash_path(ws.path(), "out").unwrap(), entry);
    }
}
