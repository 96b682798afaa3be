//! The policy directory: read as files each cycle, watched for changes by content.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The policy files as read at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyFiles {
    /// `(path relative to the directory, content)`, sorted by path.
    pub files: Vec<(String, Vec<u8>)>,
    /// `sha256:<hex>` over names and contents; changes whenever any policy changes.
    pub digest: String,
    /// The directory or files that could not be read.
    pub problems: Vec<String>,
}

/// A watched directory of policies (image policies, Rego, …). Hidden files and editor
/// temporaries (`*~`, `*.swp`) are ignored.
#[derive(Debug, Clone)]
pub struct PolicyDir {
    root: PathBuf,
}

impl PolicyDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Reads every file. An unreadable directory or file is a problem (reported with every
    /// evaluation that lacks it), never a silently smaller policy set.
    pub fn read(&self) -> PolicyFiles {
        let mut files = Vec::new();
        let mut problems = Vec::new();
        collect(&self.root, &self.root, &mut files, &mut problems);
        files.sort();
        let mut h = Sha256::new();
        for (name, body) in &files {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update((body.len() as u64).to_le_bytes());
            h.update(body);
        }
        for p in &problems {
            h.update(p.as_bytes());
        }
        PolicyFiles { files, digest: format!("sha256:{}", hex::encode(h.finalize())), problems }
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>, problems: &mut Vec<String>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(format!("{}: cannot read policy directory: {e}", dir.display()));
            return;
        }
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || name.ends_with('~') || name.ends_with(".swp") {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, out, problems);
        } else {
            match std::fs::read(&path) {
                Ok(body) => {
                    let rel = path.strip_prefix(root).unwrap_or(&path).display().to_string();
                    out.push((rel, body));
                }
                Err(e) => problems.push(format!("{}: cannot read policy file: {e}", path.display())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_follows_content_and_names() {
        let dir = tempfile::tempdir().unwrap();
        let pd = PolicyDir::new(dir.path().join("policies"));
        let empty = pd.read();
        assert!(empty.files.is_empty());
        assert_eq!(empty.problems.len(), 1, "a missing directory is reported");
        std::fs::create_dir_all(dir.path().join("policies/sub")).unwrap();
        std::fs::write(dir.path().join("policies/sub/a.yaml"), "x: 1").unwrap();
        std::fs::write(dir.path().join("policies/.hidden"), "ignored").unwrap();
        let one = pd.read();
        assert_eq!(one.files, [("sub/a.yaml".to_string(), b"x: 1".to_vec())]);
        assert_ne!(one.digest, empty.digest);
        assert_eq!(pd.read().digest, one.digest);
        std::fs::write(dir.path().join("policies/sub/a.yaml"), "x: 2").unwrap();
        assert_ne!(pd.read().digest, one.digest);
    }
}
