//! `devbox attach CONTAINER` (Ctrl-P Ctrl-Q detaches).

use crate::cli::container::AttachArgs;
use crate::context::Context;
use crate::runtime::attach::{self, Ended};
use crate::runtime::inspect::UNKNOWN_EXIT_CODE;
use crate::runtime::logs::Stream;
use crate::ui::diagnostics::ExitStatus;

pub fn attach(args: AttachArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let id = store.resolve_container(&args.container)?;
    let ended = attach::attach(&ctx.paths.run_root, &store, &id, |stream, bytes| {
        ctx.printer.output(stream == Stream::Stderr, bytes)
    })?;
    Ok(match ended {
        Ended::Detached => {
            ctx.printer.status("read escape sequence");
            ExitStatus::Success
        }
        Ended::Exited(code) => ExitStatus::Container(code.unwrap_or(UNKNOWN_EXIT_CODE)),
    })
}
