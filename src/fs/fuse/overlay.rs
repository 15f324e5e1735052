//! The overlay's state and its filesystem-independent steps: resolving
//! names through the layers, copy-up, whiteouts and opaque directories.
//! Every change lands in the upper directory in the kernel overlay's format,
//! so the upper directory is a layer as is.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};
use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use fuser::Errno;

use super::inodes::{Inodes, Node};
use super::layers::{self, Listed, Probe, Resolved};
use crate::sys::{self, SysError};

pub type Res<T> = Result<T, Errno>;

pub fn sys_errno(e: SysError) -> Errno {
    Errno::from_i32(e.errno() as i32)
}

pub fn io_errno(e: std::io::Error) -> Errno {
    Errno::from(e)
}

fn copy_errno(e: crate::fs::copy::CopyError) -> Errno {
    Errno::from_i32(e.errno())
}

/// What the overlay is made of.
#[derive(Debug, Clone)]
pub struct OverlayConfig {
    /// Read-only layers, top first.
    pub lowers: Vec<PathBuf>,
    /// The container's writable layer.
    pub upper: PathBuf,
    /// Scratch space on the upper's filesystem (copy-ups are staged here).
    pub work: PathBuf,
    /// Opaque directories are marked with `user.overlay.opaque` (inside a
    /// user namespace) rather than `trusted.overlay.opaque`.
    pub userxattr: bool,
}

/// An open backing file: a handle's (files made with create), or a node's
/// own (the kernel sends no opens, see `node_file`).
pub struct OpenFile {
    pub file: File,
    /// The layer it lies in (0 = upper, where writes may go).
    pub layer: usize,
    /// The node's name is gone: this file is the only way to its data.
    pub pinned: bool,
    /// Registered with the kernel for passthrough (shared by the node's
    /// handles; closed with the last).
    pub _backing: Option<Arc<fuser::BackingId>>,
}

/// How many node files stay open before unpinned ones are closed (they
/// reopen on demand): well under the usual limit of 1024 open files, as the
/// kernel forgets nodes late (names are cached for an hour) and handles of
/// created files need descriptors too.
const NODE_FILES_MAX: usize = 256;

/// An entry of a directory's merged listing.
pub struct DirEntry {
    pub name: OsString,
    pub kind: fuser::FileType,
}

pub struct Overlay {
    /// Layer roots: 0 is the upper, then the lowers top first.
    roots: Vec<PathBuf>,
    work: PathBuf,
    opaque_xattr: &'static str,
    pub inodes: Mutex<Inodes>,
    /// Serialises changes to the namespace (create, unlink, rename,
    /// copy-up); reads never take it.
    changes: Mutex<()>,
    pub files: Mutex<HashMap<u64, Arc<OpenFile>>>,
    /// Per node: its backing file, opened on first read or write.
    node_files: Mutex<HashMap<u64, Arc<OpenFile>>>,
    /// Per directory node: its listing while a readdir pass is in progress.
    pub dirs: Mutex<HashMap<u64, Arc<Vec<DirEntry>>>>,
    next_handle: AtomicU64,
}

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn is_whiteout(meta: &Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

impl Overlay {
    pub fn new(config: OverlayConfig) -> std::io::Result<Overlay> {
        let mut roots = vec![config.upper];
        roots.extend(config.lowers);
        let opaque_xattr = crate::fs::whiteout::opaque_xattr(config.userxattr);
        let mut overlay = Overlay {
            roots,
            work: config.work,
            opaque_xattr,
            inodes: Mutex::new(Inodes::new(0, vec![])),
            changes: Mutex::new(()),
            files: Mutex::new(HashMap::new()),
            node_files: Mutex::new(HashMap::new()),
            dirs: Mutex::new(HashMap::new()),
            next_handle: AtomicU64::new(1),
        };
        let all: Vec<usize> = (0..overlay.roots.len()).collect();
        let root = layers::resolve(&all, |l, below| overlay.probe(l, Path::new(""), below))
            .ok_or_else(|| std::io::Error::other("the upper directory is missing"))?;
        overlay.inodes = Mutex::new(Inodes::new(root.layer, root.dir_layers));
        Ok(overlay)
    }

    pub fn backing(&self, layer: usize, rel: &Path) -> PathBuf {
        if rel.as_os_str().is_empty() {
            self.roots[layer].clone()
        } else {
            self.roots[layer].join(rel)
        }
    }

    pub fn upper_root(&self) -> &Path {
        &self.roots[0]
    }

    pub fn handle(&self) -> u64 {
        self.next_handle.fetch_add(1, Ordering::Relaxed)
    }

    /// What layer `layer` holds at `rel`. A directory's opacity is read
    /// only when asked for (`opacity`: layers below it are merged).
    pub fn probe(&self, layer: usize, rel: &Path, opacity: bool) -> Probe<Metadata> {
        let path = self.backing(layer, rel);
        match std::fs::symlink_metadata(&path) {
            Err(_) => Probe::Missing,
            Ok(meta) if is_whiteout(&meta) => Probe::Whiteout,
            Ok(meta) if meta.is_dir() => Probe::Dir {
                opaque: opacity && self.is_opaque(&path),
                meta,
            },
            Ok(meta) => Probe::Other { meta },
        }
    }

    fn is_opaque(&self, path: &Path) -> bool {
        sys::fs::get_xattr(path, self.opaque_xattr.as_bytes()).is_ok_and(|v| v == b"y")
    }

    pub fn node(&self, ino: u64) -> Res<Node> {
        lock(&self.inodes).get(ino).cloned().ok_or(Errno::ENOENT)
    }

    /// Resolves `name` in the directory `parent`.
    pub fn resolve_child(
        &self,
        parent: &Node,
        name: &OsStr,
    ) -> Option<(PathBuf, Resolved<Metadata>)> {
        let rel = parent.path.join(name);
        let resolved = layers::resolve(&parent.dir_layers, |l, below| self.probe(l, &rel, below))?;
        Some((rel, resolved))
    }

    /// Resolves a path from the root (for parents the table lost).
    fn resolve_path(&self, rel: &Path) -> Option<Resolved<Metadata>> {
        let all: Vec<usize> = (0..self.roots.len()).collect();
        let mut current = layers::resolve(&all, |l, below| self.probe(l, Path::new(""), below))?;
        let mut path = PathBuf::new();
        for part in rel.iter() {
            path.push(part);
            let layers = std::mem::take(&mut current.dir_layers);
            current = layers::resolve(&layers, |l, below| self.probe(l, &path, below))?;
        }
        Some(current)
    }

    /// Where `rel` lives now: the table's record, else a fresh resolve.
    fn locate(&self, rel: &Path) -> Option<(usize, Vec<usize>)> {
        {
            let inodes = lock(&self.inodes);
            if let Some(node) = inodes.ino_of(rel).and_then(|i| inodes.get(i)) {
                return Some((node.layer, node.dir_layers.clone()));
            }
        }
        self.resolve_path(rel).map(|r| (r.layer, r.dir_layers))
    }

    /// Updates the table after `rel` moved to the upper layer.
    fn mark_upper(&self, rel: &Path, dir: bool) {
        let mut inodes = lock(&self.inodes);
        if let Some(ino) = inodes.ino_of(rel) {
            // An open lower file is stale now.
            lock(&self.node_files).remove(&ino);
            if let Some(node) = inodes.get_mut(ino) {
                node.layer = 0;
                if dir && node.dir_layers.first() != Some(&0) {
                    node.dir_layers.insert(0, 0);
                }
            }
        }
    }

    pub fn changes(&self) -> MutexGuard<'_, ()> {
        lock(&self.changes)
    }

    /// Makes sure the directory `rel` exists in the upper layer, copying it
    /// (and its parents) up. Caller holds `changes`.
    pub fn ensure_upper_dir(&self, rel: &Path) -> Res<()> {
        if rel.as_os_str().is_empty() {
            return Ok(());
        }
        if let Probe::Dir { .. } = self.probe(0, rel, false) {
            return Ok(());
        }
        self.ensure_upper_dir(rel.parent().unwrap_or(Path::new("")))?;
        let (layer, _) = self.locate(rel).ok_or(Errno::ENOENT)?;
        let source = self.backing(layer, rel);
        let meta = std::fs::symlink_metadata(&source).map_err(io_errno)?;
        if !meta.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let target = self.backing(0, rel);
        // A whiteout of a deleted lower entry may sit where the copy goes.
        if let Ok(m) = std::fs::symlink_metadata(&target) {
            if is_whiteout(&m) {
                std::fs::remove_file(&target).map_err(io_errno)?;
            }
        }
        fs_err::create_dir(&target).map_err(io_errno)?;
        crate::fs::copy::copy_metadata(&source, &target, &meta).map_err(copy_errno)?;
        self.mark_upper(rel, true);
        Ok(())
    }

    /// Copies the entry of node `ino` up to the upper layer (no-op when it
    /// is there). `with_data: false` skips file contents (open with
    /// O_TRUNC, truncate to 0). Returns the updated node.
    pub fn copy_up(&self, ino: u64, with_data: bool) -> Res<Node> {
        let node = self.node(ino)?;
        if node.deleted {
            // Copying up would bring a removed entry back.
            return Err(Errno::ENOENT);
        }
        if node.layer == 0 {
            return Ok(node);
        }
        let _changes = self.changes();
        let node = self.node(ino)?;
        if node.layer == 0 {
            return Ok(node);
        }
        let rel = node.path.clone();
        self.ensure_upper_dir(rel.parent().unwrap_or(Path::new("")))?;
        let source = self.backing(node.layer, &rel);
        let meta = std::fs::symlink_metadata(&source).map_err(io_errno)?;
        if meta.is_dir() {
            self.ensure_upper_dir(&rel)?;
            return self.node(ino);
        }
        let staged = self
            .work
            .join(format!("copyup-{}", crate::store::atomic::unique_suffix()));
        let made = crate::fs::copy::copy_entry(&source, &staged, &meta, with_data)
            .map_err(copy_errno)
            .and_then(|()| std::fs::rename(&staged, self.backing(0, &rel)).map_err(io_errno));
        if let Err(e) = made {
            let _ = std::fs::remove_file(&staged);
            return Err(e);
        }
        self.mark_upper(&rel, false);
        self.node(ino)
    }

    /// The backing file of node `ino`, kept open for its reads and writes:
    /// the server answers the first open with ENOSYS, so the kernel sends no
    /// opens or releases (two round trips less per open file) and data
    /// requests name the node. `write` copies the file up first, and gets
    /// the upper file open for writing.
    pub fn node_file(&self, ino: u64, write: bool) -> Res<Arc<OpenFile>> {
        if write {
            self.copy_up(ino, true)?;
        }
        let cached = lock(&self.node_files).get(&ino).cloned();
        if let Some(f) = cached {
            // A lower file is stale once a copy-up raced past it.
            let current =
                f.layer == 0 || lock(&self.inodes).get(ino).map(|n| n.layer) == Some(f.layer);
            if current && (!write || f.layer == 0) {
                return Ok(f);
            }
        }
        let node = self.node(ino)?;
        if node.deleted && node.layer == 0 {
            // Its upper file is gone (it would have been pinned if open).
            return Err(Errno::ENOENT);
        }
        let path = self.backing(node.layer, &node.path);
        let upper = node.layer == 0;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(upper)
            .open(&path)
            .or_else(|e| match upper {
                true => std::fs::File::open(&path),
                false => Err(e),
            })
            .map_err(io_errno)?;
        let open = Arc::new(OpenFile {
            file,
            layer: node.layer,
            pinned: false,
            _backing: None,
        });
        let mut files = lock(&self.node_files);
        if files.len() >= NODE_FILES_MAX {
            files.retain(|_, f| f.pinned);
        }
        files.insert(ino, open.clone());
        Ok(open)
    }

    /// Before the upper file at `rel` is removed or replaced: keeps it open
    /// for its node, which a process may still read or write.
    pub fn pin_before_removal(&self, rel: &Path) {
        let Some(ino) = lock(&self.inodes).ino_of(rel) else {
            return;
        };
        let path = self.backing(0, rel);
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .or_else(|_| std::fs::File::open(&path));
        if let Ok(file) = opened {
            let pinned = Arc::new(OpenFile {
                file,
                layer: 0,
                pinned: true,
                _backing: None,
            });
            lock(&self.node_files).insert(ino, pinned);
        }
    }

    /// The kernel forgot node `ino`: its file closes.
    pub fn forget_file(&self, ino: u64) {
        lock(&self.node_files).remove(&ino);
    }

    /// Whether a lower layer of the directory `parent` shows `name`, so
    /// removing it from the upper layer needs a whiteout.
    pub fn lower_has(&self, parent: &Node, name: &OsStr) -> bool {
        let rel = parent.path.join(name);
        let lowers: Vec<usize> = parent
            .dir_layers
            .iter()
            .copied()
            .filter(|l| *l != 0)
            .collect();
        layers::resolve(&lowers, |l, below| self.probe(l, &rel, below)).is_some()
    }

    /// Puts a whiteout for `rel` in the upper layer.
    pub fn whiteout(&self, rel: &Path) -> Res<()> {
        sys::fs::make_whiteout(&self.backing(0, rel)).map_err(sys_errno)
    }

    pub fn set_opaque(&self, rel: &Path) -> Res<()> {
        sys::fs::set_xattr(&self.backing(0, rel), self.opaque_xattr, b"y").map_err(sys_errno)
    }

    /// Prepares the upper layer for a new entry `name` in `parent`: the
    /// parent copied up, the name free in the merged view, a whiteout in its
    /// place removed. Returns the refreshed parent, the new entry's path and
    /// whether a whiteout was replaced. Caller holds `changes`.
    pub fn prepare_new(&self, parent_ino: u64, name: &OsStr) -> Res<(Node, PathBuf, bool)> {
        let parent = self.node(parent_ino)?;
        if self.resolve_child(&parent, name).is_some() {
            return Err(Errno::EEXIST);
        }
        self.ensure_upper_dir(&parent.path)?;
        let parent = self.node(parent_ino)?;
        let rel = parent.path.join(name);
        let upper = self.backing(0, &rel);
        let replaced = match std::fs::symlink_metadata(&upper) {
            Ok(m) if is_whiteout(&m) => {
                std::fs::remove_file(&upper).map_err(io_errno)?;
                true
            }
            _ => false,
        };
        Ok((parent, rel, replaced))
    }

    /// Owner of a new entry: the caller, with the parent's group when the
    /// parent directory is set-group-id.
    pub fn set_new_owner(
        &self,
        path: &Path,
        parent: &Path,
        uid: u32,
        gid: u32,
        dir: bool,
    ) -> Res<()> {
        let mut gid = gid;
        if let Ok(p) = std::fs::metadata(parent) {
            if p.mode() & 0o2000 != 0 {
                gid = p.gid();
                if dir {
                    let m = std::fs::symlink_metadata(path).map_err(io_errno)?;
                    std::fs::set_permissions(
                        path,
                        std::fs::Permissions::from_mode((m.mode() & 0o7777) | 0o2000),
                    )
                    .map_err(io_errno)?;
                }
            }
        }
        std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(io_errno)
    }

    /// The merged listing of directory `node`.
    pub fn list(&self, node: &Node) -> Res<Vec<DirEntry>> {
        let mut listings = Vec::new();
        for &layer in &node.dir_layers {
            let dir = self.backing(layer, &node.path);
            let mut listing = Vec::new();
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(io_errno(e)),
            };
            for entry in entries {
                let entry = entry.map_err(io_errno)?;
                let kind = entry.file_type().map_err(io_errno)?;
                let listed =
                    if kind.is_char_device() && entry.metadata().is_ok_and(|m| is_whiteout(&m)) {
                        Listed::Whiteout
                    } else {
                        Listed::Entry(file_type(kind))
                    };
                listing.push((entry.file_name(), listed));
            }
            listings.push(listing);
        }
        Ok(layers::merge(listings)
            .into_iter()
            .map(|(name, kind)| DirEntry { name, kind })
            .collect())
    }

    /// Whether directory `node` is empty in the merged view.
    pub fn is_empty_dir(&self, node: &Node) -> Res<bool> {
        Ok(self.list(node)?.is_empty())
    }
}

pub fn file_type(kind: std::fs::FileType) -> fuser::FileType {
    fuser::FileType::from_std(kind).unwrap_or(fuser::FileType::RegularFile)
}
