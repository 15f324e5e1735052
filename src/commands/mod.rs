//! One function per verb: resolve, call a subsystem, print.

use crate::cli::Cli;

pub fn main(_cli: Cli) -> std::process::ExitCode {
    std::process::ExitCode::from(125)
}
