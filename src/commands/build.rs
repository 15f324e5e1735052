//! `devbox build`.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;

use super::import::UsernsUnpacker;
use crate::build::builder::{self, BuildRequest, Reporter};
use crate::build::executor::{ImagePuller, Runtime};
use crate::build::secrets::{self, BuildInputs};
use crate::cli::build::BuildArgs;
use crate::cli::container::NetworkMode;
use crate::context::Context;
use crate::image::registry::client::{repository_scope, Access};
use crate::image::registry::pull::{self, PullRequest};
use crate::image::registry::Client;
use crate::image::Reference;
use crate::runtime::idmap::IdMapping;
use crate::runtime::userns;
use crate::spec::container::Network;
use crate::ui::diagnostics::{ExitStatus, UserError};
use crate::ui::printer::{Printer, Verbosity};
use crate::ui::progress::{Direction, TransferProgress};

/// Prints steps like Podman: `[1/2] STEP 2/5: RUN ...`, then `--> CACHED`
/// or the step's time.
struct StepPrinter {
    printer: Printer,
}

impl Reporter for StepPrinter {
    fn step(&self, stage: Option<(usize, usize)>, n: usize, total: usize, text: &str) {
        let prefix = stage.map_or(String::new(), |(i, m)| format!("[{i}/{m}] "));
        self.printer
            .status(format!("{prefix}STEP {n}/{total}: {text}"));
    }
    fn cached(&self) {
        self.printer.status("--> CACHED");
    }
    fn done(&self, elapsed: Duration) {
        self.printer
            .status(format!("--> done in {:.2}s", elapsed.as_secs_f64()));
    }
    fn warn(&self, message: &str) {
        self.printer.warn(message);
    }
}

/// Pulls the images a build names and the store lacks (or all, with `--pull`), with
/// `devbox pull`'s client, credentials and status lines.
pub(super) struct RegistryPuller<'a> {
    pub(super) ctx: &'a Context,
    pub(super) printer: Printer,
    pub(super) mapping: IdMapping,
    pub(super) tls_verify: bool,
}

impl ImagePuller for RegistryPuller<'_> {
    fn pull(&self, name: &str) -> Result<(), String> {
        let pull = || -> anyhow::Result<()> {
            let reference = Reference::parse(name)?;
            let store = self.ctx.store()?;
            let options =
                super::pull::client_options(self.ctx, &reference.registry, self.tls_verify)?;
            self.printer
                .status(format!("Pulling {}", reference.familiar()));
            let client = Client::connect(
                &reference.registry,
                &options,
                Some(&repository_scope(&reference.repository, Access::Pull)),
            )?;
            let progress = TransferProgress::new(self.printer, Direction::Pull);
            let request = PullRequest {
                reference: &reference,
                platform: None,
            };
            let unpacker = UsernsUnpacker {
                mapping: self.mapping.clone(),
            };
            let pulled = pull::pull(&client, &store, &unpacker, &request, &progress)?;
            self.printer.status(format!("Digest: {}", pulled.digest));
            Ok(())
        };
        pull().map_err(|e| format!("{e:#}"))
    }
}

/// `--secret` and `--ssh` as the build's inputs.
fn inputs(args: &BuildArgs) -> anyhow::Result<BuildInputs> {
    let secrets = args
        .secrets
        .iter()
        .map(|s| secrets::parse_secret(s))
        .collect::<Result<Vec<_>, _>>()?;
    let agent = std::env::var("SSH_AUTH_SOCK").ok();
    let ssh = args
        .ssh
        .iter()
        .map(|s| secrets::parse_ssh(s, agent.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(BuildInputs {
        pull: args.pull,
        secrets: secrets::by_id(secrets),
        ssh: secrets::by_id(ssh),
    })
}

/// `K=V`, or `K` alone taking the value from the environment (Docker).
fn key_values(
    items: &[String],
    what: &str,
    from_env: bool,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in items {
        match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                out.insert(k.to_string(), v.to_string());
            }
            None if from_env && !item.is_empty() => {
                if let Ok(v) = std::env::var(item) {
                    out.insert(item.clone(), v);
                }
            }
            _ => {
                return Err(
                    UserError::new(format!("invalid {what} `{item}`: expected KEY=VALUE")).into(),
                )
            }
        }
    }
    Ok(out)
}

pub fn build(args: BuildArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let printer = if args.quiet {
        Printer::new(Verbosity::Quiet)
    } else {
        ctx.printer
    };
    let tags = args
        .tags
        .iter()
        .map(|t| Reference::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    // Absolute: bind mounts of the context need a host path that works anywhere.
    let context = std::path::absolute(&args.context)?;
    let dockerfile = match &args.file {
        Some(file) => std::path::absolute(file)?,
        None => context.join("Dockerfile"),
    };
    let request = BuildRequest {
        context,
        dockerfile,
        tags: tags.clone(),
        target: args.target.clone(),
        build_args: key_values(&args.build_args, "--build-arg", true)?,
        no_cache: args.no_cache,
        network: match args.network {
            NetworkMode::Slirp4netns => Network::Slirp4netns,
            NetworkMode::None => Network::None,
            NetworkMode::Host => Network::Host,
        },
        labels: key_values(&args.labels, "--label", false)?,
        inputs: inputs(&args)?,
    };
    let store = ctx.store()?;
    // Blobs, layers and scratch containers exist before the tag: garbage
    // collection and `system check --repair` wait for the build.
    let _writing = store.begin_write()?;
    let (mapping, warning) = userns::detect_mapping(&ctx.paths.host)?;
    if let Some(warning) = warning {
        printer.warn(warning);
    }
    let puller = RegistryPuller {
        ctx,
        printer,
        mapping: mapping.clone(),
        tls_verify: args.tls.tls_verify,
    };
    let runtime = Runtime {
        store: &store,
        puller: Some(&puller),
        mapping,
        host: &ctx.paths.host,
        quiet: args.quiet,
    };
    let built = builder::build(&runtime, &request, &StepPrinter { printer })
        .with_context(|| format!("cannot build {}", args.context.display()))?;
    printer.status(format!("--> {}", built.id.short()));
    for tag in &tags {
        printer.status(format!("Successfully tagged {tag}"));
    }
    printer.status(format!("Successfully built {}", built.id.short()));
    if let Some(file) = &args.iidfile {
        fs_err::write(file, built.id.to_string())?;
    }
    printer.data(built.id);
    Ok(ExitStatus::Success)
}
