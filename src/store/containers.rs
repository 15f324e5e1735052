//! Container records: `config.json` (what to run), `state.json` (what
//! happened), and the directories the runtime mounts.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::atomic::Durability;
use super::lock::Lock;
use super::{atomic, Result, Store, StoreError};
use crate::runtime::state::{State, Status};

/// What a container was created with; written once at create.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub created: String,
    /// The image as the user named it.
    pub image: String,
    pub image_id: crate::image::Digest,
    pub spec: crate::runtime::plan::RunSpec,
    /// `--restart`; changed later only by `update --restart`.
    #[serde(default)]
    pub restart: crate::spec::restart::RestartPolicy,
    /// `--stop-signal` or the image's STOPSIGNAL, sent by `stop` (SIGTERM
    /// when absent).
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// `--stop-timeout`: seconds `stop` waits when not given `-t`.
    #[serde(default)]
    pub stop_timeout: Option<u64>,
    /// `--label K=V`.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// The image's HEALTHCHECK or `--health-*`; run by the monitor.
    #[serde(default)]
    pub healthcheck: Option<crate::spec::health::HealthConfig>,
}

/// The directories and files of one container: what it keeps in the store (`dir`), and
/// what lives only while it runs, in the run root (`run`, a tmpfs under
/// $XDG_RUNTIME_DIR): its liveness lock and generated /etc files, rewritten at each start.
/// Files made and dropped at every start cost little there, and much on a disk (ext4
/// with `discard` and no journal frees blocks with a synchronous discard).
#[derive(Debug, Clone)]
pub struct ContainerDirs {
    pub dir: PathBuf,
    pub run: PathBuf,
}

impl ContainerDirs {
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    /// Held by whoever owns the running container (liveness, DESIGN.md).
    pub fn lock(&self) -> PathBuf {
        self.run.join("running.lock")
    }
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
    pub fn etc(&self) -> PathBuf {
        self.run.join("etc")
    }
    /// The output of a detached container (podman's k8s-file format).
    pub fn log(&self) -> PathBuf {
        self.dir.join("container.log")
    }
    /// Present while the container is paused.
    pub fn paused(&self) -> PathBuf {
        self.dir.join("paused")
    }
    /// Present when the user stopped the container (`stop`, `kill`,
    /// `rm -f`): the restart policy must not start it again.
    pub fn stop_requested(&self) -> PathBuf {
        self.dir.join("stop-requested")
    }
}

/// A container's state: `created` while it has no state.json (it never started).
pub fn read_state(dirs: &ContainerDirs) -> Result<State> {
    match std::fs::read(dirs.state()) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path: dirs.state(),
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::created()),
        Err(e) => Err(e.into()),
    }
}

impl Store {
    pub fn container_dirs(&self, id: &str) -> ContainerDirs {
        ContainerDirs {
            dir: self.containers_dir().join(id),
            run: self.run_root.join("containers").join(id),
        }
    }

    /// Creates a container: reserves its name (atomically: a symlink that
    /// fails if it exists), then its directory and records.
    pub fn create_container(&self, record: &ContainerRecord) -> Result<ContainerDirs> {
        let link = self.names_dir().join(&record.name);
        if let Err(e) = std::os::unix::fs::symlink(&record.id, &link) {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                let id = std::fs::read_link(&link)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if self.container_dirs(&id).config().is_file() {
                    return Err(StoreError::NameInUse {
                        name: record.name.clone(),
                        id,
                    });
                }
                // A stale reservation from a crashed create: take it over.
                fs_err::remove_file(&link)?;
                std::os::unix::fs::symlink(&record.id, &link)?;
            } else {
                return Err(e.into());
            }
        }
        let dirs = self.container_dirs(&record.id);
        let result = (|| -> Result<()> {
            let staging = self.staging_dir("container")?;
            for sub in ["upper", "work", "rootfs"] {
                fs_err::create_dir(staging.join(sub))?;
            }
            // No state.json yet: until the first start writes one, the container is
            // `created` (`read_state`). Writing it here would make that first write
            // replace a file, which frees a block: on ext4 mounted with `discard`
            // and no journal the kernel discards it synchronously, a millisecond
            // on every `run`.
            // config.json last: a directory with it is a complete container.
            atomic::write_json(&staging.join("config.json"), record, Durability::Crash)?;
            super::crash::point("container.staged");
            fs_err::rename(&staging, &dirs.dir)?;
            Ok(())
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&link);
            return Err(e);
        }
        Ok(dirs)
    }

    pub fn load_container(&self, id: &str) -> Result<(ContainerRecord, State)> {
        let dirs = self.container_dirs(id);
        let read = |path: PathBuf| -> Result<Vec<u8>> {
            std::fs::read(&path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    StoreError::NoSuchContainer(id.to_string())
                } else {
                    e.into()
                }
            })
        };
        let record: ContainerRecord =
            serde_json::from_slice(&read(dirs.config())?).map_err(|e| StoreError::Corrupt {
                path: dirs.config(),
                reason: e.to_string(),
            })?;
        let mut state = read_state(&dirs)?;
        // Liveness is the owner's lock, not "the pid exists" (DESIGN.md);
        // after a reboot nothing runs, whatever the state says.
        let rebooted = state.boot_id.is_some() && state.boot_id != crate::runtime::state::boot_id();
        if state.status.is_live() && (rebooted || !Lock::is_held(&dirs.lock())) {
            state.mark_lost();
        }
        if state.status == Status::Running && dirs.paused().exists() {
            state.status = Status::Paused;
        }
        Ok((record, state))
    }

    /// Rewrites a container's record (`update`, `rename`) under the store
    /// lock.
    pub fn save_record(&self, record: &ContainerRecord) -> Result<()> {
        let _lock = Lock::exclusive(&self.lock_path())?;
        atomic::write_json(
            &self.container_dirs(&record.id).config(),
            record,
            Durability::Crash,
        )?;
        Ok(())
    }

    pub fn save_state(&self, id: &str, state: &State) -> Result<()> {
        atomic::write_json(&self.container_dirs(id).state(), state, Durability::Crash)?;
        Ok(())
    }

    /// The bytes in a container's writable layer (`ps -s`).
    pub fn container_size(&self, id: &str) -> u64 {
        fn walk(path: &std::path::Path) -> u64 {
            let Ok(meta) = std::fs::symlink_metadata(path) else {
                return 0;
            };
            if !meta.is_dir() {
                return meta.len();
            }
            std::fs::read_dir(path)
                .map(|entries| entries.flatten().map(|e| walk(&e.path())).sum())
                .unwrap_or(0)
        }
        walk(&self.container_dirs(id).upper())
    }

    /// Every container id, oldest first.
    pub fn list_containers(&self) -> Result<Vec<(ContainerRecord, State)>> {
        let mut out = Vec::new();
        for entry in fs_err::read_dir(self.containers_dir())? {
            let entry = entry?;
            let Some(id) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            match self.load_container(&id) {
                Ok(c) => out.push(c),
                // Half-removed or half-created: not a container (yet).
                Err(StoreError::NoSuchContainer(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.0.created.cmp(&b.0.created));
        Ok(out)
    }

    /// Finds a container by name, full id or unique id prefix.
    pub fn resolve_container(&self, name_or_id: &str) -> Result<String> {
        let link = self.names_dir().join(name_or_id);
        if !name_or_id.contains('/') {
            if let Ok(target) = std::fs::read_link(&link) {
                let id = target.to_string_lossy().into_owned();
                if self.container_dirs(&id).config().is_file() {
                    return Ok(id);
                }
            }
        }
        if !name_or_id.is_empty() && name_or_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut matches = Vec::new();
            for entry in fs_err::read_dir(self.containers_dir())? {
                let id = entry?.file_name().to_string_lossy().into_owned();
                if id.starts_with(name_or_id) && self.container_dirs(&id).config().is_file() {
                    matches.push(id);
                }
            }
            match matches.len() {
                1 => return Ok(matches.remove(0)),
                0 => {}
                _ => {
                    return Err(StoreError::Ambiguous {
                        prefix: name_or_id.into(),
                        what: "container",
                    })
                }
            }
        }
        Err(StoreError::NoSuchContainer(name_or_id.to_string()))
    }

    /// Forgets a container's name and records. Its directory must already be
    /// emptied by the runtime (files owned by mapped ids need the user
    /// namespace to remove).
    pub fn release_name(&self, name: &str, id: &str) -> Result<()> {
        if let Some(link) = self.name_link_of(name, id) {
            fs_err::remove_file(&link)?;
        }
        Ok(())
    }

    /// The link reserving `name`, if it is `id`'s.
    fn name_link_of(&self, name: &str, id: &str) -> Option<PathBuf> {
        let link = self.names_dir().join(name);
        std::fs::read_link(&link)
            .is_ok_and(|t| t.to_string_lossy() == id)
            .then_some(link)
    }

    /// Frees `name` as `release_name` does, by moving its link into `dir` (a retired
    /// container's directory, deleted later) instead of unlinking it: the link holds a
    /// 64-character id, too long to live in the inode, so unlinking it frees a block,
    /// and ext4 mounted with `discard` and no journal discards that synchronously
    /// (1.4 ms measured at the end of every `run --rm`). A rename frees nothing.
    pub fn release_name_into(&self, name: &str, id: &str, dir: &std::path::Path) -> Result<()> {
        if let Some(link) = self.name_link_of(name, id) {
            fs_err::rename(&link, dir.join(".name"))?;
        }
        Ok(())
    }

    /// Gives container `id` the name `new`: the new name is reserved first
    /// (atomically), then the record changes, then the old name is freed.
    pub fn rename_container(&self, id: &str, new: &str) -> Result<()> {
        let (mut record, _) = self.load_container(id)?;
        let link = self.names_dir().join(new);
        if let Err(e) = std::os::unix::fs::symlink(id, &link) {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                let owner = std::fs::read_link(&link)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                return Err(StoreError::NameInUse {
                    name: new.to_string(),
                    id: owner,
                });
            }
            return Err(e.into());
        }
        let old = std::mem::replace(&mut record.name, new.to_string());
        if let Err(e) = self.save_record(&record) {
            let _ = std::fs::remove_file(&link);
            return Err(e);
        }
        self.release_name(&old, id)
    }

    /// A container directory moved aside for deletion: once renamed it is no
    /// longer listed, so a crash mid-delete leaves no half container.
    pub fn retire_container_dir(&self, id: &str) -> Result<PathBuf> {
        let retired = self
            .tmp_dir()
            .join(format!("removed-{id}-{}", atomic::unique_suffix()));
        let dirs = self.container_dirs(id);
        fs_err::rename(&dirs.dir, &retired)?;
        super::crash::point("container.retired");
        // Its runtime files go at once (a tmpfs: a few unlinks); what a crash
        // leaves there is emptied by the next reboot.
        let _ = std::fs::remove_dir_all(&dirs.run);
        Ok(retired)
    }
}
