//! `devbox logs [-f] [--tail N] [-t] [--since WHEN]`.

use crate::cli::container::LogsArgs;
use crate::context::Context;
use crate::runtime::logs::{self, LogQuery, Stream};
use crate::ui::diagnostics::{ExitStatus, UserError};

pub fn logs(args: LogsArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let tail = match args.tail.as_str() {
        "all" | "-1" => None,
        n => Some(n.parse::<usize>().map_err(|_| {
            UserError::new(format!("invalid --tail `{n}`: a number of lines, or `all`"))
        })?),
    };
    let since = match &args.since {
        Some(s) => Some(
            logs::parse_since(s, std::time::SystemTime::now()).ok_or_else(|| {
                UserError::new(format!("invalid --since `{s}`"))
                    .with_hint("use an RFC 3339 time, Unix seconds, or a duration such as `10m`")
            })?,
        ),
        None => None,
    };
    let store = ctx.store()?;
    let id = store.resolve_container(&args.container)?;
    let dirs = store.container_dirs(&id);
    let query = LogQuery {
        tail,
        since,
        timestamps: args.timestamps,
    };
    logs::show(
        &dirs.log(),
        &dirs.lock(),
        &query,
        args.follow,
        |stream, bytes| ctx.printer.output(stream == Stream::Stderr, bytes),
    )?;
    Ok(ExitStatus::Success)
}
