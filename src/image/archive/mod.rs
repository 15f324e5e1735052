//! `save` and `load`: images to and from tar archives in Docker's
//! `docker save` format ([`docker`]) and the OCI image layout ([`layout`]),
//! so they move between devbox, Docker, Podman and skopeo.
//!
//! Loading stages the archive's regular files under the store's tmp/ (names
//! checked, symlinks resolved inside the archive only), then stores each
//! layer through the same path as `devbox import` ([`import::add_layer`]:
//! digest, diff id, unpack inside the user namespace with layer containment),
//! after checking every digest the archive claims, and tags last.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};

use super::import::{self, ImportError, Unpacker};
use super::oci::{self, Descriptor, ImageConfig, ImageIndex, Manifest};
use super::{Digest, Reference};
use crate::store::images::Image;
use crate::store::lock::Lock;
use crate::store::{Store, StoreError};

pub mod docker;
pub mod layout;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("cannot {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the archive is neither a docker-archive (manifest.json) nor an OCI layout (index.json)"
    )]
    UnknownFormat,
    #[error("the archive has no `{0}`")]
    Missing(String),
    #[error("`{file}` in the archive is invalid: {reason}")]
    Invalid { file: String, reason: String },
    #[error("`{file}` in the archive has digest {actual}, expected {expected}")]
    DigestMismatch {
        file: String,
        expected: Digest,
        actual: Digest,
    },
}

type Result<T> = std::result::Result<T, ArchiveError>;

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ArchiveError {
    let what = what.into();
    move |source| ArchiveError::Io { what, source }
}

/// Archive formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    DockerArchive,
    OciArchive,
}

/// An image to save and the tags to save it under.
pub struct SaveImage {
    pub image: Image,
    pub tags: Vec<Reference>,
}

/// An image `load` stored: its id and the tags it set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub id: Digest,
    pub tags: Vec<Reference>,
    /// Tags that named another image before, with that image's id (which
    /// stays, untagged: Docker's "renaming the old one ... to empty string").
    pub replaced: Vec<(Reference, Digest)>,
}

/// Writes `images` as one archive to `out`.
pub fn save(
    store: &Store,
    images: &[SaveImage],
    format: Format,
    out: &mut dyn Write,
) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    match format {
        Format::DockerArchive => save_docker(store, images, &mut tar)?,
        Format::OciArchive => save_layout(store, images, &mut tar)?,
    }
    tar.into_inner()
        .map_err(io("finish the archive"))?
        .flush()
        .map_err(io("write the archive"))
}

fn save_docker(
    store: &Store,
    images: &[SaveImage],
    tar: &mut tar::Builder<&mut dyn Write>,
) -> Result<()> {
    let mut entries = Vec::new();
    let mut written = std::collections::BTreeSet::new();
    for SaveImage { image, tags } in images {
        let diff_ids = &image.config.rootfs.diff_ids;
        if diff_ids.len() != image.manifest.layers.len() {
            return Err(ArchiveError::Invalid {
                file: image.id.to_string(),
                reason: "the config's diff ids do not match the manifest's layers".into(),
            });
        }
        if written.insert(image.id.clone()) {
            append_bytes(
                tar,
                &docker::config_name(&image.id),
                &store.read_blob(&image.id)?,
            )?;
        }
        for (layer, diff_id) in image.manifest.layers.iter().zip(diff_ids) {
            if written.insert(diff_id.clone()) {
                append_uncompressed_layer(store, tar, &layer.digest, &docker::layer_name(diff_id))?;
            }
        }
        entries.push(docker::manifest_entry(&image.id, tags, diff_ids));
    }
    let repositories: Vec<_> = images
        .iter()
        .map(|i| (i.tags.clone(), i.image.config.rootfs.diff_ids.clone()))
        .collect();
    append_json(tar, "repositories", &docker::repositories(&repositories))?;
    append_json(tar, "manifest.json", &entries)
}

fn save_layout(
    store: &Store,
    images: &[SaveImage],
    tar: &mut tar::Builder<&mut dyn Write>,
) -> Result<()> {
    append_bytes(tar, "oci-layout", layout::OCI_LAYOUT.as_bytes())?;
    for dir in ["blobs/", "blobs/sha256/"] {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        tar.append_data(&mut header, dir, std::io::empty())
            .map_err(io("write the archive"))?;
    }
    let mut written = std::collections::BTreeSet::new();
    let mut named = Vec::new();
    for SaveImage { image, tags } in images {
        let manifest_bytes = store.read_blob(&image.manifest_digest)?;
        let blobs = std::iter::once(&image.manifest.config.digest)
            .chain(image.manifest.layers.iter().map(|l| &l.digest));
        for digest in blobs {
            if written.insert(digest.clone()) {
                append_file(tar, &layout::blob_name(digest), &store.blob_path(digest))?;
            }
        }
        if written.insert(image.manifest_digest.clone()) {
            append_bytes(
                tar,
                &layout::blob_name(&image.manifest_digest),
                &manifest_bytes,
            )?;
        }
        let media_type = image
            .manifest
            .media_type
            .clone()
            .unwrap_or_else(|| oci::MEDIA_TYPE_MANIFEST.into());
        let descriptor = Descriptor::new(
            &media_type,
            image.manifest_digest.clone(),
            manifest_bytes.len() as u64,
        );
        named.push((descriptor, tags.clone()));
    }
    append_json(tar, "index.json", &layout::index(&named))
}

fn header(size: u64) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_mode(0o644);
    header.set_size(size);
    header.set_entry_type(tar::EntryType::Regular);
    header
}

fn append_bytes(tar: &mut tar::Builder<&mut dyn Write>, name: &str, bytes: &[u8]) -> Result<()> {
    tar.append_data(&mut header(bytes.len() as u64), name, bytes)
        .map_err(io(format!("write `{name}` into the archive")))
}

fn append_json<T: serde::Serialize>(
    tar: &mut tar::Builder<&mut dyn Write>,
    name: &str,
    value: &T,
) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|e| io(name)(std::io::Error::other(e)))?;
    append_bytes(tar, name, &bytes)
}

fn append_file(tar: &mut tar::Builder<&mut dyn Write>, name: &str, path: &Path) -> Result<()> {
    let mut file = fs_err::File::open(path).map_err(io("read a blob"))?;
    let size = file.metadata().map_err(io("read a blob"))?.len();
    tar.append_data(&mut header(size), name, &mut file)
        .map_err(io(format!("write `{name}` into the archive")))
}

/// Docker's archives hold layers uncompressed: a gzip blob is decompressed
/// to a temporary file first (a tar header needs the size).
fn append_uncompressed_layer(
    store: &Store,
    tar: &mut tar::Builder<&mut dyn Write>,
    blob: &Digest,
    name: &str,
) -> Result<()> {
    let path = store.blob_path(blob);
    let mut reader = super::layer::open_layer(&path).map_err(|e| ArchiveError::Invalid {
        file: blob.to_string(),
        reason: e.to_string(),
    })?;
    let tmp = store
        .tmp_dir()
        .join(format!("save-{}", crate::store::atomic::unique_suffix()));
    let result = (|| {
        let mut file = fs_err::File::create(&tmp).map_err(io("stage a layer"))?;
        std::io::copy(&mut reader, &mut file).map_err(io(format!("decompress {blob}")))?;
        drop(file);
        append_file(tar, name, &tmp)
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

/// The archive's regular files, copied under the store's tmp/.
struct Staged {
    dir: PathBuf,
    files: BTreeMap<String, PathBuf>,
    /// Symlinks inside the archive (Docker uses them for repeated layers),
    /// already resolved against their directory.
    links: BTreeMap<String, String>,
}

impl Staged {
    fn read(store: &Store, input: &mut dyn Read) -> Result<Staged> {
        let mut input = BufReader::new(input);
        let gzip = input
            .fill_buf()
            .map_err(io("read the archive"))?
            .starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn Read + '_> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(input))
        } else {
            Box::new(input)
        };
        let dir = store.staging_dir("load").map_err(ArchiveError::Store)?;
        let mut staged = Staged {
            dir,
            files: BTreeMap::new(),
            links: BTreeMap::new(),
        };
        let mut archive = tar::Archive::new(reader);
        let entries = archive.entries().map_err(io("read the archive"))?;
        for (n, entry) in entries.enumerate() {
            let mut entry = entry.map_err(io("read the archive"))?;
            let path = entry.path().map_err(io("read the archive"))?.into_owned();
            let Some(name) = normalize(&path) else {
                return Err(ArchiveError::Invalid {
                    file: path.display().to_string(),
                    reason: "the path leaves the archive".into(),
                });
            };
            let kind = entry.header().entry_type();
            if kind.is_file() {
                let file = staged.dir.join(n.to_string());
                let mut out = fs_err::File::create(&file).map_err(io("stage the archive"))?;
                std::io::copy(&mut entry, &mut out).map_err(io(format!("read `{name}`")))?;
                staged.files.insert(name, file);
            } else if kind.is_symlink() || kind.is_hard_link() {
                let target = entry
                    .link_name()
                    .map_err(io("read the archive"))?
                    .unwrap_or_default();
                let base = if kind.is_symlink() {
                    Path::new(&name)
                        .parent()
                        .unwrap_or(Path::new(""))
                        .join(&target)
                } else {
                    target.into_owned()
                };
                if let Some(resolved) = normalize(&base) {
                    staged.links.insert(name, resolved);
                }
            }
        }
        Ok(staged)
    }

    /// Opens a file of the archive by name, following in-archive links.
    fn open(&self, name: &str) -> Result<fs_err::File> {
        fs_err::File::open(self.path(name)?).map_err(io("read the staged archive"))
    }

    /// Where a file of the archive is staged, following in-archive links.
    fn path(&self, name: &str) -> Result<&Path> {
        let mut name =
            normalize(Path::new(name)).ok_or_else(|| ArchiveError::Missing(name.into()))?;
        for _ in 0..16 {
            if let Some(path) = self.files.get(&name) {
                return Ok(path);
            }
            match self.links.get(&name) {
                Some(target) => name = target.clone(),
                None => break,
            }
        }
        Err(ArchiveError::Missing(name))
    }

    fn read_bytes(&self, name: &str) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open(name)?
            .read_to_end(&mut bytes)
            .map_err(io(format!("read `{name}`")))?;
        Ok(bytes)
    }

    fn has(&self, name: &str) -> bool {
        self.files.contains_key(name) || self.links.contains_key(name)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An archive member's path without `.`, a leading `/` or `..` (pure); None
/// if it would leave the archive.
fn normalize(path: &Path) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn parse_json<T: serde::de::DeserializeOwned>(file: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| ArchiveError::Invalid {
        file: file.into(),
        reason: e.to_string(),
    })
}

/// Reads an archive (docker-archive or OCI layout, detected; plain or gzip)
/// from `input` and stores its images.
pub fn load(store: &Store, input: &mut dyn Read, unpacker: &dyn Unpacker) -> Result<Vec<Loaded>> {
    let _writing = store.begin_write()?;
    let staged = Staged::read(store, input)?;
    if staged.has("manifest.json") {
        load_docker(store, &staged, unpacker)
    } else if staged.has("index.json") {
        load_layout(store, &staged, unpacker)
    } else {
        Err(ArchiveError::UnknownFormat)
    }
}

fn load_docker(store: &Store, staged: &Staged, unpacker: &dyn Unpacker) -> Result<Vec<Loaded>> {
    let entries: Vec<docker::ManifestEntry> =
        parse_json("manifest.json", &staged.read_bytes("manifest.json")?)?;
    let mut loaded = Vec::new();
    for entry in entries {
        let config_bytes = staged.read_bytes(&entry.config)?;
        let config: ImageConfig = parse_json(&entry.config, &config_bytes)?;
        if config.rootfs.diff_ids.len() != entry.layers.len() {
            return Err(ArchiveError::Invalid {
                file: entry.config,
                reason: format!(
                    "{} diff ids for {} layers",
                    config.rootfs.diff_ids.len(),
                    entry.layers.len()
                ),
            });
        }
        let mut layers = Vec::new();
        for (name, expected) in entry.layers.iter().zip(&config.rootfs.diff_ids) {
            verify_layer(staged, name, None, expected)?;
            let (descriptor, _) = import::add_layer(store, &mut staged.open(name)?, unpacker)?;
            layers.push(descriptor);
        }
        let id = store.put_blob(&config_bytes)?;
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(oci::MEDIA_TYPE_MANIFEST.into()),
            config: Descriptor::new(
                oci::MEDIA_TYPE_CONFIG,
                id.clone(),
                config_bytes.len() as u64,
            ),
            layers,
            annotations: BTreeMap::new(),
        };
        let manifest_bytes = serde_json::to_vec(&manifest)
            .map_err(|e| io("encode a manifest")(std::io::Error::other(e)))?;
        let manifest_digest = store.put_blob(&manifest_bytes)?;
        let tags = entry
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|t| {
                Reference::parse(t).map_err(|e| ArchiveError::Invalid {
                    file: "manifest.json".into(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        loaded.push(tag(store, &manifest_digest, tags)?);
    }
    Ok(loaded)
}

fn load_layout(store: &Store, staged: &Staged, unpacker: &dyn Unpacker) -> Result<Vec<Loaded>> {
    let index: ImageIndex = parse_json("index.json", &staged.read_bytes("index.json")?)?;
    // Entries naming the same manifest are one image with several tags.
    let mut images: BTreeMap<Digest, (Descriptor, Vec<Reference>)> = BTreeMap::new();
    for descriptor in index.manifests {
        let name = layout::entry_name(&descriptor);
        let entry = images
            .entry(descriptor.digest.clone())
            .or_insert_with(|| (descriptor.clone(), Vec::new()));
        entry.1.extend(name);
    }
    let mut loaded = Vec::new();
    for (digest, (descriptor, tags)) in images {
        if matches!(
            descriptor.media_type.as_str(),
            oci::MEDIA_TYPE_INDEX | oci::MEDIA_TYPE_DOCKER_MANIFEST_LIST
        ) {
            return Err(ArchiveError::Invalid {
                file: "index.json".into(),
                reason: "nested image indexes (multi-platform archives) are not supported yet"
                    .into(),
            });
        }
        let manifest_bytes = verified_blob(staged, &digest)?;
        let manifest: Manifest = parse_json(&layout::blob_name(&digest), &manifest_bytes)?;
        let config_bytes = verified_blob(staged, &manifest.config.digest)?;
        let config: ImageConfig =
            parse_json(&layout::blob_name(&manifest.config.digest), &config_bytes)?;
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(ArchiveError::Invalid {
                file: layout::blob_name(&digest),
                reason: "the config's diff ids do not match the manifest's layers".into(),
            });
        }
        for (layer, expected) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
            let name = layout::blob_name(&layer.digest);
            verify_layer(staged, &name, Some(&layer.digest), expected)?;
            import::add_layer(store, &mut staged.open(&name)?, unpacker)?;
        }
        store.put_blob(&config_bytes)?;
        let manifest_digest = store.put_blob(&manifest_bytes)?;
        loaded.push(tag(store, &manifest_digest, tags)?);
    }
    Ok(loaded)
}

/// Checks a staged layer against the digests the archive claims for it (its
/// blob digest, if known, and its diff id) before anything is stored or
/// unpacked.
fn verify_layer(
    staged: &Staged,
    name: &str,
    blob: Option<&Digest>,
    diff_id: &Digest,
) -> Result<()> {
    let path = staged.path(name)?;
    let hash = |reader: &mut dyn Read| -> Result<Digest> {
        let mut hashing = super::digest::HashingReader::new(reader);
        std::io::copy(&mut hashing, &mut std::io::sink()).map_err(io(format!("read `{name}`")))?;
        Ok(hashing.hasher.finish())
    };
    if let Some(blob) = blob {
        check(name, blob, &hash(&mut staged.open(name)?)?)?;
    }
    let mut layer = super::layer::open_layer(path).map_err(|e| ArchiveError::Invalid {
        file: name.into(),
        reason: e.to_string(),
    })?;
    check(name, diff_id, &hash(&mut layer)?)
}

/// A small blob of the layout, read and checked against its digest.
fn verified_blob(staged: &Staged, digest: &Digest) -> Result<Vec<u8>> {
    let name = layout::blob_name(digest);
    let bytes = staged.read_bytes(&name)?;
    check(&name, digest, &Digest::of(&bytes))?;
    Ok(bytes)
}

fn check(file: &str, expected: &Digest, actual: &Digest) -> Result<()> {
    if expected != actual {
        return Err(ArchiveError::DigestMismatch {
            file: file.into(),
            expected: expected.clone(),
            actual: actual.clone(),
        });
    }
    Ok(())
}

/// Records the image and points its tags at it, under the store lock.
fn tag(store: &Store, manifest: &Digest, tags: Vec<Reference>) -> Result<Loaded> {
    let _lock = Lock::exclusive(&store.lock_path()).map_err(StoreError::from)?;
    let id = store.record_image(manifest)?;
    let mut replaced = Vec::new();
    for reference in &tags {
        if let Some(old) = store.get_ref(reference)?.filter(|old| old != manifest) {
            let old: Manifest = store.read_json_blob(&old)?;
            if old.config.digest != id {
                replaced.push((reference.clone(), old.config.digest));
            }
        }
        store.set_ref(reference, manifest)?;
    }
    Ok(Loaded { id, tags, replaced })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::import::ImportRequest;

    /// Stores layers without unpacking them (the tree is not what these tests check).
    struct NoUnpack;

    impl Unpacker for NoUnpack {
        fn unpack(
            &self,
            _blob: &Path,
            _dest: &Path,
            _diff_id: &Digest,
        ) -> std::result::Result<(), String> {
            Ok(())
        }
        fn remove(&self, path: &Path) -> std::result::Result<(), String> {
            std::fs::remove_dir_all(path).map_err(|e| e.to_string())
        }
    }

    fn store_with_image(dir: &Path, name: &str) -> (Store, Digest) {
        let store = Store::open(dir).unwrap();
        let mut layer = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_size(5);
        header.set_mode(0o644);
        layer
            .append_data(&mut header, "hello", &b"hello"[..])
            .unwrap();
        let bytes = layer.into_inner().unwrap();
        let request = ImportRequest {
            reference: Reference::parse(name).unwrap(),
            changes: vec![r#"CMD ["hello"]"#.into()],
            message: None,
        };
        let id = import::import(&store, &mut bytes.as_slice(), &request, &NoUnpack).unwrap();
        (store, id)
    }

    #[test]
    fn save_then_load_keeps_ids_and_tags_in_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        let (store, id) = store_with_image(&dir.path().join("a"), "app:1");
        let image = store.resolve_image("app:1").unwrap();
        for (i, format) in [Format::DockerArchive, Format::OciArchive]
            .into_iter()
            .enumerate()
        {
            let mut archive = Vec::new();
            let tags = vec![
                Reference::parse("app:1").unwrap(),
                Reference::parse("localhost:5000/app:2").unwrap(),
            ];
            let items = [SaveImage {
                image: image.clone(),
                tags: tags.clone(),
            }];
            save(&store, &items, format, &mut archive).unwrap();
            let other = Store::open(&dir.path().join(format!("b{i}"))).unwrap();
            let loaded = load(&other, &mut archive.as_slice(), &NoUnpack).unwrap();
            assert_eq!(
                loaded,
                vec![Loaded {
                    id: id.clone(),
                    tags: tags.clone(),
                    replaced: vec![]
                }],
                "{format:?}"
            );
            let again = other.resolve_image("localhost:5000/app:2").unwrap();
            assert_eq!(again.config, image.config);
            if format == Format::OciArchive {
                // The manifest travels byte for byte.
                assert_eq!(again.manifest_digest, image.manifest_digest);
            }
        }
    }

    #[test]
    fn loading_over_a_tag_keeps_the_old_image_untagged() {
        let dir = tempfile::tempdir().unwrap();
        let (store, saved_id) = store_with_image(dir.path(), "app:1");
        let image = store.resolve_image("app:1").unwrap();
        let mut archive = Vec::new();
        let items = [SaveImage {
            image,
            tags: vec![Reference::parse("app:1").unwrap()],
        }];
        save(&store, &items, Format::DockerArchive, &mut archive).unwrap();
        let (_, newer) = store_with_image(dir.path(), "app:1");
        assert_ne!(
            newer, saved_id,
            "imported again: a new created time, a new id"
        );
        let loaded = load(&store, &mut archive.as_slice(), &NoUnpack).unwrap();
        assert_eq!(
            loaded[0].replaced,
            vec![(Reference::parse("app:1").unwrap(), newer.clone())]
        );
        let ids: Vec<_> = store
            .list_images()
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert!(ids.contains(&newer) && ids.contains(&saved_id));
    }

    #[test]
    fn a_tampered_layer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store_with_image(&dir.path().join("a"), "app:1");
        let image = store.resolve_image("app:1").unwrap();
        let mut archive = Vec::new();
        let items = [SaveImage {
            image,
            tags: vec![],
        }];
        save(&store, &items, Format::OciArchive, &mut archive).unwrap();
        // Flip the layer's content (same length): its digest no longer matches.
        let at = archive.windows(5).position(|w| w == b"hello").unwrap();
        archive[at] = b'j';
        let other = Store::open(&dir.path().join("b")).unwrap();
        let err = load(&other, &mut archive.as_slice(), &NoUnpack).unwrap_err();
        assert!(matches!(err, ArchiveError::DigestMismatch { .. }), "{err}");
        assert!(other.list_images().unwrap().is_empty());
        // Refused before anything was stored or unpacked.
        assert_eq!(std::fs::read_dir(other.blobs_dir()).unwrap().count(), 0);
        assert_eq!(std::fs::read_dir(other.layers_dir()).unwrap().count(), 0);
    }

    #[test]
    fn an_archive_of_neither_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let bytes = {
            let mut b = tar::Builder::new(Vec::new());
            let mut header = tar::Header::new_ustar();
            header.set_size(0);
            b.append_data(&mut header, "README", std::io::empty())
                .unwrap();
            b.into_inner().unwrap()
        };
        let err = load(&store, &mut bytes.as_slice(), &NoUnpack).unwrap_err();
        assert!(matches!(err, ArchiveError::UnknownFormat), "{err}");
    }

    #[test]
    fn member_names_stay_inside_the_archive() {
        assert_eq!(
            normalize(Path::new("./manifest.json")).as_deref(),
            Some("manifest.json")
        );
        assert_eq!(
            normalize(Path::new("/blobs/sha256/ab")).as_deref(),
            Some("blobs/sha256/ab")
        );
        assert_eq!(normalize(Path::new("a/../b.tar")).as_deref(), Some("b.tar"));
        assert_eq!(normalize(Path::new("../etc/passwd")), None);
        assert_eq!(normalize(Path::new("a/../../b")), None);
    }
}
