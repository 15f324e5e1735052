//! The build's one adapter to the store: layer blobs and unpacked layers in,
//! image config and manifest written, tags set; base images looked up.

use std::path::Path;

use super::executor::Runtime;
use super::layer_write::LayerBlob;
use crate::image::oci::{self, Descriptor, ImageConfig, Manifest};
use crate::image::{Digest, Reference};
use crate::store::images::Image;
use crate::store::{Store, StoreError};

/// Moves a written blob into the blob store; returns its descriptor.
pub fn publish_blob(store: &Store, blob: &LayerBlob) -> Result<Descriptor, StoreError> {
    if store.has_blob(&blob.digest) {
        let _ = std::fs::remove_file(&blob.path);
    } else {
        store.publish_blob_file(&blob.path, &blob.digest)?;
    }
    Ok(Descriptor::new(
        oci::MEDIA_TYPE_LAYER_GZIP,
        blob.digest.clone(),
        blob.size,
    ))
}

/// Makes `dir` (a tree in the layer format, e.g. a RUN's upper dir) the
/// unpacked layer `diff_id`, by moving it: the upper dir already is the
/// layer, so nothing is unpacked again.
pub fn publish_dir(
    store: &Store,
    runtime: &Runtime,
    dir: &Path,
    diff_id: &Digest,
) -> Result<(), StoreError> {
    if store.has_layer(diff_id) {
        runtime.remove_tree(dir);
        return Ok(());
    }
    let staging = store.staging_dir("layer")?;
    fs_err::rename(dir, staging.join("diff"))?;
    if !store.publish_layer(&staging, diff_id)? {
        runtime.remove_tree(&staging);
    }
    Ok(())
}

/// Unpacks a blob as layer `diff_id` unless the store has it.
pub fn publish_unpacked(
    store: &Store,
    runtime: &Runtime,
    blob: &Digest,
    diff_id: &Digest,
) -> Result<(), String> {
    if store.has_layer(diff_id) {
        return Ok(());
    }
    let staging = store.staging_dir("layer").map_err(|e| e.to_string())?;
    let diff = staging.join("diff");
    fs_err::create_dir(&diff).map_err(|e| e.to_string())?;
    if let Err(e) = runtime.unpack(&store.blob_path(blob), &diff) {
        runtime.remove_tree(&staging);
        return Err(e.to_string());
    }
    if !store
        .publish_layer(&staging, diff_id)
        .map_err(|e| e.to_string())?
    {
        runtime.remove_tree(&staging);
    }
    Ok(())
}

/// Writes config and manifest; returns (image id, manifest digest).
pub fn write_image(
    store: &Store,
    config: &ImageConfig,
    layers: &[Descriptor],
) -> Result<(Digest, Digest), StoreError> {
    let config_bytes = serde_json::to_vec(config).map_err(std::io::Error::other)?;
    let config_digest = store.put_blob(&config_bytes)?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(oci::MEDIA_TYPE_MANIFEST.into()),
        config: Descriptor::new(
            oci::MEDIA_TYPE_CONFIG,
            config_digest.clone(),
            config_bytes.len() as u64,
        ),
        layers: layers.to_vec(),
        annotations: Default::default(),
    };
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(std::io::Error::other)?;
    let manifest_digest = store.put_blob(&manifest_bytes)?;
    Ok((config_digest, manifest_digest))
}

/// Points each tag at the manifest, under the store lock.
pub fn tag(store: &Store, tags: &[Reference], manifest: &Digest) -> Result<(), StoreError> {
    let _lock = crate::store::lock::Lock::exclusive(&store.lock_path())?;
    for reference in tags {
        store.set_ref(reference, manifest)?;
    }
    Ok(())
}

/// A base image from the store (there is no pull yet).
pub fn base_image(store: &Store, name: &str) -> Result<Image, StoreError> {
    store.resolve_image(name)
}

/// The unpacked tree of a layer.
pub fn layer_diff(store: &Store, diff_id: &Digest) -> std::path::PathBuf {
    store.layer_diff(diff_id)
}

/// Where `RUN --mount=type=cache` keeps its files: one directory per id,
/// persistent across builds.
pub fn cache_mount_dir(store: &Store, id: &str) -> Result<std::path::PathBuf, StoreError> {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dir = store
        .root
        .join("cache-v1")
        .join(safe.trim_start_matches('.'));
    fs_err::create_dir_all(&dir)?;
    Ok(dir)
}

/// Scratch space for one build step.
pub fn scratch_dir(store: &Store) -> Result<std::path::PathBuf, StoreError> {
    store.staging_dir("build")
}
