//! `devbox tag SOURCE TARGET`.

use crate::cli::image::TagArgs;
use crate::context::Context;
use crate::image::Reference;
use crate::ui::diagnostics::{ExitStatus, UserError};

pub fn tag(args: TagArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let target = Reference::parse(&args.target)?;
    if target.digest.is_some() {
        return Err(
            UserError::new("refusing to create a tag with a digest reference")
                .with_hint("name the target NAME[:TAG]")
                .into(),
        );
    }
    ctx.store()?.tag_image(&args.source, &target)?;
    Ok(ExitStatus::Success)
}
