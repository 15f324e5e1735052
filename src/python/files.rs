//! What detection may read of a project: a few small files at known places. A trait so
//! detection stays pure and is tested over in-memory trees.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Read access to a project tree, by `/`-separated paths relative to its root.
pub trait ProjectFiles {
    /// The file's text, if it exists and is small UTF-8 text.
    fn read(&self, path: &str) -> Option<String>;
    /// The names of the entries of a directory (`""` is the root), sorted.
    fn list(&self, dir: &str) -> Vec<String>;

    fn exists(&self, path: &str) -> bool {
        self.read(path).is_some() || !self.list(path).is_empty()
    }
}

/// A project in memory: path → contents (directories are implied by the paths).
#[derive(Debug, Default, Clone)]
pub struct MemoryFiles(pub BTreeMap<String, String>);

impl MemoryFiles {
    pub fn new(files: &[(&str, &str)]) -> Self {
        MemoryFiles(
            files
                .iter()
                .map(|(p, c)| ((*p).to_string(), (*c).to_string()))
                .collect(),
        )
    }
}

#[cfg(test)]
impl MemoryFiles {
    /// The test project's pyproject.toml, which must parse.
    pub fn pyproject(&self) -> Option<toml::Table> {
        self.read("pyproject.toml")
            .map(|t| t.parse().expect("the test's pyproject.toml parses"))
    }
}

impl ProjectFiles for MemoryFiles {
    fn read(&self, path: &str) -> Option<String> {
        self.0.get(path).cloned()
    }

    fn list(&self, dir: &str) -> Vec<String> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let mut names: Vec<String> = self
            .0
            .keys()
            .filter_map(|p| p.strip_prefix(&prefix))
            .filter_map(|rest| rest.split('/').next())
            .map(str::to_string)
            .collect();
        names.dedup();
        names
    }
}

/// Files larger than this are not project metadata; detection skips them.
const MAX_FILE: u64 = 1 << 20;

/// A project on disk.
#[derive(Debug, Clone)]
pub struct DirFiles {
    root: PathBuf,
}

impl DirFiles {
    pub fn new(root: &Path) -> Self {
        DirFiles {
            root: root.to_path_buf(),
        }
    }

    fn path(&self, rel: &str) -> Option<PathBuf> {
        // Only plain relative paths: detection never looks outside the project.
        let rel = Path::new(rel);
        rel.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
            .then(|| self.root.join(rel))
    }
}

impl ProjectFiles for DirFiles {
    fn read(&self, path: &str) -> Option<String> {
        let path = self.path(path)?;
        let meta = std::fs::metadata(&path).ok()?;
        if !meta.is_file() || meta.len() > MAX_FILE {
            return None;
        }
        std::fs::read_to_string(path).ok()
    }

    fn list(&self, dir: &str) -> Vec<String> {
        let path = if dir.is_empty() {
            Some(self.root.clone())
        } else {
            self.path(dir)
        };
        let Some(Ok(entries)) = path.map(std::fs::read_dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_lists_direct_children_once() {
        let files = MemoryFiles::new(&[("a/b.py", ""), ("a/c/d.py", ""), ("e.txt", "")]);
        assert_eq!(files.list(""), ["a", "e.txt"]);
        assert_eq!(files.list("a"), ["b.py", "c"]);
        assert!(files.exists("a/c"));
        assert!(!files.exists("x"));
    }

    #[test]
    fn disk_refuses_paths_leaving_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.txt"), "hi").unwrap();
        let files = DirFiles::new(dir.path());
        assert_eq!(files.read("x.txt").as_deref(), Some("hi"));
        assert_eq!(files.read("../x.txt"), None);
        assert_eq!(files.read("/etc/passwd"), None);
    }
}
