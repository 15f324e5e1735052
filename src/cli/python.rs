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

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Keep the container afterwards (to inspect it with `devbox diff`, `cp`, `start -a`)
    #[arg(long)]
    pub keep: bool,
    /// Network for the tests: none (the default), slirp4netns or host
    #[arg(long, default_value = "none")]
    pub network: String,
    /// The test command (default: the detected runner, e.g. `python -m pytest`)
    #[arg(last = true)]
    pub command: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ShellArgs {
    /// Network for the shell: slirp4netns (the default), none or host
    #[arg(long, default_value = "slirp4netns")]
    pub network: String,
    /// A command instead of the shell
    #[arg(last = true)]
    pub command: Vec<String>,
}
