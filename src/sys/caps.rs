//! Capability sets of this process: the bounding set (prctl), the
//! effective, permitted and inheritable sets (capset), the ambient set.
//!
//! Raw calls rather than the `caps` crate: `exec` and `--init` set the sets
//! in a cloned child between clone and execve, where nothing may allocate,
//! and the crate works on HashSets. These are stack-only syscalls.

use super::{Result, SysError};

/// Masks as the kernel has them (bit N = capability N).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

/// Drops from the bounding set every capability not in `keep` (needs
/// CAP_SETPCAP, so before the user switch). Stops at the first number the
/// kernel does not know.
pub fn limit_bounding_set(keep: u64) -> Result<()> {
    for cap in 0..64u64 {
        // SAFETY: prctl with integer arguments only.
        let known = unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0) };
        if known < 0 {
            break;
        }
        if keep & (1 << cap) != 0 || known == 0 {
            continue;
        }
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } < 0 {
            return Err(SysError::new(
                "prctl",
                format!("PR_CAPBSET_DROP {cap}"),
                nix::Error::last(),
            ));
        }
    }
    Ok(())
}

/// Sets the effective, permitted and inheritable sets and empties the
/// ambient set.
pub fn set(sets: Sets) -> Result<()> {
    if !set_raw(sets) {
        return Err(SysError::new("capset", "self", nix::Error::last()));
    }
    Ok(())
}

#[repr(C)]
struct Header {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `set` without allocation, for a cloned child: true on success (errno
/// tells why not).
pub fn set_raw(sets: Sets) -> bool {
    let header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let half = |m: u64, high: bool| if high { (m >> 32) as u32 } else { m as u32 };
    let data = [false, true].map(|high| Data {
        effective: half(sets.effective, high),
        permitted: half(sets.permitted, high),
        inheritable: half(sets.inheritable, high),
    });
    // SAFETY: capset reads a version-3 header and two data structs, both on
    // our stack and laid out as <linux/capability.h> has them.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) };
    if rc < 0 {
        return false;
    }
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        ) >= 0
    }
}
