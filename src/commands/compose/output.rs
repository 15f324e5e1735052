//! `compose ps`, `compose logs [-f]`, and the foreground `up`'s log stream: lines prefixed
//! with the service's name, coloured per service on a terminal (not with `NO_COLOR`).

use std::io::IsTerminal as _;
use std::time::SystemTime;

use super::{project_containers, running, service_containers};
use crate::cli::compose::{LogsArgs, PsArgs};
use crate::compose::Project;
use crate::context::Context;
use crate::runtime::{inspect, lifecycle, logs};
use crate::store::Store;
use crate::ui::diagnostics::ExitStatus;
use crate::ui::format::Template;

/// Compose's columns.
const PS_TABLE: &str = "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}";

pub(super) fn ps(project: &Project, args: &PsArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let now = SystemTime::now();
    let mut rows = Vec::new();
    for c in service_containers(&store, project, &args.names)? {
        let (record, state) = store.load_container(&c.id)?;
        if !args.all && !state.status.is_live() {
            continue;
        }
        let mut row = inspect::ps_row(&record, &state, None, now);
        row["Name"] = record.name.clone().into();
        row["Service"] = c.service.clone().into();
        if let Some(cmd) = row["Command"].as_str().filter(|c| c.chars().count() > 22) {
            let short: String = cmd.chars().take(20).collect();
            row["Command"] = format!("{short}…\"").into();
        }
        // The ports as published at the container's start.
        let ports: Vec<String> = state
            .ports
            .iter()
            .filter(|_| state.status.is_live())
            .map(|p| {
                let ip = p.host_ip.map_or("0.0.0.0".to_string(), |ip| ip.to_string());
                format!("{ip}:{}->{}/{}", p.host_port, p.container_port, p.proto)
            })
            .collect();
        row["Ports"] = ports.join(", ").into();
        rows.push((c, row));
    }
    if args.quiet || args.services {
        let mut seen = Vec::new();
        for (c, row) in &rows {
            let line = if args.quiet {
                row["ID"].as_str().unwrap_or_default().to_string()
            } else {
                c.service.clone()
            };
            if !seen.contains(&line) {
                ctx.printer.data(&line);
                seen.push(line);
            }
        }
        return Ok(ExitStatus::Success);
    }
    let rows: Vec<_> = rows.into_iter().map(|(_, row)| row).collect();
    for line in Template::parse(PS_TABLE)?.render_rows(&rows) {
        ctx.printer.data(line.trim_end());
    }
    Ok(ExitStatus::Success)
}

pub(super) fn logs(
    project: &Project,
    args: &LogsArgs,
    ctx: &Context,
) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let containers: Vec<(String, String)> = service_containers(&store, project, &args.services)?
        .into_iter()
        .map(|c| (c.service, c.id))
        .collect();
    let plain = args.no_color;
    if args.follow {
        return follow(&store, &containers, None, plain, ctx);
    }
    let prefixes = Prefixes::new(&containers, plain || args.no_log_prefix);
    for (i, (_, id)) in containers.iter().enumerate() {
        let dirs = store.container_dirs(id);
        let prefix = if args.no_log_prefix {
            String::new()
        } else {
            prefixes.get(i)
        };
        logs::show(
            &dirs.log(),
            &dirs.lock(),
            &logs::LogQuery::default(),
            false,
            |_, line| {
                let text = String::from_utf8_lossy(line);
                ctx.printer
                    .data(format!("{prefix}{}", text.trim_end_matches('\n')));
            },
        )?;
    }
    Ok(ExitStatus::Success)
}

/// Compose's colours for service names, in its order.
const COLOURS: [&str; 6] = ["36", "33", "32", "35", "34", "31"];

/// `service  | ` prefixes, padded to the longest name, coloured per service.
struct Prefixes {
    prefixes: Vec<String>,
}

impl Prefixes {
    fn new(containers: &[(String, String)], plain: bool) -> Prefixes {
        let colour = !plain
            && std::io::stdout().is_terminal()
            && std::env::var_os(crate::env_vars::NO_COLOR).is_none();
        // One replica: the service's name; several: `web-1`, `web-2`, ...
        let labels: Vec<String> = containers
            .iter()
            .enumerate()
            .map(|(i, (service, _))| {
                let replicas = containers.iter().filter(|(s, _)| s == service).count();
                let nth = containers[..i].iter().filter(|(s, _)| s == service).count() + 1;
                if replicas > 1 {
                    format!("{service}-{nth}")
                } else {
                    service.clone()
                }
            })
            .collect();
        let width = labels.iter().map(String::len).max().unwrap_or(0);
        let mut services: Vec<&String> = Vec::new();
        let prefixes = containers
            .iter()
            .zip(&labels)
            .map(|((service, _), label)| {
                let padded = format!("{label:<width$} | ");
                if !colour {
                    return padded;
                }
                let index = services
                    .iter()
                    .position(|s| *s == service)
                    .unwrap_or_else(|| {
                        services.push(service);
                        services.len() - 1
                    });
                format!("\x1b[{}m{padded}\x1b[0m", COLOURS[index % COLOURS.len()])
            })
            .collect();
        Prefixes { prefixes }
    }

    fn get(&self, i: usize) -> String {
        self.prefixes.get(i).cloned().unwrap_or_default()
    }
}

/// Streams the containers' output, prefixed, until they all end. With `stop_project` (a
/// foreground `up`: the project and the signals it registered), Ctrl-C stops the project's service containers (those running then, so
/// ones a watch rebuild recreated too), which ends the stream; a second Ctrl-C kills them.
pub(super) fn follow(
    store: &Store,
    containers: &[(String, String)],
    stop_project: Option<(&str, signal_hook::iterator::Signals)>,
    plain: bool,
    ctx: &Context,
) -> anyhow::Result<ExitStatus> {
    let prefixes = Prefixes::new(containers, plain);
    // Set once a signal started stopping the services; receives when they all stopped.
    let mut stopped: Option<std::sync::mpsc::Receiver<()>> = None;
    let stopping = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if let Some((project, mut signals)) = stop_project {
        let (done, all_stopped) = std::sync::mpsc::channel();
        stopped = Some(all_stopped);
        let store = store.clone();
        let printer = ctx.printer;
        let project = project.to_string();
        let stopping = stopping.clone();
        std::thread::spawn(move || {
            let mut signals = signals.forever();
            if signals.next().is_none() {
                return;
            }
            stopping.store(true, std::sync::atomic::Ordering::SeqCst);
            let ids: Vec<String> = project_containers(&store, &project)
                .unwrap_or_default()
                .into_iter()
                .filter(|c| !c.oneoff && running(&store, &c.id))
                .map(|c| c.id)
                .collect();
            printer.status("Gracefully stopping... (press Ctrl+C again to force)");
            let stops: Vec<_> = ids
                .iter()
                .map(|id| {
                    let store = store.clone();
                    let id = id.clone();
                    std::thread::spawn(move || {
                        let (record, _) = store.load_container(&id).ok()?;
                        let timeout = record.stop_timeout.map(std::time::Duration::from_secs);
                        lifecycle::stop(&store, &id, timeout).ok()?;
                        printer.status(format!("Container {}  Stopped", record.name));
                        Some(())
                    })
                })
                .collect();
            std::thread::spawn(move || {
                for t in stops {
                    let _ = t.join();
                }
                let _ = done.send(());
            });
            // A second Ctrl-C while they stop: kill them.
            if signals.next().is_some() {
                for id in &ids {
                    let _ = lifecycle::kill(&store, id, nix::sys::signal::Signal::SIGKILL as i32);
                }
            }
        });
    }
    let threads: Vec<_> = containers
        .iter()
        .enumerate()
        .map(|(i, (_, id))| {
            let dirs = store.container_dirs(id);
            let printer = ctx.printer;
            let prefix = prefixes.get(i);
            std::thread::spawn(move || {
                let _ = logs::show(
                    &dirs.log(),
                    &dirs.lock(),
                    &logs::LogQuery::default(),
                    true,
                    |_, line| {
                        let text = String::from_utf8_lossy(line);
                        printer.data(format!("{prefix}{}", text.trim_end_matches('\n')));
                    },
                );
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    // The streams end as the containers exit; the stops report after that.
    if let Some(all_stopped) =
        stopped.filter(|_| stopping.load(std::sync::atomic::Ordering::SeqCst))
    {
        let _ = all_stopped.recv_timeout(std::time::Duration::from_secs(60));
    }
    Ok(ExitStatus::Success)
}
