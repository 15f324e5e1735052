//! `devbox system boot` and `devbox system service install`.

use crate::cli::system::{ServiceCommand, SystemCommand};
use crate::context::Context;
use crate::runtime::lifecycle;
use crate::ui::diagnostics::{self, ExitStatus};

pub fn system(command: SystemCommand, ctx: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        SystemCommand::Boot => boot(ctx),
        SystemCommand::Service(ServiceCommand::Install) => install(ctx),
    }
}

fn boot(ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let mut failed = false;
    for (name, result) in lifecycle::boot(&ctx.paths, &store)? {
        match result {
            Ok(()) => ctx.printer.data(name),
            Err(e) => {
                let e = anyhow::Error::new(e).context(format!("cannot start `{name}`"));
                ctx.printer.error(&diagnostics::render(&e).0);
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitStatus::Container(1)
    } else {
        ExitStatus::Success
    })
}

fn install(ctx: &Context) -> anyhow::Result<ExitStatus> {
    let dir = dirs::config_dir()
        .ok_or_else(|| anyhow::anyhow!("cannot find the configuration directory ($HOME is unset)"))?
        .join("systemd/user");
    fs_err::create_dir_all(&dir)?;
    let path = dir.join("devbox-boot.service");
    let unit = lifecycle::boot_unit(&std::env::current_exe()?, &ctx.paths.root);
    crate::store::atomic::write_atomic(&path, unit.as_bytes())?;
    ctx.printer.data(path.display());
    ctx.printer.status(
        "enable it with `systemctl --user enable devbox-boot.service`; `loginctl enable-linger $USER` starts it at boot without a login",
    );
    Ok(ExitStatus::Success)
}
