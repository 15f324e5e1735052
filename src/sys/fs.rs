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
    set_xattr_flags(path, name.as_bytes(), value, 0)
}

/// A libc return code as a result naming the call and the path.
fn check(rc: libc::c_int, call: &'static str, path: &Path) -> Result<()> {
    if rc < 0 {
        return Err(SysError::new(call, path.display(), nix::Error::last()));
    }
    Ok(())
}

fn cpath(call: &'static str, path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| SysError::new(call, path.display(), nix::Error::EINVAL))
}

fn cname(call: &'static str, name: &[u8]) -> Result<CString> {
    CString::new(name)
        .map_err(|_| SysError::new(call, String::from_utf8_lossy(name), nix::Error::EINVAL))
}

/// Sets an extended attribute with `XATTR_CREATE`/`XATTR_REPLACE` flags.
pub fn set_xattr_flags(path: &Path, name: &[u8], value: &[u8], flags: i32) -> Result<()> {
    let p = cpath("lsetxattr", path)?;
    let n = cname("lsetxattr", name)?;
    // SAFETY: both strings are NUL-terminated and live across the call; the
    // value pointer and length describe a valid slice.
    let rc = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags,
        )
    };
    check(rc, "lsetxattr", path)
}

/// Reads an extended attribute of `path` itself (ENODATA when absent).
pub fn get_xattr(path: &Path, name: &[u8]) -> Result<Vec<u8>> {
    let p = cpath("lgetxattr", path)?;
    let n = cname("lgetxattr", name)?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: the strings are NUL-terminated; the buffer pointer and
        // length describe memory we own.
        let rc =
            unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if rc >= 0 {
            buf.truncate(rc as usize);
            return Ok(buf);
        }
        let err = nix::Error::last();
        if err != nix::Error::ERANGE || buf.len() >= 1 << 20 {
            return Err(SysError::new("lgetxattr", path.display(), err));
        }
        buf.resize(buf.len() * 8, 0);
    }
}

/// The names of `path`'s extended attributes (not following symlinks).
pub fn list_xattrs(path: &Path) -> Result<Vec<Vec<u8>>> {
    let p = cpath("llistxattr", path)?;
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: the path is NUL-terminated; the buffer is ours.
        let rc = unsafe { libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if rc >= 0 {
            buf.truncate(rc as usize);
            return Ok(buf
                .split(|b| *b == 0)
                .filter(|n| !n.is_empty())
                .map(<[u8]>::to_vec)
                .collect());
        }
        let err = nix::Error::last();
        if err != nix::Error::ERANGE || buf.len() >= 1 << 20 {
            return Err(SysError::new("llistxattr", path.display(), err));
        }
        buf.resize(buf.len() * 8, 0);
    }
}

pub fn remove_xattr(path: &Path, name: &[u8]) -> Result<()> {
    let p = cpath("lremovexattr", path)?;
    let n = cname("lremovexattr", name)?;
    // SAFETY: both strings are NUL-terminated and live across the call.
    let rc = unsafe { libc::lremovexattr(p.as_ptr(), n.as_ptr()) };
    check(rc, "lremovexattr", path)
}

/// Creates a special file (fifo, socket, device) with `mode` (type bits
/// included) and device number `rdev`.
pub fn mknod(path: &Path, mode: u32, rdev: u64) -> Result<()> {
    use nix::sys::stat::{Mode, SFlag};
    let kind = SFlag::from_bits_truncate(mode & libc::S_IFMT);
    let perm = Mode::from_bits_truncate(mode & 0o7777);
    nix::sys::stat::mknod(path, kind, perm, rdev)
        .map_err(|e| SysError::new("mknod", path.display(), e))
}

/// `renameat2(2)` with its flags (RENAME_NOREPLACE, RENAME_EXCHANGE).
pub fn rename_with_flags(from: &Path, to: &Path, flags: u32) -> Result<()> {
    let flags = nix::fcntl::RenameFlags::from_bits_truncate(flags);
    nix::fcntl::renameat2(None, from, None, to, flags)
        .map_err(|e| SysError::new("renameat2", from.display(), e))
}

/// One timestamp for [`set_times`].
#[derive(Debug, Clone, Copy)]
pub enum TimeSet {
    Omit,
    Now,
    At(std::time::SystemTime),
}

fn timespec(t: TimeSet) -> nix::sys::time::TimeSpec {
    use nix::sys::time::TimeSpec;
    match t {
        TimeSet::Omit => TimeSpec::UTIME_OMIT,
        TimeSet::Now => TimeSpec::UTIME_NOW,
        TimeSet::At(t) => {
            let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            TimeSpec::from_duration(d)
        }
    }
}

/// Sets access and modification times of `path` itself (symlinks too).
pub fn set_times(path: &Path, atime: TimeSet, mtime: TimeSet) -> Result<()> {
    nix::sys::stat::utimensat(
        None,
        path,
        &timespec(atime),
        &timespec(mtime),
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| SysError::new("utimensat", path.display(), e))
}

/// What `statfs` reports about a filesystem.
#[derive(Debug, Clone, Copy)]
pub struct FsStats {
    pub blocks: u64,
    pub blocks_free: u64,
    pub blocks_available: u64,
    pub files: u64,
    pub files_free: u64,
    pub block_size: u32,
    pub name_max: u32,
    pub fragment_size: u32,
}

pub fn fs_stats(path: &Path) -> Result<FsStats> {
    let s = nix::sys::statvfs::statvfs(path)
        .map_err(|e| SysError::new("statvfs", path.display(), e))?;
    Ok(FsStats {
        blocks: s.blocks(),
        blocks_free: s.blocks_free(),
        blocks_available: s.blocks_available(),
        files: s.files(),
        files_free: s.files_free(),
        block_size: s.block_size() as u32,
        name_max: s.name_max() as u32,
        fragment_size: s.fragment_size() as u32,
    })
}

/// `fallocate(2)` on an open file.
pub fn fallocate(file: &std::fs::File, mode: i32, offset: u64, len: u64) -> Result<()> {
    use std::os::fd::AsRawFd;
    nix::fcntl::fallocate(
        file.as_raw_fd(),
        nix::fcntl::FallocateFlags::from_bits_truncate(mode),
        offset as libc::off_t,
        len as libc::off_t,
    )
    .map_err(|e| SysError::new("fallocate", "", e))
}

/// `lseek(2)` with any whence (SEEK_DATA and SEEK_HOLE included).
pub fn seek(file: &std::fs::File, offset: i64, whence: i32) -> Result<i64> {
    use nix::unistd::Whence;
    use std::os::fd::AsRawFd;
    let whence = match whence {
        libc::SEEK_SET => Whence::SeekSet,
        libc::SEEK_CUR => Whence::SeekCur,
        libc::SEEK_END => Whence::SeekEnd,
        libc::SEEK_DATA => Whence::SeekData,
        libc::SEEK_HOLE => Whence::SeekHole,
        _ => return Err(SysError::new("lseek", whence, nix::Error::EINVAL)),
    };
    nix::unistd::lseek(file.as_raw_fd(), offset, whence).map_err(|e| SysError::new("lseek", "", e))
}

/// Copies `src` to `dst` (same length) keeping holes: only the data
/// segments are copied, with `copy_file_range` (reflinks where the
/// filesystem offers them), or by reading and writing where the kernel
/// refuses it (EXDEV between filesystems of different types, e.g. from an
/// overlay into a volume on ext4).
pub fn copy_sparse(src: &std::fs::File, dst: &std::fs::File, len: u64) -> Result<()> {
    dst.set_len(len).map_err(|e| {
        SysError::new(
            "ftruncate",
            "",
            nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        )
    })?;
    let mut pos: i64 = 0;
    let end = len as i64;
    while pos < end {
        let data = match seek(src, pos, libc::SEEK_DATA) {
            Ok(d) => d,
            Err(e) if e.errno() == nix::Error::ENXIO => break,
            Err(e) => return Err(e),
        };
        let hole = seek(src, data, libc::SEEK_HOLE).unwrap_or(end).min(end);
        let mut off_in = data;
        let mut off_out = data;
        while off_in < hole {
            let want = (hole - off_in) as usize;
            let n = match nix::fcntl::copy_file_range(
                src,
                Some(&mut off_in),
                dst,
                Some(&mut off_out),
                want,
            ) {
                Ok(n) => n,
                Err(nix::Error::EXDEV | nix::Error::EINVAL | nix::Error::EOPNOTSUPP) => {
                    copy_segment(src, dst, off_in, hole)?;
                    off_in = hole;
                    off_out = hole;
                    continue;
                }
                Err(e) => return Err(SysError::new("copy_file_range", "", e)),
            };
            if n == 0 {
                break;
            }
        }
        pos = hole;
    }
    Ok(())
}

/// Copies bytes `from..to` of `src` to the same place in `dst` with reads and writes.
fn copy_segment(src: &std::fs::File, dst: &std::fs::File, from: i64, to: i64) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let io = |op: &'static str, e: std::io::Error| {
        SysError::new(
            op,
            "",
            nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        )
    };
    let mut buf = vec![0u8; 1 << 16];
    let mut pos = from as u64;
    while pos < to as u64 {
        let want = buf.len().min((to as u64 - pos) as usize);
        let n = src
            .read_at(&mut buf[..want], pos)
            .map_err(|e| io("read", e))?;
        if n == 0 {
            break;
        }
        dst.write_all_at(&buf[..n], pos)
            .map_err(|e| io("write", e))?;
        pos += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom, Write};

    /// tmpfs to the target directory's filesystem: copy_file_range refuses filesystems of
    /// different types (EXDEV), and the copy still happens, holes and all.
    #[test]
    fn copy_sparse_between_filesystems() {
        let shm = std::path::Path::new("/dev/shm");
        if !shm.is_dir() {
            return;
        }
        let mut src = tempfile::tempfile_in(shm).unwrap();
        src.write_all(b"head").unwrap();
        src.seek(SeekFrom::Start(1 << 20)).unwrap();
        src.write_all(b"tail").unwrap();
        let len = src.metadata().unwrap().len();
        let dst = tempfile::tempfile_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        super::copy_sparse(&src, &dst, len).unwrap();
        let mut copied = Vec::new();
        std::io::Read::read_to_end(&mut &dst, &mut copied).unwrap();
        assert_eq!(copied.len() as u64, len);
        assert_eq!(&copied[..4], b"head");
        assert_eq!(&copied[copied.len() - 4..], b"tail");
    }
}
