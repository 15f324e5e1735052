//! Named and anonymous volumes: `<root>/volumes-v1/<name>/{volume.json,_data/}`.
//!
//! A volume appears whole or not at all: it is made in the store's tmp dir and renamed into
//! place, and removed by renaming it back out before its files are deleted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{atomic, Result, Store, StoreError};

/// What `volume inspect` shows (Docker's field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "CreatedAt")]
    pub created_at: String,
    #[serde(rename = "Labels", default)]
    pub labels: BTreeMap<String, String>,
    /// Made for one container (`-v /path`, an image's VOLUME): removed with `rm -v`, pruned.
    #[serde(rename = "Anonymous", default)]
    pub anonymous: bool,
}

impl Store {
    pub fn volumes_dir(&self) -> PathBuf {
        self.root.join("volumes-v1")
    }

    fn volume_dir(&self, name: &str) -> PathBuf {
        self.volumes_dir().join(name)
    }

    /// The directory containers mount.
    pub fn volume_data(&self, name: &str) -> PathBuf {
        self.volume_dir(name).join("_data")
    }

    /// Creates a volume, or returns the existing one of that name (Docker's `volume create`
    /// is idempotent). The flag says whether it was created now (so it is still empty and
    /// may be filled from the image).
    pub fn create_volume(
        &self,
        name: &str,
        labels: BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<(VolumeRecord, bool)> {
        if let Ok(existing) = self.volume(name) {
            return Ok((existing, false));
        }
        fs_err::create_dir_all(self.volumes_dir())?;
        let record = VolumeRecord {
            name: name.to_string(),
            driver: "local".into(),
            created_at: crate::runtime::state::now(),
            labels,
            anonymous,
        };
        let staging = self
            .tmp_dir()
            .join(format!("volume-{}", atomic::unique_suffix()));
        fs_err::create_dir_all(staging.join("_data"))?;
        let json = serde_json::to_vec_pretty(&record).map_err(std::io::Error::other)?;
        atomic::write_atomic(&staging.join("volume.json"), &json)?;
        match std::fs::rename(&staging, self.volume_dir(name)) {
            Ok(()) => Ok((record, true)),
            // Someone else made it first: theirs stands.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::DirectoryNotEmpty
                ) =>
            {
                let _ = std::fs::remove_dir_all(&staging);
                Ok((self.volume(name)?, false))
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                Err(e.into())
            }
        }
    }

    pub fn volume(&self, name: &str) -> Result<VolumeRecord> {
        let path = self.volume_dir(name).join("volume.json");
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NoSuchVolume(name.to_string()))
            }
            Err(e) => return Err(e.into()),
        };
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path,
            reason: e.to_string(),
        })
    }

    /// Every volume, by name.
    pub fn list_volumes(&self) -> Result<Vec<VolumeRecord>> {
        let entries = match std::fs::read_dir(self.volumes_dir()) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            if let Some(name) = entry.file_name().to_str() {
                if let Ok(v) = self.volume(name) {
                    out.push(v);
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The volume whose data directory `path` is, if it is one.
    pub fn volume_of(&self, path: &Path) -> Option<String> {
        let dir = path.parent()?;
        (path.file_name()? == "_data" && dir.parent()? == self.volumes_dir())
            .then(|| dir.file_name()?.to_str().map(str::to_string))
            .flatten()
    }

    /// The anonymous volumes a container's mounts use.
    pub fn anonymous_volumes_of(&self, binds: &[crate::spec::mount::BindMount]) -> Vec<String> {
        binds
            .iter()
            .filter_map(|b| self.volume_of(&b.source))
            .filter(|name| self.volume(name).is_ok_and(|v| v.anonymous))
            .collect()
    }

    /// The ids of containers whose mounts use the volume.
    pub fn volume_users(&self, name: &str) -> Result<Vec<String>> {
        let data = self.volume_data(name);
        Ok(self
            .list_containers()?
            .into_iter()
            .filter(|(record, _)| uses(&record.spec.binds, &data))
            .map(|(record, _)| record.id)
            .collect())
    }

    /// Moves a volume out of sight (under the store's tmp dir) and returns where it went;
    /// the caller deletes the tree (its files may belong to subordinate ids).
    pub fn retire_volume(&self, name: &str) -> Result<PathBuf> {
        self.volume(name)?;
        let aside = self
            .tmp_dir()
            .join(format!("volume-rm-{}", atomic::unique_suffix()));
        fs_err::rename(self.volume_dir(name), &aside)?;
        super::crash::point("volume.retired");
        Ok(aside)
    }
}

fn uses(binds: &[crate::spec::mount::BindMount], data: &Path) -> bool {
    binds.iter().any(|b| b.source == data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_is_idempotent_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
        let (v, created) = store.create_volume("data", labels.clone(), false).unwrap();
        assert!(created);
        assert_eq!((v.name.as_str(), v.driver.as_str()), ("data", "local"));
        assert!(store.volume_data("data").is_dir());
        let (again, created) = store.create_volume("data", BTreeMap::new(), false).unwrap();
        assert!(!created);
        assert_eq!(again.labels, labels);
        assert_eq!(store.list_volumes().unwrap().len(), 1);
        assert!(std::fs::read_dir(store.tmp_dir()).unwrap().next().is_none());
    }

    #[test]
    fn retire_moves_it_out_of_sight() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.create_volume("v1", BTreeMap::new(), true).unwrap();
        let aside = store.retire_volume("v1").unwrap();
        assert!(aside.join("_data").is_dir());
        assert!(matches!(
            store.volume("v1"),
            Err(StoreError::NoSuchVolume(_))
        ));
        assert!(store.list_volumes().unwrap().is_empty());
        assert!(matches!(
            store.retire_volume("v1"),
            Err(StoreError::NoSuchVolume(_))
        ));
    }
}
