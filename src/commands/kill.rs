//! `devbox kill [-s SIGNAL]`.

use super::each::each_container;
use crate::cli::container::KillArgs;
use crate::context::Context;
use crate::runtime::lifecycle;
use crate::sys::process::signal_number;
use crate::ui::diagnostics::{ExitStatus, UserError};

pub fn kill(args: KillArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let Some(signal) = signal_number(&args.signal) else {
        return Err(UserError::new(format!("invalid signal `{}`", args.signal))
            .with_hint("use a name (`TERM`, `SIGHUP`) or a number (`9`)")
            .into());
    };
    each_container(ctx, &args.containers.containers, true, |store, id| {
        Ok(lifecycle::kill(store, id, signal)?)
    })
}
