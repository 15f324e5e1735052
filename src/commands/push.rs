//! `devbox push SOURCE [DESTINATION]`: prints the pushed manifest digest on
//! stdout.

use anyhow::Context as _;

use super::pull::{client_options, quiet_or};
use crate::cli::registry::PushArgs;
use crate::context::Context;
use crate::image::registry::client::{repository_scope, Access};
use crate::image::registry::{push, Client};
use crate::image::Reference;
use crate::ui::diagnostics::ExitStatus;
use crate::ui::progress::{Direction, TransferProgress};

pub fn push(args: PushArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let image = store.resolve_image(&args.source)?;
    let destination = Reference::parse(args.destination.as_deref().unwrap_or(&args.source))?;
    let printer = quiet_or(ctx, args.quiet);
    let options = client_options(ctx, &destination.registry, args.tls.tls_verify)?;
    let what = || format!("cannot push to `{}`", destination.familiar());
    printer.status(format!(
        "The push refers to repository [{}]",
        destination.name()
    ));
    let repository = &destination.repository;
    let client = Client::connect(
        &destination.registry,
        &options,
        Some(&repository_scope(repository, Access::Push)),
    )
    .with_context(what)?;
    let tag = match (&destination.digest, &destination.tag) {
        (Some(digest), _) => digest.to_string(),
        (None, Some(tag)) => tag.clone(),
        (None, None) => "latest".into(),
    };
    let progress = TransferProgress::new(printer, Direction::Push);
    let digest =
        push::push(&client, &store, &image, repository, &tag, &progress).with_context(what)?;
    let size = store.read_blob(&digest).map(|b| b.len()).unwrap_or(0);
    printer.status(format!("{tag}: digest: {digest} size: {size}"));
    ctx.printer.data(digest);
    Ok(ExitStatus::Success)
}
