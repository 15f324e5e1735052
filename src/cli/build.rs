//! `devbox build` and `devbox commit` flags (Docker/Podman names).

use std::path::PathBuf;

use super::container::NetworkMode;

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The Dockerfile (default: CONTEXT/Dockerfile); its `<file>.dockerignore` is used if present
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Name the image NAME[:TAG] (repeatable)
    #[arg(short, long = "tag", value_name = "NAME[:TAG]")]
    pub tags: Vec<String>,
    /// Build up to this stage (by name)
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// Set a build-time variable declared with ARG (repeatable)
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
    /// Do not use the layer cache
    #[arg(long)]
    pub no_cache: bool,
    /// Network of RUN steps
    #[arg(long, value_enum, default_value_t = NetworkMode::Slirp4netns)]
    pub network: NetworkMode,
    /// Add a label to the image (repeatable)
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Print only the image id
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image id to this file
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Pull every FROM image from its registry, even when the store has it (missing
    /// ones are always pulled)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false)]
    pub pull: bool,
    /// Expose a secret to `RUN --mount=type=secret`: id=ID,src=PATH or id=ID,env=VAR
    #[arg(long = "secret", value_name = "id=ID,src=PATH")]
    pub secrets: Vec<String>,
    /// Forward an ssh agent to `RUN --mount=type=ssh`: default, or ID=SOCKET
    #[arg(long = "ssh", value_name = "default|ID[=SOCKET]")]
    pub ssh: Vec<String>,
    #[command(flatten)]
    pub tls: super::registry::TlsArgs,
    /// Accepted for compatibility; the host platform is always built
    #[arg(long, value_name = "PLATFORM", hide = true)]
    pub platform: Option<String>,
    /// The build context directory
    pub context: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct CommitArgs {
    /// Apply a Dockerfile instruction to the image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL, ONBUILD)
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<String>,
    /// Commit message recorded in the image history
    #[arg(short, long)]
    pub message: Option<String>,
    /// Author recorded in the image
    #[arg(short, long)]
    pub author: Option<String>,
    /// Accepted for compatibility (a foreground container is not running while it can be committed)
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, hide = true)]
    pub pause: bool,
    /// The container (name or id)
    pub container: String,
    /// The image name, NAME[:TAG]
    pub reference: Option<String>,
}
