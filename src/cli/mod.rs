//! clap definitions only: no I/O and no behaviour here (STYLE: uv-cli).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

pub mod build;
pub mod compose;
pub mod container;
pub mod image;
pub mod internal;
pub mod network;
pub mod python;
pub mod registry;
pub mod system;
pub mod volume;

/// The entry point of the binary: parse, run, render the outcome.
pub fn run(args: impl IntoIterator<Item = OsString>) -> std::process::ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    let cli = parse_hot(&args).unwrap_or_else(|| Cli::parse_from(&args));
    crate::commands::main(cli)
}

/// The verbs on the path of every container start (`run`, `exec` and the hidden child
/// roles such as `__init`) parsed with a command tree that holds only them: clap builds
/// its whole tree (every verb, every flag) before it parses, and that was most of
/// devbox's own start-up, paid by the CLI and again by each role it re-executes.
/// Anything else, and any parse that fails or asks for help or the version, returns
/// `None` and goes through the whole tree, so what users see does not change.
fn parse_hot(args: &[OsString]) -> Option<Cli> {
    use clap::{Args, FromArgMatches};
    let base = GlobalArgs::augment_args(clap::Command::new("devbox"));
    let tree = match verb(args, &base)? {
        "run" => base.subcommand(container::RunArgs::augment_args(clap::Command::new("run"))),
        "exec" => base.subcommand(container::ExecArgs::augment_args(clap::Command::new(
            "exec",
        ))),
        role if role.starts_with("__") => internal::InternalCommand::augment_subcommands(base),
        _ => return None,
    };
    let matches = tree.try_get_matches_from(args).ok()?;
    Cli::from_arg_matches(&matches).ok()
}

/// The verb of a command line: the first word after the global options (`globals`, the
/// tree of [`GlobalArgs`] alone, says which they are and which take a value).
fn verb<'a>(args: &'a [OsString], globals: &clap::Command) -> Option<&'a str> {
    let mut words = args.iter().skip(1).map(|a| a.to_str());
    while let Some(word) = words.next() {
        let word = word?;
        let global = if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = long
                .split_once('=')
                .map_or((long, false), |(n, _)| (n, true));
            globals
                .get_arguments()
                .find(|a| a.get_long() == Some(name))
                .map(|a| a.get_action().takes_values() && !inline)
        } else if let Some(short) = word.strip_prefix('-') {
            let mut chars = short.chars();
            let flag = chars.next().filter(|_| chars.next().is_none())?;
            globals
                .get_arguments()
                .find(|a| a.get_short() == Some(flag))
                .map(|a| a.get_action().takes_values())
        } else {
            return Some(word);
        };
        match global {
            Some(true) => {
                words.next();
            }
            Some(false) => {}
            None => return None,
        }
    }
    None
}

#[derive(Debug, Parser)]
#[command(
    name = "devbox",
    version,
    about = "Rootless, daemonless containers for Python developers",
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// Store location (images, layers, containers)
    #[arg(long, global = true, env = crate::env_vars::DEVBOX_ROOT, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Runtime state location (defaults to a directory under $XDG_RUNTIME_DIR keyed by --root)
    #[arg(long, global = true, env = crate::env_vars::DEVBOX_RUNROOT, value_name = "DIR")]
    pub runroot: Option<PathBuf>,
    /// Storage driver for container root filesystems (default: the one recorded for the store, detected on first use)
    #[arg(long, global = true, value_enum, env = crate::env_vars::DEVBOX_STORAGE_DRIVER, value_name = "DRIVER")]
    pub storage_driver: Option<StorageDriver>,
    /// Print debug messages
    #[arg(short = 'D', long, global = true)]
    pub debug: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StorageDriver {
    /// The kernel's overlayfs, mounted inside the user namespace
    Overlay,
    /// devbox's own FUSE overlay filesystem
    FuseOverlayfs,
    /// Plain copies (slow, works everywhere)
    Vfs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command in a new container
    Run(Box<container::RunArgs>),
    /// Remove one or more containers
    Rm(container::RmArgs),
    /// List containers
    Ps(container::PsArgs),
    /// Start one or more stopped containers
    Start(container::StartArgs),
    /// Stop one or more running containers
    Stop(container::StopArgs),
    /// Restart one or more containers
    Restart(container::StopArgs),
    /// Send a signal to running containers
    Kill(container::KillArgs),
    /// Show a container's output
    Logs(container::LogsArgs),
    /// Attach to a running container's input and output
    Attach(container::AttachArgs),
    /// Stop all processes of containers (SIGSTOP: no cgroup freezer here)
    Pause(container::ContainersArgs),
    /// Continue the processes of paused containers
    Unpause(container::ContainersArgs),
    /// Show the processes of a running container
    Top(container::TopArgs),
    /// Rename a container
    Rename(container::RenameArgs),
    /// Copy files between a container and the host
    Cp(container::CpArgs),
    /// Show the files a container added (A), changed (C) or deleted (D)
    Diff(container::DiffArgs),
    /// List a container's published ports
    Port(container::PortArgs),
    /// Resource usage of containers (needs a delegated cgroup)
    Stats(container::StatsArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(container::ContainerCommand),
    /// Block until containers stop, then print their exit codes
    Wait(container::ContainersArgs),
    /// Run a command in a running container
    Exec(container::ExecArgs),
    /// Show low-level information on containers
    Inspect(container::InspectArgs),
    /// Change a container's restart policy
    Update(container::UpdateArgs),
    /// Manage devbox itself: start containers at boot, the login service
    #[command(subcommand)]
    System(system::SystemCommand),
    /// Import a root filesystem tarball as a one-layer image
    Import(image::ImportArgs),
    /// List images
    Images(image::ImagesArgs),
    /// Manage volumes
    Volume(volume::VolumeArgs),
    /// Manage user-defined networks
    Network(network::NetworkArgs),
    /// Multi-service projects from compose.yaml
    Compose(compose::ComposeArgs),
    /// Start the project here: its compose file, or a Python project with no set-up at all
    Up(compose::UpArgs),
    /// Stop and remove what `devbox up` started here
    Down(compose::DownArgs),
    /// Run the Python project's tests in a throw-away container (the tree is never written)
    Test(python::TestArgs),
    /// A shell in the Python project's dev container, with the source mounted over /app
    Shell(python::ShellArgs),
    /// Build an image from a Dockerfile
    Build(build::BuildArgs),
    /// Create an image from a container's changes
    Commit(build::CommitArgs),
    /// Write a Dockerfile, .dockerignore and compose.yaml for the Python project in DIR
    Init(python::InitArgs),
    /// Manage images
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Remove one or more images
    Rmi(image::RmiArgs),
    /// Create a tag TARGET that refers to SOURCE
    Tag(image::TagArgs),
    /// Show the history of an image
    History(image::HistoryArgs),
    /// Save images to a tar archive (streamed to stdout by default)
    Save(image::SaveArgs),
    /// Load images from a tar archive or stdin
    Load(image::LoadArgs),
    /// Download an image from a registry
    Pull(registry::PullArgs),
    /// Upload an image to a registry
    Push(registry::PushArgs),
    /// Log in to a registry
    Login(registry::LoginArgs),
    /// Log out of a registry
    Logout(registry::LogoutArgs),
    /// Search a registry for images
    Search(registry::SearchArgs),
    /// Check that this machine can run rootless containers, and say how to fix what is missing
    Doctor(system::DoctorArgs),
    /// Display system-wide information
    Info(system::InfoArgs),
    /// Run a command in the rootless user namespace, as root there (e.g. to remove or chown
    /// files that containers made as other users)
    Unshare(system::UnshareArgs),
    #[command(flatten)]
    Internal(internal::InternalCommand),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn hot_verbs_parse_as_the_whole_tree_does() {
        for line in [
            "devbox run --rm -it -e A=1 -v /a:/b:ro --network none bb sh -c true",
            "devbox --root /s -D run -h host --name n bb",
            "devbox --storage-driver=vfs run --rm bb ls --help",
            "devbox --runroot /r exec -it -u 1000 c sh",
            "devbox __init --fd 3",
            "devbox --root /s __monitor --fd 4 abc",
            "devbox __fuse-overlay --fuse-fd 5 --upper /u --work /w --userxattr /l1 /l2",
        ] {
            let args = words(line);
            let hot = parse_hot(&args).unwrap_or_else(|| panic!("not taken: {line}"));
            let whole = Cli::try_parse_from(&args).unwrap();
            assert_eq!(format!("{hot:?}"), format!("{whole:?}"), "{line}");
        }
    }

    #[test]
    fn help_errors_and_other_verbs_take_the_whole_tree() {
        for line in [
            "devbox run --help",
            "devbox run --no-such-flag bb",
            "devbox exec",
            "devbox --version",
            "devbox ps -a",
            "devbox --unknown run bb",
            "devbox",
        ] {
            assert!(parse_hot(&words(line)).is_none(), "{line}");
        }
    }
}
