//! Image verbs: the `image` group and Docker's top-level aliases.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// A tar (plain or gzip) of a root filesystem, or `-` for stdin
    pub file: PathBuf,
    /// The image name, NAME[:TAG]
    pub reference: String,
    /// Apply a Dockerfile instruction to the image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL)
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<String>,
    /// Commit message recorded in the image history
    #[arg(short, long)]
    pub message: Option<String>,
}

/// `devbox image COMMAND`: Docker's image management group.
#[derive(Debug, clap::Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Show the details of one or more images as JSON
    Inspect(InspectArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Create a tag TARGET that refers to SOURCE
    Tag(TagArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove")]
    Rm(RmiArgs),
    /// Remove unused images
    Prune(PruneArgs),
    /// Save images to a tar archive (streamed to stdout by default)
    Save(SaveArgs),
    /// Load images from a tar archive or stdin
    Load(LoadArgs),
    /// Import a root filesystem tarball as a one-layer image
    Import(ImportArgs),
    /// Make a Debian or Ubuntu base image with mmdebstrap, without a registry
    Bootstrap(BootstrapArgs),
}

/// `--format` of list commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// Aligned columns (the default)
    Table,
    /// One JSON object per line (Docker's `--format json`)
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ImagesArgs {
    /// Only show image ids
    #[arg(short, long)]
    pub quiet: bool,
    /// Show all images (devbox keeps no intermediate images, so this is the default list)
    #[arg(short, long)]
    pub all: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Output format: `table`, `json`, or a Go template (`{{.Repository}}:{{.Tag}}`,
    /// `table {{.ID}}\t{{.Size}}`)
    #[arg(long)]
    pub format: Option<String>,
    /// Only images of this repository (and tag)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub repository: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Images (names or ids)
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image ids
    #[arg(short, long)]
    pub quiet: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// The image (name or id)
    pub image: String,
}

#[derive(Debug, clap::Args)]
pub struct TagArgs {
    /// The image to tag (name or id)
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    /// The new name
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: String,
}

#[derive(Debug, clap::Args)]
pub struct RmiArgs {
    /// Remove even if a container uses the image, or (given by id) it has several tags
    #[arg(short, long)]
    pub force: bool,
    /// Images (names or ids)
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Remove every image no container uses, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

/// Archive formats of `save`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ArchiveFormat {
    /// Docker's `docker save` layout: manifest.json, repositories, config and layer tars
    DockerArchive,
    /// An OCI image layout (oci-layout, index.json, blobs/sha256) in a tar
    OciArchive,
}

#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    /// Write to this file instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Archive format
    #[arg(long, value_enum, default_value_t = ArchiveFormat::DockerArchive)]
    pub format: ArchiveFormat,
    /// Images (names or ids)
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Read from this file instead of stdin (docker-archive or OCI archive, plain or gzip)
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Print only the loaded images' names or ids
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct BootstrapArgs {
    /// Debian or Ubuntu suite (bookworm, trixie, noble, ...)
    #[arg(long, default_value = "bookworm")]
    pub suite: String,
    /// Mirror URL (default: mmdebstrap's choice for the suite)
    #[arg(long, value_name = "URL")]
    pub mirror: Option<String>,
    /// Extra packages, comma- or space-separated (repeatable)
    #[arg(long, value_name = "PKGS")]
    pub include: Vec<String>,
    /// mmdebstrap variant
    #[arg(long, default_value = "minbase")]
    pub variant: String,
    /// Architecture (default: this machine's)
    #[arg(long)]
    pub arch: Option<String>,
    /// The image name, NAME[:TAG]
    pub reference: String,
}
