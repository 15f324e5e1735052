//! `devbox rmi` / `image rm` and `image prune`: untag and delete images,
//! then collect the blobs and layers nothing references any more.

use std::io::IsTerminal as _;

use super::import::UsernsUnpacker;
use crate::cli::image::{PruneArgs, RmiArgs};
use crate::context::Context;
use crate::image::import::Unpacker as _;
use crate::store::images::Removal;
use crate::store::Store;
use crate::ui::diagnostics::{self, ExitStatus};
use crate::ui::units::human_size_with_precision;

pub fn rmi(args: RmiArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let mut status = ExitStatus::Success;
    let mut removed_any = false;
    // Like Docker: each image on its own; an error does not stop the others.
    for name in &args.images {
        match store.remove_image(name, args.force) {
            Ok(steps) => {
                removed_any |= !steps.is_empty();
                for step in steps {
                    ctx.printer.data(match step {
                        Removal::Untagged(r) => format!("Untagged: {}", r.familiar()),
                        Removal::Deleted(id) => format!("Deleted: {id}"),
                    });
                }
            }
            Err(e) => {
                let (text, _) = diagnostics::render(&anyhow::Error::new(e));
                ctx.printer.error(&text);
                status = ExitStatus::Failure;
            }
        }
    }
    if removed_any {
        collect_garbage(&store, ctx)?;
    }
    Ok(status)
}

pub fn prune(args: PruneArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    if !args.force && !confirm(ctx, args.all) {
        return Ok(ExitStatus::Success);
    }
    let store = ctx.store()?;
    let steps = store.prune_images(args.all)?;
    let reclaimed = collect_garbage(&store, ctx)?;
    if !steps.is_empty() {
        ctx.printer.data("Deleted Images:");
        for step in steps {
            ctx.printer.data(match step {
                Removal::Untagged(r) => format!("untagged: {}", r.familiar()),
                Removal::Deleted(id) => format!("deleted: {id}"),
            });
        }
        ctx.printer.data("");
    }
    ctx.printer.data(format!(
        "Total reclaimed space: {}",
        human_size_with_precision(reclaimed, 3)
    ));
    Ok(ExitStatus::Success)
}

/// Docker's prompt (it asks even when stdin is not a terminal; EOF is "no").
fn confirm(ctx: &Context, all: bool) -> bool {
    ctx.printer.status(if all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    });
    ctx.printer
        .status("Are you sure you want to continue? [y/N]");
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    let yes = matches!(answer.trim(), "y" | "Y" | "yes" | "Yes");
    if !yes && !std::io::stdin().is_terminal() && answer.is_empty() {
        ctx.printer
            .status("not confirmed (pass `-f` to prune without a prompt)");
    }
    yes
}

/// Removes what no image or container references; returns the bytes freed.
fn collect_garbage(store: &Store, ctx: &Context) -> anyhow::Result<u64> {
    let unpacker = UsernsUnpacker::detect(ctx)?;
    Ok(store.collect_garbage(&|path| unpacker.remove(path))?)
}
