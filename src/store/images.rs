//! Image references (tags) and resolving what the user typed to an image.

use std::path::PathBuf;

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

impl Store {
    fn ref_path(&self, reference: &Reference) -> PathBuf {
        self.refs_dir().join(escape(reference))
    }

    /// Points `reference` at a manifest (atomically replacing an old tag).
    pub fn set_ref(&self, reference: &Reference, manifest: &Digest) -> Result<()> {
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
        if let Ok(reference) = Reference::parse(name) {
            if let Some(digest) = self.get_ref(&reference)? {
                return self.load_image(Some(reference), digest);
            }
        }
        let prefix = name.strip_prefix("sha256:").unwrap_or(name);
        if prefix.len() >= 4 && prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut found: Option<(Reference, Digest, Digest)> = None;
            for (reference, manifest_digest) in self.list_refs()? {
                let manifest: Manifest = self.read_json_blob(&manifest_digest)?;
                if manifest.config.digest.hex().starts_with(prefix) {
                    if let Some((_, _, id)) = &found {
                        if *id != manifest.config.digest {
                            return Err(StoreError::Ambiguous {
                                prefix: name.into(),
                                what: "image",
                            });
                        }
                        continue;
                    }
                    found = Some((reference, manifest_digest, manifest.config.digest));
                }
            }
            if let Some((_, manifest_digest, _)) = found {
                return self.load_image(None, manifest_digest);
            }
        }
        Err(StoreError::NoSuchImage(name.to_string()))
    }
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
}
