//! `devbox compose ...`, and `devbox up` / `devbox down`.
//!
//! Services run as detached containers (each with its monitor) on the project's
//! user-defined networks (`networks`: `<project>_default` unless they declare others), where
//! they reach each other by service name, container name and alias; see `compose::plan`.
//!
//! `up` converges: each selected service, in dependency order, after its dependencies meet
//! their `depends_on` condition (`wait`), gets `replicas` containers; a container whose
//! config hash or image changed is recreated, an unchanged one is left running (or started).
//! The other verbs live in `verbs` (start, stop, rm, top, build, pull), `oneoff` (exec,
//! run), `output` (ps, logs) and `watch`.

mod networks;
mod oneoff;
mod output;
mod verbs;
mod wait;
mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

use crate::build::builder::{self, BuildRequest};
use crate::build::executor::Runtime;
use crate::cli::compose::{ComposeArgs, ComposeCommand, DownArgs, RemoveImages, UpArgs};
use crate::compose::model::Restart;
use crate::compose::plan::{
    self, ImageSource, ServiceNetworking, ServicePlan, LABEL_CONFIG_HASH, LABEL_NUMBER,
    LABEL_ONEOFF, LABEL_PROJECT, LABEL_SERVICE,
};
use crate::compose::select::{self, SelectError};
use crate::compose::{self, LoadInput, Project, SourceFile};
use crate::context::Context;
use crate::image::Reference;
use crate::runtime::idmap::IdMapping;
use crate::runtime::{create, lifecycle, monitor, remove, rootfs, userns};
use crate::spec::container::{Network, NetworkOptions};
use crate::spec::mount::MountRequest;
use crate::spec::restart::RestartPolicy;
use crate::spec::security::Security;
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
    let mut project = load_files(&files, args.project_name.as_deref(), ctx)?;
    project.profiles.splice(0..0, args.profiles);
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
        ComposeCommand::Ps(a) => output::ps(&loaded.project, &a, ctx),
        ComposeCommand::Logs(a) => output::logs(&loaded.project, &a, ctx),
        ComposeCommand::Config => {
            ctx.printer
                .data(compose::config_yaml(&loaded.project).trim_end());
            Ok(ExitStatus::Success)
        }
        ComposeCommand::Start(a) => verbs::start(&loaded.project, &a, ctx),
        ComposeCommand::Stop(a) => verbs::stop(&loaded.project, &a, ctx),
        ComposeCommand::Restart(a) => verbs::restart(&loaded.project, &a, ctx),
        ComposeCommand::Rm(a) => verbs::rm(&loaded.project, &a, ctx),
        ComposeCommand::Top(a) => verbs::top(&loaded.project, &a, ctx),
        ComposeCommand::Build(a) => verbs::build(&loaded, &a, ctx),
        ComposeCommand::Pull(a) => verbs::pull(&loaded.project, &a, ctx),
        ComposeCommand::Exec(a) => oneoff::exec(&loaded.project, a, ctx),
        ComposeCommand::Run(a) => oneoff::run(&loaded, a, ctx),
        ComposeCommand::Watch(a) => watch::watch(&loaded, &a, ctx),
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

/// A loaded project and the active profiles.
pub struct LoadedProject {
    pub project: Project,
    /// `--profile` flags, then `COMPOSE_PROFILES`.
    pub profiles: Vec<String>,
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
        profiles: select::active_profiles(
            &[],
            std::env::var(crate::env_vars::COMPOSE_PROFILES)
                .ok()
                .as_deref(),
        ),
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
                inputs: Default::default(),
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

/// What the commands that act on a project need from the machine.
struct Machine {
    store: Store,
    mapping: IdMapping,
}

impl Machine {
    fn new(ctx: &Context) -> anyhow::Result<Machine> {
        let store = ctx.store()?;
        let mapping = ctx.id_mapping()?;
        let (_driver, note) = rootfs::choose(&store, ctx.requested_driver(), &mapping)?;
        if let Some(note) = note {
            ctx.printer.warn(note);
        }
        Ok(Machine { store, mapping })
    }

    /// Pulls a base image the store lacks, as `devbox build` does.
    fn puller<'a>(&self, ctx: &'a Context) -> super::build::RegistryPuller<'a> {
        super::build::RegistryPuller {
            ctx,
            printer: ctx.printer,
            mapping: self.mapping.clone(),
            tls_verify: true,
        }
    }

    fn runtime<'a>(
        &'a self,
        ctx: &'a Context,
        puller: &'a super::build::RegistryPuller<'a>,
    ) -> Runtime<'a> {
        Runtime {
            store: &self.store,
            puller: Some(puller),
            mapping: self.mapping.clone(),
            host: &ctx.paths.host,
            quiet: true,
        }
    }
}

/// When `up` replaces a service's existing containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recreate {
    /// When the config hash or the image changed (compose's default).
    Changed,
    Always,
    Never,
}

/// `--scale web=3` flags.
fn parse_scale(flags: &[String], project: &Project) -> anyhow::Result<BTreeMap<String, u32>> {
    let mut out = BTreeMap::new();
    for flag in flags {
        let parsed = flag
            .split_once('=')
            .and_then(|(s, n)| Some((s.to_string(), n.parse::<u32>().ok()?)));
        let Some((service, n)) = parsed else {
            return Err(UserError::new(format!("invalid --scale `{flag}`"))
                .with_hint("give SERVICE=N, e.g. `--scale web=3`")
                .into());
        };
        if !project.services.contains_key(&service) {
            return Err(SelectError::NoSuchService(service).into());
        }
        out.insert(service, n);
    }
    Ok(out)
}

/// The services `names` in start order, after checking they exist.
fn in_start_order(
    project: &Project,
    names: &std::collections::BTreeSet<String>,
) -> anyhow::Result<Vec<String>> {
    Ok(compose::start_order(project)?
        .into_iter()
        .filter(|s| names.contains(s))
        .collect())
}

fn up(loaded: &LoadedProject, args: &UpArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let project = &loaded.project;
    let selected = select::select(project, &loaded.profiles, &args.services, !args.no_deps)?;
    let scale = parse_scale(&args.scale, project)?;
    let plans: BTreeMap<String, ServicePlan> = plan::plan(project)?
        .into_iter()
        .map(|p| (p.service.clone(), p))
        .collect();
    let order = in_start_order(project, &selected)?;
    // Bad confinement keys fail before anything is made.
    let mut security = BTreeMap::new();
    for name in &order {
        security.insert(name.clone(), service_security(&plans[name], ctx)?);
    }
    let machine = Machine::new(ctx)?;
    networks::ensure(&machine.store, project, &order, ctx)?;
    let recreate = match (args.force_recreate, args.no_recreate) {
        (true, _) => Recreate::Always,
        (_, true) => Recreate::Never,
        _ => Recreate::Changed,
    };
    let mut started: Vec<(String, String)> = Vec::new();
    let mut by_service: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in &order {
        let service = &plans[name];
        wait::dependencies(
            &machine.store,
            project,
            name,
            &by_service,
            args.wait_timeout.map(Duration::from_secs),
            ctx,
        )?;
        let replicas = scale.get(name).copied().unwrap_or(service.replicas);
        let ids = converge(
            &machine,
            (service, &security[name]),
            replicas,
            args.build,
            recreate,
            ctx,
        )?;
        started.extend(ids.iter().map(|id| (name.clone(), id.clone())));
        by_service.insert(name.clone(), ids);
    }
    for (service, id) in &started {
        let (_, state) = machine.store.load_container(id)?;
        for p in &state.ports {
            ctx.printer.status(format!(
                "{service}: http://{}:{}/",
                p.host_ip
                    .filter(|ip| !ip.is_unspecified())
                    .map_or("127.0.0.1".to_string(), |ip| ip.to_string()),
                p.host_port
            ));
        }
    }
    if args.detach {
        return Ok(ExitStatus::Success);
    }
    // Ctrl-C stops the services from here on; before (a build, a dependency's wait) it
    // interrupts `up` itself and leaves what started running, as an interrupted
    // `docker compose up` does.
    let signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])?;
    let stop_project = Some((project.name.as_str(), signals));
    if !args.watch {
        return output::follow(&machine.store, &started, stop_project, false, ctx);
    }
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let watcher = scope.spawn(|| watch::run(loaded, &args.services, &stop, ctx));
        let followed = output::follow(&machine.store, &started, stop_project, false, ctx);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        match watcher.join() {
            Ok(Err(e)) => ctx.printer.warn(format!("watch: {e:#}")),
            Err(_) => ctx.printer.warn("watch: the watcher failed"),
            Ok(Ok(())) => {}
        }
        followed
    })
}

/// Brings `service` to `replicas` containers and returns their ids: builds its image when
/// needed, recreates containers whose config hash or image changed (per `recreate`), starts
/// stopped ones, removes replicas beyond the count.
fn converge(
    machine: &Machine,
    (service, security): (&ServicePlan, &Security),
    replicas: u32,
    force_build: bool,
    recreate: Recreate,
    ctx: &Context,
) -> anyhow::Result<Vec<String>> {
    let store = &machine.store;
    let custom_name =
        service.container_name != format!("{}-{}-1", service.project, service.service);
    if replicas > 1 && custom_name {
        return Err(UserError::new(format!(
            "service `{}` sets container_name `{}`, so it cannot run {replicas} replicas",
            service.service, service.container_name
        ))
        .with_hint("remove `container_name:` to scale the service")
        .into());
    }
    let puller = machine.puller(ctx);
    let image = service_image(
        store,
        &machine.runtime(ctx, &puller),
        service,
        force_build,
        ctx,
    )?;
    let image_id = store.resolve_image(&image)?.id;
    let mut ids = Vec::new();
    for n in 1..=replicas {
        let name = service.container_for(n);
        let existing = store.resolve_container(&name).ok();
        if let Some(id) = &existing {
            let (record, _) = store.load_container(id)?;
            let changed = record.labels.get(LABEL_CONFIG_HASH)
                != service.labels.get(LABEL_CONFIG_HASH)
                || record.image_id != image_id;
            let replace = match recreate {
                Recreate::Always => true,
                Recreate::Never => false,
                Recreate::Changed => changed,
            };
            if !replace {
                if running(store, id) {
                    ctx.printer.status(format!("Container {name}  Running"));
                } else {
                    lifecycle::start(&ctx.paths, store, id)
                        .with_context(|| format!("cannot start service `{}`", service.service))?;
                    ctx.printer.status(format!("Container {name}  Started"));
                }
                ids.push(id.clone());
                continue;
            }
            stop_and_remove(machine, id, service.stop_timeout)?;
        }
        let mut request = request_for(service, &image, security.clone())?;
        request.name = Some(name.clone());
        request.labels.insert(LABEL_NUMBER.into(), n.to_string());
        request.labels.insert(LABEL_ONEOFF.into(), "False".into());
        let image_record = store.resolve_image(&image)?;
        let (record, _) = create::create(store, &image_record, &request)?;
        monitor::start_detached(&ctx.paths, &record.id)
            .with_context(|| format!("cannot start service `{}`", service.service))?;
        let verb = if existing.is_some() {
            "Recreated"
        } else {
            "Started"
        };
        ctx.printer.status(format!("Container {name}  {verb}"));
        ids.push(record.id);
    }
    for c in project_containers(store, &service.project)? {
        if c.service == service.service && !c.oneoff && c.number > replicas {
            stop_and_remove(machine, &c.id, service.stop_timeout)?;
            ctx.printer.status(format!("Container {}  Removed", c.name));
        }
    }
    Ok(ids)
}

fn stop_and_remove(machine: &Machine, id: &str, timeout: Option<u64>) -> anyhow::Result<()> {
    if running(&machine.store, id) {
        lifecycle::stop(&machine.store, id, timeout.map(Duration::from_secs))?;
    }
    remove::remove_container(&machine.store, &machine.mapping, id, true)?;
    Ok(())
}

/// A service's confinement keys, checked by `devbox run`'s rules (limits that cannot be
/// applied fail here, with run's message).
fn service_security(service: &ServicePlan, ctx: &Context) -> anyhow::Result<Security> {
    let c = &service.confinement;
    let flags = crate::spec::security::Flags {
        cap_add: &c.cap_add,
        cap_drop: &c.cap_drop,
        privileged: c.privileged,
        security_opt: &c.security_opt,
        pids_limit: c.pids_limit,
        memory: c.mem_limit.as_deref(),
        cpus: c.cpus,
    };
    super::run::checked_security(&flags, ctx)
        .with_context(|| format!("service `{}`", service.service))
}

/// How a service's container is networked, in `devbox run`'s terms.
fn network_request(networking: &ServiceNetworking) -> (Network, NetworkOptions) {
    let mut net = NetworkOptions::default();
    let mode = match networking {
        ServiceNetworking::Networks(attachments) => {
            net.networks = attachments.clone();
            Network::User
        }
        ServiceNetworking::Host => Network::Host,
        ServiceNetworking::None => Network::None,
        ServiceNetworking::Bridge => Network::Slirp4netns,
        ServiceNetworking::Service { container, .. } | ServiceNetworking::Container(container) => {
            net.container = Some(container.clone());
            Network::Container
        }
    };
    (mode, net)
}

/// A service's container request: its own network namespace on the project's networks (or
/// its `network_mode`), its ports published as `devbox run -p` does.
fn request_for(
    service: &ServicePlan,
    image: &str,
    security: Security,
) -> anyhow::Result<create::Request> {
    let (network, net) = network_request(&service.networking);
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
        ports: service.ports.clone(),
        publish_all: false,
        read_only: service.confinement.read_only,
        extra_hosts: service.extra_hosts.clone(),
        network,
        net,
        entrypoint: service.entrypoint.clone(),
        args: service.command.clone().unwrap_or_default(),
        tty: service.tty,
        interactive: false,
        auto_remove: false,
        restart: restart_policy(service.restart),
        init: service.init,
        stop_signal: service.stop_signal.clone(),
        stop_timeout: service.stop_timeout,
        health: service.health.clone(),
        labels: service.labels.clone(),
        keep_id: service
            .keep_id
            .then(crate::runtime::userns::keep_id_user)
            .transpose()?,
        security,
    })
}

/// One of a project's containers, found by its labels.
#[derive(Debug, Clone)]
struct ProjectContainer {
    service: String,
    id: String,
    name: String,
    /// The replica number (`com.docker.compose.container-number`, else 1).
    number: u32,
    /// A `compose run` container.
    oneoff: bool,
}

/// The project's containers, by service then replica number.
fn project_containers(store: &Store, project: &str) -> anyhow::Result<Vec<ProjectContainer>> {
    let mut out: Vec<ProjectContainer> = store
        .list_containers()?
        .into_iter()
        .filter(|(r, _)| r.labels.get(LABEL_PROJECT).map(String::as_str) == Some(project))
        .map(|(r, _)| ProjectContainer {
            service: r.labels.get(LABEL_SERVICE).cloned().unwrap_or_default(),
            number: r
                .labels
                .get(LABEL_NUMBER)
                .and_then(|n| n.parse().ok())
                .unwrap_or(1),
            oneoff: r.labels.get(LABEL_ONEOFF).map(String::as_str) == Some("True"),
            id: r.id,
            name: r.name,
        })
        .collect();
    out.sort_by(|a, b| (&a.service, a.number, &a.name).cmp(&(&b.service, b.number, &b.name)));
    Ok(out)
}

/// The project's service containers (no `run` ones) of the services `names` (all when
/// empty); a name that is not a service fails.
fn service_containers(
    store: &Store,
    project: &Project,
    names: &[String],
) -> anyhow::Result<Vec<ProjectContainer>> {
    if let Some(unknown) = names.iter().find(|n| !project.services.contains_key(*n)) {
        return Err(SelectError::NoSuchService(unknown.clone()).into());
    }
    Ok(project_containers(store, &project.name)?
        .into_iter()
        .filter(|c| !c.oneoff && (names.is_empty() || names.contains(&c.service)))
        .collect())
}

fn down(project: &Project, args: &DownArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let (mapping, _) = userns::detect_mapping(&ctx.paths.host)?;
    let containers = project_containers(&store, &project.name)?;
    let mut volumes = std::collections::BTreeSet::new();
    let mut images = std::collections::BTreeSet::new();
    for c in containers.iter().rev() {
        let (record, _) = store.load_container(&c.id)?;
        volumes.extend(
            record
                .spec
                .binds
                .iter()
                .filter_map(|b| store.volume_of(&b.source)),
        );
        if running(&store, &c.id) {
            lifecycle::stop(&store, &c.id, record.stop_timeout.map(Duration::from_secs))?;
            ctx.printer
                .status(format!("Container {}  Stopped", record.name));
        }
        remove::remove_container(&store, &mapping, &c.id, true)?;
        ctx.printer
            .status(format!("Container {}  Removed", record.name));
    }
    // Volumes and images go even when a network is still in use.
    let networks_removed = networks::remove(&store, project, ctx);
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
    if let Some(which) = args.rmi {
        for service in plan::plan(project)? {
            match (&service.image, which) {
                (ImageSource::Build { tag, .. }, RemoveImages::Local)
                    if project.services[&service.service].image.is_none() =>
                {
                    images.insert(tag.clone());
                }
                (ImageSource::Build { tag, .. }, RemoveImages::All) => {
                    images.insert(tag.clone());
                }
                (ImageSource::Image(name), RemoveImages::All) => {
                    images.insert(name.clone());
                }
                _ => {}
            }
        }
        for image in images {
            match store.remove_image(&image, false) {
                Ok(_) => ctx.printer.status(format!("Image {image}  Removed")),
                Err(crate::store::StoreError::NoSuchImage(_)) => {}
                Err(e) => ctx.printer.warn(format!("image {image}: {e}")),
            }
        }
    }
    networks_removed?;
    Ok(ExitStatus::Success)
}
