//! `devbox test`: the project's tests in a throw-away container of its dev image.
//!
//! The dev image already holds the source (its `COPY . .`), so the host tree is never
//! written to — no `.pytest_cache`, no `__pycache__` — and runs in parallel do not see each
//! other. The build cache makes the image cheap after an edit: only the source layer is
//! redone.

use std::collections::BTreeMap;

use anyhow::Context as _;
use clap::Parser as _;

use crate::build::builder::{self, BuildRequest};
use crate::build::executor::Runtime;
use crate::cli::python::TestArgs;
use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::image::Reference;
use crate::spec::container::Network;
use crate::ui::diagnostics::{ExitStatus, UserError};

pub fn test(args: TestArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let dir = std::env::current_dir().context("cannot read the current directory")?;
    let generated = super::up::generate(&dir, ctx)?;
    let project = &generated.project;
    let command = if args.command.is_empty() {
        project.tests.command.clone()
    } else {
        args.command.clone()
    };
    if command.is_empty() {
        return Err(UserError::new("no test runner found in this project")
            .with_hint("give the command after `--`: `devbox test -- python -m pytest -x`")
            .into());
    }
    let tag = format!("{}:dev", project.name);
    let store = ctx.store()?;
    let mapping = ctx.id_mapping()?;
    let runtime = Runtime {
        store: &store,
        mapping,
        host: &ctx.paths.host,
        quiet: true,
    };
    let request = BuildRequest {
        context: dir.clone(),
        dockerfile: generated.dockerfile.clone(),
        tags: vec![Reference::parse(&tag)?],
        target: Some("dev".into()),
        build_args: BTreeMap::new(),
        no_cache: false,
        network: Network::Slirp4netns,
        labels: BTreeMap::new(),
    };
    ctx.printer.status(format!("Building {tag}"));
    builder::build(&runtime, &request, &super::compose::StatusReporter { ctx })
        .with_context(|| format!("cannot build the dev image of {}", project.name))?;
    // The same checks, cleanup and exit codes as `devbox run`.
    let mut argv: Vec<String> = vec!["devbox".into(), "run".into(), "--network".into()];
    argv.push(args.network.clone());
    if !args.keep {
        argv.push("--rm".into());
    }
    argv.push(tag);
    argv.extend(command);
    let cli = Cli::try_parse_from(&argv)?;
    match cli.command {
        Command::Run(run) => super::run::run(*run, ctx),
        _ => Err(anyhow::anyhow!("`devbox run` did not parse as a run")),
    }
}
