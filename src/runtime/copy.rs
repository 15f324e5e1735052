//! `cp` between the host and a container. A running container is reached
//! through `/proc/<pid>/root` (its own mount namespace, binds included; we
//! own its user namespace, so the kernel lets us in); a stopped one through
//! its layers: reads from the topmost layer that has the path, writes into
//! its upper directory. Paths inside are resolved without leaving the root.
//!
//! The copy with a running container is made by a child that first joins
//! the container's user namespace: the kernel serves a FUSE mount (the
//! `fuse-overlayfs` driver's root) only to processes of the user namespace
//! it was mounted in, and ids then map as they do for the container.

use std::path::{Path, PathBuf};

use super::state::Status;
use super::{Result, RuntimeError};
use crate::fs::confine::resolve_in_root;
use crate::store::Store;

/// One side of `cp`: a host path, or `CONTAINER:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Host(PathBuf),
    Container { name: String, path: String },
}

impl Location {
    /// Docker's rule: `NAME:PATH` is in a container unless it starts with
    /// `/` or `.` (a host path with a colon).
    pub fn parse(arg: &str) -> Location {
        match arg.split_once(':') {
            Some((name, path))
                if !name.is_empty() && !arg.starts_with('/') && !arg.starts_with('.') =>
            {
                Location::Container {
                    name: name.into(),
                    path: path.into(),
                }
            }
            _ => Location::Host(arg.into()),
        }
    }
}

/// Where container `id`'s `path` is on the host, for reading (`write`
/// false) or writing.
fn host_path(store: &Store, proc: &Path, id: &str, path: &str, write: bool) -> Result<PathBuf> {
    let (record, state) = store.load_container(id)?;
    let confine =
        |root: &Path| resolve_in_root(root, path).map_err(|e| RuntimeError::Setup(e.to_string()));
    if let (Status::Running | Status::Paused, Some(pid)) = (state.status, state.pid) {
        return confine(&proc.join(pid.to_string()).join("root"));
    }
    let upper = store.container_dirs(id).upper();
    if write {
        return confine(&upper);
    }
    let image = store.resolve_image(&record.image_id.to_string())?;
    let mut roots = vec![upper];
    roots.extend(
        image
            .config
            .rootfs
            .diff_ids
            .iter()
            .rev()
            .map(|d| store.layers_dir().join(d.hex()).join("diff")),
    );
    for root in &roots {
        let candidate = confine(root)?;
        if std::fs::symlink_metadata(&candidate).is_ok() {
            return Ok(candidate);
        }
    }
    Err(RuntimeError::Setup(format!(
        "could not find the file {path} in container {id}"
    )))
}

/// The host pid of the init of `loc`'s container, if it is running.
fn running_pid(store: &Store, loc: &Location) -> Result<Option<i32>> {
    let Location::Container { name, .. } = loc else {
        return Ok(None);
    };
    let id = store.resolve_container(name)?;
    let (_, state) = store.load_container(&id)?;
    Ok(match (state.status, state.pid) {
        (Status::Running | Status::Paused, Some(pid)) => Some(pid),
        _ => None,
    })
}

/// Copies `from` to `to` (one of them in a container).
pub fn copy(store: &Store, proc: &Path, from: &Location, to: &Location) -> Result<()> {
    let pid = match running_pid(store, from)? {
        Some(pid) => Some(pid),
        None => running_pid(store, to)?,
    };
    let Some(pid) = pid else {
        return copy_between(store, proc, from, to);
    };
    crate::sys::process::run_forked(|| {
        crate::sys::ns::join_some(proc, pid, &["user"]).map_err(|e| e.to_string())?;
        copy_between(store, proc, from, to).map_err(|e| e.to_string())
    })?
    .map_err(RuntimeError::Setup)
}

fn copy_between(store: &Store, proc: &Path, from: &Location, to: &Location) -> Result<()> {
    let resolve = |loc: &Location, write: bool| -> Result<PathBuf> {
        match loc {
            Location::Host(p) => Ok(p.clone()),
            Location::Container { name, path } => {
                let id = store.resolve_container(name)?;
                host_path(store, proc, &id, path, write)
            }
        }
    };
    let source = resolve(from, false)?;
    if std::fs::symlink_metadata(&source).is_err() {
        return Err(RuntimeError::Setup(format!(
            "no such file or directory: {}",
            source.display()
        )));
    }
    let mut dest = resolve(to, true)?;
    // Whether the destination is a directory, as the container sees it (a
    // stopped container's directory may exist only in a lower layer).
    let into_dir = match to {
        Location::Host(p) => p.is_dir(),
        Location::Container { .. } => resolve(to, false).is_ok_and(|p| p.is_dir()),
    };
    if let Location::Container { .. } = to {
        // In an upper dir, the parents may exist only below: make them.
        let dir = if into_dir {
            Some(dest.as_path())
        } else {
            dest.parent()
        };
        if let Some(dir) = dir {
            fs_err::create_dir_all(dir)?;
        }
    }
    // Into an existing directory, under the source's name (Docker).
    if into_dir {
        if let Some(name) = source.file_name() {
            dest = dest.join(name);
        }
    }
    copy_tree(&source, &dest)
}

fn copy_tree(source: &Path, dest: &Path) -> Result<()> {
    let meta = fs_err::symlink_metadata(source)?;
    if meta.file_type().is_symlink() {
        let target = fs_err::read_link(source)?;
        let _ = std::fs::remove_file(dest);
        std::os::unix::fs::symlink(&target, dest)?;
    } else if meta.is_dir() {
        if !dest.is_dir() {
            fs_err::create_dir(dest)?;
        }
        for entry in fs_err::read_dir(source)? {
            let entry = entry?;
            copy_tree(&entry.path(), &dest.join(entry.file_name()))?;
        }
        fs_err::set_permissions(dest, meta.permissions())?;
    } else {
        fs_err::copy(source, dest)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_have_a_name_and_a_colon() {
        assert_eq!(
            Location::parse("web:/etc/hosts"),
            Location::Container {
                name: "web".into(),
                path: "/etc/hosts".into()
            }
        );
        assert_eq!(Location::parse("./a:b"), Location::Host("./a:b".into()));
        assert_eq!(Location::parse("/tmp/x"), Location::Host("/tmp/x".into()));
        assert_eq!(Location::parse("file"), Location::Host("file".into()));
    }
}
