//! Errors become messages and exit codes here, and only here (STYLE rule 6).
//!
//! Docker's convention: 125 when devbox itself failed, 126 when the command
//! cannot be executed, 127 when it is not found, otherwise the container's own
//! exit code (128 + n when it was killed by signal n).

use std::fmt::Write as _;

/// What a command asks the process to exit with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success,
    /// devbox failed (Docker's 125).
    Failure,
    /// The container ran; this is its own exit code.
    Container(i32),
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 125,
            ExitStatus::Container(code) => u8::try_from(code.clamp(0, 255)).unwrap_or(255),
        }
    }
}

/// Errors that know how the user can fix them.
pub trait Hint {
    fn hint(&self) -> Option<String>;
}

/// Errors that ask for a particular exit code (126, 127) rather than 125.
pub trait Classify {
    fn exit_code(&self) -> Option<u8>;
}

/// An error that carries its own exit code and hint through `anyhow`.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UserError {
    pub message: String,
    pub hint: Option<String>,
    pub code: u8,
}

impl UserError {
    pub fn new(message: impl Into<String>) -> Self {
        UserError {
            message: message.into(),
            hint: None,
            code: 125,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_code(mut self, code: u8) -> Self {
        self.code = code;
        self
    }
}

/// Renders an error chain as `Error: outer: inner` plus `hint:` lines, and
/// picks the exit code.
pub fn render(error: &anyhow::Error) -> (String, u8) {
    let mut text = String::from("Error: ");
    let mut first = true;
    let mut hints = Vec::new();
    let mut code = 125;
    for cause in error.chain() {
        let message = cause.to_string();
        // Some errors (fs-err's) already include their source's text.
        if text.ends_with(&message) {
            continue;
        }
        if !first {
            text.push_str(": ");
        }
        first = false;
        text.push_str(&message);
        if let Some(user) = cause.downcast_ref::<UserError>() {
            code = user.code;
            hints.extend(user.hint.clone());
        }
        if let Some(hint) = known_hint(cause) {
            hints.push(hint);
        }
    }
    text.push('\n');
    if is_out_of_space(error) {
        hints.push(
            "free space on that file system (`devbox system prune` removes unused images, containers and build cache), then run the command again: nothing half-written was kept".into(),
        );
    }
    for hint in hints {
        let _ = write!(text, "\nhint: {hint}\n");
    }
    (text, code)
}

/// Whether a disk filled up somewhere in the chain: an ENOSPC `io::Error`,
/// or a message that carries one (from a helper process, or flattened).
pub fn is_out_of_space(error: &anyhow::Error) -> bool {
    const ENOSPC: i32 = 28;
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.raw_os_error() == Some(ENOSPC))
            || cause.to_string().contains("No space left on device")
    })
}

/// Collects hints from the typed errors of subsystems that know their fix.
fn known_hint(cause: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(e) = cause.downcast_ref::<crate::runtime::RuntimeError>() {
        return e.hint();
    }
    if let Some(e) = cause.downcast_ref::<crate::store::StoreError>() {
        return e.hint();
    }
    if let Some(e) = cause.downcast_ref::<crate::build::builder::BuildError>() {
        return e.hint();
    }
    if let Some(e) = cause.downcast_ref::<crate::image::registry::RegistryError>() {
        return e.hint();
    }
    if let Some(e) = cause.downcast_ref::<crate::store::networks::NetworkError>() {
        return e.hint();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_recognised_and_hinted() {
        let full = anyhow::Error::new(std::io::Error::from_raw_os_error(28))
            .context("cannot write /store/blobs/x");
        assert!(is_out_of_space(&full));
        let (text, code) = render(&full);
        assert_eq!(code, 125);
        assert!(text.contains("hint: free space"), "{text}");
        let flattened = anyhow::anyhow!("unpacker failed: write: No space left on device");
        assert!(is_out_of_space(&flattened));
        assert!(!is_out_of_space(&anyhow::anyhow!("no such image")));
    }

    #[test]
    fn exit_codes_follow_docker() {
        assert_eq!(ExitStatus::Success.code(), 0);
        assert_eq!(ExitStatus::Failure.code(), 125);
        assert_eq!(ExitStatus::Container(3).code(), 3);
        assert_eq!(ExitStatus::Container(137).code(), 137);
    }

    #[test]
    fn render_shows_chain_and_hint() {
        let err = anyhow::Error::new(
            UserError::new("no such image")
                .with_hint("pull it")
                .with_code(125),
        )
        .context("cannot run `busybox`");
        let (text, code) = render(&err);
        assert_eq!(code, 125);
        assert_eq!(
            text,
            "Error: cannot run `busybox`: no such image\n\nhint: pull it\n"
        );
    }
}
