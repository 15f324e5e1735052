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

/// Removes a container: refuses a running one unless `force`, which kills
/// it first. The directory is moved aside before deletion so a crash never
/// leaves a half container listed.
pub fn remove_container(store: &Store, mapping: &IdMapping, id: &str, force: bool) -> Result<()> {
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
    store.release_name(&record.name, id)?;
    remove_tree(mapping, &retired)
}
