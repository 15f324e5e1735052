//! Running containers: the plan (pure), the parent side that creates the
//! namespaces and maps ids, and the init side that builds the container's
//! filesystem view and execs the command.

pub mod attach;
pub mod cgroup;
pub mod confine;
pub mod copy;
pub mod create;
pub mod diff;
pub mod exec;
pub mod health;
pub mod idmap;
pub mod init;
pub mod inspect;
pub mod ipc;
pub mod launch;
pub mod lifecycle;
pub mod logs;
pub mod monitor;
pub mod network;
pub mod plan;
pub mod processes;
pub mod remove;
pub mod rootfs;
pub mod state;
pub mod stdio;
pub mod userns;

use crate::ui::diagnostics::Hint;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "`newuidmap` is not installed, but `{user}` has a subordinate id range in /etc/subuid"
    )]
    NoNewuidmap { user: String },
    #[error("`{program}` failed: {message}")]
    IdMap { program: String, message: String },
    #[error("cannot create a user namespace: {0}")]
    UserNamespace(#[source] crate::sys::SysError),
    #[error("setting up the container failed: {0}")]
    Setup(String),
    /// The command cannot be run: not found (127) or not executable (126).
    #[error("{message}")]
    Exec { message: String, not_found: bool },
    #[error("{0}")]
    Network(#[from] crate::net::slirp::SlirpError),
    #[error(transparent)]
    Ports(#[from] crate::net::portproxy::ProxyError),
    #[error(transparent)]
    Sys(#[from] crate::sys::SysError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("container {id} is running")]
    Running { id: String },
    #[error("container {id} is not running")]
    NotRunning { id: String },
    #[error(transparent)]
    KeepId(#[from] idmap::KeepIdError),
}

impl Hint for RuntimeError {
    fn hint(&self) -> Option<String> {
        match self {
            RuntimeError::NoNewuidmap { .. } => Some(
                "install the setuid helpers: `sudo apt-get install uidmap` (Debian/Ubuntu), `sudo dnf install shadow-utils` (Fedora); `devbox doctor` checks the rest".into(),
            ),
            RuntimeError::UserNamespace(_) => Some(
                "run `devbox doctor`: user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone, or Ubuntu's kernel.apparmor_restrict_unprivileged_userns)".into(),
            ),
            RuntimeError::Network(crate::net::slirp::SlirpError::NotInstalled) => Some(
                "install it (`sudo apt-get install slirp4netns`) or run with `--network none`".into(),
            ),
            RuntimeError::Network(crate::net::slirp::SlirpError::PastaNotInstalled) => Some(
                "install it (`sudo apt-get install passt`) or use the default network (slirp4netns)".into(),
            ),
            RuntimeError::Network(crate::net::slirp::SlirpError::PastaFailed(_)) => Some(
                "pasta needs read-write access to /dev/net/tun; the default network (slirp4netns) is the alternative".into(),
            ),
            RuntimeError::Network(_) => Some(
                "slirp4netns needs read-write access to /dev/net/tun; `devbox doctor` checks it; `--network none` runs without network".into(),
            ),
            RuntimeError::Running { .. } => Some("stop it first, or use `devbox rm -f`".into()),
            _ => None,
        }
    }
}

impl RuntimeError {
    /// Docker's exit codes: 127 command not found, 126 cannot execute.
    pub fn exit_code(&self) -> u8 {
        match self {
            RuntimeError::Exec {
                not_found: true, ..
            } => 127,
            RuntimeError::Exec { .. } => 126,
            _ => 125,
        }
    }
}

pub type Result<T> = std::result::Result<T, RuntimeError>;
