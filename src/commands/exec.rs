//! `devbox exec [-i] [-t] [-d] [-e K=V] [-w DIR] [-u USER] CONTAINER CMD...`.

use crate::cli::container::ExecArgs;
use crate::context::Context;
use crate::runtime::exec::{self, ExecRequest};
use crate::runtime::userns;
use crate::spec::{env, user::UserSpec};
use crate::ui::diagnostics::ExitStatus;

pub fn exec(args: ExecArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let lookup = |k: &str| std::env::var(k).ok();
    let mut vars = Vec::new();
    for item in &args.env {
        vars.extend(env::parse_env(item, lookup)?);
    }
    let request = ExecRequest {
        argv: args.command.clone(),
        env: vars,
        workdir: args.workdir.clone(),
        user: args.user.as_deref().map(UserSpec::parse).transpose()?,
        tty: args.tty,
        interactive: args.interactive,
        detach: args.detach,
        privileged: args.privileged,
    };
    let store = ctx.store()?;
    let id = store.resolve_container(&args.container)?;
    let (mapping, _) = userns::detect_mapping(&ctx.paths.host)?;
    // `exec -d` has no code to give: 0.
    let result = exec::exec(&store, &mapping, &ctx.paths.host, &id, &request);
    super::run::foreground_outcome(result.map(|code| code.unwrap_or(0)), None)
}
