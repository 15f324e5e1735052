//! `compose watch` and `up --watch`: `develop.watch` rules applied as host files change.
//!
//! Host events come from the `notify` crate (inotify here), batched for a short quiet
//! period; `compose::watch::route` turns each changed path into steps. A sync copies the
//! file into each of the service's running containers (`devbox cp`'s machinery); a deleted
//! file is removed with `rm -rf` in the container, as compose does; a rebuild builds the
//! image again and lets `up`'s convergence recreate the containers whose image changed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context as _;
use notify::Watcher as _;

use super::{converge, running, service_containers, up, LoadedProject, Machine, Recreate};
use crate::cli::compose::{UpArgs, WatchArgs};
use crate::compose::plan::{self, ServicePlan};
use crate::compose::select;
use crate::compose::watch::{route, WatchStep};
use crate::context::Context;
use crate::runtime::copy::{self, Location};
use crate::runtime::lifecycle;
use crate::ui::diagnostics::{ExitStatus, UserError};

/// How long the files must stay quiet before a batch of changes is applied.
const QUIET: Duration = Duration::from_millis(300);

pub(super) fn watch(
    loaded: &LoadedProject,
    args: &WatchArgs,
    ctx: &Context,
) -> anyhow::Result<ExitStatus> {
    if !args.no_up {
        up(
            loaded,
            &UpArgs {
                detach: true,
                services: args.services.clone(),
                ..Default::default()
            },
            ctx,
        )?;
    }
    run(loaded, &args.services, &AtomicBool::new(false), ctx)?;
    Ok(ExitStatus::Success)
}

/// The services (of those selected) that have watch rules.
fn watched(loaded: &LoadedProject, services: &[String]) -> anyhow::Result<Vec<ServicePlan>> {
    let selected = select::select(&loaded.project, &loaded.profiles, services, false)?;
    let plans: Vec<ServicePlan> = plan::plan(&loaded.project)?
        .into_iter()
        .filter(|p| selected.contains(&p.service) && !p.watch.is_empty())
        .collect();
    if plans.is_empty() {
        return Err(UserError::new("none of the services has `develop.watch` rules")
            .with_hint("add `develop: {watch: [{path: ./src, action: sync, target: /app/src}]}` to a service")
            .into());
    }
    Ok(plans)
}

/// Watches until `stop` is set (or forever).
pub(super) fn run(
    loaded: &LoadedProject,
    services: &[String],
    stop: &AtomicBool,
    ctx: &Context,
) -> anyhow::Result<()> {
    let plans = watched(loaded, services)?;
    let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
    let mut watcher = notify::recommended_watcher(tx).context("cannot watch files")?;
    for rule in plans.iter().flat_map(|p| &p.watch) {
        let path = PathBuf::from(&rule.path);
        if !path.exists() {
            ctx.printer
                .warn(format!("watch path {} does not exist", path.display()));
            continue;
        }
        watcher
            .watch(&path, notify::RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {}", path.display()))?;
    }
    let machine = Machine::new(ctx)?;
    ctx.printer.status("Watch enabled");
    while !stop.load(Ordering::Relaxed) {
        let first = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(event) => event,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut changed: Vec<PathBuf> = Vec::new();
        let mut add = |event: notify::Result<notify::Event>| {
            if let Ok(event) = event {
                if !matches!(event.kind, notify::EventKind::Access(_)) {
                    for path in event.paths {
                        if !changed.contains(&path) {
                            changed.push(path);
                        }
                    }
                }
            }
        };
        add(first);
        while let Ok(event) = rx.recv_timeout(QUIET) {
            add(event);
        }
        let rules = plans
            .iter()
            .flat_map(|p| p.watch.iter().map(move |w| (p.service.as_str(), w)));
        let mut steps: Vec<WatchStep> = Vec::new();
        for path in &changed {
            for step in route(rules.clone(), path) {
                if !steps.contains(&step) {
                    steps.push(step);
                }
            }
        }
        if let Err(e) = apply(&machine, loaded, &plans, &steps, ctx) {
            ctx.printer.warn(format!("watch: {e:#}"));
        }
    }
    Ok(())
}

fn apply(
    machine: &Machine,
    loaded: &LoadedProject,
    plans: &[ServicePlan],
    steps: &[WatchStep],
    ctx: &Context,
) -> anyhow::Result<()> {
    let rebuilt: Vec<&str> = steps
        .iter()
        .filter_map(|s| match s {
            WatchStep::Rebuild { service } => Some(service.as_str()),
            WatchStep::Sync { .. } => None,
        })
        .collect();
    for service in &rebuilt {
        let Some(plan) = plans.iter().find(|p| p.service == *service) else {
            continue;
        };
        ctx.printer.status(format!(
            "Rebuilding service `{service}` after changes were detected"
        ));
        let replicas = service_containers(&machine.store, &loaded.project, &[service.to_string()])?
            .len()
            .max(1) as u32;
        let security = super::service_security(plan, ctx)?;
        converge(
            machine,
            (plan, &security),
            replicas,
            true,
            Recreate::Changed,
            ctx,
        )?;
    }
    let mut restart: Vec<&str> = Vec::new();
    let mut synced: Vec<&str> = Vec::new();
    for step in steps {
        let WatchStep::Sync {
            service,
            source,
            target,
            restart: and_restart,
        } = step
        else {
            continue;
        };
        if rebuilt.contains(&service.as_str()) || source.is_dir() {
            continue;
        }
        for c in service_containers(
            &machine.store,
            &loaded.project,
            std::slice::from_ref(service),
        )? {
            if !running(&machine.store, &c.id) {
                continue;
            }
            sync(machine, &c.id, &c.name, source, target, ctx)?;
        }
        if !synced.contains(&service.as_str()) {
            synced.push(service);
        }
        if *and_restart && !restart.contains(&service.as_str()) {
            restart.push(service);
        }
    }
    for service in synced {
        ctx.printer.status(format!(
            "Syncing service `{service}` after changes were detected"
        ));
    }
    for service in restart {
        for c in service_containers(&machine.store, &loaded.project, &[service.to_string()])? {
            lifecycle::stop(&machine.store, &c.id, None)?;
            lifecycle::start(&ctx.paths, &machine.store, &c.id)?;
            ctx.printer
                .status(format!("Container {}  Restarted", c.name));
        }
    }
    Ok(())
}

/// Copies `source` to `target` in the container, or removes `target` when `source` is gone;
/// a missing parent directory in the container is made first.
fn sync(
    machine: &Machine,
    id: &str,
    name: &str,
    source: &std::path::Path,
    target: &str,
    ctx: &Context,
) -> anyhow::Result<()> {
    if !source.exists() {
        return in_container(ctx, id, &["rm", "-rf", target]);
    }
    let to = Location::Container {
        name: name.to_string(),
        path: target.to_string(),
    };
    let from = Location::Host(source.to_path_buf());
    if copy::copy(&machine.store, &ctx.paths.host.proc, &from, &to).is_ok() {
        return Ok(());
    }
    let parent = std::path::Path::new(target)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into());
    in_container(ctx, id, &["mkdir", "-p", &parent])?;
    copy::copy(&machine.store, &ctx.paths.host.proc, &from, &to)
        .with_context(|| format!("cannot sync {} to {name}:{target}", source.display()))
}

/// `devbox exec` in a child process: joining the container's user namespace needs a
/// single-threaded process, and the watcher has threads.
fn in_container(ctx: &Context, id: &str, argv: &[&str]) -> anyhow::Result<()> {
    let status = std::process::Command::new(std::env::current_exe()?)
        .arg("--root")
        .arg(&ctx.paths.root)
        .arg("--runroot")
        .arg(&ctx.paths.run_root)
        .arg("exec")
        .arg(id)
        .args(argv)
        .stdin(std::process::Stdio::null())
        .status()
        .context("cannot run devbox exec")?;
    if !status.success() {
        anyhow::bail!("`{}` failed in the container ({status})", argv.join(" "));
    }
    Ok(())
}
