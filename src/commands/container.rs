//! The smaller container verbs: `pause`/`unpause`, `top`, `rename`, `port`,
//! `stats` and `container prune`.

use super::each::each_container;
use crate::cli::container::{
    ContainerCommand, ContainersArgs, CpArgs, DiffArgs, PortArgs, RenameArgs, StatsArgs, TopArgs,
};
use crate::context::Context;
use crate::runtime::{copy, diff, processes, remove, userns};
use crate::spec::ids;
use crate::ui::diagnostics::{ExitStatus, UserError};

pub fn pause(args: ContainersArgs, ctx: &Context, paused: bool) -> anyhow::Result<ExitStatus> {
    each_container(ctx, &args.containers, true, |store, id| {
        Ok(processes::set_paused(
            store,
            &ctx.paths.host.proc,
            id,
            paused,
        )?)
    })
}

/// `top`: the host's ps(1) on the container's processes, as Docker does.
pub fn top(args: TopArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let id = store.resolve_container(&args.container)?;
    let init = processes::init_pid(&store, &id)?;
    let pids = processes::container_pids(&ctx.paths.host.proc, init);
    let list: Vec<String> = pids.iter().map(i32::to_string).collect();
    let options = if args.ps_options.is_empty() {
        vec!["-f".to_string()]
    } else {
        args.ps_options
    };
    let out = std::process::Command::new("ps")
        .args(&options)
        .arg("-p")
        .arg(list.join(","))
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run ps: {e}"))?;
    if !out.status.success() {
        return Err(UserError::new(format!(
            "ps {} failed: {}",
            options.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
        .into());
    }
    ctx.printer.output(false, &out.stdout);
    Ok(ExitStatus::Success)
}

pub fn rename(args: RenameArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    ids::validate_name(&args.new_name)?;
    let store = ctx.store()?;
    let id = store.resolve_container(&args.container)?;
    store.rename_container(&id, &args.new_name)?;
    Ok(ExitStatus::Success)
}

pub fn cp(args: CpArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let from = copy::Location::parse(&args.source);
    let to = copy::Location::parse(&args.destination);
    if matches!(
        (&from, &to),
        (copy::Location::Host(_), copy::Location::Host(_))
    ) {
        return Err(UserError::new("`cp` needs a container on one side: CONTAINER:PATH").into());
    }
    let store = ctx.store()?;
    copy::copy(&store, &ctx.paths.host.proc, &from, &to)?;
    Ok(ExitStatus::Success)
}

pub fn diff(args: DiffArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let id = store.resolve_container(&args.container)?;
    let (record, _) = store.load_container(&id)?;
    let image = store.resolve_image(&record.image_id.to_string())?;
    let lowers: Vec<_> = image
        .config
        .rootfs
        .diff_ids
        .iter()
        .map(|d| store.layers_dir().join(d.hex()).join("diff"))
        .collect();
    let upper = store.container_dirs(&id).upper();
    for (path, change) in diff::changes(&upper, &lowers) {
        ctx.printer.data(format!("{} {path}", change.letter()));
    }
    Ok(ExitStatus::Success)
}

/// `port`: the published ports of a running container, `80/tcp -> 0.0.0.0:8080`, or the
/// host address of one (`port NAME 80[/tcp]`).
pub fn port(args: PortArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let id = store.resolve_container(&args.container)?;
    let (_, state) = store.load_container(&id)?;
    let wanted = args.port.as_deref().map(|p| match p.split_once('/') {
        Some((port, proto)) => (port.to_string(), proto.to_string()),
        None => (p.to_string(), "tcp".to_string()),
    });
    let mut found = false;
    for p in &state.ports {
        match &wanted {
            None => ctx.printer.data(p),
            Some((port, proto))
                if *port == p.container_port.to_string() && *proto == p.proto.to_string() =>
            {
                let ip = p
                    .host_ip
                    .map(|ip| ip.to_string())
                    .unwrap_or_else(|| "0.0.0.0".into());
                ctx.printer.data(format!("{ip}:{}", p.host_port));
                found = true;
            }
            Some(_) => {}
        }
    }
    if let (Some((port, proto)), false) = (&wanted, found) {
        return Err(UserError::new(format!(
            "no public port '{port}/{proto}' published for {}",
            args.container
        ))
        .into());
    }
    Ok(ExitStatus::Success)
}

pub fn stats(_args: StatsArgs, _ctx: &Context) -> anyhow::Result<ExitStatus> {
    Err(UserError::new("container statistics are not available: devbox reads them from a delegated cgroup v2, and containers here run without one")
        .with_hint("`devbox top CONTAINER` lists a container's processes; `devbox doctor` says whether cgroup delegation is available")
        .into())
}

pub fn container(command: ContainerCommand, ctx: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        ContainerCommand::Prune { force } => prune(force, ctx),
    }
}

/// `container prune`: removes every container that is not running.
fn prune(force: bool, ctx: &Context) -> anyhow::Result<ExitStatus> {
    if !force {
        ctx.printer.status(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ",
        );
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(ExitStatus::Success);
        }
    }
    let store = ctx.store()?;
    let (mapping, _) = userns::detect_mapping(&ctx.paths.host)?;
    let mut removed = Vec::new();
    let mut reclaimed = 0;
    for (record, state) in store.list_containers()? {
        if state.status.is_live() {
            continue;
        }
        let size = store.container_size(&record.id);
        // One that started meanwhile is refused and kept.
        if remove::remove_container(&store, &mapping, &record.id, false).is_ok() {
            removed.push(record.id);
            reclaimed += size;
        }
    }
    if !removed.is_empty() {
        ctx.printer.data("Deleted Containers:");
        for id in &removed {
            ctx.printer.data(id);
        }
        ctx.printer.data("");
    }
    ctx.printer.data(format!(
        "Total reclaimed space: {}",
        crate::ui::units::human_size(reclaimed)
    ));
    Ok(ExitStatus::Success)
}
