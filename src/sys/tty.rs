//! Pseudo-terminals: open one, make it the controlling terminal, raw mode,
//! window sizes.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};

use nix::fcntl::OFlag;
use nix::sys::termios::{self, SetArg, Termios};

use super::{Result, SysError};

/// Opens a new pty pair through `/dev/ptmx` (inside a container: its own
/// devpts instance). Returns (master, slave).
pub fn open_pty() -> Result<(OwnedFd, OwnedFd)> {
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(|e| SysError::new("posix_openpt", "/dev/ptmx", e))?;
    nix::pty::grantpt(&master).map_err(|e| SysError::new("grantpt", "/dev/ptmx", e))?;
    nix::pty::unlockpt(&master).map_err(|e| SysError::new("unlockpt", "/dev/ptmx", e))?;
    let name =
        nix::pty::ptsname_r(&master).map_err(|e| SysError::new("ptsname", "/dev/ptmx", e))?;
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| SysError::new("open", &name, e))?;
    // SAFETY: `open` just returned this fd and nothing else owns it.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    // SAFETY: PtyMaster owns its fd; into_raw_fd hands that ownership over.
    let master = unsafe { OwnedFd::from_raw_fd(master.into_raw_fd()) };
    Ok((master, slave))
}

/// Makes the terminal on `fd` the controlling terminal of this session.
pub fn set_controlling_tty(fd: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: TIOCSCTTY takes an int argument (0: do not steal); the fd is open.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) };
    if rc < 0 {
        return Err(SysError::new("ioctl", "TIOCSCTTY", nix::Error::last()));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WindowSize {
    pub rows: u16,
    pub cols: u16,
}

pub fn window_size(fd: BorrowedFd<'_>) -> Option<WindowSize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a `struct winsize` into the pointer we pass.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_row > 0).then_some(WindowSize {
        rows: ws.ws_row,
        cols: ws.ws_col,
    })
}

pub fn set_window_size(fd: BorrowedFd<'_>, size: WindowSize) -> Result<()> {
    let ws = libc::winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a `struct winsize` from the pointer we pass.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    if rc < 0 {
        return Err(SysError::new("ioctl", "TIOCSWINSZ", nix::Error::last()));
    }
    Ok(())
}

pub fn is_terminal(fd: BorrowedFd<'_>) -> bool {
    nix::unistd::isatty(fd.as_raw_fd()).unwrap_or(false)
}

/// Puts a terminal in raw mode until the guard is dropped.
pub struct RawMode<'fd> {
    fd: BorrowedFd<'fd>,
    saved: Termios,
}

impl RawMode<'static> {
    /// Raw mode on this process's stdin (fd 0), restored on drop.
    pub fn enter_stdin() -> Result<RawMode<'static>> {
        // SAFETY: fd 0 stays open for the life of the process (we never
        // close stdin), so a 'static borrow of it is valid.
        let fd = unsafe { BorrowedFd::borrow_raw(0) };
        RawMode::enter(fd)
    }
}

impl<'fd> RawMode<'fd> {
    pub fn enter(fd: BorrowedFd<'fd>) -> Result<RawMode<'fd>> {
        let saved = termios::tcgetattr(fd).map_err(|e| SysError::new("tcgetattr", "stdin", e))?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(fd, SetArg::TCSANOW, &raw)
            .map_err(|e| SysError::new("tcsetattr", "stdin", e))?;
        Ok(RawMode { fd, saved })
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.fd.as_fd(), SetArg::TCSANOW, &self.saved);
    }
}
