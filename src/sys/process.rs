//! Process-level calls: session, names, signals, waiting, exec.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use super::{Result, SysError};

pub fn setsid() -> Result<()> {
    nix::unistd::setsid()
        .map(drop)
        .map_err(|e| SysError::new("setsid", "", e))
}

/// Names this process for `ps` (`devbox:[init]`); at most 15 bytes are kept.
pub fn set_name(name: &str) {
    if let Ok(name) = CString::new(name) {
        let _ = nix::sys::prctl::set_name(&name);
    }
}

/// The signal that cannot be caught, for ending a container at once.
pub const SIGKILL: i32 = libc::SIGKILL;

pub fn set_no_new_privs() -> Result<()> {
    nix::sys::prctl::set_no_new_privs().map_err(|e| SysError::new("prctl", "NO_NEW_PRIVS", e))
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// The shell's convention: the code, or 128 + the signal number.
    pub fn as_code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

/// Waits for `pid` to end, retrying on EINTR.
pub fn wait_exit(pid: Pid) -> Result<Exit> {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(Exit::Code(code)),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(Exit::Signal(sig as i32)),
            Ok(_) => continue,
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(SysError::new("waitpid", pid, e)),
        }
    }
}

/// Sends signal number `signal` to `pid`; a process that is already gone is
/// not an error.
pub fn kill(pid: Pid, signal: i32) -> Result<()> {
    let sig = Signal::try_from(signal).map_err(|e| SysError::new("kill", pid, e))?;
    match nix::sys::signal::kill(pid, sig) {
        Ok(()) | Err(nix::Error::ESRCH) => Ok(()),
        Err(e) => Err(SysError::new("kill", pid, e)),
    }
}

/// Replaces the process image. Returns only on failure.
pub fn execve(path: &CString, argv: &[CString], env: &[CString]) -> SysError {
    match nix::unistd::execve(path, argv, env) {
        Err(e) => SysError::new("execve", path.to_string_lossy(), e),
        Ok(never) => match never {},
    }
}

/// Makes `fd` the process's stdin, stdout or stderr (0, 1, 2).
pub fn dup_onto(fd: &OwnedFd, target: i32) -> Result<()> {
    nix::unistd::dup2(fd.as_raw_fd(), target)
        .map(drop)
        .map_err(|e| SysError::new("dup2", target, e))
}

/// Marks every fd from `first` up close-on-exec, so nothing of devbox leaks
/// into the container's command: one `close_range(CLOSE_RANGE_CLOEXEC)`
/// (Linux 5.11+), else a walk of /proc/self/fd.
pub fn set_cloexec_from(first: u32) {
    // SAFETY: close_range only changes fd flags; no memory is passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return;
    }
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= first as i32)
        .collect();
    for fd in fds {
        let _ = super::ipc::set_cloexec(fd);
    }
}

pub fn umask(mask: u32) {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
}

/// Restores default dispositions that the Rust runtime changed (it ignores
/// SIGPIPE), since ignored signals survive exec.
pub fn reset_signal_dispositions() {
    use nix::sys::signal::{signal, SigHandler};
    // SAFETY: installing SIG_DFL runs no code of ours in signal context.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}
