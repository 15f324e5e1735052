//! Image verbs: import, images (pull, push, ... follow).

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

#[derive(Debug, clap::Args)]
pub struct ImagesArgs {
    /// Only show image ids
    #[arg(short, long)]
    pub quiet: bool,
    /// Show all images (no intermediate images are hidden yet)
    #[arg(short, long)]
    pub all: bool,
}
