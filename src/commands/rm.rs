//! `devbox rm`.

use super::each::each_container;
use crate::cli::container::RmArgs;
use crate::context::Context;
use crate::runtime::{remove, userns};
use crate::ui::diagnostics::ExitStatus;

pub fn rm(args: RmArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let (mapping, _) = userns::detect_mapping(&ctx.paths.host)?;
    each_container(ctx, &args.containers, true, |store, id| {
        Ok(remove::remove_container(store, &mapping, id, args.force)?)
    })
}
