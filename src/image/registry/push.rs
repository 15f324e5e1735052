//! `push`: the image's blobs (layers as stored, compressed or not, and the
//! config) go up unless the registry has them (`HEAD`), then the manifest,
//! byte for byte, so its digest is the one the store knows.

use super::client::Client;
use super::{Result, TransferReporter};
use crate::image::oci;
use crate::image::Digest;
use crate::store::images::Image;
use crate::store::Store;

/// How many blobs upload at once.
const PARALLEL: usize = 3;

/// Pushes `image` as `repository:reference` (a tag or digest); returns the
/// manifest digest.
pub fn push(
    client: &Client,
    store: &Store,
    image: &Image,
    repository: &str,
    reference: &str,
    reporter: &dyn TransferReporter,
) -> Result<Digest> {
    let manifest_bytes = store.read_blob(&image.manifest_digest)?;
    let mut blobs = image.manifest.layers.clone();
    blobs.push(image.manifest.config.clone());
    reporter.begin(&blobs);
    let result = super::for_each_parallel(&blobs, PARALLEL, |blob, _| {
        if client.has_blob(repository, &blob.digest)? {
            reporter.exists(&blob.digest);
            return Ok(());
        }
        client.upload_blob(repository, &blob.digest, &store.blob_path(&blob.digest))?;
        reporter.progress(&blob.digest, blob.size);
        reporter.transferred(&blob.digest);
        Ok(())
    });
    reporter.end();
    result?;
    let media_type = image
        .manifest
        .media_type
        .as_deref()
        .unwrap_or(oci::MEDIA_TYPE_MANIFEST);
    client.put_manifest(repository, reference, media_type, &manifest_bytes)?;
    Ok(Digest::of(&manifest_bytes))
}
