//! The parent side of a foreground container: start init in new
//! namespaces, map ids, attach the network, forward signals and the
//! terminal, wait, record the exit.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use super::idmap::{self, IdMapping};
use super::ipc::{ExecFailure, ToInit, ToParent};
use super::plan::{self, EtcFiles, IdsInside, InitSpec, MountOp};
use super::state::{self, State};
use super::{network, rootfs, stdio, userns, Result, RuntimeError};
use crate::fs::driver::Driver;
use crate::net::portproxy::PortProxy;
use crate::net::{etc_files, slirp};
use crate::paths::HostPaths;
use crate::spec::container::Network;
use crate::spec::port::PortMapping;
use crate::store::containers::{ContainerDirs, ContainerRecord};
use crate::store::images::Image;
use crate::store::lock::Lock;
use crate::store::Store;
use crate::sys::{self, ns::Namespaces};

/// Writes the container's /etc/hosts, /etc/hostname and /etc/resolv.conf.
fn write_etc_files(
    dirs: &ContainerDirs,
    record: &ContainerRecord,
    host: &HostPaths,
    resolver: Option<std::net::Ipv4Addr>,
) -> Result<EtcFiles> {
    let etc = dirs.etc();
    fs_err::create_dir_all(&etc)?;
    let files = EtcFiles {
        hosts: etc.join("hosts"),
        hostname: etc.join("hostname"),
        resolv_conf: etc.join("resolv.conf"),
    };
    let spec = &record.spec;
    let host_resolv = std::fs::read_to_string(&host.etc_resolv_conf).unwrap_or_default();
    let mut extra_hosts = spec.extra_hosts.clone();
    if spec.network == Network::Pasta {
        // pasta maps the gateway's address to the host's loopback (slirp4netns: 10.0.2.2).
        let routes = std::fs::read_to_string(host.proc.join("net/route")).unwrap_or_default();
        if let Some(gateway) = crate::net::subnet::default_gateway(&routes) {
            let names = "host.containers.internal host.docker.internal";
            extra_hosts.push((names.to_string(), gateway.to_string()));
        }
    }
    fs_err::write(
        &files.hosts,
        etc_files::hosts(&spec.hostname, spec.network, &extra_hosts, None),
    )?;
    fs_err::write(&files.hostname, etc_files::hostname(&spec.hostname))?;
    fs_err::write(
        &files.resolv_conf,
        etc_files::resolv_conf(spec.network, &host_resolv, &spec.net, resolver),
    )?;
    Ok(files)
}

/// A container ready to start: what init is sent, and what the parent
/// sets up around it. Computed before any process exists.
pub struct Prepared {
    init: InitSpec,
    namespaces: Namespaces,
    slirp_binary: Option<slirp::Helper>,
    /// The published ports, already bound on the host (so a port in use fails the start
    /// before any process exists).
    ports: Option<PortProxy>,
    /// The container's id mapping (the keep-id variant with `--userns=keep-id`).
    mapping: IdMapping,
    /// Namespaces the container joins rather than makes: its networks' shared user
    /// namespace, or another container's user and network namespaces.
    joined: Option<sys::ns::JoinedNamespaces>,
    /// User-defined networks to attach the container to once it exists.
    networks: Option<NetworkStart>,
    /// Where `--pids-limit`, `--memory`, `--cpus` go: the user's delegated
    /// cgroup, the container's id and the limits.
    cgroup: Option<(
        super::cgroup::Delegated,
        String,
        crate::spec::security::Limits,
    )>,
}

/// The attachment of a starting container to its user-defined networks.
struct NetworkStart {
    lease: network::Lease,
    record: ContainerRecord,
    hosts: PathBuf,
}

impl NetworkStart {
    /// Attaches the container and puts its address in its /etc/hosts (written in place: the
    /// file is bind-mounted already).
    fn attach(self, pid: i32) -> Result<Vec<crate::net::holder::Attached>> {
        let attached = network::attach_all(self.lease, &self.record, pid)?;
        let spec = &self.record.spec;
        let own_ip = attached.first().map(|a| a.ip);
        fs_err::write(
            &self.hosts,
            etc_files::hosts(&spec.hostname, spec.network, &spec.extra_hosts, own_ip),
        )?;
        Ok(attached)
    }
}

/// What a container with `--network container:NAME` joins: that container's user and
/// network namespaces, and its /etc/hosts and resolv.conf (Docker shares them too).
fn join_container(
    store: &Store,
    host: &HostPaths,
    dirs: &ContainerDirs,
    name: &str,
) -> Result<sys::ns::JoinedNamespaces> {
    let id = store.resolve_container(name)?;
    let (_, state) = store.load_container(&id)?;
    let pid = state
        .pid
        .filter(|_| state.status.is_live())
        .ok_or_else(|| {
            RuntimeError::Setup(format!(
                "cannot join the network of container `{name}`: it is not running"
            ))
        })?;
    let theirs = store.container_dirs(&id).etc();
    for file in ["hosts", "resolv.conf"] {
        fs_err::copy(theirs.join(file), dirs.etc().join(file))?;
    }
    Ok(sys::ns::JoinedNamespaces::open(
        &host.proc,
        pid,
        &["user", "net"],
    )?)
}

/// What a container on user-defined networks joins: their holders' shared user namespace
/// (made with the default map). A keep-id container gets a user namespace of its own nested
/// in it, mapped so that its ids land on the same host ids as `keep_id`'s (Podman's way for
/// keep-id in a rootless network namespace): its map is the shared map's inverse composed
/// with the keep-id map, read from the holder's own uid_map and gid_map.
fn join_networks(
    proc: &std::path::Path,
    holder: i32,
    keep_id: Option<&IdMapping>,
) -> Result<sys::ns::JoinedNamespaces> {
    let joined = sys::ns::JoinedNamespaces::open(proc, holder, &["user"])?;
    let Some(keep_id) = keep_id else {
        return Ok(joined);
    };
    let nested = |file: &str, wanted: Vec<idmap::Extent>| -> Result<String> {
        let shared = idmap::parse_map(&fs_err::read_to_string(
            proc.join(format!("{holder}/{file}")),
        )?);
        idmap::nested_map(&shared, &wanted)
            .map(|m| idmap::map_text(&m))
            .ok_or_else(|| {
                RuntimeError::Setup(format!(
                    "--userns=keep-id on a user-defined network: the networks' user namespace does not map every id of the keep-id {file} (its holder was started with other subordinate ids; `devbox network rm` and re-create the network)"
                ))
            })
    };
    let uid_map = nested("uid_map", keep_id.uid_extents())?;
    let gid_map = nested("gid_map", keep_id.gid_extents())?;
    Ok(joined.nest_user(proc, uid_map, gid_map)?)
}

/// A container to start and what starting it needs.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub store: &'a Store,
    pub mapping: &'a IdMapping,
    pub host: &'a HostPaths,
    pub image: &'a Image,
    pub record: &'a ContainerRecord,
    pub dirs: &'a ContainerDirs,
    /// How the root filesystem is made (`rootfs::choose`).
    pub driver: Driver,
}

/// Works out everything a start needs: the network helper, /etc files and
/// the mount plan.
pub fn prepare(target: Target) -> Result<Prepared> {
    let Target {
        store,
        mapping,
        host,
        image,
        record,
        dirs,
        driver,
    } = target;
    let spec = &record.spec;
    if spec.keep_id.is_some() && spec.network == Network::Container {
        // It would share the other container's user namespace, whose map is its own.
        return Err(RuntimeError::Setup(
            "--userns=keep-id cannot be combined with `--network container:NAME` (the container would share the other one's user namespace and its id map)"
                .into(),
        ));
    }
    let lease = match spec.network {
        Network::User => Some(network::ensure_holders(
            store,
            mapping,
            host,
            &spec.net.networks,
            None,
        )?),
        _ => None,
    };
    // On user networks outbound traffic goes through the container's own slirp4netns, unless
    // every network is internal.
    let outbound = match (&spec.network, &lease) {
        (Network::Slirp4netns, _) => true,
        (Network::User, Some(lease)) => lease.networks.iter().any(|(n, ..)| !n.internal),
        _ => false,
    };
    let slirp_binary = match (outbound, spec.network) {
        (true, _) => Some(slirp::Helper::Slirp4netns(
            idmap::find_in_path("slirp4netns", std::env::var_os("PATH").as_deref())
                .ok_or(RuntimeError::Network(slirp::SlirpError::NotInstalled))?,
        )),
        (false, Network::Pasta) => Some(slirp::Helper::Pasta {
            binary: idmap::find_in_path("pasta", std::env::var_os("PATH").as_deref())
                .ok_or(RuntimeError::Network(slirp::SlirpError::PastaNotInstalled))?,
            pid_file: dirs.dir.join("pasta.pid"),
        }),
        (false, _) => None,
    };
    // With the host's network the container's ports are the host's already.
    let ports = if spec.ports.is_empty() || spec.network == Network::Host {
        None
    } else {
        let devbox = std::env::current_exe()?;
        Some(PortProxy::bind(&devbox, &spec.ports)?)
    };
    let default_mapping = mapping;
    let mapping = &match spec.keep_id {
        Some(_) => default_mapping.keep_id()?,
        None => default_mapping.clone(),
    };
    let layer = userns::layers_for(
        store,
        default_mapping,
        mapping,
        &image.config.rootfs.diff_ids,
    )?;
    let resolver = lease
        .as_ref()
        .and_then(|l| l.networks.first())
        .map(|(n, ..)| n.gateway);
    let etc = write_etc_files(dirs, record, host, resolver)?;
    let joined = match (&spec.network, &lease, &spec.net.container) {
        (Network::User, Some(lease), _) => Some(join_networks(
            &host.proc,
            lease.holder_pid,
            spec.keep_id.is_some().then_some(mapping),
        )?),
        (Network::Container, _, Some(name)) => Some(join_container(store, host, dirs, name)?),
        _ => None,
    };
    let in_userns = !matches!(mapping, IdMapping::Root);
    let ids = IdsInside {
        in_user_namespace: in_userns,
        tty_group_mapped: mapping.host_uid(5).is_some(),
    };
    // The storage driver's one decision: how the root is mounted.
    let root = rootfs::plan(
        driver,
        store,
        image,
        dirs,
        &layer,
        in_userns,
        spec.auto_remove,
    );
    let mounts = plan::mount_plan(root, &etc, spec, ids);
    let init = InitSpec {
        run: spec.clone(),
        rootfs: dirs.rootfs(),
        mounts,
        can_setgroups: mapping.can_setgroups(),
        wait_network: slirp_binary.is_some() || lease.is_some(),
        window_size: spec.tty.then(stdio::terminal_size).flatten(),
    };
    let namespaces = Namespaces {
        user: in_userns,
        mount: true,
        pid: true,
        uts: true,
        ipc: true,
        net: spec.network != Network::Host,
    };
    let limits = spec.security.limits;
    let cgroup = if limits.any() {
        let self_cgroup = fs_err::read_to_string(host.proc.join("self/cgroup")).unwrap_or_default();
        let delegated =
            super::cgroup::find(&host.sys_fs_cgroup, &self_cgroup, &limits).map_err(|reason| {
                RuntimeError::Setup(format!(
                    "cannot apply --pids-limit, --memory or --cpus: {reason}"
                ))
            })?;
        Some((delegated, record.id.clone(), limits))
    } else {
        None
    };
    Ok(Prepared {
        cgroup,
        init,
        namespaces,
        slirp_binary,
        ports,
        mapping: mapping.clone(),
        joined,
        networks: lease.map(|lease| NetworkStart {
            lease,
            record: record.clone(),
            hosts: etc.hosts.clone(),
        }),
    })
}

/// A container whose command is running (init has exec'd it).
pub struct Started {
    pub pid: sys::Pid,
    /// The master of the container's terminal, with `-t`.
    pub pty: Option<OwnedFd>,
    /// The network helper; it ends when this is dropped.
    _slirp: Option<slirp::Slirp>,
    /// The published ports with their host ports as bound.
    pub ports: Vec<PortMapping>,
    /// Where the container is on its user-defined networks.
    pub networks: Vec<crate::net::holder::Attached>,
    /// The port proxy; it ends when this is dropped.
    _proxy: Option<PortProxy>,
    /// The FUSE root's server (fuse-overlayfs driver); it ends when this is dropped.
    _fuse: Option<rootfs::FuseServer>,
    /// The container's cgroup (resource limits); removed when this is dropped.
    _cgroup: Option<super::cgroup::Cgroup>,
}

/// Starts init in new namespaces, hands it the spec, brings up the network
/// and waits until the command is exec'd. `stdio` are the command's fds 0-2
/// (a detached container's pipes); `None` inherits ours. On failure nothing
/// is left running (fail fast, STYLE rule 7).
pub fn start(prepared: Prepared, stdio: Option<[&OwnedFd; 3]>) -> Result<Started> {
    let mapping = &prepared.mapping;
    let child = userns::spawn_in(
        mapping,
        prepared.joined.as_ref(),
        prepared.namespaces,
        &[OsString::from("__init")],
        stdio,
    )?;
    let pid = child.pid;
    // Into its cgroup while init still waits for the spec: the command
    // never runs without its limits.
    let cgroup = prepared
        .cgroup
        .as_ref()
        .map(|(delegated, id, limits)| {
            let cgroup = delegated.create(id, limits)?;
            cgroup.add(pid.as_raw())?;
            Ok(cgroup)
        })
        .transpose()
        .map_err(|reason: String| {
            RuntimeError::Setup(format!(
                "cannot apply --pids-limit, --memory or --cpus: {reason}"
            ))
        });
    let cgroup = match cgroup {
        Ok(cgroup) => cgroup,
        Err(e) => {
            let _ = sys::process::kill(pid, sys::process::SIGKILL);
            let _ = sys::process::wait_exit(pid);
            return Err(e);
        }
    };
    let mut proxy = prepared.ports;
    // The FUSE server acts as the container's root user: it joins the user namespace.
    let fuse_owner = (!matches!(mapping, IdMapping::Root)).then_some(pid.as_raw());
    let handed = hand_over(
        &child,
        prepared.init,
        prepared.slirp_binary,
        prepared.networks,
        fuse_owner,
    )
    .and_then(|done| {
        if let Some(proxy) = proxy.as_mut() {
            proxy.join(pid.as_raw())?;
        }
        Ok(done)
    });
    match handed {
        Ok((None, pty, slirp, fuse, networks)) => Ok(Started {
            pid,
            pty,
            networks,
            _slirp: slirp,
            _fuse: fuse,
            _cgroup: cgroup,
            ports: proxy
                .as_ref()
                .map(|p| p.mappings.clone())
                .unwrap_or_default(),
            _proxy: proxy,
        }),
        Ok((Some((kind, message)), ..)) => {
            let _ = sys::process::wait_exit(pid);
            Err(kind.into_error(message))
        }
        Err(e) => {
            let _ = sys::process::kill(pid, sys::process::SIGKILL);
            let _ = sys::process::wait_exit(pid);
            Err(e)
        }
    }
}

/// Takes the container's lock, which says it runs (DESIGN.md). A reader
/// (`ps`) holds it shared for an instant, so a busy lock is asked again a
/// few times before it means "running".
pub fn take_ownership(record: &ContainerRecord, dirs: &ContainerDirs) -> Result<Lock> {
    for _ in 0..20 {
        if let Some(lock) = Lock::try_exclusive(&dirs.lock())? {
            return Ok(lock);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(RuntimeError::Running {
        id: record.id.clone(),
    })
}

/// Runs a created container in the foreground and returns its exit code.
pub fn run_foreground(target: Target) -> Result<i32> {
    let Target {
        store,
        record,
        dirs,
        ..
    } = target;
    let _owner = take_ownership(record, dirs)?;
    let prepared = prepare(target)?;
    let interactive = record.spec.interactive;
    let mut state = State::created();
    // Caught from before the start, so a signal sent as soon as the command
    // runs is passed on rather than ending us (forwarded once its pid is known).
    let signals = catch_signals()?;
    let started = match start(prepared, None) {
        Ok(started) => started,
        Err(e) => {
            state.error = Some(e.to_string());
            state.exited(None, state::now());
            store.save_state(&record.id, &state)?;
            return Err(e);
        }
    };
    state.running(started.pid.as_raw(), state::now());
    state.ports = started.ports.clone();
    state.networks = started.networks.clone();
    store.save_state(&record.id, &state)?;
    let exit = supervise(started, interactive, signals);
    // A `--rm` container is removed as soon as we return: its last state is
    // never read (and a crash before the removal reads as exited anyway: the
    // owner's lock is gone), so the replace-rename is not paid for.
    if !record.spec.auto_remove {
        state.exited(exit.as_ref().ok().map(|e| e.as_code()), state::now());
        store.save_state(&record.id, &state)?;
    }
    Ok(exit?.as_code())
}

type HandOver = (
    Option<(ExecFailure, String)>,
    Option<OwnedFd>,
    Option<slirp::Slirp>,
    Option<rootfs::FuseServer>,
    Vec<crate::net::holder::Attached>,
);

/// Sends the spec, brings up the network, and reads init's messages until
/// it execs (the channel closes): the pty master with `-t`, or a failure.
fn hand_over(
    child: &userns::Child,
    init: InitSpec,
    slirp_binary: Option<slirp::Helper>,
    networks: Option<NetworkStart>,
    fuse_owner: Option<i32>,
) -> Result<HandOver> {
    let channel = &child.channel;
    let root = init.mounts.iter().find_map(|op| match op {
        MountOp::Root(root) => Some(root.clone()),
        _ => None,
    });
    let mut fuse_server = None;
    let setup = |e: super::ipc::IpcError| RuntimeError::Setup(e.to_string());
    channel
        .send(&ToInit::Spec(Box::new(init)), &[])
        .map_err(setup)?;
    let slirp = match &slirp_binary {
        Some(helper) => Some(helper.start(child.pid.as_raw())?),
        None => None,
    };
    let attached = match networks {
        Some(networks) => networks.attach(child.pid.as_raw())?,
        None => Vec::new(),
    };
    if slirp.is_some() || !attached.is_empty() {
        // init may already have failed and gone; its message follows.
        let _ = channel.send(&ToInit::NetworkReady, &[]);
    }
    let mut failure = None;
    let mut pty = None;
    while let Some((msg, mut fds)) = channel.recv::<ToParent>("container").map_err(setup)? {
        match msg {
            ToParent::Pty => pty = fds.pop(),
            ToParent::Failed { kind, message } => failure = Some((kind, message)),
            ToParent::Started => {}
            ToParent::RootfsMounted => {
                let (Some(root), Some(fuse)) = (&root, fds.pop()) else {
                    continue;
                };
                fuse_server = Some(rootfs::start_server(root, fuse, fuse_owner)?);
                channel.send(&ToInit::RootfsReady, &[]).map_err(setup)?;
            }
        }
    }
    Ok((failure, pty, slirp, fuse_server, attached))
}

/// Forwards signals and the terminal while the command runs in the
/// foreground; returns how it ended.
fn supervise(
    started: Started,
    interactive: bool,
    signals: signal_hook::iterator::Signals,
) -> Result<sys::process::Exit> {
    let pid = started.pid;
    // The terminal is known before signals are forwarded: a resize that
    // arrives while the container starts is applied, not dropped.
    let winch_master = started.pty.as_ref().and_then(|m| m.try_clone().ok());
    let signals = forward_signals(signals, pid, winch_master);
    let mut output = None;
    let mut raw_mode = None;
    if let Some(master) = started.pty {
        let stdin = std::io::stdin();
        if interactive && sys::tty::is_terminal(std::os::fd::AsFd::as_fd(&stdin)) {
            raw_mode = sys::tty::RawMode::enter_stdin().ok();
        }
        output = Some(stdio::pump_pty(master, interactive)?);
    }
    let exit = sys::process::wait_exit(pid);
    if let Some(output) = output {
        let _ = output.join();
    }
    drop(raw_mode);
    signals.close();
    Ok(exit?)
}

/// Catches the signals a user sends to `devbox run` (queued until
/// forwarded).
fn catch_signals() -> Result<signal_hook::iterator::Signals> {
    use signal_hook::consts::*;
    Ok(signal_hook::iterator::Signals::new([
        SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT,
    ])?)
}

/// The signals a user sends to `devbox run` go to the container's PID 1.
fn forward_signals(
    mut signals: signal_hook::iterator::Signals,
    pid: sys::Pid,
    winch_master: Option<OwnedFd>,
) -> signal_hook::iterator::Handle {
    use signal_hook::consts::*;
    let handle = signals.handle();
    std::thread::spawn(move || {
        for sig in signals.forever() {
            if sig == SIGWINCH {
                if let Some(master) = &winch_master {
                    stdio::follow_window_size(master);
                }
                continue;
            }
            let _ = sys::process::kill(pid, sig);
        }
    });
    handle
}
