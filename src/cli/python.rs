//! The Python workflow: `init` (and later `up`, `test`, `shell`).

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The project directory
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Use the detected defaults without asking
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Replace a Dockerfile, .dockerignore or compose.yaml that exists already
    #[arg(long)]
    pub force: bool,
}
