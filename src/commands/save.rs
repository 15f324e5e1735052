//! `devbox save` and `devbox load` (also under `devbox image`).

use std::io::{IsTerminal as _, Write as _};

use anyhow::Context as _;

use super::import::UsernsUnpacker;
use crate::cli::image::{ArchiveFormat, LoadArgs, SaveArgs};
use crate::context::Context;
use crate::image::archive::{self, Format, SaveImage};
use crate::store::atomic;
use crate::ui::diagnostics::{ExitStatus, UserError};

pub fn save(args: SaveArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let mut images = Vec::new();
    for name in &args.images {
        let image = store.resolve_image(name)?;
        // Saved by tag: that tag; by id: no tag (Docker's `RepoTags: null`).
        let tags = image.reference.iter().cloned().collect();
        images.push(SaveImage { image, tags });
    }
    let format = match args.format {
        ArchiveFormat::DockerArchive => Format::DockerArchive,
        ArchiveFormat::OciArchive => Format::OciArchive,
    };
    match &args.output {
        Some(path) => {
            // Written beside the target and renamed: no half archive under its name.
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("archive");
            let tmp = dir
                .unwrap_or(std::path::Path::new("."))
                .join(format!(".{name}.tmp-{}", atomic::unique_suffix()));
            let result = (|| -> anyhow::Result<()> {
                let mut file = std::io::BufWriter::new(fs_err::File::create(&tmp)?);
                archive::save(&store, &images, format, &mut file)?;
                file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                fs_err::rename(&tmp, path)?;
                Ok(())
            })();
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result.with_context(|| format!("cannot save to {}", path.display()))?;
        }
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                return Err(UserError::new("cowardly refusing to save to a terminal")
                    .with_hint("use `-o FILE` or redirect the output")
                    .into());
            }
            let mut out = std::io::BufWriter::new(stdout.lock());
            archive::save(&store, &images, format, &mut out)?;
            out.flush()?;
        }
    }
    Ok(ExitStatus::Success)
}

pub fn load(args: LoadArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let unpacker = UsernsUnpacker::detect(ctx)?;
    let mut input: Box<dyn std::io::Read> = match &args.input {
        Some(path) => Box::new(fs_err::File::open(path)?),
        None => {
            if std::io::stdin().is_terminal() {
                return Err(
                    UserError::new("requested load from stdin, but stdin is a terminal")
                        .with_hint("use `-i FILE` or redirect the input")
                        .into(),
                );
            }
            Box::new(std::io::stdin().lock())
        }
    };
    let source = args
        .input
        .as_ref()
        .map_or("stdin".to_string(), |p| p.display().to_string());
    let loaded = archive::load(&store, &mut input, &unpacker)
        .with_context(|| format!("cannot load {source}"))?;
    for image in loaded {
        for (tag, old) in &image.replaced {
            ctx.printer.data(format!(
                "The image {} already exists, renaming the old one with ID {old} to empty string",
                tag.familiar()
            ));
        }
        if image.tags.is_empty() {
            ctx.printer.data(format!("Loaded image ID: {}", image.id));
        }
        for tag in image.tags {
            ctx.printer
                .data(format!("Loaded image: {}", tag.familiar()));
        }
    }
    Ok(ExitStatus::Success)
}
