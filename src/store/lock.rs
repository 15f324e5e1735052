//! File locks (flock): the store lock for multi-step updates, and the
//! per-container liveness lock held by whoever runs the container.

use std::fs::File;
use std::path::{Path, PathBuf};

/// A held lock; released when dropped, or by the kernel when the process dies.
#[derive(Debug)]
pub struct Lock {
    _file: File,
    pub path: PathBuf,
}

impl Lock {
    /// Blocks until the exclusive lock on `path` is held.
    pub fn exclusive(path: &Path) -> std::io::Result<Lock> {
        let file = open(path)?;
        file.lock().map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot lock {}: {e}", path.display()))
        })?;
        Ok(Lock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// Takes the exclusive lock if nobody holds it.
    pub fn try_exclusive(path: &Path) -> std::io::Result<Option<Lock>> {
        let file = open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Lock {
                _file: file,
                path: path.to_path_buf(),
            })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// Whether somebody holds the lock right now (used for liveness).
    pub fn is_held(path: &Path) -> bool {
        match File::open(path) {
            Ok(file) => matches!(
                file.try_lock_shared(),
                Err(std::fs::TryLockError::WouldBlock)
            ),
            Err(_) => false,
        }
    }
}

/// Opens (creating) a lock file, and its directory when that is missing: a container's
/// liveness lock lives in the run root, which a reboot empties.
fn open(path: &Path) -> std::io::Result<File> {
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .read(true)
            .open(path)
    };
    open()
        .or_else(|e| match (e.kind(), path.parent()) {
            (std::io::ErrorKind::NotFound, Some(dir)) => {
                std::fs::create_dir_all(dir).and_then(|()| open())
            }
            _ => Err(e),
        })
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot open lock file {}: {e}", path.display()),
            )
        })
}
