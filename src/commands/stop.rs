//! `devbox stop` and `devbox restart`.

use std::time::Duration;

use super::each::each_container;
use crate::cli::container::StopArgs;
use crate::context::Context;
use crate::runtime::lifecycle;
use crate::ui::diagnostics::ExitStatus;

fn timeout(args: &StopArgs) -> Option<Duration> {
    args.time.map(Duration::from_secs)
}

pub fn stop(args: StopArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let timeout = timeout(&args);
    each_container(ctx, &args.containers.containers, true, |store, id| {
        Ok(lifecycle::stop(store, id, timeout)?)
    })
}

pub fn restart(args: StopArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let timeout = timeout(&args);
    each_container(ctx, &args.containers.containers, true, |store, id| {
        lifecycle::stop(store, id, timeout)?;
        Ok(lifecycle::start(&ctx.paths, store, id)?)
    })
}
