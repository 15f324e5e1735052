//! Unpacked layers, shared by every image that uses them.

use std::path::{Path, PathBuf};

use super::{Result, Store};
use crate::image::Digest;

impl Store {
    /// The directory holding a layer's unpacked tree (its `diff/`).
    pub fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.layers_dir().join(diff_id.hex())
    }

    pub fn layer_diff(&self, diff_id: &Digest) -> PathBuf {
        self.layer_dir(diff_id).join("diff")
    }

    pub fn has_layer(&self, diff_id: &Digest) -> bool {
        self.layer_diff(diff_id).is_dir()
    }

    /// A fresh staging directory under the store's tmp/ for unpacking.
    pub fn staging_dir(&self, what: &str) -> Result<PathBuf> {
        let dir = self
            .tmp_dir()
            .join(format!("{what}-{}", super::atomic::unique_suffix()));
        fs_err::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Publishes a staged layer (a directory containing `diff/`) atomically.
    /// If another process published the same layer first, ours is left for
    /// the caller to remove and `false` is returned.
    pub fn publish_layer(&self, staged: &Path, diff_id: &Digest) -> Result<bool> {
        super::crash::point("layer.before-publish");
        match std::fs::rename(staged, self.layer_dir(diff_id)) {
            Ok(()) => Ok(true),
            Err(_) if self.has_layer(diff_id) => Ok(false),
            Err(e) => Err(std::io::Error::new(
                e.kind(),
                format!("cannot publish layer {diff_id}: {e}"),
            )
            .into()),
        }
    }
}
