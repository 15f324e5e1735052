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

/// Asks the kernel to send `signal` to this process when its parent dies.
pub fn set_parent_death_signal(signal: Signal) -> Result<()> {
    nix::sys::prctl::set_pdeathsig(signal).map_err(|e| SysError::new("prctl", "PDEATHSIG", e))
}

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

/// Whether a process with this pid exists (any owner).
pub fn exists(pid: Pid) -> bool {
    !matches!(nix::sys::signal::kill(pid, None), Err(nix::Error::ESRCH))
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

pub fn pid() -> Pid {
    nix::unistd::getpid()
}

/// Closes every fd from `first` up, except the ones listed (which must be
/// sorted); used before exec so nothing of devbox leaks into the container.
pub fn close_fds_from(first: i32, keep: &[i32]) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= first && !keep.contains(fd))
        .collect();
    for fd in fds {
        let _ = set_cloexec_raw(fd);
    }
}

fn set_cloexec_raw(fd: i32) -> Result<()> {
    super::ipc::set_cloexec(fd)
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
