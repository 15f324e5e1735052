//! The inode table: FUSE node ids keyed by path in the merged view. A path
//! keeps its number for as long as the mount lives (renames carry it), so
//! `st_ino` is stable for a file's lifetime.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const ROOT: u64 = 1;

#[derive(Debug, Clone)]
pub struct Node {
    /// Path relative to the layer roots ("" for the root).
    pub path: PathBuf,
    /// The layer holding the visible entry (0 = upper).
    pub layer: usize,
    /// For directories: the layers merged, top first.
    pub dir_layers: Vec<usize>,
    /// Kernel references (lookups not yet forgotten).
    pub lookups: u64,
    /// Unlinked or replaced: the path no longer names this node.
    pub deleted: bool,
}

#[derive(Debug)]
pub struct Inodes {
    nodes: HashMap<u64, Node>,
    by_path: HashMap<PathBuf, u64>,
    next: u64,
}

impl Inodes {
    pub fn new(root_layer: usize, root_dir_layers: Vec<usize>) -> Inodes {
        let mut nodes = HashMap::new();
        nodes.insert(
            ROOT,
            Node {
                path: PathBuf::new(),
                layer: root_layer,
                dir_layers: root_dir_layers,
                lookups: 1,
                deleted: false,
            },
        );
        let mut by_path = HashMap::new();
        by_path.insert(PathBuf::new(), ROOT);
        Inodes {
            nodes,
            by_path,
            next: ROOT + 1,
        }
    }

    pub fn get(&self, ino: u64) -> Option<&Node> {
        self.nodes.get(&ino)
    }

    pub fn get_mut(&mut self, ino: u64) -> Option<&mut Node> {
        self.nodes.get_mut(&ino)
    }

    pub fn ino_of(&self, path: &Path) -> Option<u64> {
        self.by_path.get(path).copied()
    }

    /// The node for `path`, created or refreshed with where it lives now;
    /// `lookups` is added to its kernel references.
    pub fn intern(
        &mut self,
        path: &Path,
        layer: usize,
        dir_layers: Vec<usize>,
        lookups: u64,
    ) -> u64 {
        if let Some(&ino) = self.by_path.get(path) {
            if let Some(node) = self.nodes.get_mut(&ino) {
                node.layer = layer;
                node.dir_layers = dir_layers;
                node.lookups += lookups;
                return ino;
            }
        }
        let ino = self.next;
        self.next += 1;
        self.nodes.insert(
            ino,
            Node {
                path: path.to_path_buf(),
                layer,
                dir_layers,
                lookups,
                deleted: false,
            },
        );
        self.by_path.insert(path.to_path_buf(), ino);
        ino
    }

    /// The kernel dropped `n` references. Deleted nodes without references
    /// go; live paths keep their numbers. Returns whether the kernel holds
    /// no reference any more.
    pub fn forget(&mut self, ino: u64, n: u64) -> bool {
        if ino == ROOT {
            return false;
        }
        let Some(node) = self.nodes.get_mut(&ino) else {
            return true;
        };
        node.lookups = node.lookups.saturating_sub(n);
        if node.lookups > 0 {
            return false;
        }
        if node.deleted {
            self.nodes.remove(&ino);
        }
        true
    }

    /// Known paths at or below `path`.
    fn paths_under(&self, path: &Path) -> Vec<PathBuf> {
        self.by_path
            .keys()
            .filter(|p| p.starts_with(path))
            .cloned()
            .collect()
    }

    /// `path` (and everything below it) no longer exists.
    pub fn remove_path(&mut self, path: &Path) {
        for p in self.paths_under(path) {
            if let Some(ino) = self.by_path.remove(&p) {
                if let Some(node) = self.nodes.get_mut(&ino) {
                    node.deleted = true;
                    if node.lookups == 0 {
                        self.nodes.remove(&ino);
                    }
                }
            }
        }
    }

    /// `from` was renamed to `to`: its node (and its descendants') follow.
    pub fn rename(&mut self, from: &Path, to: &Path) {
        self.remove_path(to);
        self.rename_keep(from, to);
    }

    /// Two paths swapped places (RENAME_EXCHANGE).
    pub fn exchange(&mut self, a: &Path, b: &Path) {
        let tmp = PathBuf::from("\0exchange");
        self.rename_keep(a, &tmp);
        self.rename_keep(b, a);
        self.rename_keep(&tmp, b);
    }

    fn rename_keep(&mut self, from: &Path, to: &Path) {
        for old in self.paths_under(from) {
            let Some(ino) = self.by_path.remove(&old) else {
                continue;
            };
            let rest = old.strip_prefix(from).unwrap_or(Path::new(""));
            let new = if rest.as_os_str().is_empty() {
                to.to_path_buf()
            } else {
                to.join(rest)
            };
            if let Some(node) = self.nodes.get_mut(&ino) {
                node.path = new.clone();
            }
            self.by_path.insert(new, ino);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_stable_and_follow_renames() {
        let mut t = Inodes::new(0, vec![0, 1]);
        let a = t.intern(Path::new("d/a"), 1, vec![], 1);
        let d = t.intern(Path::new("d"), 0, vec![0, 1], 1);
        assert_eq!(t.intern(Path::new("d/a"), 0, vec![], 1), a);
        t.forget(a, 2);
        assert_eq!(
            t.ino_of(Path::new("d/a")),
            Some(a),
            "live paths keep their number"
        );
        t.rename(Path::new("d"), Path::new("e"));
        assert_eq!(t.ino_of(Path::new("e/a")), Some(a));
        assert_eq!(t.ino_of(Path::new("e")), Some(d));
        assert_eq!(t.get(a).unwrap().path, PathBuf::from("e/a"));
        t.remove_path(Path::new("e/a"));
        assert_eq!(t.ino_of(Path::new("e/a")), None);
        assert!(t.get(a).is_none(), "unreferenced deleted nodes go");
    }

    #[test]
    fn exchange_swaps_paths() {
        let mut t = Inodes::new(0, vec![0]);
        let a = t.intern(Path::new("a"), 0, vec![], 1);
        let b = t.intern(Path::new("b"), 0, vec![], 1);
        t.exchange(Path::new("a"), Path::new("b"));
        assert_eq!(t.ino_of(Path::new("a")), Some(b));
        assert_eq!(t.ino_of(Path::new("b")), Some(a));
    }
}
