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
use crate::cli::python::{ShellArgs, TestArgs};
use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::image::Reference;
use crate::spec::container::Network;
use crate::ui::diagnostics::{ExitStatus, UserError};

/// Builds the project's dev image (target `dev`) and returns its tag.
fn build_dev_image(
    dir: &std::path::Path,
    generated: &super::up::Generated,
    ctx: &Context,
) -> anyhow::Result<String> {
    let tag = format!("{}:dev", generated.project.name);
    let store = ctx.store()?;
    let mapping = ctx.id_mapping()?;
    let puller = super::build::RegistryPuller {
        ctx,
        printer: ctx.printer,
        mapping: mapping.clone(),
        tls_verify: true,
    };
    let runtime = Runtime {
        store: &store,
        puller: Some(&puller),
        mapping,
        host: &ctx.paths.host,
        quiet: true,
    };
    let request = BuildRequest {
        context: dir.to_path_buf(),
        dockerfile: generated.dockerfile.clone(),
        tags: vec![Reference::parse(&tag)?],
        target: Some("dev".into()),
        // A package index mirror set in the environment, as `devbox up`'s compose file passes it.
        build_args: crate::python::render::index_build_args(),
        no_cache: false,
        network: Network::Slirp4netns,
        labels: BTreeMap::new(),
        inputs: Default::default(),
    };
    ctx.printer.status(format!("Building {tag}"));
    builder::build(&runtime, &request, &super::compose::StatusReporter { ctx })
        .with_context(|| format!("cannot build the dev image of {}", generated.project.name))?;
    Ok(tag)
}

/// Runs `devbox run ARGV...` in this process: the same checks, cleanup and exit codes.
fn run(argv: Vec<String>, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let mut full = vec!["devbox".to_string(), "run".to_string()];
    full.extend(argv);
    let cli = Cli::try_parse_from(&full)?;
    match cli.command {
        Command::Run(run) => super::run::run(*run, ctx),
        _ => Err(anyhow::anyhow!("`devbox run` did not parse as a run")),
    }
}

pub fn test(args: TestArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let dir = std::env::current_dir().context("cannot read the current directory")?;
    let generated = super::up::generate(&dir, ctx)?;
    let command = if args.command.is_empty() {
        generated.project.tests.command.clone()
    } else {
        args.command.clone()
    };
    if command.is_empty() {
        return Err(UserError::new("no test runner found in this project")
            .with_hint("give the command after `--`: `devbox test -- python -m pytest -x`")
            .into());
    }
    let tag = build_dev_image(&dir, &generated, ctx)?;
    let mut argv = vec!["--network".to_string(), args.network.clone()];
    if !args.keep {
        argv.push("--rm".into());
    }
    argv.push(tag);
    argv.extend(command);
    run(argv, ctx)
}

/// `devbox shell`: a shell (or a command) in the dev image with the source mounted over
/// /app, so edits go both ways.
pub fn shell(args: ShellArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let dir = std::env::current_dir().context("cannot read the current directory")?;
    let generated = super::up::generate(&dir, ctx)?;
    let tag = build_dev_image(&dir, &generated, ctx)?;
    let mut argv = vec!["--rm".to_string(), "--network".into(), args.network.clone()];
    let stdin = std::io::stdin();
    if crate::sys::tty::is_terminal(std::os::fd::AsFd::as_fd(&stdin)) {
        argv.extend(["-i".to_string(), "-t".to_string()]);
    }
    argv.extend([
        "-v".to_string(),
        format!("{}:/app", dir.display()),
        "-w".into(),
        "/app".into(),
        tag,
    ]);
    if args.command.is_empty() {
        argv.extend(
            [
                "sh",
                "-c",
                "command -v bash >/dev/null && exec bash || exec sh",
            ]
            .map(String::from),
        );
    } else {
        argv.extend(args.command);
    }
    run(argv, ctx)
}
