//! Docker's shape for verbs on several containers: each one is resolved and
//! acted on in turn; what the user typed is echoed on success, errors go to
//! stderr, and the exit code is 1 if any failed.

use crate::context::Context;
use crate::store::Store;
use crate::ui::diagnostics::{self, ExitStatus};

pub fn each_container(
    ctx: &Context,
    names: &[String],
    echo: bool,
    mut act: impl FnMut(&Store, &str) -> anyhow::Result<()>,
) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let mut failed = false;
    for name in names {
        let result = store
            .resolve_container(name)
            .map_err(anyhow::Error::from)
            .and_then(|id| act(&store, &id));
        match result {
            Ok(()) if echo => ctx.printer.data(name),
            Ok(()) => {}
            Err(e) => {
                let (text, _) = diagnostics::render(&e);
                ctx.printer.error(&text);
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
