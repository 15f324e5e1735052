//! `devbox exec`: a second entry into the same container (STYLE: youki's
//! "create and exec are two entry points"). This process joins the
//! namespaces of the container's first process through /proc/PID/ns — so it
//! works on a container started by any devbox process — and starts the
//! command there as the container's user.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use super::idmap::IdMapping;
use super::init::find_program;
use super::state::Status;
use super::{Result, RuntimeError};
use crate::paths::HostPaths;
use crate::spec::env::Environment;
use crate::spec::user::{self, UserSpec};
use crate::store::Store;
use crate::sys;

#[derive(Debug, Clone)]
pub struct ExecRequest {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub workdir: Option<String>,
    pub user: Option<UserSpec>,
    pub tty: bool,
    pub interactive: bool,
    pub detach: bool,
    /// `--privileged`: every capability and no filter, whatever the container has.
    pub privileged: bool,
}

/// Runs `request` in the running container `id`. Returns the command's exit
/// code, or `None` with `detach`. Must be called while this process is
/// single-threaded (joining a user namespace requires it).
pub fn exec(
    store: &Store,
    mapping: &IdMapping,
    host: &HostPaths,
    id: &str,
    request: &ExecRequest,
) -> Result<Option<i32>> {
    let (record, state) = store.load_container(id)?;
    let pid = match (state.status, state.pid) {
        (Status::Running | Status::Paused, Some(pid)) => pid,
        _ => return Err(RuntimeError::NotRunning { id: id.to_string() }),
    };
    sys::ns::join(&host.proc, pid)?;
    // From here on paths are the container's.
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let wanted = request.user.as_ref().unwrap_or(&record.spec.user);
    let user = user::resolve(wanted, &read("/etc/passwd"), &read("/etc/group"))
        .map_err(|e| RuntimeError::Setup(e.to_string()))?;
    let mut env = Environment::from_list(&record.spec.env);
    for (k, v) in &request.env {
        env.set(k, v);
    }
    env.set_default("HOME", &user.home);
    if request.tty {
        env.set_default("TERM", "xterm");
    }
    let program =
        find_program(&request.argv[0], &env).map_err(|(kind, message)| kind.into_error(message))?;
    let cstr = |b: &[u8]| {
        CString::new(b).map_err(|_| RuntimeError::Setup("argument contains a NUL byte".into()))
    };
    let workdir = request.workdir.as_deref().unwrap_or(&record.spec.workdir);
    let mut security = record.spec.security.clone();
    security.privileged |= request.privileged;
    let confinement = super::confine::prepare(&security, user.uid).map_err(RuntimeError::Setup)?;
    let pty = if request.tty {
        Some(sys::tty::open_pty()?)
    } else {
        None
    };
    let null: OwnedFd = fs_err::File::open("/dev/null")?.into();
    let mut groups = vec![user.gid];
    groups.extend(&user.additional_gids);
    let spec = sys::process::CommandSpec {
        path: cstr(program.as_os_str().as_bytes())?,
        argv: request
            .argv
            .iter()
            .map(|a| cstr(a.as_bytes()))
            .collect::<Result<_>>()?,
        envp: env
            .to_list()
            .iter()
            .map(|a| cstr(a.as_bytes()))
            .collect::<Result<_>>()?,
        cwd: cstr(workdir.as_bytes())?,
        uid: user.uid,
        gid: user.gid,
        groups,
        set_groups: mapping.can_setgroups(),
        terminal: pty.as_ref().map(|(_, slave)| slave.as_raw_fd()),
        stdin: (!request.interactive && !request.tty).then(|| null.as_raw_fd()),
        orphan: request.detach,
        caps: Some(confinement.sets),
    };
    // The container's confinement: this process takes the bounding set,
    // no_new_privs and the seccomp filter (the child inherits them), the child
    // its capability sets after the user switch.
    confinement
        .before_user_switch()
        .and_then(|()| confinement.no_new_privs_and_late_seccomp())
        .map_err(RuntimeError::Setup)?;
    let child = sys::process::spawn_command(&spec)?;
    let master = pty.map(|(master, slave)| {
        drop(slave);
        master
    });
    if request.detach {
        // Reap the middle process; the command runs on under the container's PID 1.
        sys::process::wait_exit(child)?;
        return Ok(None);
    }
    let exit = supervise(child, master, request.interactive)?;
    Ok(Some(exit.as_code()))
}

/// Forwards signals and the terminal until the command ends. One thread:
/// having joined the container's PID namespace, this process cannot start
/// threads (clone(2) refuses CLONE_THREAD then).
fn supervise(
    pid: sys::Pid,
    master: Option<OwnedFd>,
    interactive: bool,
) -> Result<sys::process::Exit> {
    use signal_hook::consts::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    let mut signals = signal_hook::iterator::Signals::new([
        SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
    ])?;
    let stdin = std::io::stdin();
    let _raw = match &master {
        Some(_) if interactive && sys::tty::is_terminal(stdin.as_fd()) => {
            sys::tty::RawMode::enter_stdin().ok()
        }
        _ => None,
    };
    if let Some(master) = &master {
        super::stdio::follow_window_size(master);
    }
    let mut output = master
        .as_ref()
        .map(|m| m.try_clone())
        .transpose()?
        .map(std::fs::File::from);
    let mut input = output.as_ref().map(|o| o.try_clone()).transpose()?;
    let mut stdin_open = interactive && input.is_some();
    let mut buf = [0u8; 8192];
    loop {
        for sig in signals.pending() {
            match (sig, &master) {
                (SIGWINCH, Some(master)) => super::stdio::follow_window_size(master),
                (SIGWINCH, None) => {}
                _ => sys::process::kill(pid, sig)?,
            }
        }
        let mut fds = Vec::new();
        if let Some(out) = &output {
            fds.push(out.as_fd());
        }
        if stdin_open {
            fds.push(stdin.as_fd());
        }
        let ready = sys::ipc::poll_readable(&fds, 50)?;
        if let (Some(true), Some(out)) = (ready.first(), output.as_mut()) {
            // EIO once the last user of the terminal is gone.
            match out.read(&mut buf) {
                Ok(n) if n > 0 => {
                    let mut stdout = std::io::stdout();
                    let _ = stdout.write_all(&buf[..n]);
                    let _ = stdout.flush();
                }
                _ => output = None,
            }
        }
        if stdin_open && ready.last() == Some(&true) {
            let n = stdin.lock().read(&mut buf).unwrap_or(0);
            match input.as_mut() {
                Some(i) if n > 0 => {
                    let _ = i.write_all(&buf[..n]);
                }
                _ => stdin_open = false,
            }
        }
        if output.is_none() {
            if let Some(exit) = sys::process::try_wait_exit(pid)? {
                return Ok(exit);
            }
        }
    }
}
