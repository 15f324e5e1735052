//! Mounts: overlay, proc, tmpfs, binds (read-only ones keep the flags the
//! kernel locks in a user namespace), pivot_root.

use std::path::Path;

use nix::mount::{MntFlags, MsFlags};

use super::{Result, SysError};

pub use nix::mount::MsFlags as Flags;

pub fn mount(
    source: &str,
    target: &Path,
    fstype: &str,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    nix::mount::mount(Some(source), target, Some(fstype), flags, data)
        .map_err(|e| SysError::new("mount", format!("{fstype} on {}", target.display()), e))
}

/// Makes every mount below `/` private, so nothing we do propagates out.
pub fn make_rprivate() -> Result<()> {
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| SysError::new("mount", "--make-rprivate /", e))
}

/// `mount --make-rslave /`: the mount tree still receives the host's mount events but
/// sends none back (runc's default for the root).
pub fn make_rslave() -> Result<()> {
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| SysError::new("mount", "--make-rslave /", e))
}

/// Sets the propagation of the mount at `target`: one of MS_PRIVATE, MS_SHARED or
/// MS_SLAVE, with MS_REC for the mounts below it too.
pub fn set_propagation(target: &Path, flags: MsFlags) -> Result<()> {
    nix::mount::mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
        .map_err(|e| SysError::new("mount", format!("--make-{flags:?} {}", target.display()), e))
}

/// Bind-mounts `source` on `target` (recursively), read-only if asked.
pub fn bind(source: &Path, target: &Path, recursive: bool, readonly: bool) -> Result<()> {
    let mut flags = MsFlags::MS_BIND;
    if recursive {
        flags |= MsFlags::MS_REC;
    }
    nix::mount::mount(Some(source), target, None::<&str>, flags, None::<&str>).map_err(|e| {
        SysError::new(
            "mount",
            format!("--bind {} {}", source.display(), target.display()),
            e,
        )
    })?;
    if readonly {
        remount_readonly(target)?;
    }
    Ok(())
}

/// Remounts a bind mount read-only. Inside a user namespace the kernel
/// refuses a remount that would clear flags the mount already had (nosuid,
/// nodev, noexec, atime flags are "locked"), so they are carried over.
pub fn remount_readonly(target: &Path) -> Result<()> {
    let stat = nix::sys::statvfs::statvfs(target)
        .map_err(|e| SysError::new("statvfs", target.display(), e))?;
    let existing = stat.flags();
    use nix::sys::statvfs::FsFlags;
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if existing.contains(fs) {
            flags |= ms;
        }
    }
    nix::mount::mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
        .map_err(|e| SysError::new("mount", format!("-o remount,ro {}", target.display()), e))
}

/// Makes `new_root` the root of this mount namespace and detaches the old
/// one (the `pivot_root(".", ".")` idiom: no put_old directory needed).
pub fn pivot_root(new_root: &Path) -> Result<()> {
    nix::unistd::chdir(new_root).map_err(|e| SysError::new("chdir", new_root.display(), e))?;
    nix::unistd::pivot_root(".", ".")
        .map_err(|e| SysError::new("pivot_root", new_root.display(), e))?;
    nix::mount::umount2(".", MntFlags::MNT_DETACH)
        .map_err(|e| SysError::new("umount2", "old root", e))?;
    nix::unistd::chdir("/").map_err(|e| SysError::new("chdir", "/", e))
}
