//! clap definitions only: no I/O and no behaviour here (STYLE: uv-cli).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

pub mod container;
pub mod image;
pub mod internal;
pub mod registry;
pub mod system;

/// The entry point of the binary: parse, run, render the outcome.
pub fn run(args: impl IntoIterator<Item = OsString>) -> std::process::ExitCode {
    crate::commands::main(Cli::parse_from(args))
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
    /// Storage driver for container root filesystems
    #[arg(long, global = true, value_enum, value_name = "DRIVER")]
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
    Run(container::RunArgs),
    /// Remove one or more containers
    Rm(container::RmArgs),
    /// List containers
    Ps(container::PsArgs),
    /// Import a root filesystem tarball as a one-layer image
    Import(image::ImportArgs),
    /// List images
    Images(image::ImagesArgs),
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
    #[command(flatten)]
    Internal(internal::InternalCommand),
}
