//! `devbox doctor`.

use crate::cli::system::{DoctorArgs, DoctorFormat};
use crate::context::Context;
use crate::doctor::checks;
use crate::ui::diagnostics::ExitStatus;

pub fn doctor(args: DoctorArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    if args.apparmor_profile {
        ctx.printer.data(checks::APPARMOR_PROFILE.trim_end());
        return Ok(ExitStatus::Success);
    }
    let store = ctx.store()?;
    let outcomes = checks::run_all(&ctx.paths.host, &store.tmp_dir(), store.storage_driver()?);
    match args.format {
        DoctorFormat::Json => ctx.printer.data(serde_json::to_string_pretty(&outcomes)?),
        DoctorFormat::Table => {
            for o in &outcomes {
                let mark = match (o.ok, o.required) {
                    (true, _) => "ok",
                    (false, true) => "MISSING",
                    (false, false) => "degraded",
                };
                ctx.printer
                    .data(format!("{:<12} {:<9} {}", o.name, mark, o.detail));
                if let Some(fix) = &o.fix {
                    ctx.printer.data(format!("{:<22} fix: {fix}", ""));
                }
            }
        }
    }
    let ready = outcomes.iter().all(|o| o.ok || !o.required);
    Ok(if ready {
        ExitStatus::Success
    } else {
        ExitStatus::Container(1)
    })
}
