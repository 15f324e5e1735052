//! The `fuse-overlayfs` storage driver: an overlay filesystem of our own,
//! served with the `fuser` crate from inside the container's user namespace
//! (DESIGN.md). N read-only lower layers and one upper directory, with the
//! kernel overlay's semantics and on-disk format.
//!
//! Round trips are what costs: opens and directory opens are answered
//! ENOSYS, so the kernel opens files and directories without asking (no
//! open or release request per open file, and directory listings stay in
//! its cache) and data requests use the node's own backing file; entries,
//! names that do not exist and attributes are cached by the kernel for an
//! hour (the lower layers never change, the upper one only through us);
//! every listing batch comes with attributes; writes gather in the kernel's
//! writeback cache; the server drops set-user-id bits on writes itself, so
//! the kernel does not ask for file capabilities before each write; several
//! threads serve. When devbox runs as real root, file data goes by the
//! server entirely (FUSE passthrough); rootless it cannot, as the kernel
//! only takes backing files from a server with CAP_SYS_ADMIN in the initial
//! user namespace.

mod inodes;
pub mod layers;
mod overlay;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::Metadata;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{
    DirBuilderExt, FileExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt,
};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    AccessFlags, Errno, FileAttr, FileHandle, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyLseek, ReplyOpen, ReplyStatfs,
    ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};

use self::inodes::Node;
pub use self::overlay::OverlayConfig;
use self::overlay::{io_errno, lock, sys_errno, DirEntry, OpenFile, Overlay, Res};
use crate::fs::whiteout::is_overlay_xattr;
use crate::sys;

/// How long the kernel may cache entries (names, and names that do not
/// exist) and attributes. The lower layers never change and every change to
/// the upper one goes through this server, which the kernel sees: the caches
/// can last.
const TTL: Duration = Duration::from_secs(3600);

/// The attribute cache time of a file with several names: a change through
/// one name does not refresh what the kernel cached for the others (each
/// name is its own node).
const LINKED_TTL: Duration = Duration::from_secs(1);

/// Listings of passes in progress kept at most (see `listing`).
const LISTINGS_MAX: usize = 256;

fn ttl(attr: &FileAttr) -> &'static Duration {
    if attr.nlink > 1 && attr.kind != fuser::FileType::Directory {
        &LINKED_TTL
    } else {
        &TTL
    }
}

/// Serves the overlay on an already mounted FUSE connection until it is
/// unmounted (the container's mount namespace goes away). `ready` runs once
/// the kernel handshake is done.
pub fn serve(config: OverlayConfig, fuse: OwnedFd, ready: impl FnOnce()) -> std::io::Result<()> {
    sys::process::umask(0);
    // Every open file in the container may hold one here.
    sys::process::raise_open_files_limit();
    let fs = FuseOverlay {
        overlay: Overlay::new(config)?,
        passthrough: AtomicBool::new(false),
        backings: Mutex::new(HashMap::new()),
    };
    let mut session_config = fuser::Config::default();
    // One worker per core: more only adds hand-offs between threads for
    // the many tiny requests (open, getattr) of small-file work.
    session_config.n_threads = Some(
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(1, 8),
    );
    session_config.clone_fd = true;
    let session = fuser::Session::from_fd(fs, fuse, fuser::SessionACL::All, session_config)?;
    ready();
    session.run()
}

struct FuseOverlay {
    overlay: Overlay,
    /// Opens are answered with a backing file the kernel reads and writes
    /// itself (FUSE passthrough): only when the server runs as real root,
    /// see [`passthrough_allowed`]. Otherwise opens are answered ENOSYS.
    passthrough: AtomicBool,
    /// Per node: its passthrough backing file while a handle has it open
    /// (the kernel wants one backing file per inode), and its layer.
    backings: Mutex<HashMap<u64, (usize, Weak<fuser::BackingId>)>>,
}

/// Whether the kernel will take backing files from this server: its
/// `fuse_backing_open` requires CAP_SYS_ADMIN in the initial user namespace
/// (`capable()`, fs/fuse/backing.c), which only real root has; a server
/// inside the container's user namespace never does.
fn passthrough_allowed() -> bool {
    sys::ids::current_euid() == 0
        && std::fs::read_to_string("/proc/self/uid_map")
            .is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
}

/// What a setattr changes.
struct AttrChanges {
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    size: Option<u64>,
    atime: Option<TimeOrNow>,
    mtime: Option<TimeOrNow>,
    fh: Option<FileHandle>,
}

fn time(secs: i64, nsecs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nsecs as u32)
    } else {
        UNIX_EPOCH - Duration::new(secs.unsigned_abs(), 0)
    }
}

fn attr(ino: u64, meta: &Metadata) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size: meta.size(),
        blocks: meta.blocks(),
        atime: time(meta.atime(), meta.atime_nsec()),
        mtime: time(meta.mtime(), meta.mtime_nsec()),
        ctime: time(meta.ctime(), meta.ctime_nsec()),
        crtime: UNIX_EPOCH,
        kind: overlay::file_type(meta.file_type()),
        perm: (meta.mode() & 0o7777) as u16,
        nlink: meta.nlink() as u32,
        uid: meta.uid(),
        gid: meta.gid(),
        rdev: meta.rdev() as u32,
        blksize: meta.blksize() as u32,
        flags: 0,
    }
}

/// The attributes of a negative lookup reply (node id 0).
fn no_entry() -> FileAttr {
    FileAttr {
        ino: INodeNo(0),
        size: 0,
        blocks: 0,
        atime: UNIX_EPOCH,
        mtime: UNIX_EPOCH,
        ctime: UNIX_EPOCH,
        crtime: UNIX_EPOCH,
        kind: fuser::FileType::RegularFile,
        perm: 0,
        nlink: 0,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 0,
        flags: 0,
    }
}

/// Drops from the file's mode what a write by process `pid` drops, as the
/// kernel's `file_remove_privs` would (the server handles it, see `init`):
/// set-user-id, and set-group-id on a group-executable file, unless the
/// writer has CAP_FSETID (in the container's user namespace, where the
/// file's owner is mapped). The kernel flags every write from a container,
/// as it only asks whether the writer is privileged on the host.
fn drop_suid_sgid(file: &std::fs::File, pid: u32) -> Res<()> {
    let mode = file.metadata().map_err(io_errno)?.mode();
    let mut drop = mode & libc::S_ISUID;
    if mode & (libc::S_ISGID | libc::S_IXGRP) == libc::S_ISGID | libc::S_IXGRP {
        drop |= libc::S_ISGID;
    }
    if drop == 0 || has_cap_fsetid(pid) {
        return Ok(());
    }
    file.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777 & !drop))
        .map_err(io_errno)
}

/// Whether process `pid` holds CAP_FSETID in its effective set (its
/// /proc status; a process gone or unreadable counts as not holding it).
fn has_cap_fsetid(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .zip(crate::spec::security::number("CAP_FSETID"))
        .is_some_and(|(caps, bit)| caps & (1 << bit) != 0)
}

fn timeset(t: Option<TimeOrNow>) -> sys::fs::TimeSet {
    match t {
        None => sys::fs::TimeSet::Omit,
        Some(TimeOrNow::Now) => sys::fs::TimeSet::Now,
        Some(TimeOrNow::SpecificTime(t)) => sys::fs::TimeSet::At(t),
    }
}

impl FuseOverlay {
    fn stat(&self, node: &Node) -> Res<Metadata> {
        std::fs::symlink_metadata(self.overlay.backing(node.layer, &node.path)).map_err(io_errno)
    }

    fn lookup_entry(&self, parent: u64, name: &OsStr) -> Res<FileAttr> {
        let parent = self.overlay.node(parent)?;
        if parent.dir_layers.is_empty() {
            return Err(Errno::ENOTDIR);
        }
        let (rel, resolved) = self
            .overlay
            .resolve_child(&parent, name)
            .ok_or(Errno::ENOENT)?;
        let ino = lock(&self.overlay.inodes).intern(&rel, resolved.layer, resolved.dir_layers, 1);
        Ok(attr(ino, &resolved.meta))
    }

    /// Registers a just-created upper entry and returns its attributes.
    fn created(&self, rel: &Path, dir_layers: Vec<usize>) -> Res<FileAttr> {
        let meta = std::fs::symlink_metadata(self.overlay.backing(0, rel)).map_err(io_errno)?;
        let ino = lock(&self.overlay.inodes).intern(rel, 0, dir_layers, 1);
        Ok(attr(ino, &meta))
    }

    /// Common part of mknod, mkdir, symlink and link: the entry is made by
    /// `make` at the upper path, then owned by the caller.
    fn make_entry(
        &self,
        req: &Request,
        parent: u64,
        name: &OsStr,
        dir: bool,
        owned: bool,
        make: impl FnOnce(&Path) -> Res<()>,
    ) -> Res<FileAttr> {
        let _changes = self.overlay.changes();
        let (parent_node, rel, replaced_whiteout) = self.overlay.prepare_new(parent, name)?;
        let path = self.overlay.backing(0, &rel);
        make(&path)?;
        let done = (|| {
            if owned {
                let parent_path = self.overlay.backing(0, &parent_node.path);
                self.overlay
                    .set_new_owner(&path, &parent_path, req.uid(), req.gid(), dir)?;
            }
            // A directory made where a lower one was deleted must not show
            // the old contents.
            if dir && (replaced_whiteout || self.overlay.lower_has(&parent_node, name)) {
                self.overlay.set_opaque(&rel)?;
            }
            Ok(())
        })();
        if let Err(e) = done {
            let _ = std::fs::remove_dir(&path).or_else(|_| std::fs::remove_file(&path));
            if replaced_whiteout {
                let _ = self.overlay.whiteout(&rel);
            }
            return Err(e);
        }
        self.created(&rel, if dir { vec![0] } else { vec![] })
    }

    /// unlink and rmdir: remove the upper copy, leave a whiteout if a lower
    /// layer still shows the name.
    fn remove(&self, parent: u64, name: &OsStr, dir: bool) -> Res<()> {
        let _changes = self.overlay.changes();
        let parent_node = self.overlay.node(parent)?;
        let (rel, resolved) = self
            .overlay
            .resolve_child(&parent_node, name)
            .ok_or(Errno::ENOENT)?;
        let is_dir = resolved.meta.is_dir();
        if dir && !is_dir {
            return Err(Errno::ENOTDIR);
        }
        if !dir && is_dir {
            return Err(Errno::EISDIR);
        }
        if is_dir {
            let probe = Node {
                path: rel.clone(),
                layer: resolved.layer,
                dir_layers: resolved.dir_layers.clone(),
                lookups: 0,
                deleted: false,
            };
            if !self.overlay.is_empty_dir(&probe)? {
                return Err(Errno::ENOTEMPTY);
            }
        }
        self.overlay.ensure_upper_dir(&parent_node.path)?;
        let parent_node = self.overlay.node(parent)?;
        let upper = self.overlay.backing(0, &rel);
        if resolved.layer == 0 {
            if !is_dir {
                self.overlay.pin_before_removal(&rel);
            }
            if is_dir {
                // Only whiteouts can be left inside (the merged view is empty).
                fs_err::remove_dir_all(&upper).map_err(io_errno)?;
            } else {
                fs_err::remove_file(&upper).map_err(io_errno)?;
            }
        }
        if self.overlay.lower_has(&parent_node, name) {
            self.overlay.whiteout(&rel)?;
        }
        lock(&self.overlay.inodes).remove_path(&rel);
        Ok(())
    }

    fn open_file(&self, ino: u64, flags: i32) -> Res<(u64, FopenFlags)> {
        let writing = flags & libc::O_ACCMODE != libc::O_RDONLY;
        let truncating = flags & libc::O_TRUNC != 0;
        let node = if writing || truncating {
            self.overlay.copy_up(ino, !truncating)?
        } else {
            self.overlay.node(ino)?
        };
        let path = self.overlay.backing(node.layer, &node.path);
        let passed = flags & (libc::O_SYNC | libc::O_DSYNC | libc::O_TRUNC | libc::O_NOATIME);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(writing || truncating)
            .custom_flags(passed)
            .open(&path)
            .map_err(io_errno)?;
        let fh = self.overlay.handle();
        let open = OpenFile {
            file,
            layer: node.layer,
            pinned: false,
            _backing: None,
        };
        lock(&self.overlay.files).insert(fh, Arc::new(open));
        Ok((fh, FopenFlags::FOPEN_KEEP_CACHE))
    }

    /// Passthrough open: the backing file is registered with the kernel
    /// (once per node while open), which then does the file's I/O itself.
    fn open_passthrough(
        &self,
        ino: u64,
        flags: i32,
        register: impl FnOnce(&std::fs::File) -> std::io::Result<fuser::BackingId>,
    ) -> Res<(u64, Arc<fuser::BackingId>)> {
        let (fh, _) = self.open_file(ino, flags)?;
        let open = self.file(FileHandle(fh))?;
        let mut backings = lock(&self.backings);
        let shared = backings
            .get(&ino)
            .filter(|(layer, _)| *layer == open.layer)
            .and_then(|(_, id)| id.upgrade());
        let id = match shared {
            Some(id) => id,
            None => match register(&open.file) {
                Ok(id) => Arc::new(id),
                Err(e) => {
                    lock(&self.overlay.files).remove(&fh);
                    return Err(io_errno(e));
                }
            },
        };
        backings.insert(ino, (open.layer, Arc::downgrade(&id)));
        let with_backing = OpenFile {
            file: open.file.try_clone().map_err(io_errno)?,
            layer: open.layer,
            pinned: false,
            _backing: Some(id.clone()),
        };
        lock(&self.overlay.files).insert(fh, Arc::new(with_backing));
        Ok((fh, id))
    }

    fn file(&self, fh: FileHandle) -> Res<Arc<OpenFile>> {
        lock(&self.overlay.files)
            .get(&fh.0)
            .cloned()
            .ok_or(Errno::EBADF)
    }

    /// The backing file a data request works on: the handle's (files made
    /// by create), else, with handle 0 (the kernel sends no opens), the
    /// node's own. `write` copies up.
    fn data_file(&self, ino: INodeNo, fh: Option<FileHandle>, write: bool) -> Res<Arc<OpenFile>> {
        match fh {
            Some(fh) if fh.0 != 0 => self.file(fh),
            _ => self.overlay.node_file(ino.0, write),
        }
    }

    fn set_attr(&self, ino: u64, c: AttrChanges) -> Res<FileAttr> {
        let AttrChanges {
            mode,
            uid,
            gid,
            size,
            atime,
            mtime,
            fh,
        } = c;
        let node = self.overlay.node(ino)?;
        if node.deleted {
            // Its name is gone (the kernel writes times back after an
            // unlink): change the open file itself, never the path, which
            // may name another entry by now.
            let open = self.data_file(INodeNo(ino), fh, false)?;
            if open.layer != 0 {
                return Err(Errno::ENOENT);
            }
            let file = &open.file;
            if uid.is_some() || gid.is_some() {
                std::os::unix::fs::fchown(file, uid, gid).map_err(io_errno)?;
            }
            if let Some(mode) = mode {
                file.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))
                    .map_err(io_errno)?;
            }
            if let Some(size) = size {
                file.set_len(size).map_err(io_errno)?;
            }
            return Ok(attr(ino, &file.metadata().map_err(io_errno)?));
        }
        let changes_something = mode.is_some()
            || uid.is_some()
            || gid.is_some()
            || size.is_some()
            || atime.is_some()
            || mtime.is_some();
        if !changes_something {
            return Ok(attr(ino, &self.stat(&node)?));
        }
        let node = self.overlay.copy_up(ino, size != Some(0))?;
        let path = self.overlay.backing(0, &node.path);
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::lchown(&path, uid, gid).map_err(io_errno)?;
        }
        if let Some(mode) = mode {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o7777))
                .map_err(io_errno)?;
        }
        if let Some(size) = size {
            let open = fh.and_then(|fh| self.file(fh).ok());
            match open {
                Some(f) if f.file.set_len(size).is_ok() => {}
                _ => std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_len(size))
                    .map_err(io_errno)?,
            }
        }
        if atime.is_some() || mtime.is_some() {
            sys::fs::set_times(&path, timeset(atime), timeset(mtime)).map_err(sys_errno)?;
        }
        let meta = std::fs::symlink_metadata(&path).map_err(io_errno)?;
        Ok(attr(ino, &meta))
    }

    fn rename_entry(
        &self,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        flags: RenameFlags,
    ) -> Res<()> {
        if flags.contains(RenameFlags::RENAME_WHITEOUT) {
            return Err(Errno::EINVAL);
        }
        let exchange = flags.contains(RenameFlags::RENAME_EXCHANGE);
        let noreplace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        let from_parent = self.overlay.node(parent)?;
        let (from_rel, from) = self
            .overlay
            .resolve_child(&from_parent, name)
            .ok_or(Errno::ENOENT)?;
        let to_parent = self.overlay.node(newparent)?;
        let target = self.overlay.resolve_child(&to_parent, newname);
        if noreplace && target.is_some() {
            return Err(Errno::EEXIST);
        }
        if exchange && target.is_none() {
            return Err(Errno::ENOENT);
        }
        // Like the kernel overlay without redirect_dir: a directory that
        // merges lower layers cannot move; `mv` falls back to copying.
        let merges_lower = |dir_layers: &[usize]| dir_layers.iter().any(|l| *l != 0);
        if merges_lower(&from.dir_layers) {
            return Err(Errno::EXDEV);
        }
        if exchange {
            if let Some((_, t)) = &target {
                if merges_lower(&t.dir_layers) {
                    return Err(Errno::EXDEV);
                }
            }
        }
        let to_rel = to_parent.path.join(newname);
        if let Some((_, t)) = &target {
            if !exchange && t.meta.is_dir() {
                if !from.meta.is_dir() {
                    return Err(Errno::EISDIR);
                }
                let probe = Node {
                    path: to_rel.clone(),
                    layer: t.layer,
                    dir_layers: t.dir_layers.clone(),
                    lookups: 0,
                    deleted: false,
                };
                if !self.overlay.is_empty_dir(&probe)? {
                    return Err(Errno::ENOTEMPTY);
                }
            } else if !exchange && from.meta.is_dir() {
                return Err(Errno::ENOTDIR);
            }
        }
        // Copy the source (and the target, for an exchange) up.
        let lookup_ino = |rel: &Path, layer: usize, dir_layers: Vec<usize>| {
            lock(&self.overlay.inodes).intern(rel, layer, dir_layers, 0)
        };
        let from_ino = lookup_ino(&from_rel, from.layer, from.dir_layers.clone());
        self.overlay.copy_up(from_ino, true)?;
        if exchange {
            if let Some((rel, t)) = &target {
                let ino = lookup_ino(rel, t.layer, t.dir_layers.clone());
                self.overlay.copy_up(ino, true)?;
            }
        }
        let _changes = self.overlay.changes();
        self.overlay.ensure_upper_dir(&from_parent.path)?;
        self.overlay.ensure_upper_dir(&to_parent.path)?;
        let from_parent = self.overlay.node(parent)?;
        let to_parent = self.overlay.node(newparent)?;
        let from_path = self.overlay.backing(0, &from_rel);
        let to_path = self.overlay.backing(0, &to_rel);
        if exchange {
            sys::fs::rename_with_flags(&from_path, &to_path, libc::RENAME_EXCHANGE)
                .map_err(sys_errno)?;
            lock(&self.overlay.inodes).exchange(&from_rel, &to_rel);
            return Ok(());
        }
        // Whatever the upper layer holds at the target (a whiteout, or a
        // directory with only whiteouts in it) is replaced.
        if let Ok(m) = std::fs::symlink_metadata(&to_path) {
            if m.is_file() {
                self.overlay.pin_before_removal(&to_rel);
            }
            if m.is_dir() {
                fs_err::remove_dir_all(&to_path).map_err(io_errno)?;
            } else if from.meta.is_dir() || m.file_type().is_char_device() {
                fs_err::remove_file(&to_path).map_err(io_errno)?;
            }
        }
        std::fs::rename(&from_path, &to_path).map_err(io_errno)?;
        if from.meta.is_dir() && self.overlay.lower_has(&to_parent, newname) {
            self.overlay.set_opaque(&to_rel)?;
        }
        if self.overlay.lower_has(&from_parent, name) {
            self.overlay.whiteout(&from_rel)?;
        }
        lock(&self.overlay.inodes).rename(&from_rel, &to_rel);
        Ok(())
    }

    /// The merged listing of directory `ino` for a readdir from `offset`,
    /// and the directory's node. A listing is taken when a pass starts
    /// (offset 0) and kept for the pass's later batches, until its end.
    fn listing(&self, ino: u64, offset: u64) -> Res<(Arc<Vec<DirEntry>>, Node)> {
        let node = self.overlay.node(ino)?;
        if node.dir_layers.is_empty() {
            return Err(Errno::ENOTDIR);
        }
        if offset != 0 {
            if let Some(entries) = lock(&self.overlay.dirs).get(&ino) {
                return Ok((entries.clone(), node));
            }
        }
        let mut entries = vec![
            DirEntry {
                name: ".".into(),
                kind: fuser::FileType::Directory,
            },
            DirEntry {
                name: "..".into(),
                kind: fuser::FileType::Directory,
            },
        ];
        entries.extend(self.overlay.list(&node)?);
        let entries = Arc::new(entries);
        let mut dirs = lock(&self.overlay.dirs);
        if dirs.len() >= LISTINGS_MAX {
            // Passes left unfinished (a reader that stopped early).
            dirs.clear();
        }
        dirs.insert(ino, entries.clone());
        Ok((entries, node))
    }

    /// A readdir reached the end of the listing: the pass is over.
    fn listing_done(&self, ino: u64, entries: &[DirEntry], offset: u64) {
        if offset as usize >= entries.len() {
            lock(&self.overlay.dirs).remove(&ino);
        }
    }

    fn read_xattr(&self, ino: u64, name: Option<&OsStr>, size: u32, reply: ReplyXattr) {
        let result = (|| -> Res<Vec<u8>> {
            let node = self.overlay.node(ino)?;
            let path = self.overlay.backing(node.layer, &node.path);
            match name {
                Some(name) => {
                    if is_overlay_xattr(name) {
                        return Err(Errno::from_i32(libc::ENODATA));
                    }
                    sys::fs::get_xattr(&path, name.as_encoded_bytes()).map_err(sys_errno)
                }
                None => {
                    let mut out = Vec::new();
                    for n in sys::fs::list_xattrs(&path).map_err(sys_errno)? {
                        if is_overlay_xattr(std::os::unix::ffi::OsStrExt::from_bytes(&n)) {
                            continue;
                        }
                        out.extend_from_slice(&n);
                        out.push(0);
                    }
                    Ok(out)
                }
            }
        })();
        match result {
            Err(e) => reply.error(e),
            Ok(data) if size == 0 => reply.size(data.len() as u32),
            Ok(data) if data.len() > size as usize => reply.error(Errno::ERANGE),
            Ok(data) => reply.data(&data),
        }
    }
}

fn reply_entry(reply: ReplyEntry, result: Res<FileAttr>) {
    match result {
        Ok(attr) => reply.entry(ttl(&attr), &attr, Generation(0)),
        Err(e) => reply.error(e),
    }
}

fn reply_empty(reply: ReplyEmpty, result: Res<()>) {
    match result {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

impl fuser::Filesystem for FuseOverlay {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        for wanted in [
            // Every listing batch with attributes (not only the first, as
            // with READDIRPLUS_AUTO): a stat of an entry of a later batch
            // would otherwise be a lookup round trip.
            InitFlags::FUSE_DO_READDIRPLUS,
            InitFlags::FUSE_PARALLEL_DIROPS,
            InitFlags::FUSE_CACHE_SYMLINKS,
            InitFlags::FUSE_ASYNC_DIO,
        ] {
            let _ = config.add_capabilities(wanted);
        }
        let passthrough = passthrough_allowed()
            && config.add_capabilities(InitFlags::FUSE_PASSTHROUGH).is_ok()
            && config.set_max_stack_depth(1).is_ok();
        self.passthrough.store(passthrough, Ordering::Relaxed);
        if !passthrough {
            // The server drops set-user-id and set-group-id bits on writes
            // (`write`), so the kernel does not ask for security.capability
            // before every write (a round trip per write call). The backing
            // file system drops file capabilities itself when the server
            // writes, and chown and truncate keep the kernel's own handling.
            let _ = config.add_capabilities(InitFlags::FUSE_HANDLE_KILLPRIV_V2);
            // The kernel gathers writes in the page cache and sends them in
            // large batches while the writer goes on (a 1 GiB write 1.7x
            // faster, an untar 1.25x). Its price: the kernel forgets a
            // file's block count at every close, so the next stat of a file
            // opened again is a round trip (a `find -printf %u` reopens
            // /etc/passwd per entry: 1.5x slower). Backing files of the
            // upper layer are opened read-write, as the kernel may read
            // pages to fill partial ones. (Passthrough excludes it: the
            // kernel turns passthrough off when both are asked for.)
            let _ = config.add_capabilities(InitFlags::FUSE_WRITEBACK_CACHE);
        }
        let _ = config.set_max_write(1 << 20);
        let _ = config.set_max_readahead(1 << 20);
        let _ = config.set_max_background(64);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.lookup_entry(parent.0, name) {
            // Node id 0 is "no such entry" that the kernel may cache for TTL
            // (Python's imports probe many names that are not there). Every
            // create goes through the kernel, which drops the negative entry.
            Err(e) if e == Errno::ENOENT => reply.entry(&TTL, &no_entry(), Generation(0)),
            result => reply_entry(reply, result),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        if lock(&self.overlay.inodes).forget(ino.0, nlookup) {
            self.overlay.forget_file(ino.0);
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let result = (|| {
            if let Some(f) = fh.filter(|fh| fh.0 != 0).and_then(|fh| self.file(fh).ok()) {
                return f.file.metadata().map_err(io_errno);
            }
            let node = self.overlay.node(ino.0)?;
            if node.deleted {
                let f = self.overlay.node_file(ino.0, false)?;
                return f.file.metadata().map_err(io_errno);
            }
            self.stat(&node)
        })();
        match result {
            Ok(meta) => {
                let a = attr(ino.0, &meta);
                reply.attr(ttl(&a), &a)
            }
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let changes = AttrChanges {
            mode,
            uid,
            gid,
            size,
            atime,
            mtime,
            fh,
        };
        match self.set_attr(ino.0, changes) {
            Ok(attr) => reply.attr(ttl(&attr), &attr),
            Err(e) => reply.error(e),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let result = self.overlay.node(ino.0).and_then(|node| {
            std::fs::read_link(self.overlay.backing(node.layer, &node.path)).map_err(io_errno)
        });
        match result {
            Ok(target) => reply.data(target.as_os_str().as_encoded_bytes()),
            Err(e) => reply.error(e),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let result = self.make_entry(req, parent.0, name, false, true, |path| {
            sys::fs::mknod(path, mode, rdev as u64).map_err(sys_errno)
        });
        reply_entry(reply, result);
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        let result = self.make_entry(req, parent.0, name, true, true, |path| {
            std::fs::DirBuilder::new()
                .mode(mode & 0o7777)
                .create(path)
                .map_err(io_errno)
        });
        reply_entry(reply, result);
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(reply, self.remove(parent.0, name, false));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(reply, self.remove(parent.0, name, true));
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let result = self.make_entry(req, parent.0, link_name, false, true, |path| {
            std::os::unix::fs::symlink(target, path).map_err(io_errno)
        });
        reply_entry(reply, result);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply_empty(
            reply,
            self.rename_entry(parent.0, name, newparent.0, newname, flags),
        );
    }

    fn link(
        &self,
        req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let result = self.overlay.copy_up(ino.0, true).and_then(|node| {
            let source = self.overlay.backing(0, &node.path);
            self.make_entry(req, newparent.0, newname, false, false, |path| {
                std::fs::hard_link(&source, path).map_err(io_errno)
            })
        });
        reply_entry(reply, result);
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if self.passthrough.load(Ordering::Relaxed) {
            match self.open_passthrough(ino.0, flags.0, |f| reply.open_backing(f)) {
                Ok((fh, id)) => {
                    return reply.opened_passthrough(FileHandle(fh), FopenFlags::empty(), &id)
                }
                Err(e) if e == Errno::EPERM => {
                    // The kernel refused the backing file: no passthrough
                    // from now on, and no opens either (below).
                    self.passthrough.store(false, Ordering::Relaxed);
                }
                Err(e) => return reply.error(e),
            }
        }
        // The kernel then opens files without asking (and keeps their page
        // cache): no open or release round trip per open file. Data requests
        // come with handle 0 and use the node's own backing file; a file is
        // copied up on its first write or truncate rather than at open.
        reply.error(Errno::ENOSYS);
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        thread_local! {
            // One buffer per worker, reused: a fresh 1 MiB buffer per read
            // costs page faults and zeroing.
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let file = match self.data_file(ino, Some(fh), false) {
            Ok(f) => f,
            Err(e) => return reply.error(e),
        };
        BUF.with_borrow_mut(|buf| {
            if buf.len() < size as usize {
                buf.resize(size as usize, 0);
            }
            let buf = &mut buf[..size as usize];
            let mut done = 0;
            while done < buf.len() {
                match file.file.read_at(&mut buf[done..], offset + done as u64) {
                    Ok(0) => break,
                    Ok(n) => done += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return reply.error(io_errno(e)),
                }
            }
            reply.data(&buf[..done]);
        });
    }

    fn write(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let kill = write_flags.contains(WriteFlags::FUSE_WRITE_KILL_SUIDGID);
        let result = self.data_file(ino, Some(fh), true).and_then(|f| {
            if kill {
                drop_suid_sgid(&f.file, req.pid())?;
            }
            f.file.write_all_at(data, offset).map_err(io_errno)
        });
        match result {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // Nothing to do at close: ENOSYS tells the kernel to stop sending
        // flushes (one round trip less per close).
        reply.error(Errno::ENOSYS);
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        lock(&self.overlay.files).remove(&fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        let result = self.data_file(ino, Some(fh), false).and_then(|f| {
            if datasync {
                f.file.sync_data()
            } else {
                f.file.sync_all()
            }
            .map_err(io_errno)
        });
        reply_empty(reply, result);
    }

    fn opendir(&self, _req: &Request, _ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        // As for files: the kernel then opens directories without asking,
        // sends no releasedir, and keeps what it read of a directory in its
        // cache (two round trips less per directory, and none for a second
        // listing). Listings are taken at offset 0, see `listing`.
        reply.error(Errno::ENOSYS);
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let (entries, node) = match self.listing(ino.0, offset) {
            Ok(found) => found,
            Err(e) => return reply.error(e),
        };
        self.listing_done(ino.0, &entries, offset);
        for (i, entry) in entries.iter().enumerate().skip(offset as usize) {
            let entry_ino = match i {
                0 => ino.0,
                1 => inodes::ROOT,
                _ => lock(&self.overlay.inodes)
                    .ino_of(&node.path.join(&entry.name))
                    .unwrap_or(u64::MAX - i as u64),
            };
            if reply.add(INodeNo(entry_ino), (i + 1) as u64, entry.kind, &entry.name) {
                break;
            }
        }
        reply.ok();
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let (entries, node) = match self.listing(ino.0, offset) {
            Ok(found) => found,
            Err(e) => return reply.error(e),
        };
        self.listing_done(ino.0, &entries, offset);
        for (i, entry) in entries.iter().enumerate().skip(offset as usize) {
            let next = (i + 1) as u64;
            if i < 2 {
                // The kernel does not look "." and ".." up from readdirplus.
                let Ok(meta) = self.stat(&node) else { continue };
                let a = attr(ino.0, &meta);
                if reply.add(INodeNo(ino.0), next, &entry.name, &TTL, &a, Generation(0)) {
                    break;
                }
                continue;
            }
            let Some((rel, resolved)) = self.overlay.resolve_child(&node, &entry.name) else {
                continue;
            };
            let child =
                lock(&self.overlay.inodes).intern(&rel, resolved.layer, resolved.dir_layers, 0);
            let a = attr(child, &resolved.meta);
            if reply.add(INodeNo(child), next, &entry.name, &TTL, &a, Generation(0)) {
                break;
            }
            if let Some(n) = lock(&self.overlay.inodes).get_mut(child) {
                n.lookups += 1;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        match sys::fs::fs_stats(self.overlay.upper_root()) {
            Ok(s) => reply.statfs(
                s.blocks,
                s.blocks_free,
                s.blocks_available,
                s.files,
                s.files_free,
                s.block_size,
                s.name_max,
                s.fragment_size,
            ),
            Err(e) => reply.error(sys_errno(e)),
        }
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        if is_overlay_xattr(name) {
            return reply.error(Errno::EPERM);
        }
        let result = self.overlay.copy_up(ino.0, true).and_then(|node| {
            let path = self.overlay.backing(0, &node.path);
            sys::fs::set_xattr_flags(&path, name.as_encoded_bytes(), value, flags)
                .map_err(sys_errno)
        });
        reply_empty(reply, result);
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        self.read_xattr(ino.0, Some(name), size, reply);
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        self.read_xattr(ino.0, None, size, reply);
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        if is_overlay_xattr(name) {
            return reply.error(Errno::from_i32(libc::ENODATA));
        }
        let result = self.overlay.copy_up(ino.0, true).and_then(|node| {
            let path = self.overlay.backing(0, &node.path);
            sys::fs::remove_xattr(&path, name.as_encoded_bytes()).map_err(sys_errno)
        });
        reply_empty(reply, result);
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        // `default_permissions`: the kernel checks modes itself.
        reply.ok();
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let result = self
            .make_entry(req, parent.0, name, false, true, |path| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(mode & 0o7777)
                    .open(path)
                    .map(drop)
                    .map_err(io_errno)
            })
            .and_then(|attr| {
                let flags = flags & !libc::O_TRUNC;
                if self.passthrough.load(Ordering::Relaxed) {
                    // All of a node's opens pass through, or the kernel
                    // refuses the later ones (one I/O mode per inode).
                    match self.open_passthrough(attr.ino.0, flags, |f| reply.open_backing(f)) {
                        Ok((fh, id)) => return Ok((attr, fh, Some(id))),
                        // Refused: on without it, as in open.
                        Err(e) if e == Errno::EPERM => {
                            self.passthrough.store(false, Ordering::Relaxed)
                        }
                        Err(e) => return Err(e),
                    }
                }
                // Without opens the kernel sends no release, not even for
                // created files: no handle, the node's own file serves.
                self.overlay.node_file(attr.ino.0, true)?;
                Ok((attr, 0, None))
            });
        let keep = FopenFlags::FOPEN_KEEP_CACHE;
        match result {
            Ok((attr, fh, Some(id))) => reply.created_passthrough(
                &TTL,
                &attr,
                Generation(0),
                FileHandle(fh),
                FopenFlags::empty(),
                &id,
            ),
            Ok((attr, fh, None)) => reply.created(&TTL, &attr, Generation(0), FileHandle(fh), keep),
            Err(e) => reply.error(e),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        let result = self
            .data_file(ino, Some(fh), true)
            .and_then(|f| sys::fs::fallocate(&f.file, mode, offset, length).map_err(sys_errno));
        reply_empty(reply, result);
    }

    fn lseek(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: i64,
        whence: i32,
        reply: ReplyLseek,
    ) {
        match self
            .data_file(ino, Some(fh), false)
            .and_then(|f| sys::fs::seek(&f.file, offset, whence).map_err(sys_errno))
        {
            Ok(pos) => reply.offset(pos),
            Err(e) => reply.error(e),
        }
    }
}
