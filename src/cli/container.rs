//! Container verbs with Docker's flag names.

use clap::ValueEnum;

#[derive(Debug, Clone, clap::Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print help (`-h` is `--hostname`, as in Docker)
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Keep stdin open (pipe it to the container)
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Set an environment variable (K=V, or K to take it from this environment)
    #[arg(short, long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Read environment variables from a file
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<std::path::PathBuf>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// User to run as: UID[:GID] or NAME[:GROUP]
    #[arg(short, long, value_name = "USER")]
    pub user: Option<String>,
    /// Container name
    #[arg(long)]
    pub name: Option<String>,
    /// Container hostname
    #[arg(long, short = 'h')]
    pub hostname: Option<String>,
    /// Bind mount: HOST:CONTAINER[:ro|rw]
    #[arg(short, long = "volume", value_name = "HOST:CONTAINER[:OPTS]")]
    pub volumes: Vec<String>,
    /// Network mode
    #[arg(long, value_enum, default_value_t = NetworkMode::Slirp4netns)]
    pub network: NetworkMode,
    /// Override the image's ENTRYPOINT (also clears its CMD)
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// The image to run
    pub image: String,
    /// The command and its arguments (replaces the image's CMD)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// Outbound network through slirp4netns (the default)
    Slirp4netns,
    /// Only a loopback interface
    None,
    /// Share the host's network namespace
    Host,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Kill a running container before removing it
    #[arg(short, long)]
    pub force: bool,
    /// Containers (names or id prefixes)
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Only show container ids
    #[arg(short, long)]
    pub quiet: bool,
}
