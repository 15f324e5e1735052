//! `devbox network ...`: user-defined networks, with Docker's flags.

#[derive(Debug, clap::Args)]
pub struct NetworkArgs {
    #[command(subcommand)]
    pub command: NetworkCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum NetworkCommand {
    /// Create a network (a bridge with its own subnet and DNS resolver)
    Create(NetworkCreateArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(NetworkLsArgs),
    /// Show networks as JSON
    Inspect(NetworkNamesArgs),
    /// Remove networks (refused while a running container uses one)
    #[command(visible_alias = "remove")]
    Rm(NetworkNamesArgs),
    /// Remove every network no container uses
    Prune(NetworkPruneArgs),
    /// Connect a container to a network
    Connect(NetworkConnectArgs),
    /// Disconnect a container from a network
    Disconnect(NetworkDisconnectArgs),
}

#[derive(Debug, clap::Args)]
pub struct NetworkCreateArgs {
    pub name: String,
    /// Subnet in CIDR form (default: the first free 10.89.N.0/24)
    #[arg(long, value_name = "CIDR")]
    pub subnet: Option<String>,
    /// Gateway address (default: the subnet's first address)
    #[arg(long, value_name = "IPV4")]
    pub gateway: Option<std::net::Ipv4Addr>,
    /// No outbound access: containers reach each other only
    #[arg(long)]
    pub internal: bool,
    /// Only `bridge` exists
    #[arg(short = 'd', long, default_value = "bridge")]
    pub driver: String,
    /// Set metadata (KEY=VALUE), repeatable
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct NetworkLsArgs {
    /// Only ids
    #[arg(short, long)]
    pub quiet: bool,
    /// Full ids
    #[arg(long)]
    pub no_trunc: bool,
    /// `table` (default), `json` or a Go template (`{{.Name}}`)
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Debug, clap::Args)]
pub struct NetworkNamesArgs {
    /// Networks (names or id prefixes)
    #[arg(required = true)]
    pub networks: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct NetworkPruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct NetworkConnectArgs {
    pub network: String,
    pub container: String,
    /// Another name the container answers to on this network
    #[arg(long = "alias", value_name = "ALIAS")]
    pub aliases: Vec<String>,
    /// The container's IPv4 address on this network
    #[arg(long, value_name = "IPV4")]
    pub ip: Option<std::net::Ipv4Addr>,
}

#[derive(Debug, clap::Args)]
pub struct NetworkDisconnectArgs {
    pub network: String,
    pub container: String,
    /// Accepted for Docker compatibility
    #[arg(short, long)]
    pub force: bool,
}
