//! Starting devbox's own child roles in new namespaces with the user's id
//! mapping: the container init, and helpers that must act as the mapped ids
//! (unpacking layers with their owners, removing trees they own).

use std::ffi::{CString, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use super::idmap::{self, IdMapping};
use super::ipc::{Channel, ToParent};
use super::{Result, RuntimeError};
use crate::paths::HostPaths;
use crate::spec::user::KeepIdUser;
use crate::sys::{self, ns::Namespaces, Pid};

/// Works out the id mapping for the invoking user. The warning, if any, is
/// for the caller to print (single-id fallback).
pub fn detect_mapping(host: &HostPaths) -> Result<(IdMapping, Option<String>)> {
    let uid = sys::ids::current_euid();
    let gid = sys::ids::current_gid();
    if uid == 0 {
        return Ok((IdMapping::Root, None));
    }
    let name = sys::ids::user_name(uid);
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    let uids = idmap::parse_subid(&read(&host.etc_subuid), name.as_deref(), uid);
    let gids = idmap::parse_subid(&read(&host.etc_subgid), name.as_deref(), uid);
    let display = name.clone().unwrap_or_else(|| uid.to_string());
    match (uids, gids) {
        (Some(uids), Some(gids)) => {
            let path = std::env::var_os("PATH");
            let find = |p: &str| idmap::find_in_path(p, path.as_deref());
            let (Some(newuidmap), Some(newgidmap)) = (find("newuidmap"), find("newgidmap")) else {
                return Err(RuntimeError::NoNewuidmap { user: display });
            };
            Ok((
                IdMapping::Subordinate {
                    uid,
                    gid,
                    uids: (uids.start, uids.count),
                    gids: (gids.start, gids.count),
                    newuidmap,
                    newgidmap,
                    keep_id: false,
                },
                None,
            ))
        }
        _ => Ok((
            IdMapping::Single { uid, gid },
            Some(format!(
                "no subordinate ids for `{display}` in /etc/subuid and /etc/subgid: only your own uid is mapped (to root): image files of other users become yours and `-u` to another user fails (`devbox doctor` explains the fix)"
            )),
        )),
    }
}

/// `--userns=keep-id`: the invoking user as the host's passwd knows them.
pub fn keep_id_user() -> Result<KeepIdUser> {
    let uid = sys::ids::current_euid();
    if uid == 0 {
        return Err(idmap::KeepIdError::Root.into());
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    Ok(KeepIdUser::from_host(uid, sys::ids::current_gid(), &passwd))
}

/// With keep-id, the name of the directory beside each layer's `diff` that holds it as
/// a keep-id container sees it (owners 0 and the user's ids swapped, see
/// `fs::shift`); made once per layer by a helper in the default map (`default`), kept
/// until the layer is removed. Without keep-id, `diff`.
pub fn layers_for(
    store: &crate::store::Store,
    default: &IdMapping,
    keep_id: &IdMapping,
    diff_ids: &[crate::image::Digest],
) -> Result<String> {
    let Some((uid, gid)) = keep_id.keep_id_swap() else {
        return Ok("diff".into());
    };
    let name = format!("keep-id-{uid}-{gid}");
    for diff_id in diff_ids {
        let shifted = store.layer_dir(diff_id).join(&name);
        if shifted.is_dir() {
            continue;
        }
        let staging = store.staging_dir("keep-id")?;
        let copy = staging.join("diff");
        let role: Vec<OsString> = vec![
            "__shift-layer".into(),
            "--uid".into(),
            uid.to_string().into(),
            "--gid".into(),
            gid.to_string().into(),
            store.layer_diff(diff_id).into(),
            copy.into(),
            shifted.into(),
        ];
        let made = run_helper(default, &role);
        let _ = super::remove::remove_tree(default, &staging);
        made?;
    }
    Ok(name)
}

/// A child role started in new namespaces, waiting at its gate.
pub struct Child {
    pub pid: Pid,
    pub channel: Channel,
}

/// Starts `devbox <role args> --fd N` in `namespaces`, writes the id
/// mapping, and opens the gate.
pub fn spawn(mapping: &IdMapping, namespaces: Namespaces, role: &[OsString]) -> Result<Child> {
    spawn_with_stdio(mapping, namespaces, role, None)
}

/// [`spawn`], with the child's stdin, stdout and stderr given.
pub fn spawn_with_stdio(
    mapping: &IdMapping,
    namespaces: Namespaces,
    role: &[OsString],
    stdio: Option<[&OwnedFd; 3]>,
) -> Result<Child> {
    spawn_in(mapping, None, namespaces, role, stdio)
}

/// [`spawn_with_stdio`], first joining another process's namespaces (`joined`): a container
/// on a user-defined network joins the network holder's user namespace (`net::holder`), one
/// with `--network container:NAME` that container's user and network namespaces. A joined
/// user namespace has its id maps already.
pub fn spawn_in(
    mapping: &IdMapping,
    joined: Option<&sys::ns::JoinedNamespaces>,
    namespaces: Namespaces,
    role: &[OsString],
    stdio: Option<[&OwnedFd; 3]>,
) -> Result<Child> {
    let (parent_end, child_end) = sys::ipc::seqpacket_pair()?;
    sys::ipc::set_inheritable(&child_end)?;
    let exe = std::env::current_exe()?;
    let cstr = |s: &[u8]| CString::new(s).map_err(|e| RuntimeError::Setup(e.to_string()));
    let exe_c = cstr(exe.as_os_str().as_bytes())?;
    let mut argv = vec![cstr(b"devbox")?];
    for arg in role {
        argv.push(cstr(arg.as_bytes())?);
    }
    argv.push(cstr(b"--fd")?);
    argv.push(cstr(
        std::os::fd::AsRawFd::as_raw_fd(&child_end)
            .to_string()
            .as_bytes(),
    )?);
    let envp: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    let stdio = stdio.map(|fds| fds.map(std::os::fd::AsRawFd::as_raw_fd));
    let gate = sys::ns::Gate {
        child: &child_end,
        parent: std::os::fd::AsRawFd::as_raw_fd(&parent_end),
    };
    let spawned = match joined {
        Some(joined) => {
            sys::ns::spawn_joined(joined, namespaces, &exe_c, &argv, &envp, gate, stdio)
        }
        None => sys::ns::spawn_namespaced(namespaces, &exe_c, &argv, &envp, gate, stdio),
    };
    let pid = spawned.map_err(|e| {
        if namespaces.user {
            RuntimeError::UserNamespace(e)
        } else {
            RuntimeError::Sys(e)
        }
    })?;
    drop(child_end);
    let child = Child {
        pid,
        channel: Channel { sock: parent_end },
    };
    let maps_needed = !joined.is_some_and(|j| j.has_user());
    let mapped = if maps_needed {
        write_mapping(mapping, pid)
    } else {
        Ok(())
    };
    if let Err(e) = mapped {
        let _ = sys::process::kill(pid, sys::process::SIGKILL);
        let _ = sys::process::wait_exit(pid);
        return Err(e);
    }
    child
        .channel
        .send_gate()
        .map_err(|e| RuntimeError::Setup(e.to_string()))?;
    Ok(child)
}

fn write_mapping(mapping: &IdMapping, pid: Pid) -> Result<()> {
    match mapping {
        IdMapping::Root => Ok(()),
        IdMapping::Subordinate {
            newuidmap,
            newgidmap,
            ..
        } => {
            // The two setuid helpers write different files: run them side by side (each
            // costs an exec of a setuid binary, about 2 ms, on the start's critical path).
            let uids = spawn_map_helper(newuidmap, pid, &mapping.uid_args())?;
            let gids = spawn_map_helper(newgidmap, pid, &mapping.gid_args());
            let uids = finish_map_helper(newuidmap, uids);
            uids.and(finish_map_helper(newgidmap, gids?))
        }
        IdMapping::Single { uid, gid } => {
            let proc = format!("/proc/{pid}");
            let write = |file: &str, text: String| {
                fs_err::write(format!("{proc}/{file}"), text).map_err(RuntimeError::Io)
            };
            write("setgroups", "deny".into())?;
            write("uid_map", format!("0 {uid} 1"))?;
            write("gid_map", format!("0 {gid} 1"))
        }
    }
}

fn map_helper_error(program: &std::path::Path, message: String) -> RuntimeError {
    RuntimeError::IdMap {
        program: program.display().to_string(),
        message,
    }
}

fn spawn_map_helper(
    program: &std::path::Path,
    pid: Pid,
    args: &[String],
) -> Result<std::process::Child> {
    std::process::Command::new(program)
        .arg(pid.to_string())
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| map_helper_error(program, e.to_string()))
}

fn finish_map_helper(program: &std::path::Path, child: std::process::Child) -> Result<()> {
    let output = child
        .wait_with_output()
        .map_err(|e| map_helper_error(program, e.to_string()))?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr).trim().to_string();
        return Err(map_helper_error(program, message));
    }
    Ok(())
}

/// Runs a helper role (`__unpack`, `__rmtree`) in a user namespace only and
/// waits for it.
pub fn run_helper(mapping: &IdMapping, role: &[OsString]) -> Result<()> {
    let namespaces = Namespaces {
        user: !matches!(mapping, IdMapping::Root),
        ..Namespaces::default()
    };
    run_role(mapping, namespaces, role)
}

/// Runs a short-lived role in `namespaces` and waits for it; its failure
/// message comes back over the channel.
pub fn run_role(mapping: &IdMapping, namespaces: Namespaces, role: &[OsString]) -> Result<()> {
    let child = spawn(mapping, namespaces, role)?;
    let mut failure = None;
    while let Ok(Some((msg, _))) = child.channel.recv::<ToParent>("helper") {
        if let ToParent::Failed { message, .. } = msg {
            failure = Some(message);
        }
    }
    let exit = sys::process::wait_exit(child.pid)?;
    match (failure, exit) {
        (Some(message), _) => Err(RuntimeError::Setup(message)),
        (None, sys::process::Exit::Code(0)) => Ok(()),
        (None, other) => Err(RuntimeError::Setup(format!(
            "helper `{}` ended with status {}",
            role.first()
                .map(|r| r.to_string_lossy())
                .unwrap_or_default(),
            other.as_code()
        ))),
    }
}

/// `devbox unshare`: runs `command` in a user namespace with `mapping` (the user is root there,
/// their subordinate ids the other users), with our stdin, stdout and stderr; returns its exit
/// code (128 + the signal's number when a signal ended it). SIGTERM and SIGHUP sent to devbox
/// are passed on; SIGINT and SIGQUIT are not, since the terminal sends them to both processes.
pub fn run_command(mapping: &IdMapping, command: &[OsString]) -> Result<i32> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGQUIT, SIGTERM, SIGHUP])?;
    let namespaces = Namespaces {
        user: true,
        ..Namespaces::default()
    };
    let child = spawn(mapping, namespaces, &[OsString::from("__unshare")])?;
    let setup = |e: super::ipc::IpcError| RuntimeError::Setup(e.to_string());
    child.channel.send(&command, &[]).map_err(setup)?;
    let pid = child.pid;
    let handle = signals.handle();
    let forwarder = std::thread::spawn(move || {
        for sig in signals.forever() {
            if sig == SIGTERM || sig == SIGHUP {
                let _ = sys::process::kill(pid, sig);
            }
        }
    });
    // The channel closes when the command is exec'd; before that, a failure to exec it.
    let mut failure = None;
    while let Ok(Some((msg, _))) = child.channel.recv::<ToParent>("unshare") {
        if let ToParent::Failed { kind, message } = msg {
            failure = Some(kind.into_error(message));
        }
    }
    let exit = sys::process::wait_exit(pid);
    handle.close();
    let _ = forwarder.join();
    match failure {
        Some(error) => Err(error),
        None => Ok(exit?.as_code()),
    }
}

/// Inside a helper: reports a failure to the parent.
pub fn report_failure(channel: &Channel, message: String) {
    let _ = channel.send(
        &ToParent::Failed {
            kind: super::ipc::ExecFailure::Setup,
            message,
        },
        &[],
    );
}
