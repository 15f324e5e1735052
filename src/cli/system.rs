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
}

#[derive(Debug, clap::Subcommand)]
pub enum ServiceCommand {
    /// Write ~/.config/systemd/user/devbox-boot.service (enable it with systemctl --user)
    Install,
}
