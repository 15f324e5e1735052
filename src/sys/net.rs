//! Network namespace setup that needs no helper: the loopback interface.

use std::os::fd::AsRawFd;

use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};

use super::{Result, SysError};

/// Brings `lo` up in the current network namespace (bubblewrap's
/// `loopback_setup`, with an ioctl instead of netlink: enough for `lo`).
pub fn bring_up_loopback() -> Result<()> {
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| SysError::new("socket", "AF_INET", e))?;
    // SAFETY: `ifreq` is a plain C struct; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills `ifr_flags` of the ifreq we pass; the name is NUL-terminated.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(SysError::new(
            "ioctl",
            "SIOCGIFFLAGS lo",
            nix::Error::last(),
        ));
    }
    // SAFETY: reading and writing the flags member of the union that SIOCGIFFLAGS set.
    unsafe {
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    }
    // SAFETY: SIOCSIFFLAGS reads the ifreq we pass.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(SysError::new(
            "ioctl",
            "SIOCSIFFLAGS lo",
            nix::Error::last(),
        ));
    }
    Ok(())
}
