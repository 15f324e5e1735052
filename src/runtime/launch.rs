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
use super::{rootfs, stdio, userns, Result, RuntimeError};
use crate::fs::driver::Driver;
use crate::net::{etc_files, slirp};
use crate::paths::HostPaths;
use crate::spec::container::Network;
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
) -> Result<EtcFiles> {
    let etc = dirs.etc();
    let files = EtcFiles {
        hosts: etc.join("hosts"),
        hostname: etc.join("hostname"),
        resolv_conf: etc.join("resolv.conf"),
    };
    let spec = &record.spec;
    let host_resolv = std::fs::read_to_string(&host.etc_resolv_conf).unwrap_or_default();
    fs_err::write(&files.hosts, etc_files::hosts(&spec.hostname, spec.network))?;
    fs_err::write(&files.hostname, etc_files::hostname(&spec.hostname))?;
    fs_err::write(
        &files.resolv_conf,
        etc_files::resolv_conf(spec.network, &host_resolv),
    )?;
    Ok(files)
}

/// Runs a created container in the foreground and returns its exit code.
pub fn run_foreground(
    store: &Store,
    mapping: &IdMapping,
    host: &HostPaths,
    image: &Image,
    record: &ContainerRecord,
    dirs: &ContainerDirs,
    driver: Driver,
) -> Result<i32> {
    let Some(_owner) = Lock::try_exclusive(&dirs.lock())? else {
        return Err(RuntimeError::Running {
            id: record.id.clone(),
        });
    };
    let spec = &record.spec;
    let slirp_binary = match spec.network {
        Network::Slirp4netns => Some(
            idmap::find_in_path("slirp4netns", std::env::var_os("PATH").as_deref())
                .ok_or(RuntimeError::Network(slirp::SlirpError::NotInstalled))?,
        ),
        _ => None,
    };
    let etc = write_etc_files(dirs, record, host)?;
    let in_userns = !matches!(mapping, IdMapping::Root);
    let ids = IdsInside {
        in_user_namespace: in_userns,
        tty_group_mapped: mapping.host_uid(5).is_some(),
    };
    let root = rootfs::plan(driver, store, image, dirs, in_userns);
    let mounts = plan::mount_plan(root, &etc, spec, ids);
    let init = InitSpec {
        run: spec.clone(),
        rootfs: dirs.rootfs(),
        mounts,
        can_setgroups: mapping.can_setgroups(),
        wait_network: slirp_binary.is_some(),
    };
    let namespaces = Namespaces {
        user: in_userns,
        mount: true,
        pid: true,
        uts: true,
        ipc: true,
        net: spec.network != Network::Host,
    };
    let child = userns::spawn(mapping, namespaces, &[OsString::from("__init")])?;
    let pid = child.pid;
    let mut state = State::created();
    state.running(pid.as_raw(), state::now());
    store.save_state(&record.id, &state)?;

    let fuse_owner = in_userns.then_some(pid.as_raw());
    let outcome = supervise(&child, init, slirp_binary, fuse_owner);
    let (failure, exit) = match outcome {
        Ok(done) => done,
        Err(e) => {
            // Fail fast: never leave a half-configured container running.
            let _ = sys::process::kill(pid, sys::process::SIGKILL);
            let exit = sys::process::wait_exit(pid).ok();
            state.exited(exit.map(|e| e.as_code()), state::now());
            store.save_state(&record.id, &state)?;
            return Err(e);
        }
    };
    state.exited(Some(exit.as_code()), state::now());
    store.save_state(&record.id, &state)?;
    match failure {
        Some((kind, message)) => Err(match kind {
            ExecFailure::Setup => RuntimeError::Setup(message),
            ExecFailure::NotFound => RuntimeError::Exec {
                message,
                not_found: true,
            },
            ExecFailure::NotExecutable => RuntimeError::Exec {
                message,
                not_found: false,
            },
        }),
        None => Ok(exit.as_code()),
    }
}

/// Init's failure report (if any) and how the container's process ended.
type Outcome = (Option<(ExecFailure, String)>, sys::process::Exit);

/// Sends the spec, brings up the network, forwards signals and the terminal
/// while the container runs. Returns init's failure, if it reported one.
fn supervise(
    child: &userns::Child,
    init: InitSpec,
    slirp_binary: Option<PathBuf>,
    fuse_owner: Option<i32>,
) -> Result<Outcome> {
    let channel = &child.channel;
    let pid = child.pid;
    let interactive = init.run.interactive;
    let root = init.mounts.iter().find_map(|op| match op {
        MountOp::Root(root) => Some(root.clone()),
        _ => None,
    });
    let mut _fuse_server = None;
    let setup = |e: super::ipc::IpcError| RuntimeError::Setup(e.to_string());
    channel
        .send(&ToInit::Spec(Box::new(init)), &[])
        .map_err(setup)?;
    let _slirp = match &slirp_binary {
        Some(binary) => {
            let slirp = slirp::start(binary, pid.as_raw())?;
            // init may already have failed and gone; its message follows.
            let _ = channel.send(&ToInit::NetworkReady, &[]);
            Some(slirp)
        }
        None => None,
    };
    let winch_master: std::sync::Arc<std::sync::Mutex<Option<OwnedFd>>> = Default::default();
    let signals = forward_signals(pid, winch_master.clone())?;
    let mut failure = None;
    let mut output = None;
    let mut raw_mode = None;
    while let Some((msg, mut fds)) = channel.recv::<ToParent>("container").map_err(setup)? {
        match msg {
            ToParent::Pty => {
                let Some(master) = fds.pop() else { continue };
                if let Ok(copy) = master.try_clone() {
                    *winch_master.lock().unwrap_or_else(|e| e.into_inner()) = Some(copy);
                }
                let stdin = std::io::stdin();
                if interactive && sys::tty::is_terminal(std::os::fd::AsFd::as_fd(&stdin)) {
                    raw_mode = sys::tty::RawMode::enter_stdin().ok();
                }
                output = Some(stdio::pump_pty(master, interactive)?);
            }
            ToParent::Failed { kind, message } => failure = Some((kind, message)),
            ToParent::RootfsMounted => {
                let (Some(root), Some(fuse)) = (&root, fds.pop()) else {
                    continue;
                };
                _fuse_server = Some(rootfs::start_server(root, fuse, fuse_owner)?);
                channel.send(&ToInit::RootfsReady, &[]).map_err(setup)?;
            }
        }
    }
    // The channel closed: init exec'd the command (or died). Wait for the
    // command while the signal thread and the pty pump run.
    let exit = sys::process::wait_exit(pid);
    if let Some(output) = output {
        let _ = output.join();
    }
    drop(raw_mode);
    signals.close();
    Ok((failure, exit?))
}

/// The signals a user sends to `devbox run` go to the container's PID 1.
fn forward_signals(
    pid: sys::Pid,
    winch_master: std::sync::Arc<std::sync::Mutex<Option<OwnedFd>>>,
) -> Result<signal_hook::iterator::Handle> {
    use signal_hook::consts::*;
    let mut signals = signal_hook::iterator::Signals::new([
        SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT,
    ])?;
    let handle = signals.handle();
    std::thread::spawn(move || {
        for sig in signals.forever() {
            if sig == SIGWINCH {
                if let Some(master) = winch_master
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                {
                    stdio::follow_window_size(master);
                }
                continue;
            }
            let _ = sys::process::kill(pid, sig);
        }
    });
    Ok(handle)
}
