//! `devbox ps`.

use crate::cli::container::PsArgs;
use crate::context::Context;
use crate::runtime::state::Status;
use crate::ui::diagnostics::ExitStatus;

pub fn ps(args: PsArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let containers = store.list_containers()?;
    let shown = containers
        .iter()
        .rev()
        .filter(|(_, state)| args.all || state.status == Status::Running);
    if args.quiet {
        for (record, _) in shown {
            ctx.printer.data(&record.id[..12]);
        }
        return Ok(ExitStatus::Success);
    }
    ctx.printer.data(format!(
        "{:<14}{:<24}{:<26}{:<22}{}",
        "CONTAINER ID", "IMAGE", "COMMAND", "STATUS", "NAMES"
    ));
    for (record, state) in shown {
        let mut command = format!("\"{}\"", record.spec.argv.join(" "));
        if command.len() > 22 {
            command.truncate(20);
            command.push_str("…\"");
        }
        let status = match (state.status, state.exit_code) {
            (Status::Exited, Some(code)) => format!("Exited ({code})"),
            (Status::Exited, None) => "Exited (unknown)".to_string(),
            (Status::Running, _) => "Up".to_string(),
            (Status::Created, _) => "Created".to_string(),
        };
        ctx.printer.data(format!(
            "{:<14}{:<24}{:<26}{:<22}{}",
            &record.id[..12],
            record.image,
            command,
            status,
            record.name
        ));
    }
    Ok(ExitStatus::Success)
}
