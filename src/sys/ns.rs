//! Namespaces: create a process in new ones, and small per-namespace setup.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sched::CloneFlags;
use nix::unistd::Pid;

use super::{Result, SysError};

/// Which namespaces a new container process gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Namespaces {
    pub user: bool,
    pub mount: bool,
    pub pid: bool,
    pub uts: bool,
    pub ipc: bool,
    pub net: bool,
}

impl Namespaces {
    fn flags(self) -> CloneFlags {
        let mut flags = CloneFlags::empty();
        for (on, flag) in [
            (self.user, CloneFlags::CLONE_NEWUSER),
            (self.mount, CloneFlags::CLONE_NEWNS),
            (self.pid, CloneFlags::CLONE_NEWPID),
            (self.uts, CloneFlags::CLONE_NEWUTS),
            (self.ipc, CloneFlags::CLONE_NEWIPC),
            (self.net, CloneFlags::CLONE_NEWNET),
        ] {
            if on {
                flags |= flag;
            }
        }
        flags
    }
}

/// Starts `exe argv` in new namespaces. The child first blocks reading one
/// byte from `gate` (so the parent can write its uid/gid maps), then execs.
/// `gate` must not be close-on-exec if the new program is to keep it.
pub fn spawn_namespaced(
    namespaces: Namespaces,
    exe: &CString,
    argv: &[CString],
    envp: &[CString],
    gate: &OwnedFd,
) -> Result<Pid> {
    let argv_ptrs: Vec<*const libc::c_char> = argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp_ptrs: Vec<*const libc::c_char> = envp
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let gate_fd = gate.as_raw_fd();
    let exe_ptr = exe.as_ptr();
    let mut stack = vec![0u8; 64 * 1024];
    let callback = Box::new(|| -> isize {
        let mut byte = 0u8;
        // SAFETY: the child runs on its own stack with a copy of the parent's
        // memory; it only calls async-signal-safe functions (read, execve,
        // _exit) on pointers prepared before the clone, which stay valid in
        // the copied address space.
        unsafe {
            let n = libc::read(gate_fd, (&mut byte as *mut u8).cast(), 1);
            if n == 1 && byte == b'g' {
                libc::execve(exe_ptr, argv_ptrs.as_ptr(), envp_ptrs.as_ptr());
            }
            libc::_exit(127)
        }
    });
    // SAFETY: the stack is owned by this frame and outlives the call (the
    // child gets a copy-on-write duplicate because CLONE_VM is not set); the
    // callback is async-signal-safe as described above.
    let pid = unsafe {
        nix::sched::clone(
            callback,
            &mut stack,
            namespaces.flags(),
            Some(libc::SIGCHLD),
        )
    }
    .map_err(|e| SysError::new("clone", exe.to_string_lossy(), e))?;
    Ok(pid)
}

pub fn sethostname(name: &str) -> Result<()> {
    nix::unistd::sethostname(name).map_err(|e| SysError::new("sethostname", name, e))
}

/// Namespaces a process can join with [`join`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Net,
    Mount,
    Pid,
    Uts,
    Ipc,
}

impl Kind {
    fn proc_name(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Net => "net",
            Kind::Mount => "mnt",
            Kind::Pid => "pid",
            Kind::Uts => "uts",
            Kind::Ipc => "ipc",
        }
    }

    fn flag(self) -> CloneFlags {
        match self {
            Kind::User => CloneFlags::CLONE_NEWUSER,
            Kind::Net => CloneFlags::CLONE_NEWNET,
            Kind::Mount => CloneFlags::CLONE_NEWNS,
            Kind::Pid => CloneFlags::CLONE_NEWPID,
            Kind::Uts => CloneFlags::CLONE_NEWUTS,
            Kind::Ipc => CloneFlags::CLONE_NEWIPC,
        }
    }
}

/// Joins the namespaces of process `pid`, in the order given (the user namespace first, so
/// its capabilities allow joining the others). A namespace this process is in already is
/// skipped (the kernel refuses to re-join one's own user namespace). Joining a user namespace
/// needs a single-threaded process: call this before starting threads.
pub fn join(pid: i32, kinds: &[Kind]) -> Result<()> {
    for kind in kinds {
        let path = format!("/proc/{pid}/ns/{}", kind.proc_name());
        let mine = format!("/proc/self/ns/{}", kind.proc_name());
        let same = match (std::fs::metadata(&path), std::fs::metadata(&mine)) {
            (Ok(a), Ok(b)) => {
                use std::os::unix::fs::MetadataExt;
                a.ino() == b.ino() && a.dev() == b.dev()
            }
            _ => false,
        };
        if same {
            continue;
        }
        let file = std::fs::File::open(&path).map_err(|e| {
            SysError::new(
                "open",
                &path,
                nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            )
        })?;
        nix::sched::setns(file, kind.flag()).map_err(|e| SysError::new("setns", &path, e))?;
    }
    Ok(())
}
