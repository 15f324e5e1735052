//! `devbox rm`.

use crate::cli::container::RmArgs;
use crate::context::Context;
use crate::runtime::{remove, userns};
use crate::ui::diagnostics::ExitStatus;

pub fn rm(args: RmArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let (mapping, _) = userns::detect_mapping(&ctx.paths.host)?;
    let mut failed = None;
    for name in &args.containers {
        let result = store
            .resolve_container(name)
            .map_err(anyhow::Error::from)
            .and_then(|id| Ok(remove::remove_container(&store, &mapping, &id, args.force)?));
        match result {
            // Docker echoes what the user typed.
            Ok(()) => ctx.printer.data(name),
            Err(e) => {
                let (text, _) = crate::ui::diagnostics::render(&e);
                ctx.printer.error(&text);
                failed = Some(e);
            }
        }
    }
    match failed {
        Some(_) => Ok(ExitStatus::Container(1)),
        None => Ok(ExitStatus::Success),
    }
}
