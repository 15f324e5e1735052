//! A datagram socket pair for typed parent↔child messages, with fd passing.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

use super::{Result, SysError};

/// The largest message we accept (the container spec is the biggest).
pub const MAX_MESSAGE: usize = 1 << 20;

/// A connected pair of SEQPACKET sockets, both close-on-exec.
pub fn seqpacket_pair() -> Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| SysError::new("socketpair", "seqpacket", e))
}

/// Clears close-on-exec so a re-exec'd child keeps the fd.
pub fn set_inheritable(fd: &OwnedFd) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::empty()))
        .map(drop)
        .map_err(|e| SysError::new("fcntl", "F_SETFD", e))
}

pub fn set_cloexec(fd: RawFd) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
        .map(drop)
        .map_err(|e| SysError::new("fcntl", "F_SETFD", e))
}

/// Takes ownership of an fd number inherited from the parent.
pub fn inherited_fd(fd: RawFd) -> Result<OwnedFd> {
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD)
        .map_err(|e| SysError::new("fcntl", format!("inherited fd {fd}"), e))?;
    set_cloexec(fd)?;
    // SAFETY: the fd number was passed to us by our parent on the command
    // line; F_GETFD just proved it is open, and nothing else in this process
    // owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sends one datagram, with fds attached if any.
pub fn send(sock: &OwnedFd, bytes: &[u8], fds: &[RawFd]) -> Result<()> {
    let iov = [IoSlice::new(bytes)];
    let cmsgs: Vec<ControlMessage> = if fds.is_empty() {
        Vec::new()
    } else {
        vec![ControlMessage::ScmRights(fds)]
    };
    sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsgs, MsgFlags::MSG_NOSIGNAL, None)
        .map(drop)
        .map_err(|e| SysError::new("sendmsg", "ipc socket", e))
}

/// Receives one datagram; `None` at end of stream (the peer closed or
/// exec'd). Received fds are returned owned.
pub fn recv(sock: &OwnedFd) -> Result<Option<(Vec<u8>, Vec<OwnedFd>)>> {
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut cmsg_space = nix::cmsg_space!([RawFd; 4]);
    let (len, fds) = loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg_space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) => {
                let mut fds = Vec::new();
                for cmsg in msg
                    .cmsgs()
                    .map_err(|e| SysError::new("recvmsg", "cmsgs", e))?
                {
                    if let ControlMessageOwned::ScmRights(raw) = cmsg {
                        for fd in raw {
                            // SAFETY: SCM_RIGHTS gave this process a new fd
                            // that nothing else owns.
                            fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                        }
                    }
                }
                break (msg.bytes, fds);
            }
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(SysError::new("recvmsg", "ipc socket", e)),
        }
    };
    if len == 0 && fds.is_empty() {
        return Ok(None);
    }
    buf.truncate(len);
    Ok(Some((buf, fds)))
}

/// A pipe whose ends are inherited by children (for helpers such as
/// slirp4netns that take fd numbers). Returns (read, write).
pub fn inheritable_pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe().map_err(|e| SysError::new("pipe", "", e))
}

/// Waits until `fd` is readable (or closed by its writer); false on timeout.
pub fn wait_readable(fd: &OwnedFd, timeout_ms: u16) -> Result<bool> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    loop {
        match poll(&mut fds, PollTimeout::from(timeout_ms)) {
            Ok(n) => return Ok(n > 0),
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(SysError::new("poll", "pipe", e)),
        }
    }
}

/// Waits until one of `fds` is readable or hung up, or `timeout_ms` passes
/// (-1: forever). Returns which are ready.
pub fn poll_readable(fds: &[std::os::fd::BorrowedFd<'_>], timeout_ms: i32) -> Result<Vec<bool>> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut polls: Vec<PollFd> = fds
        .iter()
        .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    let timeout = PollTimeout::try_from(timeout_ms).unwrap_or(PollTimeout::NONE);
    loop {
        match poll(&mut polls, timeout) {
            Ok(_) => break,
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(SysError::new("poll", "pipes", e)),
        }
    }
    Ok(polls
        .iter()
        .map(|p| p.revents().is_some_and(|r| !r.is_empty()))
        .collect())
}

/// A pipe whose ends are both close-on-exec. Returns (read, write).
pub fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| SysError::new("pipe2", "", e))
}

/// Listens on a Unix socket at `path`, however long: a `sockaddr_un` holds 108 bytes, and a
/// long `--runroot` or `XDG_RUNTIME_DIR` makes longer paths. Those are reached through
/// `/proc/self/fd/N/NAME`, N a descriptor of the socket's directory (open for the call only).
pub fn bind_unix(path: &std::path::Path) -> std::io::Result<std::os::unix::net::UnixListener> {
    with_short_path(path, |p| std::os::unix::net::UnixListener::bind(p))
}

/// Connects to the Unix socket at `path`, however long (see [`bind_unix`]).
pub fn connect_unix(path: &std::path::Path) -> std::io::Result<std::os::unix::net::UnixStream> {
    with_short_path(path, |p| std::os::unix::net::UnixStream::connect(p))
}

fn with_short_path<T>(
    path: &std::path::Path,
    use_path: impl FnOnce(&std::path::Path) -> std::io::Result<T>,
) -> std::io::Result<T> {
    /// `sizeof(sockaddr_un.sun_path)`, less the terminating NUL.
    const SUN_PATH_MAX: usize = 107;
    if path.as_os_str().len() <= SUN_PATH_MAX {
        return use_path(path);
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return use_path(path);
    };
    let dir = std::fs::File::open(dir)?;
    let short = std::path::Path::new(&format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name);
    use_path(&short)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_sockets_work_at_paths_longer_than_an_address_holds() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d".repeat(120));
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("holder.sock");
        assert!(path.as_os_str().len() > 108);
        let listener = bind_unix(&path).unwrap();
        assert!(path.exists(), "the socket is at its long path");
        let mut client = connect_unix(&path).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        std::io::Write::write_all(&mut client, b"ping").unwrap();
        let mut got = [0u8; 4];
        std::io::Read::read_exact(&mut server, &mut got).unwrap();
        assert_eq!(&got, b"ping");
        // Short paths are used as they are.
        let short = tmp.path().join("s.sock");
        let _listener = bind_unix(&short).unwrap();
        connect_unix(&short).unwrap();
    }
}
