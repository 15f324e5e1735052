//! Registry verbs: pull, push, login, logout, search.

#[derive(Debug, clap::Args)]
pub struct TlsArgs {
    /// Require HTTPS and verify certificates (`--tls-verify=false` allows plain http and any certificate; localhost registries are allowed that already)
    #[arg(
        long,
        value_name = "BOOL",
        default_value_t = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub tls_verify: bool,
}

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// The image: NAME[:TAG|@DIGEST]
    pub reference: String,
    /// Pick this platform from a multi-architecture image: OS/ARCH[/VARIANT]
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Suppress progress output (the reference is still printed)
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
}

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The local image: NAME[:TAG] or an image id
    pub source: String,
    /// Where to push it, NAME[:TAG] (default: SOURCE)
    pub destination: Option<String>,
    /// Suppress progress output (the digest is still printed)
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
}

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The registry (default: docker.io)
    pub registry: Option<String>,
    /// User name
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (prefer --password-stdin: arguments are visible to other users)
    #[arg(short, long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
}

#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    /// The registry (default: docker.io)
    pub registry: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// The term; `REGISTRY/TERM` searches that registry's catalog
    pub term: String,
    /// At most this many results
    #[arg(long, default_value_t = 25)]
    pub limit: usize,
    #[command(flatten)]
    pub tls: TlsArgs,
}
