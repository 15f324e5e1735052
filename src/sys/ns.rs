//! Namespaces: create a process in new ones, and small per-namespace setup.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

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
/// `stdio`, when given, becomes the child's fds 0, 1 and 2 (a detached
/// container's output pipes); otherwise it inherits ours.
pub fn spawn_namespaced(
    namespaces: Namespaces,
    exe: &CString,
    argv: &[CString],
    envp: &[CString],
    gate: &OwnedFd,
    stdio: Option<[RawFd; 3]>,
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
    let new_user_namespace = namespaces.user;
    let mut stack = vec![0u8; 64 * 1024];
    let callback = Box::new(|| -> isize {
        let mut byte = 0u8;
        // SAFETY: the child runs on its own stack with a copy of the parent's
        // memory; it only calls async-signal-safe functions (dup2, read,
        // execve, _exit) on pointers prepared before the clone, which stay valid in
        // the copied address space.
        unsafe {
            if let Some(fds) = stdio {
                for (target, fd) in fds.iter().enumerate() {
                    if libc::dup2(*fd, target as i32) < 0 {
                        libc::_exit(125);
                    }
                }
            }
            let n = libc::read(gate_fd, (&mut byte as *mut u8).cast(), 1);
            if n == 1 && byte == b'g' && new_user_namespace {
                // Become root of the new namespace before exec, which would otherwise
                // drop our capabilities where the map gives us another id (keep-id).
                // Failing here leaves the mapped id; the role reports what it cannot do.
                libc::setresgid(0, 0, 0);
                libc::setresuid(0, 0, 0);
            }
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

/// The namespaces `devbox exec` joins, by their `/proc/PID/ns` names, in the
/// order they must be joined: the user namespace first, so that we hold
/// capabilities over the others.
pub const JOINABLE: [(&str, CloneFlags); 6] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("mnt", CloneFlags::CLONE_NEWNS),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("net", CloneFlags::CLONE_NEWNET),
];

/// Joins the namespaces of process `pid` (those it does not share with us).
/// The caller must be single-threaded (setns into a user namespace requires
/// it). Joining the PID namespace affects only children started afterwards;
/// joining the mount namespace moves our root and working directory to its
/// root.
pub fn join(proc: &std::path::Path, pid: i32) -> Result<()> {
    join_some(proc, pid, &JOINABLE.map(|(name, _)| name))
}

/// Joins only the named namespaces of `pid` (e.g. `["user", "net"]` for the port proxy), in
/// [`JOINABLE`]'s order.
pub fn join_some(proc: &std::path::Path, pid: i32, names: &[&str]) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let mut fds = Vec::new();
    for (name, flag) in JOINABLE.into_iter().filter(|(n, _)| names.contains(n)) {
        let theirs = proc.join(format!("{pid}/ns/{name}"));
        let ours = proc.join(format!("self/ns/{name}"));
        let inode = |p: &std::path::Path| std::fs::metadata(p).map(|m| (m.dev(), m.ino()));
        let their_inode =
            inode(&theirs).map_err(|e| SysError::new("stat", theirs.display(), io_errno(&e)))?;
        if inode(&ours).ok() == Some(their_inode) {
            continue;
        }
        // Opened before any setns: /proc may look different afterwards.
        let file = std::fs::File::open(&theirs)
            .map_err(|e| SysError::new("open", theirs.display(), io_errno(&e)))?;
        fds.push((file, flag, theirs));
    }
    for (file, flag, path) in fds {
        nix::sched::setns(file, flag).map_err(|e| SysError::new("setns", path.display(), e))?;
    }
    Ok(())
}

fn io_errno(e: &std::io::Error) -> nix::Error {
    nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Joins the user namespace of process `pid` (as slirp4netns does with
/// `--userns-path`). Must be called while the process is single-threaded;
/// the owner of that namespace gets full capabilities inside it.
pub fn join_user_namespace(pid: i32) -> Result<()> {
    join_some(std::path::Path::new("/proc"), pid, &["user"])
}
