//! `devbox import`: a root filesystem tarball becomes a one-layer OCI image
//! (blob, config, manifest, tag), like `docker import`.

use std::io::{Read, Write};
use std::path::Path;

use super::digest::{Hasher, HashingReader};
use super::oci::{self, Descriptor, History, ImageConfig, Manifest, RootFs};
use super::{Digest, Reference};
use crate::store::{Store, StoreError};

/// Unpacks a layer blob into a directory as the mapped ids (the runtime
/// implements it with a user-namespace helper), verifying that the
/// uncompressed tar is `diff_id`. Pulls call it from several threads.
pub trait Unpacker: Sync {
    fn unpack(&self, blob: &Path, dest: &Path, diff_id: &Digest) -> Result<(), String>;
    fn remove(&self, path: &Path) -> Result<(), String>;
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read the tarball: {0}")]
    Read(#[source] std::io::Error),
    #[error("the input is not a tar archive (plain or gzip)")]
    NotATar,
    #[error("cannot unpack the layer: {0}")]
    Unpack(String),
    #[error("invalid --change `{text}`: {reason}")]
    Change { text: String, reason: String },
}

pub struct ImportRequest {
    pub reference: Reference,
    pub changes: Vec<String>,
    pub message: Option<String>,
}

/// Imports `source` and tags it; returns the image id (config digest).
pub fn import(
    store: &Store,
    source: &mut dyn Read,
    request: &ImportRequest,
    unpacker: &dyn Unpacker,
) -> Result<Digest, ImportError> {
    let mut config_overrides = oci::RunConfig::default();
    for change in &request.changes {
        super::change::apply(&mut config_overrides, change).map_err(|reason| {
            ImportError::Change {
                text: change.clone(),
                reason,
            }
        })?;
    }
    // From the first blob written until the tag: `rmi`/`prune` must not collect them.
    let _writing = store.begin_write()?;
    let (blob, media_type, size, diff_id) = store_blob(store, source)?;
    store_layer(store, unpacker, &blob, &diff_id)?;
    let now = crate::runtime::state::now();
    let config = ImageConfig {
        created: Some(now.clone()),
        author: None,
        architecture: oci::host_architecture().into(),
        os: "linux".into(),
        config: config_overrides,
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![diff_id.clone()],
        },
        history: vec![History {
            created: Some(now),
            created_by: Some("devbox import".into()),
            comment: request
                .message
                .clone()
                .or_else(|| Some("Imported from tarball".into())),
            empty_layer: false,
        }],
    };
    let config_bytes =
        serde_json::to_vec(&config).map_err(|e| ImportError::Read(std::io::Error::other(e)))?;
    let config_digest = Digest::of(&config_bytes);
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(oci::MEDIA_TYPE_MANIFEST.into()),
        config: Descriptor::new(
            oci::MEDIA_TYPE_CONFIG,
            config_digest.clone(),
            config_bytes.len() as u64,
        ),
        layers: vec![Descriptor::new(media_type, blob.clone(), size)],
        annotations: Default::default(),
    };
    let manifest_bytes =
        serde_json::to_vec(&manifest).map_err(|e| ImportError::Read(std::io::Error::other(e)))?;
    commit_image(
        store,
        &NewImage {
            layers: &[(blob, diff_id)],
            config: &config_bytes,
            manifest: &manifest_bytes,
            index: None,
            reference: &request.reference,
        },
    )?;
    Ok(config_digest)
}

/// Unpacks a stored layer blob into the store once: staged under tmp/,
/// checked against `diff_id`, then renamed into place, so a layer directory
/// only ever appears complete. Returns whether it was unpacked now (false:
/// it was there already).
pub fn store_layer(
    store: &Store,
    unpacker: &dyn Unpacker,
    blob: &Digest,
    diff_id: &Digest,
) -> Result<bool, ImportError> {
    if store.has_layer(diff_id) {
        return Ok(false);
    }
    let staging = store.staging_dir("layer")?;
    let diff = staging.join("diff");
    fs_err::create_dir(&diff).map_err(StoreError::from)?;
    if let Err(e) = unpacker.unpack(&store.blob_path(blob), &diff, diff_id) {
        let _ = unpacker.remove(&staging);
        return Err(ImportError::Unpack(e));
    }
    if !store.publish_layer(&staging, diff_id)? {
        let _ = unpacker.remove(&staging);
    }
    Ok(true)
}

/// An image whose layers are stored (blobs and unpacked), ready to be made
/// visible.
pub struct NewImage<'a> {
    /// (blob digest, diff id) of every layer, in order.
    pub layers: &'a [(Digest, Digest)],
    /// The config and manifest exactly as they will be stored (their
    /// digests are the image id and the manifest digest).
    pub config: &'a [u8],
    pub manifest: &'a [u8],
    /// The index the manifest was chosen from, kept for its digest.
    pub index: Option<&'a [u8]>,
    pub reference: &'a Reference,
}

/// The step `import`, `pull` (and `load`) share: under the store lock,
/// checks that every layer is still there, stores config, manifest (and
/// index) and points the reference at the manifest. Returns the manifest
/// digest.
pub fn commit_image(store: &Store, image: &NewImage) -> Result<Digest, ImportError> {
    let _lock =
        crate::store::lock::Lock::exclusive(&store.lock_path()).map_err(StoreError::from)?;
    for (blob, diff_id) in image.layers {
        if !store.has_blob(blob) {
            return Err(StoreError::MissingBlob(blob.clone()).into());
        }
        if !store.has_layer(diff_id) {
            return Err(ImportError::Unpack(format!(
                "layer {diff_id} disappeared from the store before the image was tagged"
            )));
        }
    }
    store.put_blob(image.config)?;
    let manifest_digest = store.put_blob(image.manifest)?;
    if let Some(index) = image.index {
        store.put_blob(index)?;
    }
    store.set_ref(image.reference, &manifest_digest)?;
    Ok(manifest_digest)
}

/// Stores a layer tar (plain or gzip) as a blob and unpacks it once into the
/// store's layers (through `unpacker`, inside the user namespace); returns its
/// descriptor and diff id. Callers hold [`Store::begin_write`].
pub fn add_layer(
    store: &Store,
    source: &mut dyn Read,
    unpacker: &dyn Unpacker,
) -> Result<(Descriptor, Digest), ImportError> {
    let (blob, media_type, size, diff_id) = store_blob(store, source)?;
    store_layer(store, unpacker, &blob, &diff_id)?;
    Ok((Descriptor::new(media_type, blob, size), diff_id))
}

/// Copies the tarball into the blob store while hashing it; returns the
/// blob digest, its media type and size, and the uncompressed diff id.
fn store_blob(
    store: &Store,
    source: &mut dyn Read,
) -> Result<(Digest, &'static str, u64, Digest), ImportError> {
    let tmp = store
        .tmp_dir()
        .join(format!("import-{}", crate::store::atomic::unique_suffix()));
    let result = (|| {
        let mut file = fs_err::File::create(&tmp).map_err(|e| ImportError::Store(e.into()))?;
        let mut hasher = Hasher::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut head = Vec::new();
        loop {
            let n = source.read(&mut buf).map_err(ImportError::Read)?;
            if n == 0 {
                break;
            }
            let wanted = (512 - head.len()).min(n);
            head.extend_from_slice(&buf[..wanted]);
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n])
                .map_err(|e| ImportError::Store(e.into()))?;
        }
        file.sync_all().map_err(|e| ImportError::Store(e.into()))?;
        let size = hasher.bytes;
        let digest = hasher.finish();
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        let (media_type, diff_id) = if gzip {
            let decoder = flate2::read::MultiGzDecoder::new(
                std::fs::File::open(&tmp).map_err(ImportError::Read)?,
            );
            let mut reader = HashingReader::new(decoder);
            std::io::copy(&mut reader, &mut std::io::sink()).map_err(|_| ImportError::NotATar)?;
            (oci::MEDIA_TYPE_LAYER_GZIP, reader.hasher.finish())
        } else {
            // ustar magic at offset 257 (an empty archive is all zeros).
            let is_tar =
                head.len() >= 263 && (&head[257..262] == b"ustar" || head.iter().all(|b| *b == 0));
            if !is_tar {
                return Err(ImportError::NotATar);
            }
            (oci::MEDIA_TYPE_LAYER_TAR, digest.clone())
        };
        if store.has_blob(&digest) {
            let _ = std::fs::remove_file(&tmp);
        } else {
            store.publish_blob_file(&tmp, &digest)?;
        }
        Ok((digest, media_type, size, diff_id))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
