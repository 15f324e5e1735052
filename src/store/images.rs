//! Images in the store: tags (refs), image records, removal and garbage
//! collection.
//!
//! An image is its config digest (Docker's image id). A record
//! `images-v1/<id hex>` names the image's manifest, so an image outlives its
//! tags: when a tag moves to another image the old one stays, listed as
//! `<none>:<none>` (a dangling image) until `rmi` or `image prune`.
//!
//! Crash safety: a ref is written only after its manifest blob (and that
//! manifest's config and layers) exist and after the image record; removal
//! goes the other way (ref, then record, then unreferenced blobs and layers).
//! Garbage collection holds `gc.lock` exclusively; writers that add blobs
//! before they tag them (import, load, pull) hold it shared
//! ([`Store::begin_write`]) so their not-yet-tagged blobs are never collected.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::lock::Lock;
use super::{atomic, Result, Store, StoreError};
use crate::image::oci::{ImageConfig, Manifest};
use crate::image::{Digest, Reference};

/// An image as the runtime needs it.
#[derive(Debug, Clone)]
pub struct Image {
    /// The reference it was found by, if any.
    pub reference: Option<Reference>,
    pub manifest_digest: Digest,
    pub manifest: Manifest,
    /// Docker's image id: the config digest.
    pub id: Digest,
    pub config: ImageConfig,
}

impl Image {
    /// The size Docker shows: the config plus every layer blob.
    pub fn size(&self) -> u64 {
        self.manifest.config.size + self.manifest.layers.iter().map(|l| l.size).sum::<u64>()
    }
}

/// One image of the store: its id, manifest and every tag pointing at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEntry {
    pub id: Digest,
    pub manifest: Digest,
    /// Sorted; empty for a dangling image.
    pub tags: Vec<Reference>,
}

/// The file `images-v1/<id hex>`.
#[derive(Debug, Serialize, Deserialize)]
struct ImageRecord {
    manifest: Digest,
}

/// One step of removing images, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// A tag was removed (`Untagged: busybox:latest`).
    Untagged(Reference),
    /// The image itself was removed (`Deleted: sha256:...`).
    Deleted(Digest),
}

/// What `rmi` was given: a tag, or an image id (prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tag(Reference),
    Id(Digest),
}

/// Held while a writer adds blobs and layers that no tag references yet.
#[derive(Debug)]
pub struct WriteGuard {
    _file: std::fs::File,
}

/// A file name for a reference: `/` and `:` escaped so it is one path
/// component and the mapping is reversible.
fn escape(reference: &Reference) -> String {
    reference
        .to_string()
        .replace('%', "%25")
        .replace('/', "%2F")
        .replace(':', "%3A")
        .replace('@', "%40")
}

fn unescape(name: &str) -> String {
    name.replace("%2F", "/")
        .replace("%3A", ":")
        .replace("%40", "@")
        .replace("%25", "%")
}

/// Docker's rules for `rmi` of one target (pure). `users` maps an image id to
/// the containers created from it.
pub fn plan_removal(
    images: &[ImageEntry],
    users: &BTreeMap<Digest, Vec<String>>,
    target: &Target,
    force: bool,
) -> Result<Vec<Removal>> {
    let (image, by_tag) = match target {
        Target::Tag(reference) => (
            images.iter().find(|i| i.tags.contains(reference)),
            Some(reference),
        ),
        Target::Id(id) => (images.iter().find(|i| &i.id == id), None),
    };
    let Some(image) = image else {
        let name = match target {
            Target::Tag(r) => r.familiar(),
            Target::Id(id) => id.to_string(),
        };
        return Err(StoreError::NoSuchImage(name));
    };
    let container = users.get(&image.id).and_then(|c| c.first());
    match by_tag {
        // Another tag keeps the image: only this tag goes.
        Some(reference) if image.tags.len() > 1 => Ok(vec![Removal::Untagged(reference.clone())]),
        Some(reference) => match container {
            Some(c) if !force => Err(StoreError::ImageConflict {
                action: format!("remove repository reference `{}`", reference.familiar()),
                reason: format!(
                    "container {} is using its referenced image {}",
                    short_id(c),
                    image.id.short()
                ),
            }),
            _ => Ok(vec![
                Removal::Untagged(reference.clone()),
                Removal::Deleted(image.id.clone()),
            ]),
        },
        None => {
            if !force {
                if image.tags.len() > 1 {
                    return Err(StoreError::ImageConflict {
                        action: format!("delete {}", image.id.short()),
                        reason: "image is referenced in multiple repositories".into(),
                    });
                }
                if let Some(c) = container {
                    return Err(StoreError::ImageConflict {
                        action: format!("delete {}", image.id.short()),
                        reason: format!("image is being used by container {}", short_id(c)),
                    });
                }
            }
            let mut steps: Vec<Removal> =
                image.tags.iter().cloned().map(Removal::Untagged).collect();
            steps.push(Removal::Deleted(image.id.clone()));
            Ok(steps)
        }
    }
}

/// What `image prune` removes (pure): dangling images, or with `all` every
/// image no container uses; never an image a container uses.
pub fn plan_prune(
    images: &[ImageEntry],
    users: &BTreeMap<Digest, Vec<String>>,
    all: bool,
) -> Vec<Removal> {
    let mut steps = Vec::new();
    for image in images {
        if users.contains_key(&image.id) || (!all && !image.tags.is_empty()) {
            continue;
        }
        steps.extend(image.tags.iter().cloned().map(Removal::Untagged));
        steps.push(Removal::Deleted(image.id.clone()));
    }
    steps
}

fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

impl Store {
    fn ref_path(&self, reference: &Reference) -> PathBuf {
        self.refs_dir().join(escape(reference))
    }

    pub fn images_dir(&self) -> PathBuf {
        self.root.join("images-v1")
    }

    fn record_path(&self, id: &Digest) -> PathBuf {
        self.images_dir().join(id.hex())
    }

    /// Marks the start of a write that adds blobs before tagging them
    /// (import, load, pull): garbage collection waits for it to finish.
    pub fn begin_write(&self) -> Result<WriteGuard> {
        let file = lock_file(&self.gc_lock_path())?;
        file.lock_shared()?;
        Ok(WriteGuard { _file: file })
    }

    /// Waits until no writer is in flight and keeps new ones out (garbage
    /// collection, `system check --repair`).
    pub(crate) fn exclusive_gc(&self) -> Result<std::fs::File> {
        let gc = lock_file(&self.gc_lock_path())?;
        gc.lock()?;
        Ok(gc)
    }

    fn gc_lock_path(&self) -> PathBuf {
        self.root.join("gc.lock")
    }

    /// Writes the image record of a manifest (idempotent); returns the image id.
    /// Fails, writing nothing, unless the manifest, its config, its layer
    /// blobs and their unpacked trees are all stored.
    pub fn record_image(&self, manifest_digest: &Digest) -> Result<Digest> {
        let manifest: Manifest = self.read_json_blob(manifest_digest)?;
        let config: ImageConfig = self.read_json_blob(&manifest.config.digest)?;
        if let Some(layer) = manifest.layers.iter().find(|l| !self.has_blob(&l.digest)) {
            return Err(StoreError::MissingBlob(layer.digest.clone()));
        }
        if let Some(diff_id) = config.rootfs.diff_ids.iter().find(|d| !self.has_layer(d)) {
            return Err(StoreError::Corrupt {
                path: self.layer_diff(diff_id),
                reason: "the unpacked layer is missing".into(),
            });
        }
        let id = manifest.config.digest;
        let path = self.record_path(&id);
        let current = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<ImageRecord>(&b).ok());
        if current.is_none_or(|r| &r.manifest != manifest_digest) {
            fs_err::create_dir_all(self.images_dir())?;
            let record = ImageRecord {
                manifest: manifest_digest.clone(),
            };
            atomic::write_json(&path, &record, atomic::Durability::PowerLoss)?;
        }
        Ok(id)
    }

    /// Points `reference` at a manifest (atomically replacing an old tag).
    /// The manifest must be stored; the image it names, and the one the tag
    /// pointed at before, keep their records (the latter becomes dangling).
    /// Callers hold the store lock.
    pub fn set_ref(&self, reference: &Reference, manifest: &Digest) -> Result<()> {
        if let Some(old) = self.get_ref(reference)? {
            if &old != manifest {
                // Older stores had no records: keep the image the tag leaves.
                let _ = self.record_image(&old);
            }
        }
        self.record_image(manifest)?;
        super::crash::point("image.before-ref");
        atomic::write_atomic(&self.ref_path(reference), manifest.to_string().as_bytes())?;
        Ok(())
    }

    pub fn remove_ref(&self, reference: &Reference) -> Result<()> {
        fs_err::remove_file(self.ref_path(reference))?;
        Ok(())
    }

    pub fn get_ref(&self, reference: &Reference) -> Result<Option<Digest>> {
        let path = self.ref_path(reference);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                text.trim()
                    .parse()
                    .map(Some)
                    .map_err(|e: crate::image::digest::DigestError| StoreError::Corrupt {
                        path,
                        reason: e.to_string(),
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every (reference, manifest digest) in the store, sorted by reference.
    pub fn list_refs(&self) -> Result<Vec<(Reference, Digest)>> {
        let mut out = Vec::new();
        for entry in fs_err::read_dir(self.refs_dir())? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let Ok(reference) = Reference::parse(&unescape(&name)) else {
                continue;
            };
            if let Some(digest) = self.get_ref(&reference)? {
                out.push((reference, digest));
            }
        }
        out.sort_by_key(|(r, _)| r.to_string());
        Ok(out)
    }

    /// Every image: those with a record and those only a tag names, with
    /// their tags; sorted by id.
    pub fn list_images(&self) -> Result<Vec<ImageEntry>> {
        let mut images: BTreeMap<Digest, ImageEntry> = BTreeMap::new();
        if self.images_dir().is_dir() {
            for entry in fs_err::read_dir(self.images_dir())? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let Ok(id) = Digest::from_hex(&name) else {
                    continue;
                };
                let path = entry.path();
                let record: ImageRecord =
                    serde_json::from_slice(&fs_err::read(&path)?).map_err(|e| {
                        StoreError::Corrupt {
                            path,
                            reason: e.to_string(),
                        }
                    })?;
                images.insert(
                    id.clone(),
                    ImageEntry {
                        id,
                        manifest: record.manifest,
                        tags: Vec::new(),
                    },
                );
            }
        }
        for (reference, manifest_digest) in self.list_refs()? {
            let manifest: Manifest = self.read_json_blob(&manifest_digest)?;
            let id = manifest.config.digest;
            images
                .entry(id.clone())
                .or_insert_with(|| ImageEntry {
                    id,
                    manifest: manifest_digest,
                    tags: Vec::new(),
                })
                .tags
                .push(reference);
        }
        Ok(images.into_values().collect())
    }

    pub fn load_image(
        &self,
        reference: Option<Reference>,
        manifest_digest: Digest,
    ) -> Result<Image> {
        let manifest: Manifest = self.read_json_blob(&manifest_digest)?;
        let config: ImageConfig = self.read_json_blob(&manifest.config.digest)?;
        Ok(Image {
            reference,
            id: manifest.config.digest.clone(),
            manifest_digest,
            manifest,
            config,
        })
    }

    /// Finds an image by reference (`busybox`, `localhost:5000/app:dev`),
    /// by full id or by a unique id prefix (`sha256:` optional).
    pub fn resolve_image(&self, name: &str) -> Result<Image> {
        match self.resolve_target(name)? {
            Target::Tag(reference) => {
                let digest = self
                    .get_ref(&reference)?
                    .ok_or_else(|| StoreError::NoSuchImage(name.into()))?;
                self.load_image(Some(reference), digest)
            }
            Target::Id(id) => {
                let entry = self
                    .list_images()?
                    .into_iter()
                    .find(|i| i.id == id)
                    .ok_or_else(|| StoreError::NoSuchImage(name.into()))?;
                self.load_image(None, entry.manifest)
            }
        }
    }

    /// What the user typed as a tag of the store or an image id (prefix).
    pub fn resolve_target(&self, name: &str) -> Result<Target> {
        if let Ok(reference) = Reference::parse(name) {
            if self.get_ref(&reference)?.is_some() {
                return Ok(Target::Tag(reference));
            }
        }
        let prefix = name.strip_prefix("sha256:").unwrap_or(name);
        if prefix.len() >= 4 && prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut found: Option<Digest> = None;
            for image in self.list_images()? {
                if image.id.hex().starts_with(prefix) {
                    if found.is_some() {
                        return Err(StoreError::Ambiguous {
                            prefix: name.into(),
                            what: "image",
                        });
                    }
                    found = Some(image.id);
                }
            }
            if let Some(id) = found {
                return Ok(Target::Id(id));
            }
        }
        Err(StoreError::NoSuchImage(name.to_string()))
    }

    /// `tag SOURCE TARGET`: TARGET names SOURCE's manifest from now on.
    pub fn tag_image(&self, source: &str, target: &Reference) -> Result<Digest> {
        let _lock = Lock::exclusive(&self.lock_path())?;
        let image = self.resolve_image(source)?;
        self.set_ref(target, &image.manifest_digest)?;
        Ok(image.id)
    }

    /// Image id -> the containers created from it.
    pub fn image_users(&self) -> Result<BTreeMap<Digest, Vec<String>>> {
        let mut users: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
        for (record, _) in self.list_containers()? {
            users.entry(record.image_id).or_default().push(record.id);
        }
        Ok(users)
    }

    /// `rmi NAME`: removes a tag or an image under the store lock, by
    /// Docker's rules ([`plan_removal`]). Blobs and layers stay until
    /// [`Store::collect_garbage`].
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<Removal>> {
        let _lock = Lock::exclusive(&self.lock_path())?;
        let target = self.resolve_target(name)?;
        let steps = plan_removal(&self.list_images()?, &self.image_users()?, &target, force)?;
        self.apply(&steps)?;
        Ok(steps)
    }

    /// `image prune [-a]`: removes dangling (or all unused) images under the
    /// store lock.
    pub fn prune_images(&self, all: bool) -> Result<Vec<Removal>> {
        let _lock = Lock::exclusive(&self.lock_path())?;
        let steps = plan_prune(&self.list_images()?, &self.image_users()?, all);
        self.apply(&steps)?;
        Ok(steps)
    }

    /// Carries out removal steps: refs first, then records.
    fn apply(&self, steps: &[Removal]) -> Result<()> {
        for step in steps {
            match step {
                Removal::Untagged(reference) => self.remove_ref(reference)?,
                Removal::Deleted(id) => {
                    // Any tag still naming this image goes with it.
                    for image in self.list_images()?.into_iter().filter(|i| &i.id == id) {
                        for reference in &image.tags {
                            self.remove_ref(reference)?;
                        }
                    }
                    match fs_err::remove_file(self.record_path(id)) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Ok(())
    }

    /// Removes every blob and unpacked layer that no image and no container
    /// references; returns the bytes reclaimed. `remove_tree` removes a layer
    /// directory (its files belong to mapped ids). Waits for writers in flight.
    pub fn collect_garbage(
        &self,
        remove_tree: &dyn Fn(&Path) -> std::result::Result<(), String>,
    ) -> Result<u64> {
        let _gc = self.exclusive_gc()?;
        let _lock = Lock::exclusive(&self.lock_path())?;
        let (blobs, layers) = self.live_content()?;
        let mut reclaimed = 0;
        for entry in fs_err::read_dir(self.blobs_dir())? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(digest) = Digest::from_hex(&name) else {
                continue;
            };
            if !blobs.contains(&digest) {
                reclaimed += entry.metadata().map(|m| m.len()).unwrap_or(0);
                fs_err::remove_file(entry.path())?;
            }
        }
        for entry in fs_err::read_dir(self.layers_dir())? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(diff_id) = Digest::from_hex(&name) else {
                continue;
            };
            if layers.contains(&diff_id) {
                continue;
            }
            reclaimed += super::usage::tree_size(&entry.path());
            // Unpublished first, so a crash mid-removal leaves no half layer.
            let retired = self.tmp_dir().join(format!(
                "removed-layer-{}-{}",
                diff_id.short(),
                atomic::unique_suffix()
            ));
            fs_err::rename(entry.path(), &retired)?;
            super::crash::point("gc.layer-retired");
            remove_tree(&retired).map_err(|reason| StoreError::Corrupt {
                path: retired.clone(),
                reason: format!("cannot remove an unused layer: {reason}"),
            })?;
        }
        Ok(reclaimed)
    }

    /// The blobs and layers that images and containers reference.
    pub(crate) fn live_content(&self) -> Result<(BTreeSet<Digest>, BTreeSet<Digest>)> {
        let mut blobs = BTreeSet::new();
        let mut layers = BTreeSet::new();
        let mut configs = Vec::new();
        for image in self.list_images()? {
            let Ok(manifest) = self.read_json_blob::<Manifest>(&image.manifest) else {
                continue;
            };
            blobs.insert(image.manifest);
            blobs.extend(manifest.layers.into_iter().map(|l| l.digest));
            configs.push(manifest.config.digest);
        }
        // A container keeps the config and layers of its image, even after
        // `rmi -f`.
        configs.extend(self.image_users()?.into_keys());
        for config in configs {
            if let Ok(parsed) = self.read_json_blob::<ImageConfig>(&config) {
                layers.extend(parsed.rootfs.diff_ids);
                blobs.insert(config);
            }
        }
        Ok((blobs, layers))
    }
}

fn lock_file(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display())).into()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_file_names_round_trip() {
        for r in ["busybox", "localhost:5000/a/b:dev", "ghcr.io/x/y:1.0"] {
            let reference = Reference::parse(r).unwrap();
            let name = escape(&reference);
            assert!(!name.contains('/'));
            assert_eq!(Reference::parse(&unescape(&name)).unwrap(), reference);
        }
    }

    fn r(s: &str) -> Reference {
        Reference::parse(s).unwrap()
    }

    fn table() -> (Vec<ImageEntry>, BTreeMap<Digest, Vec<String>>) {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let c = Digest::of(b"c");
        let images = vec![
            ImageEntry {
                id: a.clone(),
                manifest: Digest::of(b"ma"),
                tags: vec![r("one"), r("two")],
            },
            ImageEntry {
                id: b.clone(),
                manifest: Digest::of(b"mb"),
                tags: vec![r("used")],
            },
            ImageEntry {
                id: c.clone(),
                manifest: Digest::of(b"mc"),
                tags: vec![],
            },
        ];
        let users = BTreeMap::from([(b, vec!["0123456789abcdef".to_string()])]);
        (images, users)
    }

    #[test]
    fn rmi_of_one_of_several_tags_only_untags() {
        let (images, users) = table();
        let steps = plan_removal(&images, &users, &Target::Tag(r("one")), false).unwrap();
        assert_eq!(steps, vec![Removal::Untagged(r("one"))]);
    }

    #[test]
    fn rmi_by_id_of_an_image_with_several_tags_needs_force() {
        let (images, users) = table();
        let id = images[0].id.clone();
        let err = plan_removal(&images, &users, &Target::Id(id.clone()), false).unwrap_err();
        assert!(
            err.to_string()
                .contains("referenced in multiple repositories"),
            "{err}"
        );
        let steps = plan_removal(&images, &users, &Target::Id(id.clone()), true).unwrap();
        assert_eq!(
            steps,
            vec![
                Removal::Untagged(r("one")),
                Removal::Untagged(r("two")),
                Removal::Deleted(id)
            ]
        );
    }

    #[test]
    fn rmi_refuses_an_image_a_container_uses_unless_forced() {
        let (images, users) = table();
        let err = plan_removal(&images, &users, &Target::Tag(r("used")), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "conflict: unable to remove repository reference `used:latest` (must force) - container 0123456789ab is using its referenced image {}",
                images[1].id.short()
            )
        );
        let steps = plan_removal(&images, &users, &Target::Tag(r("used")), true).unwrap();
        assert_eq!(steps.len(), 2);
    }

    #[test]
    fn prune_takes_dangling_or_all_unused() {
        let (images, users) = table();
        assert_eq!(
            plan_prune(&images, &users, false),
            vec![Removal::Deleted(images[2].id.clone())]
        );
        assert_eq!(
            plan_prune(&images, &users, true),
            vec![
                Removal::Untagged(r("one")),
                Removal::Untagged(r("two")),
                Removal::Deleted(images[0].id.clone()),
                Removal::Deleted(images[2].id.clone()),
            ]
        );
    }
}
