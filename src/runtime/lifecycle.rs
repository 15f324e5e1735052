//! The lifecycle verbs on an existing container: start (under a monitor),
//! stop, kill, wait. Liveness is the owner's lock (DESIGN.md); a stop by the
//! user is a marker file the monitor reads before it restarts anything.

use std::time::Duration;

use super::monitor::{self, wait_released};
use super::state::{State, Status};
use super::{Result, RuntimeError};
use crate::paths::Paths;
use crate::store::containers::ContainerDirs;
use crate::store::Store;
use crate::sys;

/// Docker's default grace period of `stop`.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Records that the user ended the container: no restart policy applies.
pub fn mark_stopped_by_user(dirs: &ContainerDirs) -> Result<()> {
    fs_err::write(dirs.stop_requested(), b"")?;
    Ok(())
}

/// Starts an exited or created container again under a monitor, with the
/// same upper directory. A running one is left alone.
pub fn start(paths: &Paths, store: &Store, id: &str) -> Result<()> {
    let (_, state) = store.load_container(id)?;
    if state.status.is_live() {
        return Ok(());
    }
    let dirs = store.container_dirs(id);
    let _ = std::fs::remove_file(dirs.stop_requested());
    let _ = std::fs::remove_file(dirs.paused());
    match monitor::start_detached(paths, id) {
        // Another devbox started it meanwhile: it runs, as asked.
        Err(RuntimeError::Running { .. }) => Ok(()),
        other => other,
    }
}

/// `start -a`: runs an exited or created container again in the foreground
/// (no monitor: this process owns it) and returns its exit code.
pub fn start_attached(paths: &Paths, store: &Store, id: &str) -> Result<i32> {
    let (record, _) = store.load_container(id)?;
    let image = store.resolve_image(&record.image_id.to_string())?;
    let (mapping, _) = super::userns::detect_mapping(&paths.host)?;
    let dirs = store.container_dirs(id);
    let _ = std::fs::remove_file(dirs.stop_requested());
    super::launch::run_foreground(super::launch::Target {
        store,
        mapping: &mapping,
        host: &paths.host,
        image: &image,
        record: &record,
        dirs: &dirs,
        driver: super::rootfs::choose_inherited(store, &mapping)?,
    })
}

/// Sends `signal` to the container's first process.
pub fn kill(store: &Store, id: &str, signal: i32) -> Result<()> {
    let (_, state) = store.load_container(id)?;
    let pid = match (state.status, state.pid) {
        (Status::Running | Status::Paused, Some(pid)) => pid,
        _ => return Err(RuntimeError::NotRunning { id: id.to_string() }),
    };
    if matches!(signal, libc::SIGKILL | libc::SIGTERM | libc::SIGINT) {
        mark_stopped_by_user(&store.container_dirs(id))?;
    }
    sys::process::kill(sys::Pid::from_raw(pid), signal)?;
    Ok(())
}

/// Stops a running container: its stop signal (`--stop-signal`, the
/// image's STOPSIGNAL, else SIGTERM), then SIGKILL after `timeout` (else
/// its `--stop-timeout`, else 10 s). Returns once nothing runs.
pub fn stop(store: &Store, id: &str, timeout: Option<Duration>) -> Result<()> {
    let (record, state) = store.load_container(id)?;
    let timeout = timeout
        .or(record.stop_timeout.map(Duration::from_secs))
        .unwrap_or(DEFAULT_STOP_TIMEOUT);
    let dirs = store.container_dirs(id);
    if !state.status.is_live() {
        return Ok(());
    }
    mark_stopped_by_user(&dirs)?;
    let signal = record
        .stop_signal
        .as_deref()
        .and_then(sys::process::signal_number)
        .unwrap_or(libc::SIGTERM);
    if let Some(pid) = state.pid {
        sys::process::kill(sys::Pid::from_raw(pid), signal)?;
        if state.status == Status::Paused {
            // A stopped process handles its signal once continued.
            sys::process::kill(sys::Pid::from_raw(pid), libc::SIGCONT)?;
        }
    }
    if wait_released(&dirs.lock(), Some(timeout)) {
        return Ok(());
    }
    kill_until_released(store, id, &dirs)
}

/// SIGKILLs whatever process the container's owner runs (it may be between
/// restarts) until the owner lets go of the lock.
pub fn kill_until_released(store: &Store, id: &str, dirs: &ContainerDirs) -> Result<()> {
    loop {
        if let Ok((_, State { pid: Some(pid), .. })) = store.load_container(id) {
            sys::process::kill(sys::Pid::from_raw(pid), sys::process::SIGKILL)?;
        }
        if wait_released(&dirs.lock(), Some(Duration::from_millis(100))) {
            return Ok(());
        }
    }
}

/// Blocks until the container is not running, and returns its exit code
/// (`None`: unknown, its owner died).
pub fn wait(paths: &Paths, store: &Store, id: &str) -> Result<Option<i32>> {
    let dirs = store.container_dirs(id);
    wait_released(&dirs.lock(), None);
    match store.load_container(id) {
        Ok((_, state)) => Ok(state.exit_code),
        // Removed by its monitor (`--rm`): it left the code behind.
        Err(crate::store::StoreError::NoSuchContainer(_)) => {
            match std::fs::read_to_string(exit_record(paths, id)) {
                Ok(code) => Ok(code.trim().parse().ok()),
                Err(_) => Err(crate::store::StoreError::NoSuchContainer(id.into()).into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Where the monitor of an `--rm` container leaves its exit code for
/// `wait` (runtime state: gone at reboot).
pub fn exit_record(paths: &Paths, id: &str) -> std::path::PathBuf {
    paths.run_root.join("exits").join(id)
}

/// Starts again the containers that would be running had the machine not
/// rebooted (or their monitor not died): restart policy `always`, or
/// `unless-stopped` not stopped by the user. Returns each one tried.
pub fn boot(paths: &Paths, store: &Store) -> Result<Vec<(String, Result<()>)>> {
    let mut tried = Vec::new();
    for (record, state) in store.list_containers()? {
        let dirs = store.container_dirs(&record.id);
        let stopped = dirs.stop_requested().exists();
        if state.status.is_live() || !record.restart.start_at_boot(stopped) {
            continue;
        }
        let result = start(paths, store, &record.id);
        tried.push((record.name, result));
    }
    Ok(tried)
}

/// The systemd user unit that runs `devbox system boot` at login. Monitors
/// outlive the oneshot command, so the unit stays active and stopping it
/// kills nothing.
pub fn boot_unit(exe: &std::path::Path, root: &std::path::Path) -> String {
    format!(
        "[Unit]\n\
         Description=Start devbox containers with a restart policy (devbox system boot)\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         ExecStart={} --root {} system boot\n\
         RemainAfterExit=yes\n\
         KillMode=process\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
        exe.display(),
        root.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_unit_runs_system_boot_for_this_store() {
        let unit = boot_unit(
            std::path::Path::new("/usr/bin/devbox"),
            std::path::Path::new("/home/u/.local/share/devbox"),
        );
        assert!(unit.contains(
            "ExecStart=/usr/bin/devbox --root /home/u/.local/share/devbox system boot\n"
        ));
        assert!(unit.contains("WantedBy=default.target"));
        assert!(unit.contains("KillMode=process"));
    }
}
