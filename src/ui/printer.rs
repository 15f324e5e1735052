//! The only place that writes to stdout and stderr (STYLE rule 5): data goes
//! to stdout, talk goes to stderr.

use std::io::Write;

/// How chatty commands are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Writes data to stdout and messages to stderr.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub verbosity: Verbosity,
}

impl Printer {
    pub fn new(verbosity: Verbosity) -> Self {
        Printer { verbosity }
    }

    /// A line of data (ids, `-q` output, JSON): always printed, to stdout.
    pub fn data(&self, line: impl std::fmt::Display) {
        let mut out = std::io::stdout().lock();
        // A closed stdout (`devbox images | head`) is not an error worth reporting.
        let _ = writeln!(out, "{line}");
    }

    /// A container's own output, passed through unchanged: stdout's bytes
    /// to stdout, stderr's to stderr (`logs`).
    pub fn output(&self, to_stderr: bool, bytes: &[u8]) {
        if to_stderr {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(bytes);
        } else {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(bytes);
            let _ = out.flush();
        }
    }

    /// A progress or status message, to stderr; hidden with `-q`.
    pub fn status(&self, line: impl std::fmt::Display) {
        if self.verbosity != Verbosity::Quiet {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    /// A debug message, to stderr; shown with `-v` only.
    pub fn debug(&self, line: impl std::fmt::Display) {
        if self.verbosity == Verbosity::Verbose {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    /// A question for the user, to stderr, without a newline (the answer is typed after it).
    pub fn prompt(&self, question: &str) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{question}");
        let _ = err.flush();
    }

    /// A warning, to stderr, always (fallbacks are degraded out loud).
    pub fn warn(&self, line: impl std::fmt::Display) {
        let _ = writeln!(std::io::stderr().lock(), "Warning: {line}");
    }

    /// An error message with its hints, to stderr, always.
    pub fn error(&self, text: &str) {
        let _ = write!(std::io::stderr().lock(), "{text}");
    }
}
