//! `devbox wait`: one exit code per container, as Docker prints them.

use super::each::each_container;
use crate::cli::container::ContainersArgs;
use crate::context::Context;
use crate::runtime::{inspect, lifecycle};
use crate::ui::diagnostics::ExitStatus;

pub fn wait(args: ContainersArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    each_container(ctx, &args.containers, false, |store, id| {
        let code = lifecycle::wait(&ctx.paths, store, id)?.unwrap_or(inspect::UNKNOWN_EXIT_CODE);
        ctx.printer.data(code);
        Ok(())
    })
}
