//! `devbox pull`: prints Docker's status lines on stderr and the full
//! reference on stdout (as `docker pull` ends; Podman prints the image id,
//! which `devbox images -q` gives).

use anyhow::Context as _;

use super::import::UsernsUnpacker;
use crate::cli::registry::PullArgs;
use crate::context::Context;
use crate::image::credentials::AuthFiles;
use crate::image::registry::client::{repository_scope, Access};
use crate::image::registry::pull::{self, PullRequest};
use crate::image::registry::{Client, ClientOptions, PlatformSpec};
use crate::image::Reference;
use crate::runtime::userns;
use crate::ui::diagnostics::ExitStatus;
use crate::ui::printer::{Printer, Verbosity};
use crate::ui::progress::{Direction, TransferProgress};

pub fn pull(args: PullArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let reference = Reference::parse(&args.reference)?;
    let platform = args
        .platform
        .as_deref()
        .map(str::parse::<PlatformSpec>)
        .transpose()?;
    let store = ctx.store()?;
    let (mapping, warning) = userns::detect_mapping(&ctx.paths.host)?;
    if let Some(warning) = warning {
        ctx.printer.warn(warning);
    }
    let printer = quiet_or(ctx, args.quiet);
    let options = client_options(ctx, &reference.registry, args.tls.tls_verify)?;
    let what = || format!("cannot pull `{}`", reference.familiar());
    printer.status(format!(
        "{}: Pulling from {}",
        reference
            .tag
            .clone()
            .or(reference.digest.as_ref().map(ToString::to_string))
            .unwrap_or_default(),
        reference.repository
    ));
    let client = Client::connect(
        &reference.registry,
        &options,
        Some(&repository_scope(&reference.repository, Access::Pull)),
    )
    .with_context(what)?;
    let progress = TransferProgress::new(printer, Direction::Pull);
    let request = PullRequest {
        reference: &reference,
        platform,
    };
    let pulled = pull::pull(
        &client,
        &store,
        &UsernsUnpacker { mapping },
        &request,
        &progress,
    )
    .with_context(what)?;
    printer.status(format!("Digest: {}", pulled.digest));
    printer.status(if pulled.changed {
        format!(
            "Status: Downloaded newer image for {}",
            reference.familiar()
        )
    } else {
        format!("Status: Image is up to date for {}", reference.familiar())
    });
    ctx.printer.data(&reference);
    Ok(ExitStatus::Success)
}

/// The printer, silenced by `-q` (data lines still print).
pub(super) fn quiet_or(ctx: &Context, quiet: bool) -> Printer {
    if quiet {
        Printer::new(Verbosity::Quiet)
    } else {
        ctx.printer
    }
}

/// Where `login` keeps credentials: `auth.json` next to devbox's config.
pub(super) fn auth_files(ctx: &Context) -> AuthFiles {
    let dir = ctx
        .paths
        .config_file
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    AuthFiles::new(&dir)
}

/// Registry notices (retries) as warnings, whatever the verbosity.
pub(super) fn warn(message: &str) {
    crate::ui::Printer::new(crate::ui::printer::Verbosity::Normal).warn(message);
}

/// TLS settings and the stored credentials for `registry`.
pub(super) fn client_options(
    ctx: &Context,
    registry: &str,
    tls_verify: bool,
) -> anyhow::Result<ClientOptions> {
    Ok(ClientOptions {
        tls_verify,
        credentials: auth_files(ctx).lookup(registry)?,
        warn: Some(warn),
    })
}
