//! `devbox volume ...`: named and anonymous volumes, with Docker's flags.

#[derive(Debug, clap::Args)]
pub struct VolumeArgs {
    #[command(subcommand)]
    pub command: VolumeCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum VolumeCommand {
    /// Create a volume (a generated name when none is given)
    Create(VolumeCreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(VolumeLsArgs),
    /// Show volumes as JSON
    Inspect(VolumeInspectArgs),
    /// Remove volumes (refused while a container uses one)
    #[command(visible_alias = "remove")]
    Rm(VolumeRmArgs),
    /// Remove unused anonymous volumes (all unused ones with --all)
    Prune(VolumePruneArgs),
}

#[derive(Debug, clap::Args)]
pub struct VolumeCreateArgs {
    pub name: Option<String>,
    /// Set metadata (KEY=VALUE), repeatable
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Only `local` exists
    #[arg(short = 'd', long, default_value = "local")]
    pub driver: String,
}

#[derive(Debug, clap::Args)]
pub struct VolumeLsArgs {
    /// Only names
    #[arg(short, long)]
    pub quiet: bool,
    /// `table` (default), `json` (one object per line, like Docker) or a Go template
    /// (`{{.Name}}`, `table {{.Name}}\t{{.Mountpoint}}`)
    #[arg(long, default_value = "table")]
    pub format: String,
    /// `dangling=true|false`, `name=TEXT`, `label=KEY[=VALUE]`
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct VolumeInspectArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct VolumeRmArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Accepted for Docker compatibility: a volume in use is still refused
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct VolumePruneArgs {
    /// Also named volumes no container uses
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}
