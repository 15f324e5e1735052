//! `devbox compose up|down|ps|logs|config`, and `devbox up` / `devbox down`.
//!
//! Services run as detached containers (each with its monitor) on the host's network, so
//! they reach each other on localhost and by service name (/etc/hosts); see
//! `compose::plan` for why, and the book's Compose chapter for what that means.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

use crate::build::builder::{self, BuildRequest};
use crate::build::executor::Runtime;
use crate::cli::compose::{ComposeArgs, ComposeCommand, DownArgs, LogsArgs, UpArgs};
use crate::compose::model::Restart;
use crate::compose::plan::{self, ImageSource, ServicePlan, LABEL_PROJECT, LABEL_SERVICE};
use crate::compose::{self, LoadInput, Project, SourceFile};
use crate::context::Context;
use crate::image::Reference;
use crate::runtime::{create, lifecycle, logs, monitor, remove, rootfs, userns};
use crate::spec::container::Network;
use crate::spec::mount::MountRequest;
use crate::spec::restart::RestartPolicy;
use crate::spec::user::UserSpec;
use crate::store::Store;
use crate::ui::diagnostics::{ExitStatus, UserError};

/// The file names compose looks for, in its order.
pub const DEFAULT_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

pub fn compose(args: ComposeArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let files = if args.files.is_empty() {
        default_file(&cwd).into_iter().collect()
    } else {
        args.files.clone()
    };
    if files.is_empty() {
        return Err(no_compose_file(&cwd));
    }
    let project = load_files(&files, args.project_name.as_deref(), ctx)?;
    run(project, args.command, ctx)
}

pub fn run(
    loaded: LoadedProject,
    command: ComposeCommand,
    ctx: &Context,
) -> anyhow::Result<ExitStatus> {
    match command {
        ComposeCommand::Up(a) => up(&loaded, &a, ctx),
        ComposeCommand::Down(a) => down(&loaded.project, &a, ctx),
        ComposeCommand::Ps => ps(&loaded.project, ctx),
        ComposeCommand::Logs(a) => show_logs(&loaded.project, &a, ctx),
        ComposeCommand::Config => {
            ctx.printer
                .data(compose::config_yaml(&loaded.project).trim_end());
            Ok(ExitStatus::Success)
        }
    }
}

fn no_compose_file(dir: &Path) -> anyhow::Error {
    UserError::new(format!("no compose file in {}", dir.display()))
        .with_hint("write a compose.yaml (`devbox init` writes one for a Python project), or give one with -f")
        .into()
}

/// The first of compose's default names that exists in `dir`.
pub fn default_file(dir: &Path) -> Option<PathBuf> {
    DEFAULT_FILES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// A loaded project and the directory it is relative to.
pub struct LoadedProject {
    pub project: Project,
    pub dir: PathBuf,
}

/// Reads and loads compose files (plus `.env` and `env_file`s next to the first).
pub fn load_files(
    files: &[PathBuf],
    project_name: Option<&str>,
    ctx: &Context,
) -> anyhow::Result<LoadedProject> {
    let sources = files
        .iter()
        .map(|f| {
            Ok(SourceFile {
                name: f.display().to_string(),
                text: fs_err::read_to_string(f)?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let first = std::path::absolute(&files[0])?;
    let dir = first.parent().unwrap_or(Path::new("/")).to_path_buf();
    load_sources(sources, &dir, project_name, ctx)
}

/// Loads compose texts as if they were files in `dir`.
pub fn load_sources(
    files: Vec<SourceFile>,
    dir: &Path,
    project_name: Option<&str>,
    ctx: &Context,
) -> anyhow::Result<LoadedProject> {
    let dotenv = dir.join(".env");
    let input = LoadInput {
        files,
        env: std::env::vars().collect(),
        dotenv: std::fs::read_to_string(&dotenv)
            .ok()
            .map(|text| SourceFile {
                name: dotenv.display().to_string(),
                text,
            }),
        working_dir: dir.to_path_buf(),
        default_project_name: dir.file_name().map(|n| n.to_string_lossy().into_owned()),
        project_name_override: project_name.map(str::to_string),
        skip_consistency_checks: false,
    };
    let mut loaded = compose::load(&input)?;
    for warning in &loaded.warnings {
        ctx.printer.warn(warning);
    }
    let mut texts = BTreeMap::new();
    for (path, required) in loaded.env_file_paths() {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                texts.insert(path, text);
            }
            Err(e) if required => return Err(anyhow::anyhow!("env_file {}: {e}", path.display())),
            Err(_) => {}
        }
    }
    loaded.resolve_env_files(&texts)?;
    Ok(LoadedProject {
        project: loaded.project,
        dir: dir.to_path_buf(),
    })
}

fn restart_policy(restart: Option<Restart>) -> RestartPolicy {
    match restart {
        None | Some(Restart::No) => RestartPolicy::No,
        Some(Restart::Always) => RestartPolicy::Always,
        Some(Restart::UnlessStopped) => RestartPolicy::UnlessStopped,
        Some(Restart::OnFailure(max)) => RestartPolicy::OnFailure { max },
    }
}

/// The image a service runs, building it when needed.
fn service_image(
    store: &Store,
    runtime: &Runtime,
    service: &ServicePlan,
    force_build: bool,
    ctx: &Context,
) -> anyhow::Result<String> {
    match &service.image {
        ImageSource::Image(name) => {
            store.resolve_image(name).with_context(|| {
                format!(
                    "service `{}`: image `{name}` is not in the store",
                    service.service
                )
            })?;
            Ok(name.clone())
        }
        ImageSource::Build {
            context,
            dockerfile,
            target,
            args,
            tag,
        } => {
            if !force_build && store.resolve_image(tag).is_ok() {
                return Ok(tag.clone());
            }
            ctx.printer.status(format!("Building {}", service.service));
            let context = PathBuf::from(context);
            let request = BuildRequest {
                dockerfile: context.join(dockerfile.as_deref().unwrap_or("Dockerfile")),
                context,
                tags: vec![Reference::parse(tag)?],
                target: target.clone(),
                build_args: args.clone(),
                no_cache: false,
                network: Network::Slirp4netns,
                labels: BTreeMap::new(),
            };
            let reporter = StatusReporter { ctx };
            builder::build(runtime, &request, &reporter)
                .with_context(|| format!("cannot build service `{}`", service.service))?;
            Ok(tag.clone())
        }
    }
}

/// Build steps as debug lines (`-D`), warnings as warnings: builds that are a means, not
/// the command's point.
pub(super) struct StatusReporter<'a> {
    pub(super) ctx: &'a Context,
}

impl builder::Reporter for StatusReporter<'_> {
    fn step(&self, _stage: Option<(usize, usize)>, n: usize, total: usize, text: &str) {
        self.ctx.printer.debug(format!(" STEP {n}/{total}: {text}"));
    }
    fn cached(&self) {}
    fn done(&self, _elapsed: Duration) {}
    fn warn(&self, message: &str) {
        self.ctx.printer.warn(message);
    }
}

/// Is the container's owner alive (its lock held)?
fn running(store: &Store, id: &str) -> bool {
    crate::store::lock::Lock::is_held(&store.container_dirs(id).lock())
}

fn up(loaded: &LoadedProject, args: &UpArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let project = &loaded.project;
    let plans: BTreeMap<String, ServicePlan> = plan::plan(project)?
        .into_iter()
        .map(|p| (p.service.clone(), p))
        .collect();
    let order = compose::start_order(project)?;
    let store = ctx.store()?;
    let mapping = ctx.id_mapping()?;
    let (driver, note) = rootfs::choose(&store, ctx.requested_driver(), &mapping)?;
    if let Some(note) = note {
        ctx.printer.warn(note);
    }
    let runtime = Runtime {
        store: &store,
        mapping: mapping.clone(),
        host: &ctx.paths.host,
        quiet: true,
    };
    let _ = driver;
    let mut started = Vec::new();
    for name in &order {
        if !args.services.is_empty() && !args.services.contains(name) {
            continue;
        }
        let service = &plans[name];
        let image = service_image(&store, &runtime, service, args.build, ctx)?;
        if let Ok(id) = store.resolve_container(&service.container_name) {
            if running(&store, &id) && !args.build {
                ctx.printer
                    .status(format!("Container {}  Running", service.container_name));
                started.push((name.clone(), id));
                continue;
            }
            remove::remove_container(&store, &mapping, &id, true)?;
        }
        let request = request_for(service, &image, &loaded.dir, ctx)?;
        let image_record = store.resolve_image(&image)?;
        let (record, _) = create::create(&store, &image_record, &request)?;
        monitor::start_detached(&ctx.paths, &record.id)
            .with_context(|| format!("cannot start service `{name}`"))?;
        ctx.printer
            .status(format!("Container {}  Started", service.container_name));
        started.push((name.clone(), record.id));
    }
    for service in plans.values() {
        for p in &service.ports {
            let port = p.container_port;
            ctx.printer.status(format!(
                "{}: http://{}:{port}/",
                service.service,
                p.host_ip
                    .map_or("127.0.0.1".to_string(), |ip| ip.to_string())
            ));
        }
    }
    if args.detach {
        return Ok(ExitStatus::Success);
    }
    follow(&store, &started, ctx)
}

/// Streams every service's output, `service  | line`, until they all end; Ctrl-C stops them.
fn follow(
    store: &Store,
    containers: &[(String, String)],
    ctx: &Context,
) -> anyhow::Result<ExitStatus> {
    let width = containers.iter().map(|(s, _)| s.len()).max().unwrap_or(0);
    let ids: Vec<String> = containers.iter().map(|(_, id)| id.clone()).collect();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])?;
    let stopper = {
        let store = store.clone();
        let printer = ctx.printer;
        std::thread::spawn(move || {
            if signals.forever().next().is_some() {
                printer.status("Gracefully stopping... (press Ctrl+C again to force)");
                for id in &ids {
                    let _ = lifecycle::stop(&store, id, None);
                }
            }
        })
    };
    let threads: Vec<_> = containers
        .iter()
        .map(|(service, id)| {
            let dirs = store.container_dirs(id);
            let printer = ctx.printer;
            let prefix = format!("{service:<width$} | ");
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
    drop(stopper);
    Ok(ExitStatus::Success)
}

/// A service's container request. Services share the host's network: published ports are
/// the container's own ports, and a different host port cannot be honoured.
fn request_for(
    service: &ServicePlan,
    image: &str,
    dir: &Path,
    ctx: &Context,
) -> anyhow::Result<create::Request> {
    for p in &service.ports {
        if p.host_port != 0 && p.host_port != p.container_port {
            ctx.printer.warn(format!(
                "service `{}`: port {} is served on the host as {} (services share the host's network); {} is not used",
                service.service, p.container_port, p.container_port, p.host_port
            ));
        }
    }
    let (mut binds, mut volumes, mut tmpfs) = (Vec::new(), Vec::new(), Vec::new());
    for m in &service.mounts {
        match m.clone() {
            MountRequest::Bind(b) => {
                if !b.source.exists() {
                    fs_err::create_dir_all(&b.source)?;
                }
                binds.push(b)
            }
            MountRequest::Volume(v) => volumes.push(v),
            MountRequest::Tmpfs(t) => tmpfs.push(t),
        }
    }
    let _ = dir;
    Ok(create::Request {
        image_name: image.to_string(),
        name: Some(service.container_name.clone()),
        hostname: Some(service.hostname.clone()),
        env: service.env.clone(),
        workdir: service.working_dir.clone(),
        user: service.user.as_deref().map(UserSpec::parse).transpose()?,
        binds,
        volumes,
        tmpfs,
        ports: Vec::new(),
        publish_all: false,
        read_only: false,
        extra_hosts: service.extra_hosts.clone(),
        network: Network::Host,
        net: Default::default(),
        entrypoint: service.entrypoint.clone(),
        args: service.command.clone().unwrap_or_default(),
        tty: service.tty,
        interactive: false,
        auto_remove: false,
        restart: restart_policy(service.restart),
        init: service.init,
        stop_signal: None,
        stop_timeout: None,
        health: Default::default(),
        labels: service.labels.clone(),
    })
}

/// The project's containers: (service, id), oldest first.
fn project_containers(store: &Store, project: &str) -> anyhow::Result<Vec<(String, String)>> {
    Ok(store
        .list_containers()?
        .into_iter()
        .filter(|(r, _)| r.labels.get(LABEL_PROJECT).map(String::as_str) == Some(project))
        .map(|(r, _)| {
            (
                r.labels.get(LABEL_SERVICE).cloned().unwrap_or_default(),
                r.id,
            )
        })
        .collect())
}

fn down(project: &Project, args: &DownArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let (mapping, _) = userns::detect_mapping(&ctx.paths.host)?;
    let containers = project_containers(&store, &project.name)?;
    let mut volumes = std::collections::BTreeSet::new();
    for (_, id) in containers.iter().rev() {
        let (record, _) = store.load_container(id)?;
        volumes.extend(
            record
                .spec
                .binds
                .iter()
                .filter_map(|b| store.volume_of(&b.source)),
        );
        if running(&store, id) {
            lifecycle::stop(&store, id, None)?;
        }
        remove::remove_container(&store, &mapping, id, true)?;
        ctx.printer
            .status(format!("Container {}  Removed", record.name));
    }
    if args.volumes {
        for name in project.volumes.keys() {
            volumes.insert(plan::volume_name(project, name));
        }
        for name in volumes {
            let anonymous = store.volume(&name).map(|v| v.anonymous).unwrap_or(false);
            let declared = project
                .volumes
                .keys()
                .any(|n| plan::volume_name(project, n) == name && !project.volumes[n].external);
            if (anonymous || declared) && store.volume_users(&name)?.is_empty() {
                if let Ok(aside) = store.retire_volume(&name) {
                    remove::remove_tree(&mapping, &aside)?;
                    ctx.printer.status(format!("Volume {name}  Removed"));
                }
            }
        }
    }
    Ok(ExitStatus::Success)
}

fn ps(project: &Project, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    ctx.printer
        .data(format!("{:<32}{:<16}{}", "NAME", "SERVICE", "STATUS"));
    for (service, id) in project_containers(&store, &project.name)? {
        let (record, state) = store.load_container(&id)?;
        let status = if running(&store, &id) {
            "running".to_string()
        } else {
            match state.exit_code {
                Some(code) => format!("exited ({code})"),
                None => "exited".to_string(),
            }
        };
        ctx.printer
            .data(format!("{:<32}{:<16}{status}", record.name, service));
    }
    Ok(ExitStatus::Success)
}

fn show_logs(project: &Project, args: &LogsArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let containers: Vec<(String, String)> = project_containers(&store, &project.name)?
        .into_iter()
        .filter(|(s, _)| args.services.is_empty() || args.services.contains(s))
        .collect();
    if args.follow {
        return follow(&store, &containers, ctx);
    }
    let width = containers.iter().map(|(s, _)| s.len()).max().unwrap_or(0);
    for (service, id) in &containers {
        let dirs = store.container_dirs(id);
        logs::show(
            &dirs.log(),
            &dirs.lock(),
            &logs::LogQuery::default(),
            false,
            |_, line| {
                let text = String::from_utf8_lossy(line);
                ctx.printer.data(format!(
                    "{service:<width$} | {}",
                    text.trim_end_matches('\n')
                ));
            },
        )?;
    }
    Ok(ExitStatus::Success)
}
