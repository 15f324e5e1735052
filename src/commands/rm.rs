//! `devbox rm`.

use super::each::each_container;
use crate::cli::container::RmArgs;
use crate::context::Context;
use crate::runtime::{remove, userns};
use crate::ui::diagnostics::ExitStatus;

pub fn rm(args: RmArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let (mapping, _) = userns::detect_mapping(&ctx.paths.host)?;
    each_container(ctx, &args.containers, true, |store, id| {
        // `-v`: the anonymous volumes go with the container (named ones stay, as in Docker).
        let anonymous = if args.volumes {
            let (record, _) = store.load_container(id)?;
            store.anonymous_volumes_of(&record.spec.binds)
        } else {
            Vec::new()
        };
        remove::remove_container(store, &mapping, id, args.force)?;
        for name in anonymous {
            if store.volume_users(&name)?.is_empty() {
                let aside = store.retire_volume(&name)?;
                remove::remove_tree(&mapping, &aside)?;
            }
        }
        Ok(())
    })
}
