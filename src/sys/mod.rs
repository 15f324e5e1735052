//! The only module with `unsafe` code and raw syscalls (STYLE rule 1).
//!
//! Everything here is a small, typed wrapper whose errors name the syscall and
//! the path. Audit checklist of the `unsafe` blocks:
//! - `ns::spawn_namespaced`: `clone(2)` with a fresh stack; the child only
//!   `dup2`s the given stdio, reads one byte from an inherited fd and calls
//!   `execve` with arguments prepared before the clone (no allocation, no
//!   locks in the child).
//! - `process::trim_memory` (monitor): `malloc_trim`, and `madvise(DONTNEED)`
//!   on whole read-only file mappings without anonymous pages (never
//!   writable or relocated RELRO ones).
//! - `process::close_fds_except` (monitor start): `close_range` on fd
//!   numbers no Rust object owns yet.
//! - `process::spawn_command` (`exec`): the same kind of clone; the child
//!   makes a session and controlling tty, `dup2`s, sets groups, gid, uid
//!   and directory (and, for a container, its capability sets with
//!   `caps::set_raw`), then `execve`s, all with data prepared before.
//! - `ipc::inherited_fd`, `ipc::recv`: take ownership of fds the kernel or
//!   our parent handed us (checked open, owned by nothing else).
//! - `tty::open_pty` (fd ownership), `tty::set_controlling_tty`,
//!   `tty::{window_size, set_window_size}`: ioctls on fds we own, with
//!   correctly sized structs; `tty::RawMode::enter_stdin` borrows fd 0.
//! - `net::bring_up_loopback`: `ioctl(SIOCGIFFLAGS/SIOCSIFFLAGS)` on a socket
//!   we own, with a zeroed `ifreq` whose name is NUL-terminated.
//! - `fs::set_xattr_flags`, `fs::get_xattr`, `fs::list_xattrs`,
//!   `fs::remove_xattr`: the `l*xattr` calls with NUL-terminated strings and
//!   buffers we own, passed with their lengths.
//! - `process::reset_signal_dispositions` (SIG_DFL), `process::set_cloexec_from`
//!   (`close_range`, flags only).
//! - `caps::limit_bounding_set`, `caps::set_raw`: prctl with integers, and
//!   capset with a header and data array on the stack (no allocation, so
//!   `spawn_command`'s child may call it).
//! - `seccomp::install`: seccomp(2) with a `sock_fprog` pointing at a
//!   program we borrow for the call; the kernel validates it.
#![expect(
    unsafe_code,
    reason = "sys is the one module allowed to make raw syscalls"
)]

pub mod caps;
pub mod fs;
pub mod ids;
pub mod ipc;
pub mod mount;
pub mod net;
pub mod ns;
pub mod process;
pub mod seccomp;
pub mod tty;

/// A failed syscall, with what it was applied to.
#[derive(Debug, thiserror::Error)]
#[error("{call}({target}): {source}")]
pub struct SysError {
    pub call: &'static str,
    pub target: String,
    #[source]
    pub source: nix::Error,
}

impl SysError {
    pub fn new(call: &'static str, target: impl std::fmt::Display, source: nix::Error) -> Self {
        SysError {
            call,
            target: target.to_string(),
            source,
        }
    }

    pub fn errno(&self) -> nix::errno::Errno {
        self.source
    }
}

pub type Result<T> = std::result::Result<T, SysError>;

pub use nix::errno::Errno;
pub use nix::unistd::Pid;
