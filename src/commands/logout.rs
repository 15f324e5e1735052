//! `devbox logout`: forgets the credentials devbox keeps (Docker's own
//! config file is left alone).

use super::pull::auth_files;
use crate::cli::registry::LogoutArgs;
use crate::context::Context;
use crate::image::credentials::registry_key;
use crate::image::reference::DEFAULT_REGISTRY;
use crate::ui::diagnostics::ExitStatus;

pub fn logout(args: LogoutArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let registry = registry_key(args.registry.as_deref().unwrap_or(DEFAULT_REGISTRY));
    if auth_files(ctx).remove(&registry)? {
        ctx.printer
            .status(format!("Removing login credentials for {registry}"));
    } else {
        ctx.printer.status(format!("Not logged in to {registry}"));
    }
    Ok(ExitStatus::Success)
}
