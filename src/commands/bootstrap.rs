//! `devbox image bootstrap`: mmdebstrap writes a root filesystem tar, which
//! is imported like `devbox import` does.

use anyhow::Context as _;

use super::import::UsernsUnpacker;
use crate::cli::image::BootstrapArgs;
use crate::context::Context;
use crate::image::bootstrap::{self, BootstrapRequest};
use crate::image::import::{self, ImportRequest};
use crate::image::Reference;
use crate::ui::diagnostics::{ExitStatus, UserError};

pub fn bootstrap(args: BootstrapArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let reference = Reference::parse(&args.reference)?;
    let store = ctx.store()?;
    let unpacker = UsernsUnpacker::detect(ctx)?;
    let request = BootstrapRequest {
        suite: args.suite.clone(),
        mirror: args.mirror,
        include: bootstrap::split_packages(&args.include),
        variant: args.variant,
        arch: args.arch,
    };
    let staging = store.staging_dir("bootstrap")?;
    let tar = staging.join("rootfs.tar");
    let as_root = crate::sys::ids::current_euid() == 0;
    let argv = bootstrap::mmdebstrap_args(&request, as_root, &tar);
    ctx.printer.status(format!(
        "running mmdebstrap {}",
        argv.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    ));
    let result = (|| -> anyhow::Result<crate::image::Digest> {
        // mmdebstrap talks on both streams; both are talk here, so stderr.
        let status = std::process::Command::new("mmdebstrap")
            .args(&argv)
            .stdout(std::io::stderr())
            .status()
            .map_err(|e| {
                UserError::new(format!("cannot run mmdebstrap: {e}"))
                    .with_hint("install it: `apt-get install mmdebstrap` (Debian, Ubuntu)")
            })?;
        if !status.success() {
            return Err(UserError::new(format!("mmdebstrap failed ({status})"))
                .with_hint("its messages are above; as a user it needs a subordinate id range in /etc/subuid (`--mode=unshare`)")
                .into());
        }
        let request = ImportRequest {
            reference: reference.clone(),
            changes: bootstrap::CHANGES.iter().map(|c| c.to_string()).collect(),
            message: Some(format!("devbox image bootstrap {}", args.suite)),
        };
        let mut file = fs_err::File::open(&tar)?;
        Ok(import::import(&store, &mut file, &request, &unpacker)?)
    })();
    let _ = std::fs::remove_dir_all(&staging);
    let id = result.with_context(|| format!("cannot bootstrap {}", reference.familiar()))?;
    ctx.printer.data(id);
    Ok(ExitStatus::Success)
}
