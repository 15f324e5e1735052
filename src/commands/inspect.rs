//! `devbox inspect [--format TEMPLATE] CONTAINER...`.

use crate::cli::container::InspectArgs;
use crate::context::Context;
use crate::runtime::inspect;
use crate::ui::diagnostics::ExitStatus;
use crate::ui::format::Format;

pub fn inspect(args: InspectArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let format = Format::parse(args.format.as_deref())?;
    let store = ctx.store()?;
    let mut docs = Vec::new();
    let mut failed = false;
    for name in &args.containers.containers {
        let found = store
            .resolve_container(name)
            .and_then(|id| store.load_container(&id));
        match found {
            Ok((record, state)) => {
                let dirs = store.container_dirs(&record.id);
                docs.push(inspect::inspect(&record, &state, &dirs));
            }
            Err(e) => {
                ctx.printer
                    .error(&crate::ui::diagnostics::render(&e.into()).0);
                failed = true;
            }
        }
    }
    match format {
        Format::Template(template) => {
            for doc in &docs {
                ctx.printer.data(template.render(doc));
            }
        }
        Format::Table | Format::Json => {
            ctx.printer.data(serde_json::to_string_pretty(&docs)?);
        }
    }
    Ok(if failed {
        ExitStatus::Container(1)
    } else {
        ExitStatus::Success
    })
}
