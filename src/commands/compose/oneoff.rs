//! `compose exec SERVICE CMD` (in the service's running container) and `compose run SERVICE
//! [CMD]` (a new one-off container of the service, after its dependencies are up).

use std::io::IsTerminal as _;

use anyhow::Context as _;

use super::{request_for, service_image, up, LoadedProject, Machine};
use crate::cli::compose::{ExecArgs, RunArgs, UpArgs};
use crate::compose::plan::{self, LABEL_NUMBER, LABEL_ONEOFF};
use crate::compose::select::SelectError;
use crate::compose::Project;
use crate::context::Context;
use crate::runtime::{create, launch, monitor, remove, rootfs};
use crate::spec::{env, user::UserSpec};
use crate::ui::diagnostics::{ExitStatus, UserError};

/// `-e` flags: `K=V`, or a bare `K` taken from our environment.
fn env_flags(items: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    let lookup = |k: &str| std::env::var(k).ok();
    let mut vars = Vec::new();
    for item in items {
        vars.extend(env::parse_env(item, lookup)?);
    }
    Ok(vars)
}

pub(super) fn exec(project: &Project, args: ExecArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let plans = plan::plan(project)?;
    let service = plans
        .iter()
        .find(|p| p.service == args.service)
        .ok_or_else(|| SelectError::NoSuchService(args.service.clone()))?;
    let name = service.container_for(args.index);
    let store = ctx.store()?;
    if store.resolve_container(&name).is_err() {
        return Err(UserError::new(format!(
            "service `{}` is not running (no container {name})",
            args.service
        ))
        .with_hint("start it with `devbox compose up -d`")
        .into());
    }
    let tty = !args.no_tty && !args.detach && std::io::stdin().is_terminal();
    crate::commands::exec::exec(
        crate::cli::container::ExecArgs {
            interactive: !args.detach,
            tty,
            detach: args.detach,
            env: args.env,
            workdir: args.workdir,
            user: args.user,
            container: name,
            command: args.command,
            privileged: false,
        },
        ctx,
    )
}

/// A random suffix for `<project>-<service>-run-<hex>`.
fn run_suffix() -> anyhow::Result<String> {
    let mut bytes = [0u8; 6];
    std::io::Read::read_exact(&mut fs_err::File::open("/dev/urandom")?, &mut bytes)?;
    Ok(hex::encode(bytes))
}

pub(super) fn run(
    loaded: &LoadedProject,
    args: RunArgs,
    ctx: &Context,
) -> anyhow::Result<ExitStatus> {
    let project = &loaded.project;
    let config = project
        .services
        .get(&args.service)
        .ok_or_else(|| SelectError::NoSuchService(args.service.clone()))?;
    // Dependencies first, in the background, as `up -d` would start them.
    let dependencies: Vec<String> = config
        .depends_on
        .keys()
        .filter(|d| project.services.contains_key(*d))
        .cloned()
        .collect();
    if !args.no_deps && !dependencies.is_empty() {
        up(
            loaded,
            &UpArgs {
                detach: true,
                services: dependencies,
                ..Default::default()
            },
            ctx,
        )?;
    }
    let service = plan::plan(project)?
        .into_iter()
        .find(|p| p.service == args.service)
        .ok_or_else(|| SelectError::NoSuchService(args.service.clone()))?;
    let machine = Machine::new(ctx)?;
    let store = &machine.store;
    super::networks::ensure(store, project, [&args.service], ctx)?;
    let puller = machine.puller(ctx);
    let image_name = service_image(store, &machine.runtime(ctx, &puller), &service, false, ctx)?;
    let security = super::service_security(&service, ctx)?;
    let mut request = request_for(&service, &image_name, security)?;
    let name = match args.name {
        Some(name) => name,
        None => format!("{}-{}-run-{}", project.name, args.service, &run_suffix()?),
    };
    request.name = Some(name.clone());
    request.labels.insert(LABEL_ONEOFF.into(), "True".into());
    request.labels.remove(LABEL_NUMBER);
    if !args.command.is_empty() {
        request.args = args.command;
    }
    if let Some(entrypoint) = args.entrypoint {
        request.entrypoint = Some(vec![entrypoint]);
    }
    request.env.extend(env_flags(&args.env)?);
    if args.workdir.is_some() {
        request.workdir = args.workdir;
    }
    if let Some(user) = &args.user {
        request.user = Some(UserSpec::parse(user)?);
    }
    // The service's ports stay with the service (compose run's default, without
    // --service-ports).
    request.ports.clear();
    // A one-off command runs once: no restart policy, and a terminal when we have one.
    request.restart = Default::default();
    request.tty = !args.no_tty && !args.detach && std::io::stdin().is_terminal();
    request.interactive = !args.detach;
    request.auto_remove = args.rm && args.detach;
    let image = store.resolve_image(&image_name)?;
    let (record, dirs) = create::create(store, &image, &request)
        .with_context(|| format!("cannot create a container for service `{}`", args.service))?;
    if args.detach {
        monitor::start_detached(&ctx.paths, &record.id)?;
        ctx.printer.data(&name);
        return Ok(ExitStatus::Success);
    }
    let (driver, _) = rootfs::choose(store, ctx.requested_driver(), &machine.mapping)?;
    let result = launch::run_foreground(launch::Target {
        store,
        mapping: &machine.mapping,
        host: &ctx.paths.host,
        image: &image,
        record: &record,
        dirs: &dirs,
        driver,
    });
    let cleanup = args
        .rm
        .then(|| remove::remove_container(store, &machine.mapping, &record.id, true));
    crate::commands::run::foreground_outcome(result, cleanup)
}
