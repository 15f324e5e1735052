//! `devbox search TERM` (Docker Hub) and `devbox search REGISTRY/TERM` (that
//! registry's catalog).

use anyhow::Context as _;

use super::pull::client_options;
use crate::cli::registry::SearchArgs;
use crate::context::Context;
use crate::image::registry::search;
use crate::ui::diagnostics::ExitStatus;

pub fn search(args: SearchArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let (registry, term) = match args.term.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (Some(first), rest)
        }
        _ => (None, args.term.as_str()),
    };
    let options = client_options(
        ctx,
        registry.unwrap_or(crate::image::reference::DEFAULT_REGISTRY),
        args.tls.tls_verify,
    )?;
    let found = search::search(registry, term, args.limit, &options)
        .with_context(|| format!("cannot search for `{}`", args.term))?;
    ctx.printer.data(format!(
        "{:<45}{:<50}{:<7}{}",
        "NAME", "DESCRIPTION", "STARS", "OFFICIAL"
    ));
    for f in found {
        let description: String = f.description.chars().take(47).collect();
        ctx.printer.data(format!(
            "{:<45}{:<50}{:<7}{}",
            f.name,
            description,
            f.stars,
            if f.official { "[OK]" } else { "" }
        ));
    }
    Ok(ExitStatus::Success)
}
