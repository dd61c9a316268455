//! A hashed path: what the lock file, the run cache and the fingerprint record of each dependency
//! and output. A directory is recorded through the hash of its manifest.
//!
//! Everything here may come from disk (a lock file from git, a pointer file from a colleague, a
//! remote's run record), so deserializing validates: a hash is exactly 64 lowercase hex
//! characters, a path is relative, normalised, inside the workspace and outside `.pipeline/`.
//! Nothing read can then name a file outside the store or the workspace.

use serde::{Deserialize, Deserializer, Serialize};

/// The graph rules' path check, compiled in here too (the file uses only `std`), so that what a
/// stage may declare and what may be read back from disk are one rule without this base module
/// depending on the graph.
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "dag/rules.rs"]
mod rules;

/// A workspace path with the hash and size of its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathEntry {
    /// Path relative to the workspace root, with `/` separators.
    #[serde(deserialize_with = "workspace_path")]
    pub path: String,
    /// SHA-256 of the file, or of the directory's manifest.
    #[serde(deserialize_with = "content_hash")]
    pub hash: String,
    /// Bytes in the file, or in all the directory's files.
    pub size: u64,
    /// Whether `hash` names a directory manifest.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dir: bool,
    /// The file's permission bits when it is executable (absent: an ordinary file, restored with
    /// the user's umask).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "octal")]
    pub mode: Option<u32>,
}

/// One file of a directory, as listed in its manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Path relative to the directory.
    #[serde(deserialize_with = "inner_path")]
    pub path: String,
    /// SHA-256 of the file.
    #[serde(deserialize_with = "content_hash")]
    pub hash: String,
    /// Its size.
    pub size: u64,
    /// Its permission bits when it is executable.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "octal")]
    pub mode: Option<u32>,
}

/// A directory's content: its files sorted by path. Serialized canonically, then hashed.
pub type Manifest = Vec<ManifestEntry>;

/// Whether `text` is a content hash: exactly 64 lowercase hex characters.
pub fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Why `text` is not a content hash, if it is not.
pub fn hash_problem(text: &str) -> Option<String> {
    (!is_hash(text)).then(|| {
        format!(
            "`{}` is not a content hash (64 lowercase hex characters)",
            text.escape_debug()
        )
    })
}

/// Why a path relative to a directory (a manifest's file) is unusable, if it is.
pub fn inner_path_problem(path: &str) -> Option<String> {
    if path.is_empty() || path.starts_with('/') || path.contains('\\') || path.contains('\0') {
        return Some(format!("`{}` is not a relative path", path.escape_debug()));
    }
    if path.split('/').any(|part| matches!(part, "" | "." | "..")) {
        return Some(format!(
            "`{}` is not a normalized relative path",
            path.escape_debug()
        ));
    }
    None
}

/// The permission bits worth recording for a file with `meta`: its mode when any execute bit is
/// set, none for an ordinary file.
pub fn mode_of(meta: &std::fs::Metadata) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        (mode & 0o111 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// Deserializes a content hash, refusing anything else.
pub fn content_hash<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    match hash_problem(&text) {
        Some(problem) => Err(serde::de::Error::custom(format!("hash: {problem}"))),
        None => Ok(text),
    }
}

/// Deserializes a workspace-relative path, refusing anything that leaves the workspace.
pub fn workspace_path<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    match rules::path_problem(&text).or_else(|| inner_path_problem(&text)) {
        Some(problem) => Err(serde::de::Error::custom(format!("path: {problem}"))),
        None => Ok(text),
    }
}

fn inner_path<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    match inner_path_problem(&text) {
        Some(problem) => Err(serde::de::Error::custom(format!("path: {problem}"))),
        None => Ok(text),
    }
}

/// Permission bits as an octal string (`"755"`), the way people read them.
mod octal {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(mode: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
        match mode {
            Some(mode) => s.serialize_str(&format!("{mode:o}")),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        match u32::from_str_radix(&text, 8) {
            Ok(mode) if mode <= 0o777 => Ok(Some(mode)),
            _ => Err(serde::de::Error::custom(format!(
                "mode: `{}` is not permission bits (octal, at most 777)",
                text.escape_debug()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_paths_are_validated_when_read() {
        let good = "a".repeat(64);
        let entry: PathEntry =
            serde_json::from_str(&format!(r#"{{"path":"d/x","hash":"{good}","size":1}}"#)).unwrap();
        assert_eq!(entry.mode, None);
        for (path, hash) in [
            ("d/x", "..//home/user/victim.txt".to_string()),
            ("d/x", format!("a\u{e9}{}", "a".repeat(61))),
            ("d/x", "A".repeat(64)),
            ("../../x", good.clone()),
            ("/abs/x", good.clone()),
            (".pipeline/cache/x", good.clone()),
            ("a//b", good.clone()),
        ] {
            let text = serde_json::json!({"path": path, "hash": hash, "size": 1}).to_string();
            assert!(serde_json::from_str::<PathEntry>(&text).is_err(), "{text}");
        }
        let text = serde_json::json!({"path": "../x", "hash": good, "size": 1}).to_string();
        assert!(serde_json::from_str::<ManifestEntry>(&text).is_err());
        let exec = PathEntry {
            path: "run.sh".into(),
            hash: good,
            size: 1,
            dir: false,
            mode: Some(0o755),
        };
        let text = serde_json::to_string(&exec).unwrap();
        assert!(text.contains(r#""mode":"755""#), "{text}");
        assert_eq!(serde_json::from_str::<PathEntry>(&text).unwrap(), exec);
    }
}
