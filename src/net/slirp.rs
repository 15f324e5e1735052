//! slirp4netns: outbound network for a rootless container, spawned with duct
//! and ended with the container.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use crate::sys;

#[derive(Debug, thiserror::Error)]
pub enum SlirpError {
    #[error("slirp4netns is not installed (looked in PATH)")]
    NotInstalled,
    #[error("cannot start slirp4netns")]
    Spawn(#[source] std::io::Error),
    #[error("slirp4netns failed to configure the network: {0}")]
    Failed(String),
    #[error(transparent)]
    Sys(#[from] sys::SysError),
}

/// A running slirp4netns; it exits when this is dropped (its exit fd closes)
/// and is killed for good measure.
pub struct Slirp {
    handle: duct::Handle,
    _exit_writer: OwnedFd,
}

impl Drop for Slirp {
    fn drop(&mut self) {
        let _ = self.handle.kill();
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
        .map_err(SlirpError::Spawn)?;
    drop(ready_w);
    drop(exit_r);
    let slirp = Slirp {
        handle,
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
            let _ = slirp.handle.kill();
            let stderr = slirp
                .handle
                .wait()
                .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string())
                .unwrap_or_default();
            let last = stderr.lines().last().unwrap_or("it exited").to_string();
            Err(SlirpError::Failed(last))
        }
    }
}
