//! Pointer files: `PATH.ptr`, a few lines of YAML naming the content hash and size of a data file
//! or directory. They are what git versions instead of the data.

use super::DataError;
use crate::atomic;
use crate::entry::PathEntry;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The pointer file extension.
pub const EXTENSION: &str = "ptr";

/// The content of a pointer file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pointer {
    /// SHA-256 of the file, or of the directory's manifest.
    #[serde(deserialize_with = "crate::entry::content_hash")]
    pub hash: String,
    /// Bytes in the file or directory.
    pub size: u64,
    /// Whether it is a directory.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dir: bool,
    /// The file's permission bits when it is executable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// The largest pointer file read.
const MAX_POINTER_BYTES: u64 = 64 << 10;

impl Pointer {
    /// The pointer of a hashed path.
    pub fn from_entry(entry: &PathEntry) -> Self {
        Pointer {
            hash: entry.hash.clone(),
            size: entry.size,
            dir: entry.dir,
            mode: entry.mode.map(|m| format!("{m:o}")),
        }
    }

    /// The entry this pointer describes for data at `rel`.
    pub fn entry(&self, rel: &str) -> PathEntry {
        PathEntry {
            path: rel.to_string(),
            hash: self.hash.clone(),
            size: self.size,
            dir: self.dir,
            mode: self
                .mode
                .as_deref()
                .and_then(|m| u32::from_str_radix(m, 8).ok()),
        }
    }

    /// Reads the pointer of the data at `rel`: a small regular file inside the workspace, whose
    /// hash is a content hash and whose mode is permission bits.
    pub fn load(root: &Path, rel: &str) -> Result<Pointer, DataError> {
        let file = format!("{rel}.{EXTENSION}");
        let path = root.join(&file);
        let io = |source| DataError::Io {
            path: file.clone(),
            source,
        };
        if !atomic::resolves_inside(root, &path) {
            return Err(DataError::Pointer {
                path: file,
                message: "resolves outside the workspace (a link?); not read".into(),
            });
        }
        let text = atomic::read_text_limited(&path, MAX_POINTER_BYTES)
            .map_err(io)?
            .ok_or_else(|| io(std::io::ErrorKind::NotFound.into()))?;
        let pointer: Pointer = serde_yaml::from_str(&text).map_err(|e| DataError::Pointer {
            path: file.clone(),
            message: e.to_string(),
        })?;
        if let Some(mode) = &pointer.mode {
            if !u32::from_str_radix(mode, 8).is_ok_and(|m| m <= 0o777) {
                return Err(DataError::Pointer {
                    path: file,
                    message: format!(
                        "mode: `{}` is not permission bits (octal)",
                        mode.escape_debug()
                    ),
                });
            }
        }
        Ok(pointer)
    }

    /// Writes the pointer of the data at `rel`, atomically.
    pub fn save(&self, root: &Path, rel: &str) -> Result<(), DataError> {
        let file = format!("{rel}.{EXTENSION}");
        let text = serde_yaml::to_string(self).map_err(|e| DataError::Pointer {
            path: file.clone(),
            message: e.to_string(),
        })?;
        atomic::write(&root.join(&file), text.as_bytes())
            .map_err(|source| DataError::Io { path: file, source })
    }
}

/// Data paths (workspace-relative) of every pointer file, sorted. Skips `.git`, `.pipeline`,
/// `target` and other hidden directories.
pub fn find(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        // `add` refuses names that are not UTF-8, so no pointer has one.
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            // A versioned directory holds data, not pointers: its files need no visit.
            let versioned = dir.join(format!("{name}.{EXTENSION}")).is_file();
            if !versioned && !name.starts_with('.') && name != "target" && name != "node_modules" {
                walk(root, &path, out);
            }
        } else if let Some(data) = name.strip_suffix(&format!(".{EXTENSION}")) {
            if let Ok(rel_dir) = dir.strip_prefix(root) {
                let rel = rel_dir.join(data).to_string_lossy().replace('\\', "/");
                out.push(rel);
            }
        }
    }
}

/// Adds `/NAME` to the `.gitignore` beside the data, once.
pub fn ignore_in_git(root: &Path, rel: &str) -> Result<(), DataError> {
    let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let gitignore = root.join(dir).join(".gitignore");
    let line = format!("/{name}");
    let current = atomic::read_text_limited(&gitignore, 16 << 20)
        .map_err(|source| DataError::Io {
            path: gitignore.display().to_string(),
            source,
        })?
        .unwrap_or_default();
    if current.lines().any(|l| l.trim() == line) {
        return Ok(());
    }
    let mut text = current;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&line);
    text.push('\n');
    atomic::write(&gitignore, text.as_bytes()).map_err(|source| DataError::Io {
        path: gitignore.display().to_string(),
        source,
    })
}
