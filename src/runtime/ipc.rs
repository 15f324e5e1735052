//! Typed messages between `devbox run` (the parent) and the container's
//! init, over an inherited SEQPACKET socket. One JSON datagram a message;
//! fds ride along as SCM_RIGHTS.

use std::os::fd::{AsRawFd, OwnedFd};

use serde::{Deserialize, Serialize};

use super::plan::InitSpec;
use crate::sys;

/// The byte the parent writes once the uid/gid maps are in place.
pub const GATE_OPEN: u8 = b'g';

#[derive(Debug, Serialize, Deserialize)]
pub enum ToInit {
    Spec(Box<InitSpec>),
    NetworkReady,
    /// The FUSE server serves the container's root (`runtime::rootfs`).
    RootfsReady,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum ExecFailure {
    NotFound,
    NotExecutable,
    Setup,
}

impl ExecFailure {
    /// The kind of a start error, for a report across a channel.
    pub fn of(error: &super::RuntimeError) -> ExecFailure {
        match error {
            super::RuntimeError::Exec {
                not_found: true, ..
            } => ExecFailure::NotFound,
            super::RuntimeError::Exec { .. } => ExecFailure::NotExecutable,
            _ => ExecFailure::Setup,
        }
    }

    /// The error a reported failure stands for.
    pub fn into_error(self, message: String) -> super::RuntimeError {
        match self {
            ExecFailure::Setup => super::RuntimeError::Setup(message),
            ExecFailure::NotFound => super::RuntimeError::Exec {
                message,
                not_found: true,
            },
            ExecFailure::NotExecutable => super::RuntimeError::Exec {
                message,
                not_found: false,
            },
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub enum ToParent {
    /// The pty master of the container's terminal is attached.
    Pty,
    /// From a monitor: the container's command runs.
    Started,
    /// The FUSE root is mounted; its connection's fd is attached.
    RootfsMounted,
    Failed {
        kind: ExecFailure,
        message: String,
    },
}

/// One end of the channel.
pub struct Channel {
    pub sock: OwnedFd,
}

#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    #[error(transparent)]
    Sys(#[from] sys::SysError),
    #[error("malformed message from the {peer}: {source}")]
    Decode {
        peer: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl Channel {
    pub fn send_gate(&self) -> Result<(), IpcError> {
        Ok(sys::ipc::send(&self.sock, &[GATE_OPEN], &[])?)
    }

    pub fn send<T: Serialize>(&self, msg: &T, fds: &[&OwnedFd]) -> Result<(), IpcError> {
        let bytes = serde_json::to_vec(msg).map_err(|source| IpcError::Decode {
            peer: "encoder",
            source,
        })?;
        let raw: Vec<i32> = fds.iter().map(|f| f.as_raw_fd()).collect();
        Ok(sys::ipc::send(&self.sock, &bytes, &raw)?)
    }

    /// The next message, `None` when the peer is gone (or exec'd).
    pub fn recv<T: for<'de> Deserialize<'de>>(
        &self,
        peer: &'static str,
    ) -> Result<Option<(T, Vec<OwnedFd>)>, IpcError> {
        match sys::ipc::recv(&self.sock)? {
            None => Ok(None),
            Some((bytes, fds)) => {
                let msg = serde_json::from_slice(&bytes)
                    .map_err(|source| IpcError::Decode { peer, source })?;
                Ok(Some((msg, fds)))
            }
        }
    }
}
