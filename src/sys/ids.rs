//! Credentials: switching to the container user.

use nix::unistd::{Gid, Uid};

use super::{Result, SysError};

/// Sets supplementary groups, then gid, then uid (in that order: after the
/// uid changes we may no longer change groups).
pub fn switch_user(uid: u32, gid: u32, groups: &[u32], can_setgroups: bool) -> Result<()> {
    if can_setgroups {
        let groups: Vec<Gid> = groups.iter().map(|g| Gid::from_raw(*g)).collect();
        nix::unistd::setgroups(&groups).map_err(|e| SysError::new("setgroups", gid, e))?;
    }
    let gid = Gid::from_raw(gid);
    nix::unistd::setresgid(gid, gid, gid).map_err(|e| SysError::new("setresgid", gid, e))?;
    let uid = Uid::from_raw(uid);
    nix::unistd::setresuid(uid, uid, uid).map_err(|e| SysError::new("setresuid", uid, e))
}

pub fn current_uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

pub fn current_gid() -> u32 {
    nix::unistd::getgid().as_raw()
}

pub fn current_euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// The login name of `uid` from the host's passwd database.
pub fn user_name(uid: u32) -> Option<String> {
    nix::unistd::User::from_uid(Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

/// setresgid(gid, gid, gid) for the calling thread only, async-signal-safe: for a child
/// cloned from a multi-threaded process (glibc's wrapper would wait for the parent's
/// threads, which do not exist in the child, and hang).
pub fn raw_setresgid(gid: u32) -> libc::c_long {
    // SAFETY: a plain system call with integer arguments.
    unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }
}

/// setresuid(uid, uid, uid) for the calling thread only; see [`raw_setresgid`].
pub fn raw_setresuid(uid: u32) -> libc::c_long {
    // SAFETY: a plain system call with integer arguments.
    unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }
}

/// Marks the calling process dumpable again, async-signal-safe. An id change (as
/// [`raw_setresuid`] makes) leaves a process non-dumpable until its next exec, and the
/// /proc/PID/ns links of a non-dumpable process are closed to its owner (ptrace's read
/// check, done against the namespace its memory was made in: for a clone child, the
/// parent's). A helper given those links in that window (slirp4netns `--userns-path`) fails.
pub fn raw_set_dumpable() -> libc::c_long {
    // SAFETY: a plain system call with integer arguments.
    unsafe { libc::syscall(libc::SYS_prctl, libc::PR_SET_DUMPABLE, 1, 0, 0, 0) }
}

/// setgroups for the calling thread only; see [`raw_setresgid`].
pub fn raw_setgroups(groups: &[libc::gid_t]) -> libc::c_long {
    // SAFETY: the pointer and length describe a live slice for the duration of the call.
    unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) }
}
