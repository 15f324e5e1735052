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
    /// Runs inside the user namespace only: removes trees owned by mapped ids
    #[command(name = "__rmtree", hide = true)]
    Rmtree {
        #[arg(long)]
        fd: i32,
        paths: Vec<PathBuf>,
    },
    /// Runs in new user and mount namespaces: tries a kernel overlay mount (for `doctor`)
    #[command(name = "__probe-overlay", hide = true)]
    ProbeOverlay {
        #[arg(long)]
        fd: i32,
        dir: PathBuf,
    },
}
