//! Filesystem calls std does not offer: whiteout device nodes and xattrs.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{Result, SysError};

/// Creates an overlayfs whiteout (a 0/0 character device), which the kernel
/// allows without CAP_MKNOD since Linux 5.8.
pub fn make_whiteout(path: &Path) -> Result<()> {
    use nix::sys::stat::{mknod, Mode, SFlag};
    mknod(path, SFlag::S_IFCHR, Mode::empty(), 0)
        .map_err(|e| SysError::new("mknod", path.display(), e))
}

/// Sets an extended attribute on `path` itself (not following symlinks).
pub fn set_xattr(path: &Path, name: &str, value: &[u8]) -> Result<()> {
    let p = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| SysError::new("lsetxattr", path.display(), nix::Error::EINVAL))?;
    let n = CString::new(name).map_err(|_| SysError::new("lsetxattr", name, nix::Error::EINVAL))?;
    // SAFETY: both strings are NUL-terminated and live across the call; the
    // value pointer and length describe a valid slice.
    let rc = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc < 0 {
        return Err(SysError::new(
            "lsetxattr",
            format!("{} {name}", path.display()),
            nix::Error::last(),
        ));
    }
    Ok(())
}

/// Reads an extended attribute of `path` itself (not following symlinks);
/// `None` when it is not set (or xattrs are not supported there).
pub fn get_xattr(path: &Path, name: &str) -> Result<Option<Vec<u8>>> {
    let p = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| SysError::new("lgetxattr", path.display(), nix::Error::EINVAL))?;
    let n = CString::new(name).map_err(|_| SysError::new("lgetxattr", name, nix::Error::EINVAL))?;
    let mut buf = vec![0u8; 256];
    // SAFETY: both strings are NUL-terminated and live across the call; the
    // buffer pointer and length describe a valid, writable slice.
    let rc = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if rc < 0 {
        let err = nix::Error::last();
        return match err {
            nix::Error::ENODATA | nix::Error::ENOTSUP => Ok(None),
            _ => Err(SysError::new(
                "lgetxattr",
                format!("{} {name}", path.display()),
                err,
            )),
        };
    }
    buf.truncate(rc as usize);
    Ok(Some(buf))
}
