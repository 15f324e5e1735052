//! Outbound network for a rootless container: slirp4netns (the default), or pasta
//! (`--network pasta`), spawned with duct and ended with the container.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::sys;

#[derive(Debug, thiserror::Error)]
pub enum SlirpError {
    #[error("slirp4netns is not installed (looked in PATH)")]
    NotInstalled,
    #[error("pasta is not installed (looked in PATH; it comes with the `passt` package)")]
    PastaNotInstalled,
    #[error("cannot start {0}")]
    Spawn(&'static str, #[source] std::io::Error),
    #[error("slirp4netns failed to configure the network: {0}")]
    Failed(String),
    #[error("pasta failed to configure the network: {0}")]
    PastaFailed(String),
    #[error("slirp4netns: {0}")]
    Sys(#[from] sys::SysError),
}

/// The helper that gives a container its outbound network, found before the container starts.
#[derive(Debug, Clone)]
pub enum Helper {
    Slirp4netns(PathBuf),
    /// pasta (from passt), and the file it writes its pid to once it runs in the background.
    Pasta {
        binary: PathBuf,
        pid_file: PathBuf,
    },
}

impl Helper {
    /// Starts the helper for the container whose init has host pid `pid`.
    pub fn start(&self, pid: i32) -> Result<Slirp, SlirpError> {
        match self {
            Helper::Slirp4netns(binary) => start(binary, pid),
            Helper::Pasta { binary, pid_file } => start_pasta(binary, pid_file, pid),
        }
    }
}

/// A running network helper. slirp4netns exits when this is dropped (its exit fd closes) and
/// is killed for good measure; pasta, which runs in the background, is sent SIGTERM.
pub enum Slirp {
    Slirp4netns {
        handle: Box<duct::Handle>,
        _exit_writer: OwnedFd,
    },
    Pasta {
        pid: i32,
        pid_file: PathBuf,
    },
}

impl Drop for Slirp {
    fn drop(&mut self) {
        match self {
            Slirp::Slirp4netns { handle, .. } => {
                let _ = handle.kill();
            }
            Slirp::Pasta { pid, pid_file } => {
                // Only if the pid is still that pasta's (not reused by another process): its
                // command line names our pid file.
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let ours = pid_file.as_os_str().as_encoded_bytes();
                if cmdline.split(|b| *b == 0).any(|arg| arg == ours) {
                    let _ = sys::process::kill(sys::Pid::from_raw(*pid), sys::process::SIGTERM);
                }
            }
        }
    }
}

/// Starts slirp4netns for the container whose init has host pid `pid`,
/// joining its user and network namespaces (when devbox runs as root the
/// user namespace is the initial one, which is harmless to join), and waits
/// until its tap device is configured (10.0.2.100/24, gateway 10.0.2.2, DNS
/// 10.0.2.3).
pub fn start(binary: &Path, pid: i32) -> Result<Slirp, SlirpError> {
    let (ready_r, ready_w) = sys::ipc::inheritable_pipe()?;
    let (exit_r, exit_w) = sys::ipc::inheritable_pipe()?;
    let mut args = vec![
        "--configure".to_string(),
        "--mtu=65520".to_string(),
        format!("--ready-fd={}", ready_w.as_raw_fd()),
        format!("--exit-fd={}", exit_r.as_raw_fd()),
    ];
    args.push(format!("--userns-path=/proc/{pid}/ns/user"));
    args.push("--netns-type=path".into());
    args.push(format!("/proc/{pid}/ns/net"));
    args.push("tap0".into());
    // Our ends must not leak into slirp4netns or later children.
    sys::ipc::set_cloexec(ready_r.as_raw_fd())?;
    sys::ipc::set_cloexec(exit_w.as_raw_fd())?;
    let handle = duct::cmd(binary, &args)
        .stdin_null()
        .stdout_null()
        .stderr_capture()
        .unchecked()
        .start()
        .map_err(|e| SlirpError::Spawn("slirp4netns", e))?;
    drop(ready_w);
    drop(exit_r);
    let slirp = Slirp::Slirp4netns {
        handle: Box::new(handle),
        _exit_writer: exit_w,
    };
    // A configured tap takes a few ms; a dead slirp4netns closes the pipe.
    if !sys::ipc::wait_readable(&ready_r, 10_000)? {
        return Err(SlirpError::Failed("timed out after 10 s".into()));
    }
    let mut byte = [0u8; 1];
    let mut ready = std::fs::File::from(ready_r);
    match ready.read(&mut byte) {
        Ok(1) => Ok(slirp),
        _ => {
            let Slirp::Slirp4netns { handle, .. } = &slirp else {
                unreachable!("made above")
            };
            let _ = handle.kill();
            let stderr = handle
                .wait()
                .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string())
                .unwrap_or_default();
            let last = stderr.lines().last().unwrap_or("it exited").to_string();
            Err(SlirpError::Failed(last))
        }
    }
}

/// Starts pasta for the container whose init has host pid `pid`: it joins the container's user
/// and network namespaces, copies the host's address, routes and MTU 65520 to an interface
/// there, maps the gateway's address to the host's loopback, and forwards no ports (published
/// ports go through devbox's port proxy, as with slirp4netns). pasta returns once the
/// namespace is configured and keeps running in the background; its pid comes from
/// `pid_file`.
pub fn start_pasta(binary: &Path, pid_file: &Path, pid: i32) -> Result<Slirp, SlirpError> {
    let _ = std::fs::remove_file(pid_file);
    let output = duct::cmd!(
        binary,
        "--config-net",
        "--quiet",
        "-t",
        "none",
        "-u",
        "none",
        "-T",
        "none",
        "-U",
        "none",
        "--userns",
        format!("/proc/{pid}/ns/user"),
        "--netns",
        format!("/proc/{pid}/ns/net"),
        "--pid",
        pid_file
    )
    .stdin_null()
    .stdout_null()
    .stderr_capture()
    .unchecked()
    .run()
    .map_err(|e| SlirpError::Spawn("pasta", e))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rfind(|l| !l.starts_with("Failed to send") && !l.trim().is_empty())
        .unwrap_or("it exited")
        .to_string();
    if !output.status.success() {
        return Err(SlirpError::PastaFailed(last));
    }
    match std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|p| p.trim().parse().ok())
    {
        Some(pid) => Ok(Slirp::Pasta {
            pid,
            pid_file: pid_file.to_path_buf(),
        }),
        None => Err(SlirpError::PastaFailed(format!(
            "it wrote no pid to {}",
            pid_file.display()
        ))),
    }
}
