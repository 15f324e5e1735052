//! What the store holds and what pruning would free (`system df`).

use std::collections::BTreeSet;
use std::path::Path;

use super::{Result, Store};
use crate::image::oci::Manifest;
use crate::image::Digest;

/// One row of `system df`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

/// One image for `system df -v`.
#[derive(Debug, Clone)]
pub struct ImageUsage {
    pub id: Digest,
    pub tags: Vec<String>,
    pub size: u64,
    pub containers: usize,
}

/// One container for `system df -v`.
#[derive(Debug, Clone)]
pub struct ContainerUsage {
    pub id: String,
    pub name: String,
    pub image: String,
    pub size: u64,
    pub status: &'static str,
}

/// One volume for `system df -v`.
#[derive(Debug, Clone)]
pub struct VolumeUsage {
    pub name: String,
    pub links: usize,
    pub size: u64,
}

#[derive(Debug, Clone, Default)]
pub struct DiskUsage {
    pub images: Usage,
    pub containers: Usage,
    pub volumes: Usage,
    pub build_cache: Usage,
    pub image_rows: Vec<ImageUsage>,
    pub container_rows: Vec<ContainerUsage>,
    pub volume_rows: Vec<VolumeUsage>,
}

/// Bytes of the files below `path`, best effort (parts owned by mapped ids
/// may be unreadable; they count as nothing).
pub fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return if meta.is_file() { meta.len() } else { 0 };
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| tree_size(&e.path())).sum())
        .unwrap_or(0)
}

impl Store {
    /// Where the bytes are: images (their blobs, shared ones counted once),
    /// containers (their writable layers), volumes, and the build cache
    /// (blobs and layers no image uses, cache entries, cache mounts).
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let mut usage = DiskUsage::default();
        let users = self.image_users()?;
        let blob_size = |d: &Digest| std::fs::metadata(self.blob_path(d)).map_or(0, |m| m.len());
        let mut all_blobs = BTreeSet::new();
        let mut active_blobs = BTreeSet::new();
        for image in self.list_images()? {
            let mut blobs = vec![image.manifest.clone()];
            if let Ok(manifest) = self.read_json_blob::<Manifest>(&image.manifest) {
                blobs.push(manifest.config.digest);
                blobs.extend(manifest.layers.into_iter().map(|l| l.digest));
            }
            let containers = users.get(&image.id).map_or(0, Vec::len);
            usage.image_rows.push(ImageUsage {
                id: image.id.clone(),
                tags: image.tags.iter().map(|t| t.familiar()).collect(),
                size: blobs.iter().map(blob_size).sum(),
                containers,
            });
            usage.images.total += 1;
            if containers > 0 {
                usage.images.active += 1;
                active_blobs.extend(blobs.iter().cloned());
            }
            all_blobs.extend(blobs);
        }
        usage.images.size = all_blobs.iter().map(blob_size).sum();
        usage.images.reclaimable = all_blobs.difference(&active_blobs).map(blob_size).sum();

        let mut volume_links: std::collections::BTreeMap<String, usize> = Default::default();
        for (record, state) in self.list_containers()? {
            let size = self.container_size(&record.id);
            usage.containers.total += 1;
            usage.containers.size += size;
            if state.status.is_live() {
                usage.containers.active += 1;
            } else {
                usage.containers.reclaimable += size;
            }
            for bind in &record.spec.binds {
                if let Some(volume) = self.volume_of(&bind.source) {
                    *volume_links.entry(volume).or_default() += 1;
                }
            }
            usage.container_rows.push(ContainerUsage {
                id: record.id,
                name: record.name,
                image: record.image,
                size,
                status: state.status.as_str(),
            });
        }

        for volume in self.list_volumes()? {
            let size = tree_size(&self.volume_data(&volume.name));
            let links = volume_links.get(&volume.name).copied().unwrap_or(0);
            usage.volumes.total += 1;
            usage.volumes.size += size;
            if links > 0 {
                usage.volumes.active += 1;
            } else {
                usage.volumes.reclaimable += size;
            }
            usage.volume_rows.push(VolumeUsage {
                name: volume.name,
                links,
                size,
            });
        }

        let (live_blobs, live_layers) = self.live_content()?;
        let mut cache = 0;
        for entry in std::fs::read_dir(self.blobs_dir())?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if Digest::from_hex(&name).is_ok_and(|d| !live_blobs.contains(&d)) {
                cache += entry.metadata().map_or(0, |m| m.len());
            }
        }
        for entry in std::fs::read_dir(self.layers_dir())?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if Digest::from_hex(&name).is_ok_and(|d| !live_layers.contains(&d)) {
                cache += tree_size(&entry.path());
            }
        }
        cache += tree_size(&self.build_cache_dir()) + tree_size(&self.cache_mounts_dir());
        usage.build_cache = Usage {
            total: std::fs::read_dir(self.build_cache_dir()).map_or(0, |d| d.count()),
            active: 0,
            size: cache,
            reclaimable: cache,
        };
        Ok(usage)
    }

    /// `buildcache-v1/`: which step made which layer.
    pub fn build_cache_dir(&self) -> std::path::PathBuf {
        self.root.join("buildcache-v1")
    }

    /// `cache-v1/`: the directories of `RUN --mount=type=cache`.
    pub fn cache_mounts_dir(&self) -> std::path::PathBuf {
        self.root.join("cache-v1")
    }
}
