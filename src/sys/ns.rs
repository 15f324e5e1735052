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
/// `gate.child` must not be close-on-exec if the new program is to keep it.
/// `gate.parent` is the parent's end of the socket pair: the child closes its
/// copy first, so that if the parent dies before opening the gate the child
/// reads end-of-file and exits (it would otherwise wait forever, holding
/// whatever it inherited, such as the container's liveness lock).
/// `stdio`, when given, becomes the child's fds 0, 1 and 2 (a detached
/// container's output pipes); otherwise it inherits ours.
pub fn spawn_namespaced(
    namespaces: Namespaces,
    exe: &CString,
    argv: &[CString],
    envp: &[CString],
    gate: Gate<'_>,
    stdio: Option<[RawFd; 3]>,
) -> Result<Pid> {
    spawn_in(&[], None, namespaces, exe, argv, envp, gate, stdio)
}

/// The socket pair a new child waits on before it execs: its own end, and the raw fd
/// of the parent's end (which the child closes, see [`spawn_namespaced`]).
#[derive(Clone, Copy)]
pub struct Gate<'a> {
    pub child: &'a OwnedFd,
    pub parent: RawFd,
}

/// Namespaces of another process, opened (by `/proc/PID/ns/NAME`) to be joined by a new one.
pub struct JoinedNamespaces {
    fds: Vec<(std::fs::File, CloneFlags)>,
    /// A new user namespace nested in the joined one, with these maps.
    nested: Option<NestedMaps>,
}

/// The maps of a user namespace nested in a joined one, in the joined namespace's ids (the
/// texts of uid_map and gid_map), and /proc to write them through.
struct NestedMaps {
    proc: OwnedFd,
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
}

impl JoinedNamespaces {
    /// Opens the named namespaces of `pid` that differ from ours, in [`JOINABLE`]'s order.
    pub fn open(proc: &std::path::Path, pid: i32, names: &[&str]) -> Result<JoinedNamespaces> {
        Ok(JoinedNamespaces {
            fds: open_namespaces(proc, pid, names)?
                .into_iter()
                .map(|(file, flag, _)| (file, flag))
                .collect(),
            nested: None,
        })
    }

    /// The new process also gets a user namespace of its own, nested in the joined one, with
    /// these maps (in the joined namespace's ids). They are written from the joined
    /// namespace, where a process has the CAP_SETUID over its children that newuidmap has
    /// over the user's first namespace; `proc` is the host's /proc.
    pub fn nest_user(
        mut self,
        proc: &std::path::Path,
        uid_map: String,
        gid_map: String,
    ) -> Result<JoinedNamespaces> {
        let dir = std::fs::File::open(proc)
            .map_err(|e| SysError::new("open", proc.display(), io_errno(&e)))?;
        self.nested = Some(NestedMaps {
            proc: dir.into(),
            uid_map: uid_map.into_bytes(),
            gid_map: gid_map.into_bytes(),
        });
        Ok(self)
    }

    /// Whether the user namespace is among them (then no id maps are written for the child).
    pub fn has_user(&self) -> bool {
        self.fds
            .iter()
            .any(|(_, flag)| *flag == CloneFlags::CLONE_NEWUSER)
    }
}

/// [`spawn_namespaced`], but the new process first joins `joined` (another process's user
/// and/or network namespace), then gets `namespaces` (minus the joined kinds) as new ones.
///
/// A process in the initial user namespace cannot ask for a child in a namespace it merely
/// joined, and `setns` into a user namespace needs a single-threaded caller. So an
/// intermediate child (single-threaded, being a fresh clone) joins, then clones the real
/// child with `CLONE_PARENT` so that it is *our* child (waitable as usual), reports its pid
/// through a pipe and exits. The caller reaps the intermediate here.
pub fn spawn_joined(
    joined: &JoinedNamespaces,
    namespaces: Namespaces,
    exe: &CString,
    argv: &[CString],
    envp: &[CString],
    gate: Gate<'_>,
    stdio: Option<[RawFd; 3]>,
) -> Result<Pid> {
    let joins: Vec<(RawFd, CloneFlags)> = joined
        .fds
        .iter()
        .map(|(f, flag)| (f.as_raw_fd(), *flag))
        .collect();
    let mut namespaces = namespaces;
    for (_, flag) in &joins {
        if *flag == CloneFlags::CLONE_NEWUSER && joined.nested.is_none() {
            namespaces.user = false;
        }
        if *flag == CloneFlags::CLONE_NEWNET {
            namespaces.net = false;
        }
    }
    let nested = joined.nested.as_ref().map(|n| NestedWrite {
        proc: n.proc.as_raw_fd(),
        uid_map: &n.uid_map,
        gid_map: &n.gid_map,
    });
    spawn_in(&joins, nested, namespaces, exe, argv, envp, gate, stdio)
}

/// What the intermediate child writes for a nested user namespace (see [`NestedMaps`]).
#[derive(Clone, Copy)]
struct NestedWrite<'a> {
    proc: RawFd,
    uid_map: &'a [u8],
    gid_map: &'a [u8],
}

/// `<pid>/<file>\0` into `buf` (no allocation: runs in a clone child).
fn proc_path(buf: &mut [u8; 48], pid: i32, file: &[u8]) {
    let mut digits = [0u8; 12];
    let (mut n, mut len) = (pid.unsigned_abs(), 0);
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut at = 0;
    for d in digits[..len].iter().rev() {
        buf[at] = *d;
        at += 1;
    }
    buf[at] = b'/';
    at += 1;
    let file = &file[..file.len().min(buf.len() - at - 1)];
    buf[at..at + file.len()].copy_from_slice(file);
    buf[at + file.len()] = 0;
}

/// Writes one id map of process `pid` in one write; 0 or the errno.
///
/// # Safety
/// Async-signal-safe (openat, write, close on a stack buffer): callable in a clone child.
unsafe fn write_map(proc: RawFd, pid: i32, file: &[u8], map: &[u8]) -> i32 {
    let mut path = [0u8; 48];
    proc_path(&mut path, pid, file);
    // SAFETY: `path` is NUL-terminated; `map` is valid for its length; the fd is ours.
    unsafe {
        let fd = libc::openat(proc, path.as_ptr().cast(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return *libc::__errno_location();
        }
        let n = libc::write(fd, map.as_ptr().cast(), map.len());
        let errno = *libc::__errno_location();
        libc::close(fd);
        match n {
            n if n == map.len() as isize => 0,
            n if n < 0 => errno,
            _ => libc::EIO,
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn spawn_in(
    joins: &[(RawFd, CloneFlags)],
    nested: Option<NestedWrite>,
    namespaces: Namespaces,
    exe: &CString,
    argv: &[CString],
    envp: &[CString],
    gate: Gate<'_>,
    stdio: Option<[RawFd; 3]>,
) -> Result<Pid> {
    // The intermediate child's report of the real child's pid (only when joining).
    let (pid_r, pid_w) = super::ipc::pipe()?;
    let pid_w_fd = pid_w.as_raw_fd();
    let trampoline = !joins.is_empty();
    let grandchild_flags = (namespaces.flags() | CloneFlags::CLONE_PARENT).bits() as libc::c_ulong
        | libc::SIGCHLD as libc::c_ulong;
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
    let gate_fd = gate.child.as_raw_fd();
    let peer = gate.parent;
    let exe_ptr = exe.as_ptr();
    let new_user_namespace = namespaces.user;
    let mut stack = vec![0u8; 64 * 1024];
    let callback = Box::new(|| -> isize {
        let mut byte = 0u8;
        // SAFETY: the child runs on its own stack with a copy of the parent's
        // memory; it only calls async-signal-safe functions (setns, the raw clone
        // syscall, openat, write, close, dup2, read, execve, _exit) on fds and pointers
        // prepared before the clone (a nested namespace's maps and /proc's fd included),
        // which stay valid in the copied address space. The raw clone passes no stack, so
        // (without CLONE_VM) the grandchild continues on a copy of this one, as after fork.
        unsafe {
            if trampoline {
                for (fd, flag) in joins {
                    if libc::setns(*fd, flag.bits()) < 0 {
                        libc::_exit(125);
                    }
                }
                // A fork-like clone (no new stack, no CLONE_VM) whose parent is ours.
                let pid = libc::syscall(
                    libc::SYS_clone,
                    grandchild_flags,
                    0usize,
                    0usize,
                    0usize,
                    0usize,
                );
                if pid < 0 {
                    libc::_exit(125);
                }
                if pid > 0 {
                    let pid = pid as i32;
                    // A nested user namespace gets its maps from here, in the joined one,
                    // while the child waits at its gate.
                    let mut errno = 0;
                    if let Some(n) = nested {
                        errno = write_map(n.proc, pid, b"gid_map", n.gid_map);
                        if errno == 0 {
                            errno = write_map(n.proc, pid, b"uid_map", n.uid_map);
                        }
                    }
                    let mut bytes = [0u8; 8];
                    bytes[..4].copy_from_slice(&pid.to_ne_bytes());
                    bytes[4..].copy_from_slice(&errno.to_ne_bytes());
                    libc::write(pid_w_fd, bytes.as_ptr().cast(), bytes.len());
                    libc::_exit(0);
                }
            }
            if let Some(fds) = stdio {
                for (target, fd) in fds.iter().enumerate() {
                    if libc::dup2(*fd, target as i32) < 0 {
                        libc::_exit(125);
                    }
                }
            }
            // The parent's end closed here: its death reads as end-of-file below.
            libc::close(peer);
            let n = libc::read(gate_fd, (&mut byte as *mut u8).cast(), 1);
            if n == 1 && byte == b'g' && new_user_namespace {
                // Become root of the new namespace before exec, which would otherwise
                // drop our capabilities where the map gives us another id (keep-id).
                // Failing here leaves the mapped id; the role reports what it cannot do.
                // Raw syscalls: glibc's wrappers would wait for the parent's other threads
                // (stale in this clone child) to change ids too, and hang forever.
                super::ids::raw_setresgid(0);
                super::ids::raw_setresuid(0);
                // The id change made us non-dumpable until the exec completes: our
                // /proc/PID/ns links would be closed to the parent starting slirp4netns.
                super::ids::raw_set_dumpable();
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
            if trampoline {
                CloneFlags::empty()
            } else {
                namespaces.flags()
            },
            Some(libc::SIGCHLD),
        )
    }
    .map_err(|e| SysError::new("clone", exe.to_string_lossy(), e))?;
    if !trampoline {
        return Ok(pid);
    }
    drop(pid_w);
    let intermediate = super::process::wait_exit(pid)?;
    let mut bytes = [0u8; 8];
    let mut reader = std::fs::File::from(pid_r);
    match (
        intermediate,
        std::io::Read::read_exact(&mut reader, &mut bytes),
    ) {
        (super::process::Exit::Code(0), Ok(())) => {
            let pid = Pid::from_raw(i32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
            let errno = i32::from_ne_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
            if errno != 0 {
                let _ = super::process::kill(pid, libc::SIGKILL);
                let _ = super::process::wait_exit(pid);
                return Err(SysError::new(
                    "write the nested user namespace's id maps for",
                    exe.to_string_lossy(),
                    nix::Error::from_raw(errno),
                ));
            }
            Ok(pid)
        }
        _ => Err(SysError::new(
            "setns+clone",
            exe.to_string_lossy(),
            nix::Error::EPERM,
        )),
    }
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
    for (file, flag, path) in open_namespaces(proc, pid, names)? {
        nix::sched::setns(file, flag).map_err(|e| SysError::new("setns", path.display(), e))?;
    }
    Ok(())
}

type OpenNamespace = (std::fs::File, CloneFlags, std::path::PathBuf);

/// Opens the named namespaces of `pid` that are not already ours.
fn open_namespaces(proc: &std::path::Path, pid: i32, names: &[&str]) -> Result<Vec<OpenNamespace>> {
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
    Ok(fds)
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
