//! `compose start|stop|restart|rm|top|build|pull`: the container verbs, over a project's
//! service containers (all of them, or those of the services named).

use std::io::IsTerminal as _;
use std::time::Duration;

use super::{running, service_containers, service_image, LoadedProject, Machine};
use crate::cli::compose::{RmArgs, ServicesArgs, StopArgs};
use crate::cli::container::TopArgs;
use crate::cli::registry::{PullArgs, TlsArgs};
use crate::compose::plan::{self, ImageSource};
use crate::compose::{select, Project};
use crate::context::Context;
use crate::runtime::{lifecycle, remove, userns};
use crate::ui::diagnostics::{ExitStatus, UserError};

pub(super) fn start(
    project: &Project,
    args: &ServicesArgs,
    ctx: &Context,
) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let containers = service_containers(&store, project, &args.services)?;
    if containers.is_empty() {
        return Err(UserError::new("no containers to start")
            .with_hint("create them with `devbox compose up`")
            .into());
    }
    for c in containers {
        if !running(&store, &c.id) {
            lifecycle::start(&ctx.paths, &store, &c.id)?;
            ctx.printer.status(format!("Container {}  Started", c.name));
        }
    }
    Ok(ExitStatus::Success)
}

pub(super) fn stop(
    project: &Project,
    args: &StopArgs,
    ctx: &Context,
) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    // Dependents first: the reverse of the start order.
    let order = crate::compose::start_order(project)?;
    let mut containers = service_containers(&store, project, &args.services)?;
    containers.sort_by_key(|c| std::cmp::Reverse(order.iter().position(|s| *s == c.service)));
    for c in containers {
        if running(&store, &c.id) {
            lifecycle::stop(&store, &c.id, args.timeout.map(Duration::from_secs))?;
            ctx.printer.status(format!("Container {}  Stopped", c.name));
        }
    }
    Ok(ExitStatus::Success)
}

pub(super) fn restart(
    project: &Project,
    args: &StopArgs,
    ctx: &Context,
) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    for c in service_containers(&store, project, &args.services)? {
        if running(&store, &c.id) {
            lifecycle::stop(&store, &c.id, args.timeout.map(Duration::from_secs))?;
        }
        lifecycle::start(&ctx.paths, &store, &c.id)?;
        ctx.printer.status(format!("Container {}  Started", c.name));
    }
    Ok(ExitStatus::Success)
}

/// Removes the stopped containers (all with `-s`, which stops them first). Without `-f`,
/// asks first when stdin is a terminal.
pub(super) fn rm(project: &Project, args: &RmArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let (mapping, _) = userns::detect_mapping(&ctx.paths.host)?;
    let mut doomed = Vec::new();
    for c in service_containers(&store, project, &args.services)? {
        if running(&store, &c.id) {
            if !args.stop {
                continue;
            }
            lifecycle::stop(&store, &c.id, None)?;
            ctx.printer.status(format!("Container {}  Stopped", c.name));
        }
        doomed.push(c);
    }
    if doomed.is_empty() {
        ctx.printer.status("No stopped containers");
        return Ok(ExitStatus::Success);
    }
    let names: Vec<&str> = doomed.iter().map(|c| c.name.as_str()).collect();
    ctx.printer
        .status(format!("Going to remove {}", names.join(", ")));
    if !args.force && std::io::stdin().is_terminal() {
        ctx.printer.prompt("Are you sure? [yN] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !answer.trim().eq_ignore_ascii_case("y") {
            return Ok(ExitStatus::Success);
        }
    }
    for c in doomed {
        let (record, _) = store.load_container(&c.id)?;
        remove::remove_container(&store, &mapping, &c.id, true)?;
        ctx.printer.status(format!("Container {}  Removed", c.name));
        if !args.volumes {
            continue;
        }
        for volume in record
            .spec
            .binds
            .iter()
            .filter_map(|b| store.volume_of(&b.source))
        {
            let anonymous = store.volume(&volume).map(|v| v.anonymous).unwrap_or(false);
            if anonymous && store.volume_users(&volume)?.is_empty() {
                let aside = store.retire_volume(&volume)?;
                remove::remove_tree(&mapping, &aside)?;
            }
        }
    }
    Ok(ExitStatus::Success)
}

/// Each running container's name, then its processes (the host's ps(1), as `devbox top`).
pub(super) fn top(
    project: &Project,
    args: &ServicesArgs,
    ctx: &Context,
) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let mut first = true;
    for c in service_containers(&store, project, &args.services)? {
        if !running(&store, &c.id) {
            continue;
        }
        if !first {
            ctx.printer.data("");
        }
        first = false;
        ctx.printer.data(&c.name);
        crate::commands::container::top(
            TopArgs {
                container: c.id.clone(),
                ps_options: Vec::new(),
            },
            ctx,
        )?;
    }
    Ok(ExitStatus::Success)
}

/// Builds every selected service that has `build:`, even when its image exists.
pub(super) fn build(
    loaded: &LoadedProject,
    args: &ServicesArgs,
    ctx: &Context,
) -> anyhow::Result<ExitStatus> {
    let project = &loaded.project;
    let selected = select::select(project, &loaded.profiles, &args.services, false)?;
    let machine = Machine::new(ctx)?;
    let puller = machine.puller(ctx);
    for service in plan::plan(project)? {
        if !selected.contains(&service.service) {
            continue;
        }
        if let ImageSource::Build { tag, .. } = &service.image {
            service_image(
                &machine.store,
                &machine.runtime(ctx, &puller),
                &service,
                true,
                ctx,
            )?;
            ctx.printer
                .status(format!("Service {}  Built ({tag})", service.service));
        }
    }
    Ok(ExitStatus::Success)
}

/// Pulls the image of every service that uses one without building it.
pub(super) fn pull(
    project: &Project,
    args: &ServicesArgs,
    ctx: &Context,
) -> anyhow::Result<ExitStatus> {
    let selected = select::select(project, &[String::from("*")], &args.services, false)?;
    for service in plan::plan(project)? {
        if !selected.contains(&service.service) {
            continue;
        }
        match &service.image {
            ImageSource::Image(reference) => {
                ctx.printer
                    .status(format!("Service {}  Pulling", service.service));
                crate::commands::pull::pull(
                    PullArgs {
                        reference: reference.clone(),
                        platform: None,
                        quiet: true,
                        tls: TlsArgs { tls_verify: true },
                    },
                    ctx,
                )?;
                ctx.printer
                    .status(format!("Service {}  Pulled", service.service));
            }
            ImageSource::Build { .. } => ctx.printer.status(format!(
                "Service {}  Skipped (built with `devbox compose build`)",
                service.service
            )),
        }
    }
    Ok(ExitStatus::Success)
}
