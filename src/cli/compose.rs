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
    Ps,
    /// Show the services' output
    Logs(LogsArgs),
    /// Show the merged, interpolated configuration
    Config,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct UpArgs {
    /// Run in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Build images even when they exist
    #[arg(long)]
    pub build: bool,
    /// Only these services (and what they depend on)
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct DownArgs {
    /// Also remove named volumes declared in the file and anonymous volumes
    #[arg(short, long)]
    pub volumes: bool,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct LogsArgs {
    /// Follow new output
    #[arg(short, long)]
    pub follow: bool,
    pub services: Vec<String>,
}
