//! The one content-addressed store, `.pipeline/cache/ab/cdef…`: stage outputs, versioned data
//! and tracking artifacts alike are stored once by SHA-256. Objects are written through a temp
//! file (named by [`crate::layout`], so one sweep finds leftovers) and renamed into place, and
//! verified whenever they are read (a corrupt object found is deleted: it can only do harm), so a corrupt object is reported and never copied onward.
//!
//! `tree.rs` puts workspace files and directories in and takes them out again (a directory is a
//! manifest object listing its files).

mod tree;

pub use tree::replace_dir;

use crate::atomic;
use crate::hash;
use crate::layout::TMP_PREFIX;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Why an object could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum CasError {
    /// A filesystem error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The object is not in the store.
    #[error("cache object {hash} for `{path}` is missing")]
    Missing {
        /// The object's hash.
        hash: String,
        /// What it was meant for (a workspace path, an artifact).
        path: String,
    },
    /// The object's content does not match its name.
    #[error("cache object {object} for `{path}` is corrupt (content hashes to {actual}); it was removed and not copied into the workspace")]
    Corrupt {
        /// The object file.
        object: PathBuf,
        /// What it was meant for.
        path: String,
        /// What its content hashes to.
        actual: String,
    },
    /// A hash read from a file is not a content hash; nothing was looked up with it.
    #[error("`{path}`: {problem}")]
    BadHash {
        /// What it was meant for.
        path: String,
        /// Why the hash is refused.
        problem: String,
    },
    /// A directory manifest could not be read.
    #[error("cache object {object}: not a valid directory manifest: {message}")]
    BadManifest {
        /// The object file.
        object: PathBuf,
        /// The parser's message.
        message: String,
    },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CasError + '_ {
    move |source| CasError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A stored object's hash and size, and the directory whose fsync makes it durable (none when
/// the object was already there).
type Stored = (String, u64, Option<PathBuf>);

/// The content store of one workspace (shared with its experiments' scratch workspaces).
#[derive(Clone, Debug)]
pub struct ContentStore {
    dir: PathBuf,
}

impl ContentStore {
    /// The store rooted at `dir` (normally [`crate::layout::Layout::objects_dir`]).
    pub fn new(dir: PathBuf) -> Self {
        ContentStore { dir }
    }

    /// The directory holding the objects.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the object `hash` lives. Never outside the store: anything but a content hash
    /// (which [`crate::entry`] refuses when reading files) maps to a name no object has.
    pub fn object_path(&self, hash: &str) -> PathBuf {
        if !crate::entry::is_hash(hash) {
            return self.dir.join("not-a-hash");
        }
        let (head, tail) = hash.split_at(2);
        self.dir.join(head).join(tail)
    }

    /// Refuses anything but a content hash before it names a file.
    fn checked(hash: &str, what: &str) -> Result<(), CasError> {
        match crate::entry::hash_problem(hash) {
            Some(problem) => Err(CasError::BadHash {
                path: what.to_string(),
                problem,
            }),
            None => Ok(()),
        }
    }

    /// Whether object `hash` is present (not whether it is intact).
    pub fn has(&self, hash: &str) -> bool {
        crate::entry::is_hash(hash) && self.object_path(hash).is_file()
    }

    /// Stores everything `reader` yields, returning its hash and size.
    pub fn write_reader(&self, reader: impl Read) -> Result<(String, u64), CasError> {
        let (hash, size, parent) = self.write_unsynced_dir(reader, &self.dir, true)?;
        if let Some(parent) = parent {
            atomic::sync_dir(&parent);
        }
        Ok((hash, size))
    }

    /// Copies the file at `src` into the store in one read, returning its hash and size.
    pub fn write_file(&self, src: &Path) -> Result<(String, u64), CasError> {
        let input = File::open(src).map_err(io_err(src))?;
        self.write_reader(input)
    }

    /// A temp file inside the store, for an object arriving from a remote: once written and
    /// hashed, [`admit`](Self::admit) renames it into place.
    pub(crate) fn incoming(&self) -> Result<tempfile::NamedTempFile, CasError> {
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .permissions(atomic::default_permissions())
            .tempfile_in(&self.dir)
            .map_err(io_err(&self.dir))
    }

    /// Puts an arrived object in place as `expected`, only if its content hashed to that
    /// (`actual`); a mismatch is [`CasError::Corrupt`] and the temp file goes. Not synced: a
    /// transfer syncs the filesystem once when it ends.
    pub(crate) fn admit(
        &self,
        tmp: tempfile::NamedTempFile,
        expected: &str,
        actual: &str,
    ) -> Result<(), CasError> {
        Self::checked(expected, "an arriving object")?;
        if actual != expected {
            return Err(CasError::Corrupt {
                object: tmp.path().to_path_buf(),
                path: format!("object {expected}"),
                actual: actual.to_string(),
            });
        }
        let object = self.object_path(expected);
        atomic::parent_dir(&object).map_err(io_err(&object))?;
        tmp.persist(&object).map_err(|e| io_err(&object)(e.error))?;
        Ok(())
    }

    /// Stores bytes already in memory, returning their hash.
    pub fn write_bytes(&self, bytes: &[u8]) -> Result<String, CasError> {
        let hash = hash::bytes(bytes);
        let object = self.object_path(&hash);
        if !object.is_file() {
            atomic::write_via(&self.dir, &object, bytes).map_err(io_err(&object))?;
        }
        Ok(hash)
    }

    /// [`write_reader`](Self::write_reader) without the directory fsync that makes the rename
    /// durable; returns the directory to sync, so a caller storing many files syncs each shard
    /// directory once. `what` names the source in errors.
    ///
    /// Without `sync_file` the file's data is not synced either: the caller syncs the whole
    /// filesystem once after many files ([`atomic::sync_filesystem`]).
    fn write_unsynced_dir(
        &self,
        input: impl Read,
        what: &Path,
        sync_file: bool,
    ) -> Result<Stored, CasError> {
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempfile_in(&self.dir)
            .map_err(io_err(&self.dir))?;
        let (hash, size) = hash::copy(input, tmp.as_file_mut()).map_err(io_err(what))?;
        let object = self.object_path(&hash);
        if object.is_file() {
            return Ok((hash, size, None));
        }
        if sync_file {
            tmp.as_file().sync_all().map_err(io_err(&object))?;
        }
        let parent = atomic::parent_dir(&object)
            .map_err(io_err(&object))?
            .to_path_buf();
        tmp.persist(&object).map_err(|e| io_err(&object)(e.error))?;
        Ok((hash, size, Some(parent)))
    }

    /// Opens object `hash` for reading; `what` names its use in errors.
    fn open_object(&self, hash: &str, what: &str) -> Result<(PathBuf, File), CasError> {
        Self::checked(hash, what)?;
        let object = self.object_path(hash);
        match File::open(&object) {
            Ok(file) => Ok((object, file)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(CasError::Missing {
                hash: hash.to_string(),
                path: what.to_string(),
            }),
            Err(e) => Err(io_err(&object)(e)),
        }
    }

    /// The whole content of object `hash`, verified. `what` names its use in errors.
    pub fn read(&self, hash: &str, what: &str) -> Result<Vec<u8>, CasError> {
        let (object, mut file) = self.open_object(hash, what)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_err(&object))?;
        let actual = hash::bytes(&bytes);
        if actual != hash {
            let _ = fs::remove_file(&object);
            return Err(CasError::Corrupt {
                object,
                path: what.to_string(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Copies object `hash` to a temp file next to `dest` while checking it, and returns that
    /// temp file for the caller to put in place; a corrupt object is deleted and reported.
    ///
    /// Without `sync` the copy's data is not synced: the caller syncs the filesystem once after
    /// many copies, before making them visible.
    pub(crate) fn copy_out(
        &self,
        hash: &str,
        what: &str,
        dest: &Path,
        sync: bool,
    ) -> Result<tempfile::NamedTempFile, CasError> {
        let (object, input) = self.open_object(hash, what)?;
        let parent = atomic::parent_dir(dest).map_err(io_err(dest))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .permissions(atomic::default_permissions())
            .tempfile_in(parent)
            .map_err(io_err(parent))?;
        let (actual, _) = hash::copy(input, tmp.as_file_mut()).map_err(io_err(&object))?;
        if actual != hash {
            let _ = fs::remove_file(&object);
            return Err(CasError::Corrupt {
                object,
                path: what.to_string(),
                actual,
            });
        }
        if sync {
            tmp.as_file().sync_all().map_err(io_err(dest))?;
        }
        Ok(tmp)
    }

    /// Copies object `hash` to exactly `dest` (replacing it), verified on the way.
    pub fn copy_to(&self, hash: &str, what: &str, dest: &Path) -> Result<(), CasError> {
        let tmp = self.copy_out(hash, what, dest, true)?;
        tmp.persist(dest).map_err(|e| io_err(dest)(e.error))?;
        Ok(())
    }

    /// Every object in the store: its hash and size. Temp files of writers are not objects.
    pub fn list(&self) -> Result<Vec<(String, u64)>, CasError> {
        let mut out = Vec::new();
        let shards = match fs::read_dir(&self.dir) {
            Ok(shards) => shards,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io_err(&self.dir)(e)),
        };
        for shard in shards.flatten() {
            let head = shard.file_name().to_string_lossy().into_owned();
            if head.len() != 2 || !shard.path().is_dir() {
                continue;
            }
            for object in fs::read_dir(shard.path())
                .map_err(io_err(&shard.path()))?
                .flatten()
            {
                let tail = object.file_name().to_string_lossy().into_owned();
                let hash = format!("{head}{tail}");
                if !crate::entry::is_hash(&hash) {
                    continue;
                }
                let size = object.metadata().map(|m| m.len()).unwrap_or(0);
                out.push((hash, size));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes object `hash`; an absent object is not an error.
    pub fn delete(&self, hash: &str) -> Result<(), CasError> {
        Self::checked(hash, "an object to delete")?;
        let object = self.object_path(hash);
        match fs::remove_file(&object) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&object)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_verify_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::new(dir.path().join("cache"));
        let a = store.write_bytes(b"hello").unwrap();
        let (b, size) = store.write_reader(&b"world!"[..]).unwrap();
        assert_eq!((a.as_str(), size), (hash::bytes(b"hello").as_str(), 6));
        fs::write(dir.path().join("f"), "hello").unwrap();
        assert_eq!(store.write_file(&dir.path().join("f")).unwrap().0, a);
        assert_eq!(store.read(&a, "a").unwrap(), b"hello");
        let mut listed: Vec<String> = store.list().unwrap().into_iter().map(|o| o.0).collect();
        listed.sort();
        let mut both = vec![a.clone(), b.clone()];
        both.sort();
        assert_eq!(listed, both);

        fs::write(store.object_path(&b), "tampered").unwrap();
        let err = store.read(&b, "b").unwrap_err();
        assert!(matches!(err, CasError::Corrupt { .. }), "{err}");
        assert!(!store.has(&b), "a corrupt object read is removed");
        store.delete(&a).unwrap();
        store.delete(&a).unwrap();
        assert!(store.list().unwrap().is_empty());
        assert!(matches!(
            store.read(&a, "a").unwrap_err(),
            CasError::Missing { .. }
        ));
    }
}
