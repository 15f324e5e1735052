//! `attach` without a daemon: the monitor serves a unix socket in the
//! runtime dir; each client gets the container's output (framed: one byte
//! stream, four bytes length, the bytes) and what it sends goes to the
//! container's stdin (with `-i`) or terminal (with `-t`). The client leaves
//! on Ctrl-P Ctrl-Q, as Docker's does.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use super::logs::Stream;
use super::Result;

/// Docker's default detach keys: Ctrl-P, Ctrl-Q.
pub const DETACH_KEYS: [u8; 2] = [0x10, 0x11];

/// The container's attach socket (bound and reached with `sys::ipc::bind_unix` and
/// `connect_unix`, as a long run root makes a path longer than a socket address holds).
pub fn socket_path(run_root: &Path, id: &str) -> PathBuf {
    run_root.join("attach").join(format!("{}.sock", &id[..12]))
}

/// The monitor's side: the listening socket and the attached clients.
pub struct AttachServer {
    listener: UnixListener,
    pub clients: Vec<UnixStream>,
    path: PathBuf,
}

impl AttachServer {
    pub fn bind(run_root: &Path, id: &str) -> Result<AttachServer> {
        let path = socket_path(run_root, id);
        if let Some(dir) = path.parent() {
            fs_err::create_dir_all(dir)?;
        }
        let _ = std::fs::remove_file(&path);
        let listener = crate::sys::ipc::bind_unix(&path)?;
        listener.set_nonblocking(true)?;
        Ok(AttachServer {
            listener,
            clients: Vec::new(),
            path,
        })
    }

    pub fn listener(&self) -> &UnixListener {
        &self.listener
    }

    pub fn accept(&mut self) {
        while let Ok((client, _)) = self.listener.accept() {
            if client.set_nonblocking(true).is_ok() {
                self.clients.push(client);
            }
        }
    }

    /// Sends output to every client; one that cannot keep up is dropped.
    pub fn broadcast(&mut self, stream: Stream, bytes: &[u8]) {
        let frame = frame(stream, bytes);
        self.clients.retain_mut(|c| c.write_all(&frame).is_ok());
    }

    /// Reads what client `i` sent; `None` when it left.
    pub fn read_client(&mut self, i: usize, buf: &mut [u8]) -> Option<usize> {
        match self.clients[i].read(buf) {
            Ok(0) => None,
            Ok(n) => Some(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Some(0),
            Err(_) => None,
        }
    }
}

impl Drop for AttachServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn frame(stream: Stream, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 5);
    out.push(stream as u8);
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
    out
}

/// Splits framed output; returns the complete frames and leaves the rest in
/// `pending`.
pub fn unframe(pending: &mut Vec<u8>) -> Vec<(Stream, Vec<u8>)> {
    let mut out = Vec::new();
    loop {
        if pending.len() < 5 {
            return out;
        }
        let len = u32::from_be_bytes([pending[1], pending[2], pending[3], pending[4]]) as usize;
        if pending.len() < 5 + len {
            return out;
        }
        let stream = if pending[0] == Stream::Stderr as u8 {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        out.push((stream, pending[5..5 + len].to_vec()));
        pending.drain(..5 + len);
    }
}

/// Watches the user's input for the detach keys across reads: returns the
/// bytes to forward and whether the keys were typed.
#[derive(Debug, Default)]
pub struct DetachKeys {
    matched: usize,
}

impl DetachKeys {
    pub fn scan(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut forward = Vec::new();
        for &b in input {
            if b == DETACH_KEYS[self.matched] {
                self.matched += 1;
                if self.matched == DETACH_KEYS.len() {
                    return (forward, true);
                }
                continue;
            }
            // A partial match that fails is passed on as typed.
            forward.extend_from_slice(&DETACH_KEYS[..self.matched]);
            self.matched = 0;
            if b == DETACH_KEYS[0] {
                self.matched = 1;
            } else {
                forward.push(b);
            }
        }
        (forward, false)
    }
}

/// How an attach session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The user typed the detach keys; the container runs on.
    Detached,
    /// The container stopped, with this code (`None`: unknown).
    Exited(Option<i32>),
}

/// Attaches this terminal (or these pipes) to the running container `id`
/// until it stops or the user detaches. Output goes through `emit`.
pub fn attach(
    run_root: &Path,
    store: &crate::store::Store,
    id: &str,
    mut emit: impl FnMut(Stream, &[u8]),
) -> Result<Ended> {
    use std::os::fd::AsFd;
    let (record, state) = store.load_container(id)?;
    if !state.status.is_live() {
        return Err(super::RuntimeError::NotRunning { id: id.to_string() });
    }
    let mut socket = crate::sys::ipc::connect_unix(&socket_path(run_root, id)).map_err(|e| {
        super::RuntimeError::Setup(format!(
            "cannot attach to {id}: {e} (only containers started with `run -d` or `start` can be attached)"
        ))
    })?;
    let stdin = std::io::stdin();
    let _raw = (record.spec.tty && crate::sys::tty::is_terminal(stdin.as_fd()))
        .then(crate::sys::tty::RawMode::enter_stdin)
        .and_then(|r| r.ok());
    let mut stdin_open = true;
    let mut keys = DetachKeys::default();
    let mut pending = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let mut fds = vec![socket.as_fd()];
        if stdin_open {
            fds.push(stdin.as_fd());
        }
        let ready = crate::sys::ipc::poll_readable(&fds, -1)?;
        drop(fds);
        if ready[0] {
            let n = socket.read(&mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&buf[..n]);
            for (stream, bytes) in unframe(&mut pending) {
                emit(stream, &bytes);
            }
        }
        if stdin_open && ready.get(1) == Some(&true) {
            let n = stdin.lock().read(&mut buf).unwrap_or(0);
            if n == 0 {
                stdin_open = false;
                continue;
            }
            let (forward, detach) = keys.scan(&buf[..n]);
            let _ = socket.write_all(&forward);
            if detach {
                return Ok(Ended::Detached);
            }
        }
    }
    let dirs = store.container_dirs(id);
    super::monitor::wait_released(&dirs.lock(), Some(std::time::Duration::from_secs(10)));
    let (_, state) = store.load_container(id)?;
    Ok(Ended::Exited(state.exit_code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_in_pieces() {
        let mut bytes = frame(Stream::Stdout, b"hello");
        bytes.extend(frame(Stream::Stderr, b"err"));
        let mut pending = bytes[..7].to_vec();
        assert!(unframe(&mut pending).is_empty());
        pending.extend_from_slice(&bytes[7..]);
        let frames = unframe(&mut pending);
        assert_eq!(
            frames,
            [
                (Stream::Stdout, b"hello".to_vec()),
                (Stream::Stderr, b"err".to_vec())
            ]
        );
        assert!(pending.is_empty());
    }

    #[test]
    fn detach_keys_across_reads_and_false_starts() {
        let mut keys = DetachKeys::default();
        assert_eq!(keys.scan(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(keys.scan(b"\x11rest"), (Vec::new(), true));
        let mut keys = DetachKeys::default();
        assert_eq!(
            keys.scan(b"\x10x\x10\x10\x11"),
            (b"\x10x\x10".to_vec(), true)
        );
    }
}
