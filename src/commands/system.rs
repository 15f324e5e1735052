//! `devbox system boot|service install|check|df|prune|info` and `devbox info`.

use std::path::Path;

use super::import::UsernsUnpacker;
use crate::cli::system::{
    CheckArgs, DfArgs, InfoArgs, ServiceCommand, SystemCommand, SystemPruneArgs,
};
use crate::context::Context;
use crate::image::import::Unpacker as _;
use crate::image::Digest;
use crate::runtime::idmap::find_in_path;
use crate::runtime::state::Status;
use crate::runtime::{lifecycle, remove};
use crate::store::check::{Fix, Problem, Repairer, Severity};
use crate::store::images::Removal;
use crate::store::usage::{tree_size, Usage};
use crate::store::Store;
use crate::ui::diagnostics::{self, ExitStatus};
use crate::ui::format::{align, Format};
use crate::ui::units::{human_size, human_size_with_precision};

pub fn system(command: SystemCommand, ctx: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        SystemCommand::Boot => boot(ctx),
        SystemCommand::Service(ServiceCommand::Install) => install(ctx),
        SystemCommand::Check(args) => check(args, ctx),
        SystemCommand::Df(args) => df(args, ctx),
        SystemCommand::Prune(args) => prune(args, ctx),
        SystemCommand::Info(args) => info(args, ctx),
    }
}

fn boot(ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let mut failed = false;
    for (name, result) in lifecycle::boot(&ctx.paths, &store)? {
        match result {
            Ok(()) => ctx.printer.data(name),
            Err(e) => {
                let e = anyhow::Error::new(e).context(format!("cannot start `{name}`"));
                ctx.printer.error(&diagnostics::render(&e).0);
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitStatus::Container(1)
    } else {
        ExitStatus::Success
    })
}

fn install(ctx: &Context) -> anyhow::Result<ExitStatus> {
    let dir = dirs::config_dir()
        .ok_or_else(|| anyhow::anyhow!("cannot find the configuration directory ($HOME is unset)"))?
        .join("systemd/user");
    fs_err::create_dir_all(&dir)?;
    let path = dir.join("devbox-boot.service");
    let unit = lifecycle::boot_unit(&std::env::current_exe()?, &ctx.paths.root);
    crate::store::atomic::write_atomic(&path, unit.as_bytes())?;
    ctx.printer.data(path.display());
    ctx.printer.status(
        "enable it with `systemctl --user enable devbox-boot.service`; `loginctl enable-linger $USER` starts it at boot without a login",
    );
    Ok(ExitStatus::Success)
}

/// `system check [--repair]`: one line per finding; fails while the store
/// is inconsistent.
fn check(args: CheckArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let p = &ctx.printer;
    let line = |problem: &Problem| {
        format!(
            "{}: {}: {}",
            problem.severity.as_str(),
            problem.path.display(),
            problem.what
        )
    };
    let mut unfixed = 0;
    let mut found = 0;
    if args.repair {
        let repairer = StoreRepairer::detect(ctx)?;
        for (problem, outcome) in store.repair(&repairer, true)? {
            found += 1;
            match outcome {
                Some(Ok(())) => p.data(format!("{} (repaired)", line(&problem))),
                Some(Err(e)) => {
                    unfixed += usize::from(problem.severity == Severity::Inconsistent);
                    p.data(format!("{} (repair failed: {e})", line(&problem)));
                }
                None => {
                    unfixed += usize::from(problem.severity == Severity::Inconsistent);
                    p.data(format!(
                        "{} (not repaired: {})",
                        line(&problem),
                        manual(&problem)
                    ));
                }
            }
        }
    } else {
        for problem in store.check()? {
            found += 1;
            unfixed += usize::from(problem.severity == Severity::Inconsistent);
            p.data(line(&problem));
        }
    }
    let root = store.root.display();
    if found == 0 {
        p.status(format!("store at {root}: consistent, nothing to repair"));
    } else if unfixed == 0 && !args.repair {
        p.status(format!(
            "store at {root}: consistent; {found} leftover(s) of interrupted commands (`devbox system check --repair` removes them)"
        ));
    } else if unfixed == 0 {
        p.status(format!("store at {root}: consistent after repair"));
    } else {
        p.status(format!(
            "store at {root}: {unfixed} inconsistenc{} {}",
            if unfixed == 1 { "y" } else { "ies" },
            if args.repair {
                "need a person (see each line)"
            } else {
                "(`devbox system check --repair` fixes what it can)"
            }
        ));
    }
    Ok(if unfixed == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Container(1)
    })
}

fn manual(problem: &Problem) -> &'static str {
    match problem.fix {
        Fix::Manual(text) => text,
        _ => "",
    }
}

/// Repairs with the user's id mapping: trees of mapped ids are removed and
/// layers unpacked inside the user namespace.
struct StoreRepairer {
    unpacker: UsernsUnpacker,
}

impl StoreRepairer {
    fn detect(ctx: &Context) -> anyhow::Result<StoreRepairer> {
        Ok(StoreRepairer {
            unpacker: UsernsUnpacker::detect(ctx)?,
        })
    }
}

impl Repairer for StoreRepairer {
    fn remove_tree(&self, path: &Path) -> Result<(), String> {
        self.unpacker.remove(path)
    }

    fn unpack(&self, blob: &Path, dest: &Path, diff_id: &Digest) -> Result<(), String> {
        self.unpacker.unpack(blob, dest, diff_id)
    }

    /// A FUSE mount of ours goes with fusermount (all a rootless user may
    /// unmount).
    fn unmount(&self, path: &Path) -> Result<(), String> {
        let mut last = String::from("neither fusermount3 nor fusermount is installed");
        for program in ["fusermount3", "fusermount"] {
            match std::process::Command::new(program)
                .args(["-u", "-z"])
                .arg(path)
                .stderr(std::process::Stdio::piped())
                .output()
            {
                Ok(out) if out.status.success() => return Ok(()),
                Ok(out) => last = String::from_utf8_lossy(&out.stderr).trim().to_string(),
                Err(_) => continue,
            }
        }
        Err(last)
    }
}

/// `system df [-v]`: Docker's table.
fn df(args: DfArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let usage = ctx.store()?.disk_usage()?;
    let p = &ctx.printer;
    let percent = |u: &Usage| match (u.reclaimable * 100).checked_div(u.size) {
        Some(pct) => format!("{} ({pct}%)", human_size(u.reclaimable)),
        None => format!("{} (0%)", human_size(u.reclaimable)),
    };
    let row = |kind: &str, u: &Usage, reclaimable: String| {
        format!(
            "{kind}\t{}\t{}\t{}\t{reclaimable}",
            u.total,
            u.active,
            human_size(u.size)
        )
    };
    if !args.verbose {
        let lines = [
            "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE".to_string(),
            row("Images", &usage.images, percent(&usage.images)),
            row("Containers", &usage.containers, percent(&usage.containers)),
            row("Local Volumes", &usage.volumes, percent(&usage.volumes)),
            row(
                "Build Cache",
                &usage.build_cache,
                human_size(usage.build_cache.reclaimable),
            ),
        ];
        align(&lines).into_iter().for_each(|l| p.data(l));
        return Ok(ExitStatus::Success);
    }
    p.data("Images space usage:\n");
    let mut lines = vec!["REPOSITORY\tTAG\tIMAGE ID\tSIZE\tCONTAINERS".to_string()];
    for image in &usage.image_rows {
        let tags = if image.tags.is_empty() {
            vec!["<none>:<none>".to_string()]
        } else {
            image.tags.clone()
        };
        for tag in tags {
            let (repository, tag) = tag.rsplit_once(':').unwrap_or((&tag, "<none>"));
            lines.push(format!(
                "{repository}\t{tag}\t{}\t{}\t{}",
                &image.id.hex()[..12],
                human_size(image.size),
                image.containers
            ));
        }
    }
    align(&lines).into_iter().for_each(|l| p.data(l));
    p.data("\nContainers space usage:\n");
    let mut lines = vec!["CONTAINER ID\tIMAGE\tSIZE\tSTATUS\tNAMES".to_string()];
    for c in &usage.container_rows {
        lines.push(format!(
            "{}\t{}\t{}\t{}\t{}",
            &c.id[..12.min(c.id.len())],
            c.image,
            human_size(c.size),
            c.status,
            c.name
        ));
    }
    align(&lines).into_iter().for_each(|l| p.data(l));
    p.data("\nLocal Volumes space usage:\n");
    let mut lines = vec!["VOLUME NAME\tLINKS\tSIZE".to_string()];
    for v in &usage.volume_rows {
        lines.push(format!("{}\t{}\t{}", v.name, v.links, human_size(v.size)));
    }
    align(&lines).into_iter().for_each(|l| p.data(l));
    p.data(format!(
        "\nBuild cache usage: {}",
        human_size(usage.build_cache.size)
    ));
    Ok(ExitStatus::Success)
}

/// `system prune [-a] [--volumes] [-f]`.
fn prune(args: SystemPruneArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let p = &ctx.printer;
    if !args.force {
        let mut warning = String::from("WARNING! This will remove:\n  - all stopped containers\n");
        if args.volumes {
            warning.push_str("  - all anonymous volumes not used by at least one container\n");
        }
        warning.push_str(if args.all {
            "  - all images without at least one container associated to them\n  - all build cache\n"
        } else {
            "  - all dangling images\n  - unused build cache\n"
        });
        warning.push_str("\nAre you sure you want to continue? [y/N] ");
        p.prompt(&warning);
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
            return Ok(ExitStatus::Success);
        }
    }
    let store = ctx.store()?;
    let mapping = ctx.id_mapping()?;
    let mut reclaimed = 0;

    let mut containers = Vec::new();
    for (record, state) in store.list_containers()? {
        if state.status.is_live() {
            continue;
        }
        let size = store.container_size(&record.id);
        // One that started meanwhile is refused and kept.
        if remove::remove_container(&store, &mapping, &record.id, false).is_ok() {
            containers.push(record.id);
            reclaimed += size;
        }
    }
    section(p, "Deleted Containers:", &containers);

    if args.volumes {
        let mut volumes = Vec::new();
        for volume in store.list_volumes()? {
            if !volume.anonymous || !store.volume_users(&volume.name)?.is_empty() {
                continue;
            }
            reclaimed += tree_size(&store.volume_data(&volume.name));
            let aside = store.retire_volume(&volume.name)?;
            remove::remove_tree(&mapping, &aside)?;
            volumes.push(volume.name);
        }
        section(p, "Deleted Volumes:", &volumes);
    }

    let images: Vec<String> = store
        .prune_images(args.all)?
        .into_iter()
        .map(|step| match step {
            Removal::Untagged(r) => format!("untagged: {}", r.familiar()),
            Removal::Deleted(id) => format!("deleted: {id}"),
        })
        .collect();
    let unpacker = UsernsUnpacker::detect(ctx)?;
    reclaimed += store.collect_garbage(&|path| unpacker.remove(path))?;
    section(p, "Deleted Images:", &images);

    let (objects, bytes) = prune_build_cache(&store, &mapping, args.all)?;
    reclaimed += bytes;
    section(p, "Deleted build cache objects:", &objects);

    // What killed commands left (temp files, trash of an interrupted rm).
    let repairer = StoreRepairer { unpacker };
    for (problem, _) in store.repair(&repairer, false)? {
        p.debug(format!("removed leftover {}", problem.path.display()));
    }
    p.data(format!(
        "Total reclaimed space: {}",
        human_size_with_precision(reclaimed, 3)
    ));
    Ok(ExitStatus::Success)
}

fn section(p: &crate::ui::printer::Printer, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    p.data(title);
    items.iter().for_each(|item| p.data(item));
    p.data("");
}

/// Build cache entries whose layer is gone (every entry and the cache
/// mounts with `all`); returns their keys and the bytes freed.
fn prune_build_cache(
    store: &Store,
    mapping: &crate::runtime::idmap::IdMapping,
    all: bool,
) -> anyhow::Result<(Vec<String>, u64)> {
    let mut keys = Vec::new();
    let mut bytes = 0;
    if let Ok(entries) = std::fs::read_dir(store.build_cache_dir()) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(key) = Digest::from_hex(&name) else {
                continue;
            };
            if all || crate::build::cache::lookup(store, &key).is_none() {
                bytes += entry.metadata().map_or(0, |m| m.len());
                fs_err::remove_file(entry.path())?;
                keys.push(name);
            }
        }
    }
    if all && store.cache_mounts_dir().exists() {
        bytes += tree_size(&store.cache_mounts_dir());
        let aside = store.staging_dir("cache-rm")?;
        fs_err::rename(store.cache_mounts_dir(), aside.join("cache"))?;
        remove::remove_tree(mapping, &aside)?;
    }
    Ok((keys, bytes))
}

/// `info` / `system info`: Docker's layout, devbox's facts.
pub fn info(args: InfoArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let containers = store.list_containers()?;
    let count = |status: Status| {
        containers
            .iter()
            .filter(|(_, s)| s.status == status)
            .count()
    };
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let os = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into());
    let memory = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024);
    let cgroup = if ctx
        .paths
        .host
        .sys_fs_cgroup
        .join("cgroup.controllers")
        .exists()
    {
        "2"
    } else {
        "1"
    };
    let network = if find_in_path("slirp4netns", std::env::var_os("PATH").as_deref()).is_some() {
        "slirp4netns"
    } else {
        "none (slirp4netns is not installed)"
    };
    let driver = store
        .storage_driver()?
        .map_or("(chosen at the first run)", |d| d.name());
    let value = serde_json::json!({
        "Containers": containers.len(),
        "ContainersRunning": count(Status::Running),
        "ContainersPaused": count(Status::Paused),
        "ContainersStopped": containers.len() - count(Status::Running) - count(Status::Paused),
        "Images": store.list_images()?.len(),
        "Volumes": store.list_volumes()?.len(),
        "Driver": driver,
        "DockerRootDir": store.root,
        "RunRoot": ctx.paths.run_root,
        "CgroupVersion": cgroup,
        "Rootless": true,
        "NetworkBackend": network,
        "KernelVersion": read("/proc/sys/kernel/osrelease").trim(),
        "OperatingSystem": os,
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "MemTotal": memory,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "SecurityOptions": ["name=rootless", "name=userns"],
    });
    match Format::parse(args.format.as_deref())? {
        Format::Json => ctx.printer.data(serde_json::to_string(&value)?),
        Format::Template(template) => ctx.printer.data(template.render(&value)),
        Format::Table => {
            let v = |key: &str| match &value[key] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let lines = [
                format!("Client: devbox {}", v("ServerVersion")),
                " Context:    rootless (no daemon)".to_string(),
                String::new(),
                "Server:".to_string(),
                format!(" Containers: {}", v("Containers")),
                format!("  Running: {}", v("ContainersRunning")),
                format!("  Paused: {}", v("ContainersPaused")),
                format!("  Stopped: {}", v("ContainersStopped")),
                format!(" Images: {}", v("Images")),
                format!(" Volumes: {}", v("Volumes")),
                format!(" Server Version: {}", v("ServerVersion")),
                format!(" Storage Driver: {}", v("Driver")),
                format!(" Cgroup Version: {}", v("CgroupVersion")),
                format!(" Network Backend: {}", v("NetworkBackend")),
                " Security Options:".to_string(),
                "  rootless".to_string(),
                "  userns".to_string(),
                format!(" Kernel Version: {}", v("KernelVersion")),
                format!(" Operating System: {}", v("OperatingSystem")),
                format!(" OSType: {}", v("OSType")),
                format!(" Architecture: {}", v("Architecture")),
                format!(" CPUs: {}", v("NCPU")),
                format!(" Total Memory: {}", human_size(memory)),
                format!(" Docker Root Dir: {}", store.root.display()),
                format!(" Run Root Dir: {}", ctx.paths.run_root.display()),
            ];
            lines.iter().for_each(|l| ctx.printer.data(l));
        }
    }
    Ok(ExitStatus::Success)
}
