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
/// The polite one, for helpers that clean up on it.
pub const SIGTERM: i32 = libc::SIGTERM;

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

/// Closes every fd from 3 up except `keep`: what a long-lived process
/// inherited from whoever started it must not stay open for days
/// (`close_range`, Linux 5.9+; best effort).
pub fn close_fds_except(keep: i32) {
    let keep = u32::try_from(keep).unwrap_or(u32::MAX);
    for (first, last) in [
        (3, keep.saturating_sub(1)),
        (keep.saturating_add(1), u32::MAX),
    ] {
        if first <= last {
            // SAFETY: close_range only closes fds; none of these is owned by
            // Rust code yet (called first thing in the process).
            unsafe {
                libc::syscall(libc::SYS_close_range, first, last, 0);
            }
        }
    }
}

/// Asks the kernel to send `signal` to this process when its parent thread
/// ends (a container whose monitor is killed must not outlive it). Cleared
/// by credential changes, so init sets it after switching user.
pub fn set_parent_death_signal(signal: i32) -> Result<()> {
    let sig = Signal::try_from(signal).map_err(|e| SysError::new("prctl", "PDEATHSIG", e))?;
    nix::sys::prctl::set_pdeathsig(sig).map_err(|e| SysError::new("prctl", "PDEATHSIG", e))
}

/// A signal by name (`TERM`, `SIGTERM`, `sigkill`) or number (`15`).
pub fn signal_number(name: &str) -> Option<i32> {
    if let Ok(n) = name.parse::<i32>() {
        return Signal::try_from(n).ok().map(|s| s as i32);
    }
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse::<Signal>().ok().map(|s| s as i32)
}

/// A process to start inside a container joined with `ns::join`: the user,
/// directory and terminal it gets are set in the child between fork and
/// exec.
pub struct CommandSpec {
    pub path: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub cwd: CString,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub set_groups: bool,
    /// A terminal to make the controlling tty and stdio of a new session.
    pub terminal: Option<std::os::fd::RawFd>,
    /// Replaces stdin (without a terminal): `/dev/null` unless `-i`.
    pub stdin: Option<std::os::fd::RawFd>,
    /// Fork once more and let the middle process exit, so that the command's
    /// parent is the container's PID 1, which reaps it (`exec -d`): an orphan
    /// of ours would go to the host's init and hold up the container's end.
    pub orphan: bool,
    /// The capability sets to take after the user switch (the bounding set,
    /// no_new_privs and seccomp are the parent's, inherited).
    pub caps: Option<super::caps::Sets>,
}

/// Exit codes of a child that failed before exec (Docker's).
pub const EXIT_SETUP_FAILED: i32 = 125;
pub const EXIT_CANNOT_EXEC: i32 = 126;
pub const EXIT_NOT_FOUND: i32 = 127;

/// Starts `spec` as a child (fork semantics; it lands in the PID namespace
/// joined last). Failures before exec become its exit code: 125 setup,
/// 126 cannot execute (or no such working directory), 127 not found.
pub fn spawn_command(spec: &CommandSpec) -> Result<Pid> {
    let ptrs = |v: &[CString]| -> Vec<*const libc::c_char> {
        v.iter()
            .map(|a| a.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect()
    };
    let argv = ptrs(&spec.argv);
    let envp = ptrs(&spec.envp);
    let groups: Vec<libc::gid_t> = spec.groups.clone();
    let mut stack = vec![0u8; 64 * 1024];
    let callback = Box::new(|| -> isize {
        // SAFETY: the child runs on its own stack with a copy-on-write copy
        // of our memory; it calls only async-signal-safe functions (fork
        // included) on pointers prepared before the clone, and ends in execve
        // or _exit.
        unsafe {
            if spec.orphan {
                match libc::fork() {
                    0 => {}
                    -1 => libc::_exit(EXIT_SETUP_FAILED),
                    _ => libc::_exit(0),
                }
            }
            if let Some(tty) = spec.terminal {
                if libc::setsid() < 0 || libc::ioctl(tty, libc::TIOCSCTTY, 0) < 0 {
                    libc::_exit(EXIT_SETUP_FAILED);
                }
                for target in 0..3 {
                    if libc::dup2(tty, target) < 0 {
                        libc::_exit(EXIT_SETUP_FAILED);
                    }
                }
            }
            if let Some(fd) = spec.stdin {
                if libc::dup2(fd, 0) < 0 {
                    libc::_exit(EXIT_SETUP_FAILED);
                }
            }
            // Raw syscalls, not glibc's wrappers: those make every thread of the process change
            // ids and wait for them, and the parent's other threads are stale in this child.
            if spec.set_groups && super::ids::raw_setgroups(&groups) < 0 {
                libc::_exit(EXIT_SETUP_FAILED);
            }
            if super::ids::raw_setresgid(spec.gid) < 0 || super::ids::raw_setresuid(spec.uid) < 0 {
                libc::_exit(EXIT_SETUP_FAILED);
            }
            if let Some(sets) = spec.caps {
                if !super::caps::set_raw(sets) {
                    libc::_exit(EXIT_SETUP_FAILED);
                }
            }
            if libc::chdir(spec.cwd.as_ptr()) < 0 {
                libc::_exit(EXIT_CANNOT_EXEC);
            }
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::execve(spec.path.as_ptr(), argv.as_ptr(), envp.as_ptr());
            let code = if *libc::__errno_location() == libc::ENOENT {
                EXIT_NOT_FOUND
            } else {
                EXIT_CANNOT_EXEC
            };
            libc::_exit(code)
        }
    });
    // SAFETY: the stack outlives the call and the child gets a copy of it
    // (no CLONE_VM); the callback is async-signal-safe as described above.
    let pid = unsafe {
        nix::sched::clone(
            callback,
            &mut stack,
            nix::sched::CloneFlags::empty(),
            Some(libc::SIGCHLD),
        )
    }
    .map_err(|e| SysError::new("clone", spec.path.to_string_lossy(), e))?;
    Ok(pid)
}

/// Reaps any ended child without blocking: its pid and how it ended.
pub fn reap_any() -> Option<(Pid, Exit)> {
    use nix::sys::wait::WaitPidFlag;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => return Some((pid, Exit::Code(code))),
            Ok(WaitStatus::Signaled(pid, sig, _)) => return Some((pid, Exit::Signal(sig as i32))),
            Ok(WaitStatus::StillAlive) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// Whether `pid` has ended (reaps it if so), without blocking.
pub fn try_wait_exit(pid: Pid) -> Result<Option<Exit>> {
    use nix::sys::wait::WaitPidFlag;
    match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => Ok(Some(Exit::Code(code))),
        Ok(WaitStatus::Signaled(_, sig, _)) => Ok(Some(Exit::Signal(sig as i32))),
        Ok(_) => Ok(None),
        Err(e) => Err(SysError::new("waitpid", pid, e)),
    }
}

/// Gives back memory a long-lived process touched only while starting up:
/// free heap pages (`malloc_trim`) and the resident pages of its read-only
/// file mappings (the code and tables of clap, serde and the mount plan,
/// which the monitor's loop never uses again). Those pages stay in the page
/// cache and fault back in if used. A mapping with any anonymous page (a
/// relocated RELRO segment, a written one) is left alone: its pages hold
/// changes the file does not have.
pub fn trim_memory() {
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    for (start, end) in clean_file_mappings(&smaps) {
        // SAFETY: the range is one whole private, read-only file mapping of
        // this process without anonymous (changed) pages, so discarding its
        // pages only makes later reads fault them in again from the file.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

/// The read-only, file-backed mappings in /proc/self/smaps text with no
/// anonymous pages, as (start, end) addresses.
fn clean_file_mappings(smaps: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if let Some((start, end)) = first.split_once('-') {
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3).unwrap_or("");
            let range = usize::from_str_radix(start, 16)
                .ok()
                .zip(usize::from_str_radix(end, 16).ok());
            current = range.filter(|_| !perms.contains('w') && path.starts_with('/'));
        } else if first == "Anonymous:" {
            if let Some(range) = current.take() {
                if fields.next() == Some("0") {
                    out.push(range);
                }
            }
        }
    }
    out
}

/// Runs `work` in a forked child and waits for it: for steps that change
/// the process for good (joining a container's user namespace) without
/// changing us. `Ok(Err(message))` is `work`'s own failure, its message
/// carried back through a pipe. The caller must be single-threaded: the
/// child runs ordinary Rust code (it allocates) after the fork.
pub fn run_forked(
    work: impl FnOnce() -> std::result::Result<(), String>,
) -> Result<std::result::Result<(), String>> {
    use std::io::{Read, Write};
    let (read, write) = nix::unistd::pipe().map_err(|e| SysError::new("pipe", "", e))?;
    // SAFETY: the caller is single-threaded, so the child's copy of the
    // process has no lock held by a thread that does not exist there; the
    // child ends in _exit without returning into the caller's frames.
    match unsafe { nix::unistd::fork() } {
        Err(e) => Err(SysError::new("fork", "", e)),
        Ok(nix::unistd::ForkResult::Child) => {
            drop(read);
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                .unwrap_or_else(|_| Err("the child panicked".into()));
            let code = match outcome {
                Ok(()) => 0,
                Err(message) => {
                    let _ = std::fs::File::from(write).write_all(message.as_bytes());
                    1
                }
            };
            // SAFETY: ends the child without running the parent's exit
            // handlers or destructors a second time.
            unsafe { libc::_exit(code) }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(write);
            let mut message = String::new();
            let _ = std::fs::File::from(read).read_to_string(&mut message);
            match wait_exit(child)? {
                Exit::Code(0) => Ok(Ok(())),
                _ if !message.is_empty() => Ok(Err(message)),
                exit => Ok(Err(format!("the child ended with {}", exit.as_code()))),
            }
        }
    }
}

/// Runs `work` in a forked child that is not waited for and outlives us (the tail of
/// `run --rm`: deleting the container's tree after the exit code is reported), with no
/// exec and so none of a new devbox's start-up. The child first closes every fd it
/// inherited (a copy of a lock's fd would keep the lock held), takes /dev/null for its
/// stdio (a pipe a caller reads to its end must not stay open) and its own session, and
/// ends in `_exit`. Meant for a process about to exit: an ended child stays a zombie
/// until then.
pub fn run_detached(work: impl FnOnce()) -> Result<()> {
    // SAFETY: the child only uses memory it owns; the caller's other threads (a signal
    // forwarder blocked in a read) hold no lock the child takes: glibc's malloc is
    // reset for the child by fork itself, and the child uses no stdio lock (its
    // stdio is /dev/null) and no environment lock of a running thread. The child
    // never returns into the caller's frames: it ends in _exit.
    match unsafe { nix::unistd::fork() } {
        Err(e) => Err(SysError::new("fork", "", e)),
        Ok(nix::unistd::ForkResult::Child) => {
            // SAFETY: plain syscalls on fds and the session; the fds closed are
            // never used again by this child, which runs only `work`.
            unsafe {
                libc::syscall(libc::SYS_close_range, 0, u32::MAX, 0);
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if null == 0 {
                    libc::dup2(0, 1);
                    libc::dup2(0, 2);
                }
                libc::setsid();
            }
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            // SAFETY: ends the child without running the parent's exit handlers or
            // destructors a second time.
            unsafe { libc::_exit(0) }
        }
        Ok(nix::unistd::ForkResult::Parent { .. }) => Ok(()),
    }
}

/// Raises this process's soft limit of open files to its hard limit;
/// returns the limit now in force.
pub fn raise_open_files_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() => {
            hard.max(soft)
        }
        Ok((soft, _)) => soft,
        Err(_) => 1024,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_clean_read_only_file_mappings_are_dropped() {
        let smaps = "\
1000-2000 r-xp 00000000 08:01 1 /usr/bin/devbox
Rss: 8 kB
Anonymous: 0 kB
2000-3000 r--p 00000000 08:01 1 /usr/bin/devbox
Anonymous: 4 kB
3000-4000 rw-p 00000000 08:01 1 /usr/bin/devbox
Anonymous: 0 kB
4000-5000 r--p 00000000 00:00 0 [vvar]
Anonymous: 0 kB
5000-6000 r--p 00000000 08:01 2 /usr/lib/libc.so.6
Anonymous: 0 kB
";
        assert_eq!(
            super::clean_file_mappings(smaps),
            [(0x1000, 0x2000), (0x5000, 0x6000)]
        );
    }
}
