//! The processes of a running container: those in its first process's PID
//! namespace, found through /proc (no cgroup needed); and pause/unpause by
//! SIGSTOP/SIGCONT, since cgroups (and their freezer) are not delegated here.

use std::path::Path;

use super::state::Status;
use super::{Result, RuntimeError};
use crate::store::Store;
use crate::sys;

/// Host pids of the processes in the PID namespace of `init_pid`, init first.
pub fn container_pids(proc: &Path, init_pid: i32) -> Vec<i32> {
    let ns = |pid: &str| std::fs::read_link(proc.join(pid).join("ns/pid")).ok();
    let Some(target) = ns(&init_pid.to_string()) else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = std::fs::read_dir(proc)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .filter(|pid| ns(&pid.to_string()).as_ref() == Some(&target))
                .collect()
        })
        .unwrap_or_default();
    pids.sort_by_key(|p| (*p != init_pid, *p));
    pids
}

/// The running container's first process, or an error saying it is not
/// running.
pub fn init_pid(store: &Store, id: &str) -> Result<i32> {
    let (_, state) = store.load_container(id)?;
    match (state.status, state.pid) {
        (Status::Running | Status::Paused, Some(pid)) => Ok(pid),
        _ => Err(RuntimeError::NotRunning { id: id.to_string() }),
    }
}

/// Stops (`pause`) or continues (`unpause`) every process of the container.
pub fn set_paused(store: &Store, proc: &Path, id: &str, paused: bool) -> Result<()> {
    let (_, state) = store.load_container(id)?;
    let pid = init_pid(store, id)?;
    let dirs = store.container_dirs(id);
    match (paused, state.status) {
        (true, Status::Paused) => {
            return Err(RuntimeError::Setup(format!(
                "container {id} is already paused"
            )))
        }
        (false, Status::Running) => {
            return Err(RuntimeError::Setup(format!("container {id} is not paused")))
        }
        _ => {}
    }
    if paused {
        fs_err::write(dirs.paused(), b"")?;
    }
    let signal = if paused { libc::SIGSTOP } else { libc::SIGCONT };
    for pid in container_pids(proc, pid) {
        sys::process::kill(sys::Pid::from_raw(pid), signal)?;
    }
    if !paused {
        fs_err::remove_file(dirs.paused())?;
    }
    Ok(())
}
