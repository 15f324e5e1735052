//! Layers as a `--userns=keep-id` container sees them: a copy of a layer whose owners
//! 0 and the user's ids trade places (`runtime::idmap` swaps the same two ids in the
//! keep-id map, so every image file keeps the owner it has in the default map).
//!
//! Runs inside the default user namespace (where both ids are mapped and may be given
//! away). Overlay metadata (opaque directories, whiteouts) is copied as it is, and hard
//! links stay hard links.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::copy::{self, CopyError};
use crate::sys;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CopyError + '_ {
    move |source| CopyError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// `id` with 0 and `own` swapped.
pub fn swap(id: u32, own: u32) -> u32 {
    match id {
        0 => own,
        n if n == own => 0,
        n => n,
    }
}

/// Copies the layer tree `source` to the new directory `target`, swapping owners 0 and
/// `uid` (and groups 0 and `gid`).
pub fn copy_swapped(source: &Path, target: &Path, uid: u32, gid: u32) -> Result<(), CopyError> {
    let meta = std::fs::symlink_metadata(source).map_err(io(source))?;
    std::fs::create_dir(target).map_err(io(target))?;
    let mut links = HashMap::new();
    let swap_ids = Swap { uid, gid };
    copy_tree(source, target, swap_ids, &mut links)?;
    finish(source, target, &meta, swap_ids)
}

#[derive(Clone, Copy)]
struct Swap {
    uid: u32,
    gid: u32,
}

fn copy_tree(
    source: &Path,
    target: &Path,
    ids: Swap,
    links: &mut HashMap<(u64, u64), std::path::PathBuf>,
) -> Result<(), CopyError> {
    for entry in std::fs::read_dir(source).map_err(io(source))? {
        let entry = entry.map_err(io(source))?;
        let from = entry.path();
        let to = target.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&from).map_err(io(&from))?;
        if meta.is_dir() {
            std::fs::create_dir(&to).map_err(io(&to))?;
            copy_tree(&from, &to, ids, links)?;
        } else if meta.nlink() > 1 {
            if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                std::fs::hard_link(first, &to).map_err(io(&to))?;
                continue;
            }
            links.insert((meta.dev(), meta.ino()), to.clone());
            copy::copy_entry(&from, &to, &meta, true)?;
        } else {
            copy::copy_entry(&from, &to, &meta, true)?;
        }
        finish(&from, &to, &meta, ids)?;
    }
    Ok(())
}

/// The overlay's own xattrs (which `copy` leaves out), then the swapped owner. chown
/// clears set-id bits, so the mode is set again after it.
fn finish(
    source: &Path,
    target: &Path,
    meta: &std::fs::Metadata,
    ids: Swap,
) -> Result<(), CopyError> {
    if meta.is_dir() {
        // Directories get their metadata after their contents.
        copy::copy_metadata(source, target, meta)?;
    }
    if let Ok(names) = sys::fs::list_xattrs(source) {
        for name in names {
            if !crate::fs::whiteout::is_overlay_xattr(std::ffi::OsStr::from_bytes(&name)) {
                continue;
            }
            if let Ok(value) = sys::fs::get_xattr(source, &name) {
                sys::fs::set_xattr_flags(target, &name, &value, 0)?;
            }
        }
    }
    let (uid, gid) = (swap(meta.uid(), ids.uid), swap(meta.gid(), ids.gid));
    if (uid, gid) != (meta.uid(), meta.gid()) {
        std::os::unix::fs::lchown(target, Some(uid), Some(gid)).map_err(io(target))?;
        if !meta.file_type().is_symlink() {
            std::fs::set_permissions(
                target,
                std::fs::Permissions::from_mode(meta.mode() & 0o7777),
            )
            .map_err(io(target))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_root_and_the_user_only() {
        assert_eq!(swap(0, 1001), 1001);
        assert_eq!(swap(1001, 1001), 0);
        assert_eq!(swap(33, 1001), 33);
    }

    #[test]
    fn copies_content_links_and_overlay_metadata() {
        let t = tempfile::tempdir().unwrap();
        let (src, dst) = (t.path().join("src"), t.path().join("dst"));
        std::fs::create_dir_all(src.join("d")).unwrap();
        std::fs::write(src.join("d/f"), b"hello").unwrap();
        std::fs::hard_link(src.join("d/f"), src.join("g")).unwrap();
        std::os::unix::fs::symlink("d/f", src.join("l")).unwrap();
        std::fs::set_permissions(src.join("d/f"), std::fs::Permissions::from_mode(0o751)).unwrap();
        let opaque = sys::fs::set_xattr(&src.join("d"), "user.overlay.opaque", b"y").is_ok();
        // Owned by us: a swap with ids we do not have leaves owners alone.
        let me = std::fs::metadata(&src).unwrap();
        copy_swapped(&src, &dst, me.uid() + 1, me.gid() + 1).unwrap();
        assert_eq!(std::fs::read(dst.join("d/f")).unwrap(), b"hello");
        assert_eq!(
            std::fs::metadata(dst.join("d/f")).unwrap().mode() & 0o7777,
            0o751
        );
        assert_eq!(
            std::fs::metadata(dst.join("g")).unwrap().ino(),
            std::fs::metadata(dst.join("d/f")).unwrap().ino()
        );
        assert_eq!(std::fs::read_link(dst.join("l")).unwrap(), Path::new("d/f"));
        if opaque {
            assert_eq!(
                sys::fs::get_xattr(&dst.join("d"), b"user.overlay.opaque").unwrap(),
                b"y"
            );
        }
    }
}
