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
