//! `devbox commit`.

use anyhow::Context as _;

use crate::build::executor::Runtime;
use crate::build::snapshot::{self, CommitRequest};
use crate::cli::build::CommitArgs;
use crate::context::Context;
use crate::image::Reference;
use crate::ui::diagnostics::ExitStatus;

pub fn commit(args: CommitArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let request = CommitRequest {
        container: args.container.clone(),
        reference: args
            .reference
            .as_deref()
            .map(Reference::parse)
            .transpose()?,
        changes: args.changes,
        message: args.message,
        author: args.author,
    };
    let store = ctx.store()?;
    // The layer and config exist before the tag (see `Store::begin_write`).
    let _writing = store.begin_write()?;
    let mapping = ctx.id_mapping()?;
    let runtime = Runtime {
        store: &store,
        puller: None,
        mapping,
        host: &ctx.paths.host,
        quiet: false,
    };
    let built = snapshot::commit_container(&runtime, &request)
        .with_context(|| format!("cannot commit {}", args.container))?;
    ctx.printer.data(built.id);
    Ok(ExitStatus::Success)
}
