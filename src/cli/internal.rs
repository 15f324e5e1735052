//! Hidden re-exec entry points: the only ways child roles start (STYLE rule 8).

use std::path::PathBuf;

#[derive(Debug, clap::Subcommand)]
pub enum InternalCommand {
    /// The container's first process: sets up the container and execs the command
    #[command(name = "__init", hide = true)]
    Init {
        /// The inherited socket to the parent
        #[arg(long)]
        fd: i32,
    },
    /// The monitor of a detached container: starts it, logs its output, restarts it
    #[command(name = "__monitor", hide = true)]
    Monitor {
        #[arg(long)]
        fd: i32,
        id: String,
    },
    /// Runs inside the user namespace only: unpacks a layer tar with its owners
    #[command(name = "__unpack", hide = true)]
    Unpack {
        #[arg(long)]
        fd: i32,
        tar: PathBuf,
        dest: PathBuf,
        /// The digest the uncompressed tar must have (checked while unpacking)
        #[arg(long)]
        diff_id: Option<String>,
    },
    /// Runs inside the user namespace only: writes an overlay upper dir as a layer tar
    #[command(name = "__pack", hide = true)]
    Pack {
        #[arg(long)]
        fd: i32,
        upper: PathBuf,
        out: PathBuf,
        /// Mount stubs to leave out when empty (e.g. `etc/hosts`)
        #[arg(long = "stub")]
        stubs: Vec<String>,
    },
    /// Runs inside the user namespace only: removes trees owned by mapped ids
    #[command(name = "__rmtree", hide = true)]
    Rmtree {
        #[arg(long)]
        fd: i32,
        paths: Vec<PathBuf>,
    },
    /// `devbox unshare`'s child, in the user namespace: execs the command it is sent
    #[command(name = "__unshare", hide = true)]
    Unshare {
        #[arg(long)]
        fd: i32,
    },
    #[command(name = "__shift-layer", hide = true)]
    ShiftLayer {
        #[arg(long)]
        fd: i32,
        #[arg(long)]
        uid: u32,
        #[arg(long)]
        gid: u32,
        source: PathBuf,
        staging: PathBuf,
        target: PathBuf,
    },
    /// Runs in new user and mount namespaces: tries a kernel overlay mount (for `doctor`)
    #[command(name = "__probe-overlay", hide = true)]
    ProbeOverlay {
        #[arg(long)]
        fd: i32,
        dir: PathBuf,
    },
    /// Publishes ports: binds host ports, then joins a container's user and network
    /// namespaces and forwards connections (driven over stdin/stdout)
    #[command(name = "__port-proxy", hide = true)]
    PortProxy,
    /// Holds a user-defined network: its namespace, bridge and DNS resolver (`net::holder`)
    #[command(name = "__network-holder", hide = true)]
    NetworkHolder {
        #[arg(long)]
        fd: i32,
        /// The network's id (for `ps`; the configuration comes over the channel)
        id: String,
    },
    /// Serves the FUSE overlay root of a container from inside its user namespace
    #[command(name = "__fuse-overlay", hide = true)]
    FuseOverlay {
        /// The mounted FUSE connection, inherited
        #[arg(long)]
        fuse_fd: i32,
        /// Join the user namespace of this process (the container's init)
        #[arg(long)]
        userns_pid: Option<i32>,
        #[arg(long)]
        upper: PathBuf,
        #[arg(long)]
        work: PathBuf,
        /// Opaque directories use `user.overlay.opaque`
        #[arg(long)]
        userxattr: bool,
        /// Read-only layers, top first
        lowers: Vec<PathBuf>,
    },
}
