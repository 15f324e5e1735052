//! `devbox start [-a]`.

use super::each::each_container;
use crate::cli::container::StartArgs;
use crate::context::Context;
use crate::runtime::lifecycle;
use crate::ui::diagnostics::ExitStatus;

pub fn start(args: StartArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let names = &args.containers.containers;
    if args.attach {
        // `start -a`: the container runs in the foreground, as `run` does.
        let [name] = names.as_slice() else {
            anyhow::bail!("`start -a` takes exactly one container");
        };
        let store = ctx.store()?;
        let id = store.resolve_container(name)?;
        let code = lifecycle::start_attached(&ctx.paths, &store, &id)?;
        return Ok(ExitStatus::Container(code));
    }
    each_container(ctx, names, true, |store, id| {
        Ok(lifecycle::start(&ctx.paths, store, id)?)
    })
}
