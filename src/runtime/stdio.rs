//! The terminal side of `-t`: raw mode, copying between the user's terminal
//! and the container's pty master, and window-size following.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use crate::sys;

/// Copies container output to our stdout until the pty closes; copies our
/// stdin to the container when `interactive`. Returns the output thread.
pub fn pump_pty(
    master: OwnedFd,
    interactive: bool,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    follow_window_size(&master);
    let mut output = std::fs::File::from(master);
    if interactive {
        let mut input = output.try_clone()?;
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 || input.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    Ok(std::thread::spawn(move || {
        let mut stdout = std::io::stdout();
        let mut buf = [0u8; 8192];
        // EIO once the last slave fd in the container is closed.
        while let Ok(n) = output.read(&mut buf) {
            if n == 0 || stdout.write_all(&buf[..n]).is_err() {
                break;
            }
            let _ = stdout.flush();
        }
    }))
}

/// Propagates our terminal's size (stdout's, else stdin's) to the
/// container's pty.
pub fn follow_window_size(master: &OwnedFd) {
    if let Some(size) = terminal_size() {
        let _ = sys::tty::set_window_size(master.as_fd(), size);
    }
}

/// The size of the terminal devbox runs in, if it runs in one.
pub fn terminal_size() -> Option<sys::tty::WindowSize> {
    sys::tty::window_size(std::io::stdout().as_fd())
        .or_else(|| sys::tty::window_size(std::io::stdin().as_fd()))
}
