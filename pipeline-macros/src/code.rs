//! `code = ["src/ml/forest", "src/ml/dataset.rs"]`: helper source files whose content joins a stage's
//! code fingerprint, so editing the code a stage calls reruns it too. Paths are relative to the
//! crate being compiled (`CARGO_MANIFEST_DIR`); a directory means every file below it, sorted.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The files a `code` path stands for, or why it is unusable.
pub fn files(rel: &str) -> Result<Vec<PathBuf>, String> {
    let Ok(root) = std::env::var("CARGO_MANIFEST_DIR") else {
        return Err("CARGO_MANIFEST_DIR is not set: build with cargo".into());
    };
    if rel.starts_with('/') || rel.split('/').any(|p| p == "..") {
        return Err(format!("code path `{rel}` must stay inside the crate"));
    }
    let path = Path::new(&root).join(rel);
    let mut out = Vec::new();
    if path.is_dir() {
        walk(&path, &mut out).map_err(|e| format!("code path `{rel}`: {e}"))?;
        out.sort();
    } else if path.is_file() {
        out.push(path);
    } else {
        return Err(format!("code path `{rel}` does not exist in this crate"));
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Feeds the files' names (relative to the crate) and contents into `hasher`.
pub fn hash_into(hasher: &mut Sha256, files: &[PathBuf]) -> Result<(), String> {
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    for file in files {
        let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let name = file.strip_prefix(&root).unwrap_or(file);
        hasher.update(name.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(Sha256::digest(&bytes));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_inside_the_crate() {
        assert_eq!(files("src/code.rs").unwrap().len(), 1);
        assert!(files("src").unwrap().len() >= 5);
        assert!(files("src/nope.rs").unwrap_err().contains("does not exist"));
        assert!(files("../Cargo.toml")
            .unwrap_err()
            .contains("inside the crate"));
    }

    #[test]
    fn content_changes_the_hash() {
        let dir = tempfile_dir();
        let file = dir.join("helper.rs");
        let digest = |text: &str| {
            std::fs::write(&file, text).unwrap();
            let mut h = Sha256::new();
            hash_into(&mut h, std::slice::from_ref(&file)).unwrap();
            h.finalize()
        };
        assert_ne!(digest("fn a() {}"), digest("fn a() { 1 }"));
        assert_eq!(digest("x"), digest("x"));
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("code-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
