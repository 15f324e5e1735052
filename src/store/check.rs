//! `system check`: what a crash, a full disk or a hand edit can leave in the
//! store, found and (where it can be) repaired.
//!
//! Two kinds of finding. An *inconsistency* breaks a command: a blob whose
//! bytes do not match its digest, a tag naming a missing manifest, an image
//! whose layers are gone, a container record that does not parse. A
//! *leftover* breaks nothing but takes space or shows stale data: a temp
//! file or staging directory of a devbox that was killed, the trash of an
//! interrupted `rm`, a container recorded as running whose owner is dead.
//! A killed devbox may leave leftovers, never inconsistencies: that is the
//! crash-safety promise `tests/it/system.rs` checks.
//!
//! Anything that carries the pid of a live process is in use and not
//! reported (temp names end in `<pid>-<counter>-<nanos>`, see
//! [`super::atomic::unique_suffix`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use super::lock::Lock;
use super::{atomic, Result, Store};
use crate::image::digest::Hasher;
use crate::image::oci::{ImageConfig, Manifest};
use crate::image::Digest;
use crate::runtime::state::State;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Leftover,
    Inconsistent,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Leftover => "leftover",
            Severity::Inconsistent => "inconsistent",
        }
    }
}

/// What `--repair` does about a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// Nothing safe can be done automatically; the text says what to do.
    Manual(&'static str),
    RemoveFile(PathBuf),
    /// A tree, maybe with files of subordinate ids (removed via the user
    /// namespace).
    RemoveTree(PathBuf),
    /// Unpack the layer blob again (its unpacked tree is missing).
    Unpack {
        blob: Digest,
        diff_id: Digest,
    },
    /// Record the container as exited (its owner died).
    MarkExited(String),
    /// Point the name at its container again.
    Relink {
        name: String,
        id: String,
    },
    /// Unmount a mount point left by a container that no longer runs.
    Unmount(PathBuf),
    /// Remove a container (the scratch container of a killed build).
    RemoveContainer {
        id: String,
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    /// Where it is.
    pub path: PathBuf,
    /// What is wrong.
    pub what: String,
    pub fix: Fix,
}

/// The image name of a build step's scratch container (see
/// `build::executor`).
const BUILD_IMAGE: &str = "devbox-build";

/// How a repair went: `None` when the finding needs a person.
pub type Outcome = Option<std::result::Result<(), String>>;

/// What `--repair` needs from the runtime: removing trees owned by mapped
/// ids, unpacking layers and unmounting.
pub trait Repairer {
    fn remove_tree(&self, path: &Path) -> std::result::Result<(), String>;
    fn unpack(&self, blob: &Path, dest: &Path, diff_id: &Digest)
        -> std::result::Result<(), String>;
    fn unmount(&self, path: &Path) -> std::result::Result<(), String>;
}

/// The pid in a temp name made with [`atomic::unique_suffix`]
/// (`<anything>-<pid>-<counter>-<nanos>`), if it has one (pure).
pub fn owner_pid(name: &str) -> Option<u32> {
    let mut parts = name.rsplitn(4, '-');
    let nanos = parts.next()?;
    let counter = parts.next()?;
    let pid = parts.next()?;
    parts.next()?;
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (numeric(nanos) && numeric(counter)).then(|| pid.parse().ok())?
}

/// Whether a process runs (a zombie does not: on machines whose init does
/// not reap orphans, a killed devbox stays one).
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) S ...`: the state follows the last `)`.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Whether a temp name belongs to a process that is still at work.
fn in_use(name: &str) -> bool {
    owner_pid(name).is_some_and(|pid| pid == std::process::id() || is_alive(pid))
}

/// The mount points listed in a `/proc/self/mountinfo` (pure).
pub fn mount_points(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_mount(field)))
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mount(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn entries(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = read
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    out.sort();
    out
}

fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

/// The sha256 of a file, streamed.
fn file_digest(path: &Path) -> std::io::Result<Digest> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Hasher::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buffer[..n]);
    }
}

/// Collects findings in the order the store is walked.
struct Checker<'a> {
    store: &'a Store,
    problems: Vec<Problem>,
    /// Blobs whose content matches their name.
    blobs: BTreeSet<Digest>,
}

impl Checker<'_> {
    fn report(&mut self, severity: Severity, path: &Path, what: impl Into<String>, fix: Fix) {
        self.problems.push(Problem {
            severity,
            path: path.to_path_buf(),
            what: what.into(),
            fix,
        });
    }

    /// Temp files of atomic writes whose writer died, in `dir`.
    fn stray_temps(&mut self, dir: &Path) {
        for (name, path) in entries(dir) {
            if is_temp_name(&name) && !in_use(&name) {
                self.report(
                    Severity::Leftover,
                    &path,
                    "temporary file of an interrupted write",
                    Fix::RemoveFile(path.clone()),
                );
            }
        }
    }

    fn tmp(&mut self) {
        for (name, path) in entries(&self.store.tmp_dir()) {
            if in_use(&name) {
                continue;
            }
            let what = match owner_pid(&name) {
                Some(pid) => format!("left by devbox process {pid}, which is gone"),
                None => "not made by devbox".to_string(),
            };
            let fix = if path.is_dir() {
                Fix::RemoveTree(path.clone())
            } else {
                Fix::RemoveFile(path.clone())
            };
            self.report(Severity::Leftover, &path, what, fix);
        }
    }

    fn blobs(&mut self) {
        let dir = self.store.blobs_dir();
        self.stray_temps(&dir);
        for (name, path) in entries(&dir) {
            if is_temp_name(&name) {
                continue;
            }
            let Ok(digest) = Digest::from_hex(&name) else {
                self.report(
                    Severity::Leftover,
                    &path,
                    "not a blob (the name is not a sha256 digest)",
                    Fix::RemoveFile(path.clone()),
                );
                continue;
            };
            match file_digest(&path) {
                Ok(actual) if actual == digest => {
                    self.blobs.insert(digest);
                }
                Ok(actual) => self.report(
                    Severity::Inconsistent,
                    &path,
                    format!("blob content does not match its digest (it hashes to {actual})"),
                    Fix::RemoveFile(path.clone()),
                ),
                Err(e) => self.report(
                    Severity::Inconsistent,
                    &path,
                    format!("cannot read the blob: {e}"),
                    Fix::Manual("check the file's permissions"),
                ),
            }
        }
    }

    fn layers(&mut self) {
        for (name, path) in entries(&self.store.layers_dir()) {
            if Digest::from_hex(&name).is_err() {
                self.report(
                    Severity::Leftover,
                    &path,
                    "not a layer (the name is not a sha256 digest)",
                    Fix::RemoveTree(path.clone()),
                );
            } else if !path.join("diff").is_dir() {
                self.report(
                    Severity::Inconsistent,
                    &path,
                    "layer directory without its unpacked tree (diff/)",
                    Fix::RemoveTree(path.clone()),
                );
            }
        }
    }

    /// Checks one image (by manifest); returns whether it is whole enough
    /// to keep its record and tags.
    fn image(&mut self, manifest_digest: &Digest, where_: &Path) -> bool {
        let remove = Fix::RemoveFile(where_.to_path_buf());
        if !self.blobs.contains(manifest_digest) {
            self.report(
                Severity::Inconsistent,
                where_,
                format!("names manifest {manifest_digest}, which is missing or corrupt"),
                remove,
            );
            return false;
        }
        let manifest: Manifest = match self.store.read_json_blob(manifest_digest) {
            Ok(m) => m,
            Err(e) => {
                self.report(Severity::Inconsistent, where_, format!("{e}"), remove);
                return false;
            }
        };
        let config_digest = &manifest.config.digest;
        let config: Option<ImageConfig> = self
            .blobs
            .contains(config_digest)
            .then(|| self.store.read_json_blob(config_digest).ok())
            .flatten();
        let Some(config) = config else {
            self.report(
                Severity::Inconsistent,
                where_,
                format!("the image's config {config_digest} is missing or corrupt"),
                remove,
            );
            return false;
        };
        for (index, diff_id) in config.rootfs.diff_ids.iter().enumerate() {
            let blob = manifest.layers.get(index).map(|l| &l.digest);
            let has_blob = blob.is_some_and(|b| self.blobs.contains(b));
            let has_layer = self.store.has_layer(diff_id);
            match (has_blob, has_layer) {
                (true, true) => {}
                (true, false) => self.report(
                    Severity::Inconsistent,
                    &self.store.layer_diff(diff_id),
                    format!(
                        "unpacked layer of image {} is missing",
                        config_digest.short()
                    ),
                    Fix::Unpack {
                        blob: blob.cloned().expect("has_blob implies a blob"),
                        diff_id: diff_id.clone(),
                    },
                ),
                (false, true) => self.report(
                    Severity::Inconsistent,
                    where_,
                    format!(
                        "layer blob {} is missing (the image runs but cannot be pushed or saved)",
                        blob.map(|b| b.to_string())
                            .unwrap_or_else(|| "(none)".into())
                    ),
                    Fix::Manual("pull or build the image again"),
                ),
                (false, false) => self.report(
                    Severity::Inconsistent,
                    where_,
                    format!("layer {diff_id} is missing (blob and unpacked tree)"),
                    Fix::Manual("remove the image with `devbox rmi` and pull or build it again"),
                ),
            }
        }
        true
    }

    fn images(&mut self) {
        let dir = self.store.images_dir();
        self.stray_temps(&dir);
        let mut checked: BTreeMap<Digest, bool> = BTreeMap::new();
        for (name, path) in entries(&dir) {
            if is_temp_name(&name) {
                continue;
            }
            if Digest::from_hex(&name).is_err() {
                self.report(
                    Severity::Leftover,
                    &path,
                    "not an image record",
                    Fix::RemoveFile(path.clone()),
                );
                continue;
            }
            let record = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v.get("manifest")?.as_str()?.parse::<Digest>().ok());
            let Some(manifest) = record else {
                self.report(
                    Severity::Inconsistent,
                    &path,
                    "image record does not parse",
                    Fix::RemoveFile(path.clone()),
                );
                continue;
            };
            let whole = self.image(&manifest, &path);
            checked.insert(manifest, whole);
        }
        let refs = self.store.refs_dir();
        self.stray_temps(&refs);
        for (name, path) in entries(&refs) {
            if is_temp_name(&name) {
                continue;
            }
            let target = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| t.trim().parse::<Digest>().ok());
            let Some(manifest) = target else {
                self.report(
                    Severity::Inconsistent,
                    &path,
                    "tag file does not hold a digest",
                    Fix::RemoveFile(path.clone()),
                );
                continue;
            };
            if let Some(whole) = checked.get(&manifest) {
                if !whole {
                    self.report(
                        Severity::Inconsistent,
                        &path,
                        format!("tag names the broken image of manifest {manifest}"),
                        Fix::RemoveFile(path.clone()),
                    );
                }
                continue;
            }
            let whole = self.image(&manifest, &path);
            checked.insert(manifest, whole);
        }
        let cache = self.store.root.join("buildcache-v1");
        self.stray_temps(&cache);
        for (name, path) in entries(&cache) {
            if is_temp_name(&name) {
                continue;
            }
            let entry = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<crate::build::cache::Entry>(&b).ok());
            if entry.is_none() {
                self.report(
                    Severity::Leftover,
                    &path,
                    "build cache entry does not parse",
                    Fix::RemoveFile(path.clone()),
                );
            }
        }
    }

    fn containers(&mut self, mounts: &[PathBuf]) {
        let store = self.store;
        let volumes: BTreeSet<String> = store
            .list_volumes()
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect();
        for (id, path) in entries(&store.containers_dir()) {
            let dirs = store.container_dirs(&id);
            self.stray_temps(&path);
            if !dirs.config().is_file() {
                self.report(
                    Severity::Leftover,
                    &path,
                    "not a container (no config.json)",
                    Fix::RemoveTree(path.clone()),
                );
                continue;
            }
            let record = std::fs::read(dirs.config()).ok().and_then(|b| {
                serde_json::from_slice::<super::containers::ContainerRecord>(&b).ok()
            });
            let Some(record) = record else {
                self.report(
                    Severity::Inconsistent,
                    &dirs.config(),
                    "container record does not parse",
                    Fix::Manual("remove the container with `devbox rm -f`"),
                );
                continue;
            };
            let Ok(stored) = super::containers::read_state(&dirs) else {
                self.report(
                    Severity::Inconsistent,
                    &dirs.state(),
                    "container state does not parse",
                    Fix::MarkExited(id.clone()),
                );
                continue;
            };
            let live = stored.status.is_live() && Lock::is_held(&dirs.lock());
            if record.image == BUILD_IMAGE && !live {
                // Builds hold the gc lock shared while their step containers
                // exist; `--repair` takes it exclusively, so it never meets
                // the container of a build still at work.
                self.report(
                    Severity::Leftover,
                    &path,
                    format!(
                        "scratch container {} of a build that was killed",
                        record.name
                    ),
                    Fix::RemoveContainer {
                        id: id.clone(),
                        name: record.name.clone(),
                    },
                );
                continue;
            }
            if stored.status.is_live() && !live {
                self.report(
                    Severity::Leftover,
                    &dirs.state(),
                    format!(
                        "container {} is recorded as {} but no process owns it",
                        record.name,
                        stored.status.as_str()
                    ),
                    Fix::MarkExited(id.clone()),
                );
            }
            if !live {
                for mount in mounts.iter().filter(|m| m.starts_with(&path)) {
                    self.report(
                        Severity::Leftover,
                        mount,
                        format!(
                            "still mounted, but container {} is not running",
                            record.name
                        ),
                        Fix::Unmount(mount.clone()),
                    );
                }
            }
            self.container_image(&record);
            for bind in &record.spec.binds {
                if let Some(volume) = store.volume_of(&bind.source) {
                    if !volumes.contains(&volume) {
                        self.report(
                            Severity::Inconsistent,
                            &store.volumes_dir().join(&volume),
                            format!("volume {volume} of container {} is missing", record.name),
                            Fix::Manual(
                                "create it with `devbox volume create` or remove the container",
                            ),
                        );
                    }
                }
            }
            let link = store.names_dir().join(&record.name);
            if !std::fs::read_link(&link).is_ok_and(|t| t.to_string_lossy() == id.as_str()) {
                self.report(
                    Severity::Inconsistent,
                    &link,
                    format!("name {} does not point at its container {id}", record.name),
                    Fix::Relink {
                        name: record.name.clone(),
                        id: id.clone(),
                    },
                );
            }
        }
        for (name, path) in entries(&store.names_dir()) {
            let target = std::fs::read_link(&path).map(|t| t.to_string_lossy().into_owned());
            let owned = target
                .as_ref()
                .is_ok_and(|id| !id.contains('/') && store.container_dirs(id).config().is_file());
            // A create reserves the name a moment before its container
            // appears: a young reservation is work in progress.
            let young = std::fs::symlink_metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() < 60));
            if !owned && !young {
                self.report(
                    Severity::Leftover,
                    &path,
                    format!("name {name} reserved for a container that does not exist"),
                    Fix::RemoveFile(path.clone()),
                );
            }
        }
    }

    /// A container needs its image's config and unpacked layers, even after
    /// `rmi -f`.
    fn container_image(&mut self, record: &super::containers::ContainerRecord) {
        let config: Option<ImageConfig> = self
            .blobs
            .contains(&record.image_id)
            .then(|| self.store.read_json_blob(&record.image_id).ok())
            .flatten();
        let path = self.store.container_dirs(&record.id).config();
        let Some(config) = config else {
            self.report(
                Severity::Inconsistent,
                &path,
                format!(
                    "the config of image {} (of container {}) is missing",
                    record.image_id.short(),
                    record.name
                ),
                Fix::Manual("remove the container with `devbox rm`"),
            );
            return;
        };
        for diff_id in &config.rootfs.diff_ids {
            if !self.store.has_layer(diff_id) {
                self.report(
                    Severity::Inconsistent,
                    &self.store.layer_diff(diff_id),
                    format!("layer of container {} is missing", record.name),
                    Fix::Manual("remove the container with `devbox rm`"),
                );
            }
        }
    }

    fn volumes(&mut self) {
        for (name, path) in entries(&self.store.volumes_dir()) {
            self.stray_temps(&path);
            if !path.join("volume.json").is_file() {
                self.report(
                    Severity::Leftover,
                    &path,
                    "not a volume (no volume.json)",
                    Fix::RemoveTree(path.clone()),
                );
            } else if self.store.volume(&name).is_err() {
                self.report(
                    Severity::Inconsistent,
                    &path.join("volume.json"),
                    "volume record does not parse",
                    Fix::Manual("remove the volume with `devbox volume rm`"),
                );
            }
        }
    }
}

impl Store {
    /// Walks the whole store (reading every blob) and returns what is
    /// wrong; writes nothing.
    pub fn check(&self) -> Result<Vec<Problem>> {
        let mut checker = Checker {
            store: self,
            problems: Vec::new(),
            blobs: BTreeSet::new(),
        };
        checker.stray_temps(&self.root);
        checker.tmp();
        checker.blobs();
        checker.layers();
        checker.images();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo")
            .map(|m| mount_points(&m))
            .unwrap_or_default();
        checker.containers(&mounts);
        checker.volumes();
        Ok(checker.problems)
    }

    /// Checks under the locks (no writer in flight, no other repair) and
    /// repairs what can be: leftovers, and inconsistencies too when
    /// `inconsistencies` (prune removes only leftovers). Returns each
    /// finding handled with the outcome of its repair (`None` when it needs
    /// a person).
    pub fn repair(
        &self,
        repairer: &dyn Repairer,
        inconsistencies: bool,
    ) -> Result<Vec<(Problem, Outcome)>> {
        let _gc = self.exclusive_gc()?;
        let _lock = Lock::exclusive(&self.lock_path())?;
        let problems = self.check()?;
        let mut out = Vec::new();
        for problem in problems {
            if problem.severity == Severity::Inconsistent && !inconsistencies {
                continue;
            }
            let outcome = self.apply_fix(&problem.fix, repairer);
            out.push((problem, outcome));
        }
        Ok(out)
    }

    fn apply_fix(&self, fix: &Fix, repairer: &dyn Repairer) -> Outcome {
        let io = |r: std::io::Result<()>| r.map_err(|e| e.to_string());
        Some(match fix {
            Fix::Manual(_) => return None,
            Fix::RemoveFile(path) => io(std::fs::remove_file(path).or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            })),
            Fix::RemoveTree(path) => {
                // Out of sight first (if it is not already in tmp/), so a
                // crash mid-removal leaves trash, not a half entry.
                let aside = if path.starts_with(self.tmp_dir()) {
                    Ok(path.clone())
                } else {
                    let aside = self
                        .tmp_dir()
                        .join(format!("repair-{}", atomic::unique_suffix()));
                    std::fs::rename(path, &aside).map(|()| aside)
                };
                aside
                    .map_err(|e| e.to_string())
                    .and_then(|aside| repairer.remove_tree(&aside))
            }
            Fix::Unpack { blob, diff_id } => self.unpack_again(blob, diff_id, repairer),
            Fix::MarkExited(id) => {
                let mut state = super::containers::read_state(&self.container_dirs(id))
                    .unwrap_or_else(|_| State::created());
                state.mark_lost();
                io(atomic::write_json(
                    &self.container_dirs(id).state(),
                    &state,
                    atomic::Durability::Crash,
                ))
            }
            Fix::Relink { name, id } => {
                let link = self.names_dir().join(name);
                let _ = std::fs::remove_file(&link);
                io(std::os::unix::fs::symlink(id, &link))
            }
            Fix::Unmount(path) => repairer.unmount(path),
            Fix::RemoveContainer { id, name } => self
                .retire_container_dir(id)
                .and_then(|aside| {
                    self.release_name(name, id)?;
                    Ok(aside)
                })
                .map_err(|e| e.to_string())
                .and_then(|aside| repairer.remove_tree(&aside)),
        })
    }

    fn unpack_again(
        &self,
        blob: &Digest,
        diff_id: &Digest,
        repairer: &dyn Repairer,
    ) -> std::result::Result<(), String> {
        if self.has_layer(diff_id) {
            return Ok(());
        }
        let staging = self.staging_dir("layer").map_err(|e| e.to_string())?;
        let diff = staging.join("diff");
        let result = std::fs::create_dir(&diff)
            .map_err(|e| e.to_string())
            .and_then(|()| repairer.unpack(&self.blob_path(blob), &diff, diff_id))
            .and_then(|()| {
                self.publish_layer(&staging, diff_id)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
        if result.is_err() || staging.exists() {
            let _ = repairer.remove_tree(&staging);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pids_come_from_unique_suffixes() {
        assert_eq!(owner_pid("pull-123-4-56789"), Some(123));
        assert_eq!(owner_pid("removed-abcdef-77-0-1"), Some(77));
        assert_eq!(owner_pid(".state.json.tmp-9-1-2"), Some(9));
        assert_eq!(owner_pid("layer-x-y-z"), None);
        assert_eq!(owner_pid("12-3"), None);
        assert_eq!(owner_pid("nothing"), None);
    }

    #[test]
    fn mountinfo_mount_points_are_unescaped() {
        let info = "36 35 98:0 /mnt1 /mnt\\040two rw,noatime master:1 - ext3 /dev/root rw\n\
                    37 35 0:5 / /proc rw - proc proc rw\n";
        assert_eq!(
            mount_points(info),
            vec![PathBuf::from("/mnt two"), PathBuf::from("/proc")]
        );
    }

    struct Plain;
    impl Repairer for Plain {
        fn remove_tree(&self, path: &Path) -> std::result::Result<(), String> {
            std::fs::remove_dir_all(path).map_err(|e| e.to_string())
        }
        fn unpack(&self, _: &Path, _: &Path, _: &Digest) -> std::result::Result<(), String> {
            Err("no unpacking in unit tests".into())
        }
        fn unmount(&self, _: &Path) -> std::result::Result<(), String> {
            Ok(())
        }
    }

    #[test]
    fn a_fresh_store_is_clean() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.check().unwrap(), vec![]);
    }

    #[test]
    fn corrupt_blobs_dangling_tags_and_dead_temps_are_found_and_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let good = store.put_blob(b"hello").unwrap();
        let bad = Digest::of(b"original");
        std::fs::write(store.blob_path(&bad), b"tampered").unwrap();
        let tag = store.refs_dir().join("example%2Fapp%3A1");
        std::fs::write(&tag, Digest::of(b"gone").to_string()).unwrap();
        // pid 0 never names a devbox process: a dead writer.
        let temp = store.refs_dir().join(".x.tmp-0-1-2");
        std::fs::write(&temp, b"").unwrap();
        let trash = store.tmp_dir().join("removed-abc-0-1-2");
        std::fs::create_dir_all(trash.join("sub")).unwrap();
        let problems = store.check().unwrap();
        let found: Vec<(&Path, Severity)> = problems
            .iter()
            .map(|p| (p.path.as_path(), p.severity))
            .collect();
        assert!(found.contains(&(store.blob_path(&bad).as_path(), Severity::Inconsistent)));
        assert!(found.contains(&(tag.as_path(), Severity::Inconsistent)));
        assert!(found.contains(&(temp.as_path(), Severity::Leftover)));
        assert!(found.contains(&(trash.as_path(), Severity::Leftover)));
        assert_eq!(problems.len(), 4, "{problems:#?}");
        let repaired = store.repair(&Plain, true).unwrap();
        assert!(repaired.iter().all(|(_, r)| r == &Some(Ok(()))));
        assert_eq!(store.check().unwrap(), vec![]);
        assert!(store.has_blob(&good));
    }

    #[test]
    fn an_image_without_its_unpacked_layer_is_inconsistent() {
        use crate::image::oci::{Descriptor, MEDIA_TYPE_CONFIG, MEDIA_TYPE_LAYER_GZIP};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let layer = store.put_blob(b"layer bytes").unwrap();
        let diff_id = Digest::of(b"diff");
        let mut config: ImageConfig = serde_json::from_str(
            r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
        )
        .unwrap();
        config.rootfs.diff_ids = vec![diff_id.clone()];
        let config_bytes = serde_json::to_vec(&config).unwrap();
        let config_digest = store.put_blob(&config_bytes).unwrap();
        let manifest = Manifest {
            schema_version: 2,
            media_type: None,
            config: Descriptor::new(MEDIA_TYPE_CONFIG, config_digest, config_bytes.len() as u64),
            layers: vec![Descriptor::new(MEDIA_TYPE_LAYER_GZIP, layer.clone(), 11)],
            annotations: Default::default(),
        };
        let manifest_digest = store
            .put_blob(&serde_json::to_vec(&manifest).unwrap())
            .unwrap();
        std::fs::write(store.refs_dir().join("app"), manifest_digest.to_string()).unwrap();
        let problems = store.check().unwrap();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(problems[0].severity, Severity::Inconsistent);
        assert_eq!(
            problems[0].fix,
            Fix::Unpack {
                blob: layer,
                diff_id
            }
        );
    }
}
