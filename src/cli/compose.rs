//! `devbox compose ...` and the `devbox up` / `devbox down` shortcuts.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ComposeArgs {
    /// Compose file(s), merged in order (default: compose.yaml, compose.yml,
    /// docker-compose.yml or docker-compose.yaml in the current directory)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Project name (default: `name:` in the file, else the directory's name)
    #[arg(short = 'p', long = "project-name", value_name = "NAME")]
    pub project_name: Option<String>,
    /// Enable services of this profile (also `COMPOSE_PROFILES=a,b`)
    #[arg(long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
    #[command(subcommand)]
    pub command: ComposeCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ComposeCommand {
    /// Build what needs building, then create and start the services
    Up(UpArgs),
    /// Stop and remove the project's containers (and its volumes with -v)
    Down(DownArgs),
    /// List the project's containers
    Ps(PsArgs),
    /// Show the services' output
    Logs(LogsArgs),
    /// Show the merged, interpolated configuration
    Config,
    /// Start the services' existing containers
    Start(ServicesArgs),
    /// Stop the services' containers without removing them
    Stop(StopArgs),
    /// Stop and start the services' containers
    Restart(StopArgs),
    /// Remove the services' stopped containers
    Rm(RmArgs),
    /// Show the processes of the services' containers
    Top(ServicesArgs),
    /// Build (or rebuild) the services that have `build:`
    Build(ServicesArgs),
    /// Pull the images of the services that use `image:` without `build:`
    Pull(ServicesArgs),
    /// Run a command in a service's running container
    Exec(ExecArgs),
    /// Run a one-off command in a new container of a service
    Run(RunArgs),
    /// Start the services, then apply `develop.watch` rules as files change
    Watch(WatchArgs),
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct UpArgs {
    /// Run in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Build images even when they exist
    #[arg(long)]
    pub build: bool,
    /// Recreate containers even when their configuration and image are unchanged
    #[arg(long, conflicts_with = "no_recreate")]
    pub force_recreate: bool,
    /// Keep existing containers even when their configuration or image changed
    #[arg(long)]
    pub no_recreate: bool,
    /// Run N containers of SERVICE (overrides `deploy.replicas`)
    #[arg(long, value_name = "SERVICE=N")]
    pub scale: Vec<String>,
    /// Do not start the services the named ones depend on
    #[arg(long)]
    pub no_deps: bool,
    /// Give up waiting for a dependency (healthy, or completed) after this many seconds
    #[arg(long, value_name = "SECONDS")]
    pub wait_timeout: Option<u64>,
    /// Apply `develop.watch` rules as files change (implies following the logs)
    #[arg(long, conflicts_with = "detach")]
    pub watch: bool,
    /// Only these services (and what they depend on)
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RemoveImages {
    /// Images built for services without an `image:` name
    Local,
    /// Every image the services use
    All,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct DownArgs {
    /// Also remove named volumes declared in the file and anonymous volumes
    #[arg(short, long)]
    pub volumes: bool,
    /// Also remove the services' images
    #[arg(long, value_name = "TYPE")]
    pub rmi: Option<RemoveImages>,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct PsArgs {
    /// Show stopped containers too
    #[arg(short, long)]
    pub all: bool,
    /// Only container ids
    #[arg(short, long)]
    pub quiet: bool,
    /// Only service names
    #[arg(long)]
    pub services: bool,
    /// Only these services
    #[arg(value_name = "SERVICE")]
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct LogsArgs {
    /// Follow new output
    #[arg(short, long)]
    pub follow: bool,
    /// Plain prefixes, without colour
    #[arg(long)]
    pub no_color: bool,
    /// No `service |` prefixes
    #[arg(long)]
    pub no_log_prefix: bool,
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServicesArgs {
    /// Only these services (default: all)
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct StopArgs {
    /// Seconds to wait for the stop signal before SIGKILL
    #[arg(short, long = "timeout", value_name = "SECONDS")]
    pub timeout: Option<u64>,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct RmArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Stop the containers first
    #[arg(short, long)]
    pub stop: bool,
    /// Also remove the containers' anonymous volumes
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct ExecArgs {
    /// Run in the background
    #[arg(short, long)]
    pub detach: bool,
    /// No pseudo-terminal (the default is one when stdin is a terminal)
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Set an environment variable
    #[arg(short, long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// User to run as: UID[:GID] or NAME[:GROUP]
    #[arg(short, long)]
    pub user: Option<String>,
    /// Which replica, when the service has several
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
    /// The command and its arguments
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunArgs {
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Run in the background and print the container's name
    #[arg(short, long)]
    pub detach: bool,
    /// No pseudo-terminal (the default is one when stdin is a terminal)
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Set an environment variable
    #[arg(short, long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Override the image's entrypoint
    #[arg(long, value_name = "CMD")]
    pub entrypoint: Option<String>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// User to run as: UID[:GID] or NAME[:GROUP]
    #[arg(short, long)]
    pub user: Option<String>,
    /// Container name (default `<project>-<service>-run-<random>`)
    #[arg(long)]
    pub name: Option<String>,
    /// Do not start the services this one depends on
    #[arg(long)]
    pub no_deps: bool,
    pub service: String,
    /// The command and its arguments (default: the service's)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct WatchArgs {
    /// Do not build images before starting
    #[arg(long)]
    pub no_up: bool,
    /// Only these services
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}
