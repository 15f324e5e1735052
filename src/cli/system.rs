//! `doctor`, and later `info`, `system boot`, `system service`.

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Print the AppArmor profile that lets devbox create user namespaces on Ubuntu 23.10+
    #[arg(long)]
    pub apparmor_profile: bool,
    /// Output format: a table, or `json`
    #[arg(long, value_enum, default_value_t = DoctorFormat::Table)]
    pub format: DoctorFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DoctorFormat {
    Table,
    Json,
}

#[derive(Debug, clap::Subcommand)]
pub enum SystemCommand {
    /// Start containers whose restart policy says so (always, unless-stopped) and whose monitor is gone
    Boot,
    /// The systemd user service that runs `devbox system boot` at login
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Verify the store (blob digests, layers, tags, images, containers, volumes); repair what can be
    Check(CheckArgs),
    /// Show disk usage: images, containers, local volumes, build cache
    Df(DfArgs),
    /// Remove stopped containers, dangling images, unused build cache (and volumes with --volumes)
    Prune(SystemPruneArgs),
    /// Display system-wide information
    Info(InfoArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Fix what can be fixed: drop broken tags and records, remove leftovers of killed
    /// commands, unpack missing layers again, mark dead containers exited
    #[arg(long)]
    pub repair: bool,
}

#[derive(Debug, clap::Args)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, clap::Args)]
pub struct SystemPruneArgs {
    /// Remove all unused images, not just dangling ones, and all build cache
    #[arg(short, long)]
    pub all: bool,
    /// Prune anonymous volumes no container uses
    #[arg(long)]
    pub volumes: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// Output format: `json`, or a Go template such as '{{.Driver}}'
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ServiceCommand {
    /// Write ~/.config/systemd/user/devbox-boot.service (enable it with systemctl --user)
    Install,
}

#[derive(Debug, clap::Args)]
pub struct UnshareArgs {
    /// The command and its arguments (default: $SHELL, else /bin/sh)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<std::ffi::OsString>,
}
