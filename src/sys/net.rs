//! Network namespace setup that needs no helper (the loopback interface), and the zero-copy
//! relay of the port proxy.

use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;
use nix::fcntl::{fcntl, splice, FcntlArg, OFlag, SpliceFFlags};

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

/// The pipe between the two sockets of [`splice_copy`]: 1 MiB, the default ceiling
/// (`fs.pipe-max-size`) for an unprivileged process; the kernel's 64 KiB default if refused.
const RELAY_PIPE_SIZE: i32 = 1 << 20;

/// How [`splice_copy`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Relay {
    /// `from` reached end of file (the peer finished sending); all of it reached `to`.
    Eof,
    /// `to` refused more (its peer went away), or `from` failed (reset).
    Broken,
    /// splice(2) is not possible between these fds (EINVAL on the first call): nothing was
    /// moved, copy through userspace instead.
    Unsupported,
}

/// Moves everything `from` sends to `to` without copying it through userspace: splice(2) from
/// the socket into a pipe, then from the pipe into the other socket (what Go's `io.Copy`
/// between two TCP connections does, so Podman's rootlessport too). Both fds are blocking.
pub fn splice_copy(from: impl AsFd, to: impl AsFd) -> Relay {
    let Ok((pipe_r, pipe_w)) = nix::unistd::pipe2(OFlag::O_CLOEXEC) else {
        return Relay::Unsupported;
    };
    let _ = fcntl(pipe_w.as_raw_fd(), FcntlArg::F_SETPIPE_SZ(RELAY_PIPE_SIZE));
    // Not SPLICE_F_MORE: like MSG_MORE it corks the socket, and a small request that fits
    // one segment then waits for the 200 ms timer (ab measured 5 requests/s with it).
    let flags = SpliceFFlags::SPLICE_F_MOVE;
    let mut moved_any = false;
    loop {
        let n = match splice(&from, None, &pipe_w, None, RELAY_PIPE_SIZE as usize, flags) {
            Ok(0) => return Relay::Eof,
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(Errno::EINVAL) if !moved_any => return Relay::Unsupported,
            Err(_) => return Relay::Broken,
        };
        moved_any = true;
        let mut left = n;
        while left > 0 {
            match splice(&pipe_r, None, &to, None, left, flags) {
                Ok(0) => return Relay::Broken,
                Ok(m) => left -= m,
                Err(Errno::EINTR) => continue,
                Err(_) => return Relay::Broken,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    /// A connected pair of loopback TCP sockets.
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (a, listener.accept().unwrap().0)
    }

    #[test]
    fn splice_copy_moves_a_whole_stream_between_sockets() {
        let (mut writer, from) = pair();
        let (to, mut reader) = pair();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let feeder = std::thread::spawn(move || {
            writer.write_all(&sent).unwrap();
        });
        let relay = std::thread::spawn(move || {
            let end = splice_copy(&from, &to);
            drop(to);
            end
        });
        let mut got = Vec::new();
        reader.read_to_end(&mut got).unwrap();
        feeder.join().unwrap();
        assert_eq!(relay.join().unwrap(), Relay::Eof);
        assert!(got == data, "{} bytes of {}", got.len(), data.len());
    }
}
