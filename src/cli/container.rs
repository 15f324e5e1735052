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
    /// Run the container in the background under a monitor and print its id
    #[arg(short, long)]
    pub detach: bool,
    /// Restart policy: no, always, unless-stopped, on-failure[:N]
    #[arg(long, default_value = "no", value_name = "POLICY")]
    pub restart: crate::spec::restart::RestartPolicy,
    /// Signal `stop` sends first (default: the image's STOPSIGNAL, else SIGTERM)
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Seconds `stop` waits before SIGKILL (default 10)
    #[arg(long, value_name = "SECONDS")]
    pub stop_timeout: Option<u64>,
    /// Run a small init as PID 1 that reaps zombies and passes signals on
    #[arg(long)]
    pub init: bool,
    /// Command to run to check health (run by the monitor, inside the container)
    #[arg(long, value_name = "CMD")]
    pub health_cmd: Option<String>,
    /// Time between health checks (e.g. `30s`, `500ms`)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub health_interval: Option<std::time::Duration>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long, value_name = "N")]
    pub health_retries: Option<u32>,
    /// Time to initialize before failures count
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub health_start_period: Option<std::time::Duration>,
    /// Maximum time one check may take
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub health_timeout: Option<std::time::Duration>,
    /// Disable the image's HEALTHCHECK
    #[arg(long)]
    pub no_healthcheck: bool,
    /// Set a label on the container
    #[arg(short, long = "label", value_name = "K=V")]
    pub label: Vec<String>,
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
    /// User namespace: `keep-id` (you keep your uid and gid inside, and run as yourself
    /// unless `-u` says otherwise), or empty for the default (you are root inside;
    /// `host` only as root)
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
    /// Container name
    #[arg(long)]
    pub name: Option<String>,
    /// Container hostname
    #[arg(long, short = 'h')]
    pub hostname: Option<String>,
    /// Bind mount or volume: HOST_PATH:CONTAINER[:OPTS], NAME:CONTAINER[:OPTS] or CONTAINER
    #[arg(short, long = "volume", value_name = "[SOURCE:]CONTAINER[:OPTS]")]
    pub volumes: Vec<String>,
    /// A mount: type=bind|volume|tmpfs,source=...,target=...[,readonly][,...]
    #[arg(long = "mount", value_name = "type=...,target=...")]
    pub mounts: Vec<String>,
    /// A tmpfs: CONTAINER[:size=64m,mode=1777]
    #[arg(long = "tmpfs", value_name = "CONTAINER[:OPTS]")]
    pub tmpfs: Vec<String>,
    /// Publish a port: [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp]
    #[arg(
        short = 'p',
        long = "publish",
        value_name = "[IP:][HOST:]CONTAINER[/PROTO]"
    )]
    pub publish: Vec<String>,
    /// Mount the root filesystem read-only (add `--tmpfs /tmp` for a writable /tmp)
    #[arg(long)]
    pub read_only: bool,
    /// Mount every volume and bind mount of another container: CONTAINER[:ro|rw]
    #[arg(long = "volumes-from", value_name = "CONTAINER[:ro|rw]")]
    pub volumes_from: Vec<String>,
    /// Add a line to /etc/hosts: NAME:IP (NAME=IP also works)
    #[arg(long = "add-host", value_name = "NAME:IP")]
    pub add_host: Vec<String>,
    /// Publish every port the image EXPOSEs, on free host ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Network: `bridge` (the default: outbound through slirp4netns; `slirp4netns` is the
    /// same), `pasta`, `none`, `host`, `container:NAME`, or a user-defined network (repeat
    /// for several)
    #[arg(long = "network", alias = "net", value_name = "MODE|NAME")]
    pub network: Vec<String>,
    /// Another name the container answers to on its user-defined networks
    #[arg(long = "network-alias", alias = "net-alias", value_name = "ALIAS")]
    pub network_alias: Vec<String>,
    /// The container's IPv4 address on its (first) user-defined network
    #[arg(long, value_name = "IPV4")]
    pub ip: Option<std::net::Ipv4Addr>,
    /// The container's MAC address on its (first) user-defined network
    #[arg(long = "mac-address", value_name = "MAC")]
    pub mac_address: Option<String>,
    /// A DNS server for the container's resolv.conf
    #[arg(long, value_name = "IP")]
    pub dns: Vec<std::net::IpAddr>,
    /// A DNS search domain for the container's resolv.conf
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// A resolv.conf option (e.g. `ndots:2`)
    #[arg(long = "dns-option", alias = "dns-opt", value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// Override the image's ENTRYPOINT (also clears its CMD)
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Add a capability to Docker's default set (`NET_ADMIN`, `CAP_SYS_PTRACE`, `ALL`)
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop a capability from the set (`ALL` drops every one)
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// All capabilities, no seccomp filter, no masked paths (still inside the user namespace)
    #[arg(long)]
    pub privileged: bool,
    /// `no-new-privileges`, `seccomp=unconfined`, `seccomp=PROFILE.json` (`label=`, `apparmor=` are ignored)
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Maximum number of processes (needs a delegated cgroup v2)
    #[arg(long = "pids-limit", value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Memory limit, e.g. `512m` (needs a delegated cgroup v2)
    #[arg(short = 'm', long, value_name = "BYTES")]
    pub memory: Option<String>,
    /// Number of CPUs, e.g. `1.5` (needs a delegated cgroup v2)
    #[arg(long, value_name = "N")]
    pub cpus: Option<f64>,
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
    /// Remove the container's anonymous volumes too
    #[arg(short, long)]
    pub volumes: bool,
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
    /// Filter: status=, name=, id=, label=K[=V], exited=N, ancestor=IMAGE, health=
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Output: `table`, `json`, or a Go template (`{{.Names}}`, `table {{.ID}}\t{{.Status}}`)
    #[arg(long)]
    pub format: Option<String>,
    /// Show the size of each container's writable layer
    #[arg(short, long)]
    pub size: bool,
    /// Do not truncate ids and commands
    #[arg(long)]
    pub no_trunc: bool,
}

/// Containers named by name, id or unique id prefix.
#[derive(Debug, clap::Args)]
pub struct ContainersArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// Attach to the container's output and wait for it (runs it in the foreground)
    #[arg(short, long)]
    pub attach: bool,
    #[command(flatten)]
    pub containers: ContainersArgs,
}

#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// Seconds to wait for the stop signal before SIGKILL
    #[arg(short, long = "time", alias = "timeout", value_name = "SECONDS")]
    pub time: Option<u64>,
    #[command(flatten)]
    pub containers: ContainersArgs,
}

#[derive(Debug, clap::Args)]
pub struct KillArgs {
    /// Signal to send (name or number)
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    #[command(flatten)]
    pub containers: ContainersArgs,
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Follow the output until the container stops
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines from the end (`all` for every line)
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Only lines since a time (RFC 3339, Unix seconds, or a duration like `10m`)
    #[arg(long)]
    pub since: Option<String>,
    pub container: String,
}

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Keep stdin open
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Run in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Set an environment variable
    #[arg(short, long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// User to run as: UID[:GID] or NAME[:GROUP]
    #[arg(short, long)]
    pub user: Option<String>,
    /// Every capability and no seccomp filter for this command (inside the user namespace)
    #[arg(long)]
    pub privileged: bool,
    pub container: String,
    /// The command and its arguments
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Go template (`{{.State.Status}}`) or `json`
    #[arg(short, long)]
    pub format: Option<String>,
    /// Show sizes (accepted for Docker compatibility)
    #[arg(short, long)]
    pub size: bool,
    #[command(flatten)]
    pub containers: ContainersArgs,
}

#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// New restart policy
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<crate::spec::restart::RestartPolicy>,
    #[command(flatten)]
    pub containers: ContainersArgs,
}

#[derive(Debug, clap::Args)]
pub struct AttachArgs {
    /// The container (started with `run -d`); Ctrl-P Ctrl-Q detaches
    pub container: String,
}

#[derive(Debug, clap::Args)]
pub struct TopArgs {
    pub container: String,
    /// Options for ps(1) (default `-f`)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_options: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

#[derive(Debug, clap::Args)]
pub struct CpArgs {
    /// `CONTAINER:PATH` or a host path
    pub source: String,
    /// `CONTAINER:PATH` or a host path
    pub destination: String,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    pub container: String,
}

#[derive(Debug, clap::Args)]
pub struct PortArgs {
    pub container: String,
    /// One container port: PORT[/PROTO]
    pub port: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Show one sample and exit (accepted for Docker compatibility)
    #[arg(long)]
    pub no_stream: bool,
    pub containers: Vec<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ContainerCommand {
    /// Remove all stopped containers
    Prune {
        /// Do not ask for confirmation
        #[arg(short, long)]
        force: bool,
    },
}
