//! `doctor`, and later `info`, `system boot`, `system service`.

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Print the AppArmor profile that lets devbox create user namespaces on Ubuntu 23.10+
    #[arg(long)]
    pub apparmor_profile: bool,
}
