//! `devbox images`.

use crate::cli::image::ImagesArgs;
use crate::context::Context;
use crate::ui::diagnostics::ExitStatus;

pub fn images(args: ImagesArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let refs = store.list_refs()?;
    if !args.quiet {
        ctx.printer.data(format!(
            "{:<40}{:<16}{:<14}{}",
            "REPOSITORY", "TAG", "IMAGE ID", "CREATED"
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (reference, manifest) in refs {
        let image = store.load_image(Some(reference.clone()), manifest)?;
        if args.quiet {
            if seen.insert(image.id.clone()) {
                ctx.printer.data(image.id.short());
            }
            continue;
        }
        ctx.printer.data(format!(
            "{:<40}{:<16}{:<14}{}",
            reference.familiar_name(),
            reference.tag.as_deref().unwrap_or("<none>"),
            image.id.short(),
            image.config.created.as_deref().unwrap_or("")
        ));
    }
    Ok(ExitStatus::Success)
}
