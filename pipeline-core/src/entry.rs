//! A hashed path: what the lock file, the run cache and the fingerprint record of each dependency
//! and output. A directory is recorded through the hash of its manifest.

use serde::{Deserialize, Serialize};

/// A workspace path with the hash and size of its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathEntry {
    /// Path relative to the workspace root, with `/` separators.
    pub path: String,
    /// SHA-256 of the file, or of the directory's manifest.
    pub hash: String,
    /// Bytes in the file, or in all the directory's files.
    pub size: u64,
    /// Whether `hash` names a directory manifest.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dir: bool,
}

/// One file of a directory, as listed in its manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Path relative to the directory.
    pub path: String,
    /// SHA-256 of the file.
    pub hash: String,
    /// Its size.
    pub size: u64,
}

/// A directory's content: its files sorted by path. Serialized canonically, then hashed.
pub type Manifest = Vec<ManifestEntry>;
