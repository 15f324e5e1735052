//! `devbox update --restart=POLICY`.

use super::each::each_container;
use crate::cli::container::UpdateArgs;
use crate::context::Context;
use crate::ui::diagnostics::ExitStatus;

pub fn update(args: UpdateArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    each_container(ctx, &args.containers.containers, true, |store, id| {
        let (mut record, _) = store.load_container(id)?;
        if let Some(policy) = args.restart {
            record.restart = policy;
        }
        Ok(store.save_record(&record)?)
    })
}
