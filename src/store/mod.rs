//! The store: the single source of truth (DESIGN.md). Directory names are
//! versioned; every write is atomic (temp, fsync, rename); multi-step
//! updates hold the store lock.
//!
//! ```text
//! <root>/store.lock
//! <root>/blobs-v1/sha256/<hex>          manifests, configs, layer tars
//! <root>/layers-v1/<diff-id hex>/diff   unpacked layers, shared by images
//! <root>/refs-v1/<escaped reference>    tag -> manifest digest
//! <root>/images-v1/<image id hex>       image record (its manifest): images outlive their tags
//! <root>/gc.lock                        writers hold it shared, garbage collection exclusive
//! <root>/containers-v1/<id>/            config.json, state.json (from the first start), upper/, work/, rootfs/
//! <run root>/containers/<id>/           running.lock, etc/ (while it runs; `Paths::run_root`)
//! <root>/volumes-v1/<name>/            volume.json, _data/ (named and anonymous volumes)
//! <root>/networks-v1/<name>.json        user-defined networks
//! <root>/names-v1/<name>                symlink -> container id (atomic name reservation)
//! <root>/tmp/                           staging area for atomic publishes
//! <root>/storage.json                   the storage driver chosen for this store
//! ```

use std::path::{Path, PathBuf};

use crate::image::Digest;
use crate::ui::diagnostics::Hint;

pub mod atomic;
pub mod blobs;
pub mod check;
pub mod containers;
pub mod crash;
pub mod driver;
pub mod images;
pub mod layers;
pub mod lock;
pub mod networks;
pub mod usage;
pub mod volumes;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the store at {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("store data at {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("no such image: {0}")]
    NoSuchImage(String),
    #[error("no such volume: {0}")]
    NoSuchVolume(String),
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    #[error("the container name `{name}` is already in use by container {id}")]
    NameInUse { name: String, id: String },
    #[error("`{prefix}` matches more than one {what}")]
    Ambiguous { prefix: String, what: &'static str },
    #[error("blob {0} is missing from the store")]
    MissingBlob(Digest),
    #[error("conflict: unable to {action} (must force) - {reason}")]
    ImageConflict { action: String, reason: String },
}

impl Hint for StoreError {
    fn hint(&self) -> Option<String> {
        match self {
            StoreError::NoSuchImage(_) => Some(
                "list local images with `devbox images`; import a root filesystem with `devbox import ROOTFS.tar NAME`".into(),
            ),
            StoreError::NoSuchVolume(_) => Some("list volumes with `devbox volume ls`".into()),
            StoreError::NameInUse { .. } => {
                Some("remove that container with `devbox rm NAME` or choose another `--name`".into())
            }
            StoreError::ImageConflict { .. } => Some(
                "pass `-f` to remove it anyway (containers created from it keep their layers), or remove the container first with `devbox rm`".into(),
            ),
            StoreError::Corrupt { .. } => Some("`devbox system check --repair` will be able to fix this".into()),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A handle on one store root.
#[derive(Debug, Clone)]
pub struct Store {
    pub root: PathBuf,
    /// Runtime state of live containers (`Paths::run_root`).
    pub run_root: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: &Path) -> Result<Store> {
        let store = Store {
            root: root.to_path_buf(),
            run_root: crate::paths::default_run_root(root, crate::sys::ids::current_euid()),
        };
        for dir in [
            store.blobs_dir(),
            store.layers_dir(),
            store.refs_dir(),
            store.containers_dir(),
            store.names_dir(),
            store.tmp_dir(),
        ] {
            if !dir.is_dir() {
                std::fs::create_dir_all(&dir).map_err(|source| StoreError::Create {
                    path: dir.clone(),
                    source,
                })?;
            }
        }
        Ok(store)
    }

    /// The same store with its runtime state at `run_root` (the global `--runroot`).
    pub fn with_run_root(self, run_root: PathBuf) -> Store {
        Store { run_root, ..self }
    }

    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs-v1/sha256")
    }
    pub fn layers_dir(&self) -> PathBuf {
        self.root.join("layers-v1")
    }
    pub fn refs_dir(&self) -> PathBuf {
        self.root.join("refs-v1")
    }
    pub fn containers_dir(&self) -> PathBuf {
        self.root.join("containers-v1")
    }
    pub fn names_dir(&self) -> PathBuf {
        self.root.join("names-v1")
    }
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
    pub fn lock_path(&self) -> PathBuf {
        self.root.join("store.lock")
    }
}
