//! `devbox unshare`: a command in the user namespace containers get (Podman's `unshare`).

use std::ffi::OsString;

use crate::cli::system::UnshareArgs;
use crate::context::Context;
use crate::runtime::idmap::IdMapping;
use crate::runtime::userns;
use crate::ui::diagnostics::{ExitStatus, UserError};

pub fn unshare(args: UnshareArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let mapping = ctx.id_mapping()?;
    if matches!(mapping, IdMapping::Root) {
        return Err(UserError::new(
            "devbox unshare is for rootless use: as root there is no user namespace",
        )
        .with_hint("run the command directly")
        .into());
    }
    let command = if args.command.is_empty() {
        vec![std::env::var_os("SHELL")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| OsString::from("/bin/sh"))]
    } else {
        args.command
    };
    // Exit codes as a container's: the command's own, 126/127 when it cannot be run.
    super::run::foreground_outcome(userns::run_command(&mapping, &command), None)
}
