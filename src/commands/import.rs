//! `devbox import`.

use std::ffi::OsString;
use std::path::Path;

use anyhow::Context as _;

use crate::cli::image::ImportArgs;
use crate::context::Context;
use crate::image::import::{self, ImportRequest, Unpacker};
use crate::image::{Digest, Reference};
use crate::runtime::idmap::IdMapping;
use crate::runtime::{remove, userns};
use crate::ui::diagnostics::ExitStatus;

/// Unpacks and removes layers inside the user namespace (shared with `pull`).
pub(crate) struct UsernsUnpacker {
    pub(crate) mapping: IdMapping,
}

impl Unpacker for UsernsUnpacker {
    fn unpack(&self, blob: &Path, dest: &Path, diff_id: &Digest) -> Result<(), String> {
        let role = [
            OsString::from("__unpack"),
            blob.as_os_str().to_os_string(),
            dest.as_os_str().to_os_string(),
            OsString::from("--diff-id"),
            OsString::from(diff_id.to_string()),
        ];
        userns::run_helper(&self.mapping, &role).map_err(|e| e.to_string())
    }

    fn remove(&self, path: &Path) -> Result<(), String> {
        remove::remove_tree(&self.mapping, path).map_err(|e| e.to_string())
    }
}

impl UsernsUnpacker {
    /// The unpacker for this user's mapping (warning when it is degraded).
    pub(super) fn detect(ctx: &Context) -> anyhow::Result<UsernsUnpacker> {
        let (mapping, warning) = userns::detect_mapping(&ctx.paths.host)?;
        if let Some(warning) = warning {
            ctx.printer.warn(warning);
        }
        Ok(UsernsUnpacker { mapping })
    }
}

pub fn import(args: ImportArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let reference = Reference::parse(&args.reference)?;
    let store = ctx.store()?;
    let unpacker = UsernsUnpacker::detect(ctx)?;
    let mut source: Box<dyn std::io::Read> = if args.file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(fs_err::File::open(&args.file)?)
    };
    let request = ImportRequest {
        reference: reference.clone(),
        changes: args.changes,
        message: args.message,
    };
    let id = import::import(&store, &mut source, &request, &unpacker)
        .with_context(|| format!("cannot import {}", args.file.display()))?;
    ctx.printer.data(id);
    Ok(ExitStatus::Success)
}
