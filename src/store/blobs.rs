//! Content-addressed blobs: manifests, configs and layer tars.

use std::path::{Path, PathBuf};

use super::{atomic, Result, Store, StoreError};
use crate::image::Digest;

impl Store {
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs_dir().join(digest.hex())
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Stores bytes under their digest (idempotent).
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        let path = self.blob_path(&digest);
        if !path.exists() {
            atomic::write_atomic(&path, bytes)?;
        }
        Ok(digest)
    }

    /// Moves a fully written and fsynced temp file into place as `digest`.
    /// The caller has verified the digest while writing it.
    pub fn publish_blob_file(&self, tmp: &Path, digest: &Digest) -> Result<()> {
        super::crash::point("blob.before-publish");
        fs_err::rename(tmp, self.blob_path(digest))?;
        Ok(())
    }

    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StoreError::MissingBlob(digest.clone()))
            }
            Err(e) => Err(StoreError::Io(std::io::Error::new(
                e.kind(),
                format!("cannot read {}: {e}", path.display()),
            ))),
        }
    }

    /// Reads a JSON blob and verifies it still matches its digest.
    pub fn read_json_blob<T: serde::de::DeserializeOwned>(&self, digest: &Digest) -> Result<T> {
        let bytes = self.read_blob(digest)?;
        let path = self.blob_path(digest);
        if &Digest::of(&bytes) != digest {
            return Err(StoreError::Corrupt {
                path,
                reason: format!("content does not match digest {digest}"),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path,
            reason: e.to_string(),
        })
    }
}
