//! Copying one filesystem entry with its metadata (owner, mode, xattrs,
//! times): shared by the FUSE overlay's copy-up and the `vfs` driver.

use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::sys::{self, SysError};

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Sys(#[from] SysError),
}

impl CopyError {
    pub fn errno(&self) -> i32 {
        match self {
            CopyError::Io { source, .. } => source.raw_os_error().unwrap_or(libc_eio()),
            CopyError::Sys(e) => e.errno() as i32,
        }
    }
}

fn libc_eio() -> i32 {
    sys::Errno::EIO as i32
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CopyError + '_ {
    move |source| CopyError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Copies owner, mode, xattrs (not the overlay's own) and times of `meta`
/// (read from `source`) onto `target`.
pub fn copy_metadata(source: &Path, target: &Path, meta: &Metadata) -> Result<(), CopyError> {
    std::os::unix::fs::lchown(target, Some(meta.uid()), Some(meta.gid())).map_err(io(target))?;
    if !meta.file_type().is_symlink() {
        std::fs::set_permissions(
            target,
            std::fs::Permissions::from_mode(meta.mode() & 0o7777),
        )
        .map_err(io(target))?;
    }
    if let Ok(names) = sys::fs::list_xattrs(source) {
        for name in names {
            if crate::fs::whiteout::is_overlay_xattr(OsStr::from_bytes(&name)) {
                continue;
            }
            if let Ok(value) = sys::fs::get_xattr(source, &name) {
                let _ = sys::fs::set_xattr_flags(target, &name, &value, 0);
            }
        }
    }
    let at = |secs: i64, nsecs: i64| {
        sys::fs::TimeSet::At(
            std::time::UNIX_EPOCH
                + std::time::Duration::new(secs.max(0) as u64, nsecs.clamp(0, 999_999_999) as u32),
        )
    };
    sys::fs::set_times(
        target,
        at(meta.atime(), meta.atime_nsec()),
        at(meta.mtime(), meta.mtime_nsec()),
    )?;
    Ok(())
}

/// Copies everything in the directory `source` into the existing directory `target`,
/// recursively, with metadata (directories get theirs after their contents).
pub fn copy_dir_contents(source: &Path, target: &Path) -> Result<(), CopyError> {
    for entry in std::fs::read_dir(source).map_err(io(source))? {
        let entry = entry.map_err(io(source))?;
        let from = entry.path();
        let to = target.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&from).map_err(io(&from))?;
        if meta.is_dir() {
            std::fs::create_dir(&to).map_err(io(&to))?;
            copy_dir_contents(&from, &to)?;
            copy_metadata(&from, &to, &meta)?;
        } else {
            copy_entry(&from, &to, &meta, true)?;
        }
    }
    Ok(())
}

/// Creates `target` as a copy of the non-directory `source` (file data
/// with holes kept unless `with_data` is false, symlink, fifo, socket,
/// device), with its metadata.
pub fn copy_entry(
    source: &Path,
    target: &Path,
    meta: &Metadata,
    with_data: bool,
) -> Result<(), CopyError> {
    let kind = meta.file_type();
    if kind.is_file() {
        let dst = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(target)
            .map_err(io(target))?;
        if with_data {
            let src = File::open(source).map_err(io(source))?;
            sys::fs::copy_sparse(&src, &dst, meta.len())?;
        }
    } else if kind.is_symlink() {
        let link = std::fs::read_link(source).map_err(io(source))?;
        std::os::unix::fs::symlink(link, target).map_err(io(target))?;
    } else {
        sys::fs::mknod(target, meta.mode(), meta.rdev())?;
    }
    copy_metadata(source, target, meta)
}
