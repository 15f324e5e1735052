//! Removing containers and trees that belong to mapped ids.

use std::ffi::OsString;
use std::path::Path;

use super::idmap::IdMapping;
use super::{userns, Result, RuntimeError};
use crate::store::lock::Lock;
use crate::store::Store;
use crate::sys;

/// Removes a directory tree. Files the container created as other users are
/// owned by subordinate ids on the host, so what we cannot remove as
/// ourselves is removed from inside the user namespace.
pub fn remove_tree(mapping: &IdMapping, path: &Path) -> Result<()> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    if std::fs::remove_dir_all(path).is_ok() {
        return Ok(());
    }
    // overlayfs leaves `work/work` with mode 000; make what we own writable.
    make_owned_writable(path);
    if std::fs::remove_dir_all(path).is_ok() {
        return Ok(());
    }
    if matches!(mapping, IdMapping::Root) {
        return Err(std::io::Error::other(format!("cannot remove {}", path.display())).into());
    }
    userns::run_helper(
        mapping,
        &[OsString::from("__rmtree"), path.as_os_str().to_os_string()],
    )
}

fn make_owned_writable(path: &Path) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let me = sys::ids::current_euid();
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_dir() && meta.uid() == me {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
        if let Ok(entries) = std::fs::read_dir(path) {
            for entry in entries.flatten() {
                make_owned_writable(&entry.path());
            }
        }
    }
}

/// Takes a container out of the store: refuses a running one unless
/// `force`, which kills it first; moves its directory aside (so a crash
/// never leaves a half container listed) and frees its name. Returns the
/// retired directory, still to be deleted.
fn retire_container(store: &Store, id: &str, force: bool) -> Result<std::path::PathBuf> {
    let (record, state) = store.load_container(id)?;
    let dirs = store.container_dirs(id);
    if !state.status.can_remove(force) {
        return Err(RuntimeError::Running { id: id.to_string() });
    }
    if force && Lock::is_held(&dirs.lock()) {
        // The monitor must not restart what we kill.
        super::lifecycle::mark_stopped_by_user(&dirs)?;
        super::lifecycle::kill_until_released(store, id, &dirs)?;
    }
    // Wait for the owner (foreground run or monitor) to let go.
    let _owner_gone = Lock::exclusive(&dirs.lock())?;
    let retired = store.retire_container_dir(id)?;
    store.release_name_into(&record.name, id, &retired)?;
    Ok(retired)
}

/// Removes a container: refuses a running one unless `force`, which kills
/// it first. The directory is moved aside before deletion so a crash never
/// leaves a half container listed.
pub fn remove_container(store: &Store, mapping: &IdMapping, id: &str, force: bool) -> Result<()> {
    let retired = retire_container(store, id, force)?;
    remove_tree(mapping, &retired)
}

/// Removes a container as `remove_container` does, but deletes its retired
/// directory in a detached child (`sys::process::run_detached`; the end of `run --rm`):
/// once this returns the container is gone for every command (record and
/// name), and the caller need not wait for the files to be unlinked. A
/// remover that dies leaves a `tmp/removed-*` dir, which the next store
/// check collects. Falls back to removing here when the remover cannot start.
pub fn remove_container_detached(
    store: &Store,
    mapping: &IdMapping,
    id: &str,
    force: bool,
) -> Result<()> {
    let retired = retire_container(store, id, force)?;
    let detached = sys::process::run_detached(|| {
        sys::process::set_name("devbox:[remove]");
        let _ = remove_tree(mapping, &retired);
    });
    match detached {
        Ok(()) => Ok(()),
        Err(_) => remove_tree(mapping, &retired),
    }
}
