//! `devbox image COMMAND` (Docker's image group) and `image inspect`.

use serde_json::json;

use crate::cli::image::{ImageCommand, InspectArgs};
use crate::context::Context;
use crate::ui::diagnostics::ExitStatus;

pub fn image(command: ImageCommand, ctx: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        ImageCommand::Ls(args) => super::images::images(args, ctx),
        ImageCommand::Inspect(args) => inspect(args, ctx),
        ImageCommand::History(args) => super::history::history(args, ctx),
        ImageCommand::Tag(args) => super::tag::tag(args, ctx),
        ImageCommand::Rm(args) => super::rmi::rmi(args, ctx),
        ImageCommand::Prune(args) => super::rmi::prune(args, ctx),
        ImageCommand::Save(args) => super::save::save(args, ctx),
        ImageCommand::Load(args) => super::save::load(args, ctx),
        ImageCommand::Import(args) => super::import::import(args, ctx),
        ImageCommand::Bootstrap(args) => super::bootstrap::bootstrap(args, ctx),
    }
}

/// Docker's `image inspect` shape: a JSON array, one object per image.
pub fn inspect(args: InspectArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let entries = store.list_images()?;
    let mut out = Vec::new();
    for name in &args.images {
        let image = store.resolve_image(name)?;
        let tags = entries
            .iter()
            .find(|e| e.id == image.id)
            .map(|e| e.tags.clone())
            .unwrap_or_default();
        let mut repos: Vec<String> = tags.iter().map(|t| t.familiar_name()).collect();
        repos.dedup();
        let config = &image.config;
        out.push(json!({
            "Id": image.id.to_string(),
            "RepoTags": tags.iter().map(|t| t.familiar()).collect::<Vec<_>>(),
            "RepoDigests": repos
                .iter()
                .map(|r| format!("{r}@{}", image.manifest_digest))
                .collect::<Vec<_>>(),
            "Parent": "",
            "Comment": config.history.last().and_then(|h| h.comment.clone()).unwrap_or_default(),
            "Created": config.created.clone().unwrap_or_default(),
            "Author": config.author.clone().unwrap_or_default(),
            "Config": config.config,
            "Architecture": config.architecture,
            "Os": config.os,
            "Size": image.size(),
            "RootFS": {
                "Type": config.rootfs.kind,
                "Layers": config.rootfs.diff_ids,
            },
            "Metadata": {},
        }));
    }
    ctx.printer.data(serde_json::to_string_pretty(&out)?);
    Ok(ExitStatus::Success)
}
