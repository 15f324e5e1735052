//! `pull`: manifest (through an index, for the chosen platform), config,
//! then the layer blobs in parallel, each streamed to a temp file in the
//! store while hashed, verified, renamed into place and unpacked once; the
//! image becomes visible only at the end (`import::commit_image`).
//!
//! Nothing half-done is ever visible: temp blobs and staged layers live in
//! the store's tmp/ under names carrying the pid, and the next pull removes
//! those of processes that are gone (a SIGKILLed pull).

use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use super::client::{self, Client};
use super::platform::{self, PlatformSpec};
use super::{RegistryError, Result, TransferReporter};
use crate::image::digest::{DigestError, Hasher};
use crate::image::import::{self, NewImage, Unpacker};
use crate::image::oci::{self, Descriptor, ImageConfig, ImageIndex, Manifest};
use crate::image::{Digest, Reference};
use crate::store::{atomic, Store};

/// How many blobs download at once.
const PARALLEL: usize = 3;

pub struct PullRequest<'a> {
    pub reference: &'a Reference,
    /// `--platform`; the host's when absent.
    pub platform: Option<PlatformSpec>,
}

/// What a pull did.
#[derive(Debug)]
pub struct Pulled {
    /// The digest the registry knows the reference by (the index's for a
    /// multi-architecture image): what `Digest:` shows.
    pub digest: Digest,
    pub manifest_digest: Digest,
    /// The image id (config digest).
    pub id: Digest,
    /// Whether any layer or the reference changed.
    pub changed: bool,
}

pub fn pull(
    client: &Client,
    store: &Store,
    unpacker: &dyn Unpacker,
    request: &PullRequest,
    reporter: &dyn TransferReporter,
) -> Result<Pulled> {
    let reference = request.reference;
    remove_stale_temporaries(store, unpacker);
    let resolved = resolve(client, request)?;
    let manifest: Manifest = parse(client, "manifest", &resolved.manifest)?;
    check_media_types(&manifest)?;
    let repository = &reference.repository;
    let config_bytes = small_blob(client, repository, &manifest.config)?;
    let config: ImageConfig = parse(client, "image config", &config_bytes)?;
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        return Err(RegistryError::Protocol {
            registry: client.registry.clone(),
            reason: format!(
                "the manifest has {} layers but the config lists {} diff ids",
                manifest.layers.len(),
                diff_ids.len()
            ),
        });
    }
    let layers: Vec<(Descriptor, Digest)> = manifest
        .layers
        .iter()
        .cloned()
        .zip(diff_ids.iter().cloned())
        .collect();
    // From the first blob written until the tag: `rmi`/`prune` must not collect them.
    let _writing = store.begin_write()?;
    let changed_layers = fetch_layers(client, store, unpacker, repository, &layers, reporter)?;
    let previous = store.get_ref(reference)?;
    let pairs: Vec<(Digest, Digest)> = layers
        .iter()
        .map(|(d, id)| (d.digest.clone(), id.clone()))
        .collect();
    import::commit_image(
        store,
        &NewImage {
            layers: &pairs,
            config: &config_bytes,
            manifest: &resolved.manifest,
            index: resolved.index.as_deref(),
            reference,
        },
    )?;
    Ok(Pulled {
        digest: resolved.digest,
        id: manifest.config.digest.clone(),
        changed: changed_layers || previous.as_ref() != Some(&resolved.manifest_digest),
        manifest_digest: resolved.manifest_digest,
    })
}

/// The manifest a reference names, through an index if it is one.
struct Resolved {
    /// What the reference resolved to first (the index's digest, if any).
    digest: Digest,
    index: Option<Vec<u8>>,
    manifest: Vec<u8>,
    manifest_digest: Digest,
}

/// Fetches the manifest (or index, then the platform's manifest), each
/// checked against the digest it is known by.
fn resolve(client: &Client, request: &PullRequest) -> Result<Resolved> {
    let reference = request.reference;
    let repository = &reference.repository;
    let wanted = match &reference.digest {
        Some(d) => d.to_string(),
        None => reference.tag.clone().unwrap_or_else(|| "latest".into()),
    };
    let (bytes, media_type) = client.manifest(repository, &wanted)?;
    let digest = Digest::of(&bytes);
    if let Some(expected) = &reference.digest {
        verify(client, "manifest", expected, &digest)?;
    }
    if !is_index(&bytes, &media_type) {
        return Ok(Resolved {
            manifest_digest: digest.clone(),
            digest,
            index: None,
            manifest: bytes,
        });
    }
    let index: ImageIndex = parse(client, "image index", &bytes)?;
    let spec = request.platform.clone().unwrap_or_else(PlatformSpec::host);
    let entry = platform::select(&index, &spec).map_err(|available| RegistryError::NoPlatform {
        reference: reference.familiar(),
        platform: spec.to_string(),
        available: if available.is_empty() {
            "no platforms".into()
        } else {
            available.join(", ")
        },
    })?;
    let (manifest, _) = client.manifest(repository, &entry.digest.to_string())?;
    let manifest_digest = Digest::of(&manifest);
    verify(client, "manifest", &entry.digest, &manifest_digest)?;
    Ok(Resolved {
        digest,
        index: Some(bytes),
        manifest,
        manifest_digest,
    })
}

/// Refuses manifests and layers devbox cannot use (Windows foreign layers,
/// schema 1) before anything is downloaded.
fn check_media_types(manifest: &Manifest) -> Result<()> {
    if let Some(t) = manifest.media_type.as_deref() {
        if t != oci::MEDIA_TYPE_MANIFEST && t != oci::MEDIA_TYPE_DOCKER_MANIFEST {
            return Err(RegistryError::Unsupported {
                what: "manifest",
                media_type: t.into(),
            });
        }
    }
    match manifest
        .layers
        .iter()
        .find(|l| !is_layer_type(&l.media_type))
    {
        Some(layer) => Err(RegistryError::Unsupported {
            what: "layer",
            media_type: layer.media_type.clone(),
        }),
        None => Ok(()),
    }
}

fn is_index(bytes: &[u8], media_type: &str) -> bool {
    if client::is_index(media_type) {
        return true;
    }
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
    }
    serde_json::from_slice::<Probe>(bytes)
        .map(|p| p.manifests.is_some() || p.media_type.as_deref().is_some_and(client::is_index))
        .unwrap_or(false)
}

fn is_layer_type(media_type: &str) -> bool {
    [
        oci::MEDIA_TYPE_LAYER_TAR,
        oci::MEDIA_TYPE_LAYER_GZIP,
        oci::MEDIA_TYPE_LAYER_ZSTD,
        oci::MEDIA_TYPE_DOCKER_LAYER_GZIP,
    ]
    .contains(&media_type)
}

fn verify(client: &Client, what: &'static str, expected: &Digest, actual: &Digest) -> Result<()> {
    if expected == actual {
        return Ok(());
    }
    Err(RegistryError::Verify {
        registry: client.registry.clone(),
        what,
        digest: expected.clone(),
        source: DigestError::Mismatch {
            expected: expected.clone(),
            actual: actual.clone(),
        },
    })
}

fn parse<T: serde::de::DeserializeOwned>(client: &Client, what: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| RegistryError::Protocol {
        registry: client.registry.clone(),
        reason: format!("{what}: {e}"),
    })
}

/// The largest image config devbox reads (they are a few KiB; a long
/// history makes them some hundred KiB).
const CONFIG_LIMIT: u64 = 16 << 20;

/// A config blob, read into memory (bounded), tried again on passing
/// failures, and verified.
fn small_blob(client: &Client, repository: &str, descriptor: &Descriptor) -> Result<Vec<u8>> {
    let what = format!("config {}", descriptor.digest);
    if descriptor.size > CONFIG_LIMIT {
        return Err(RegistryError::Protocol {
            registry: client.registry.clone(),
            reason: format!(
                "{what} is {} bytes, more than the {} MiB devbox reads; refused",
                descriptor.size,
                CONFIG_LIMIT >> 20
            ),
        });
    }
    let bytes = client.retrying(&what, || {
        let mut response = client.blob(repository, &descriptor.digest, 0)?;
        client.read_bounded(&mut response, &what, descriptor.size)
    })?;
    verify(client, "config", &descriptor.digest, &Digest::of(&bytes))?;
    Ok(bytes)
}

/// Downloads (what is missing) and unpacks every layer, a few at a time.
/// Returns whether anything was fetched or unpacked.
fn fetch_layers(
    client: &Client,
    store: &Store,
    unpacker: &dyn Unpacker,
    repository: &str,
    layers: &[(Descriptor, Digest)],
    reporter: &dyn TransferReporter,
) -> Result<bool> {
    let descriptors: Vec<Descriptor> = layers.iter().map(|(d, _)| d.clone()).collect();
    reporter.begin(&descriptors);
    // The same layer twice in one image is fetched once.
    let mut seen = std::collections::BTreeSet::new();
    let unique: Vec<&(Descriptor, Digest)> = layers
        .iter()
        .filter(|(d, _)| seen.insert(d.digest.clone()))
        .collect();
    let changed = AtomicBool::new(false);
    let result = super::for_each_parallel(&unique, PARALLEL, |(descriptor, diff_id), failed| {
        let digest = &descriptor.digest;
        if store.has_blob(digest) && store.has_layer(diff_id) {
            reporter.exists(digest);
            return Ok(());
        }
        changed.store(true, Ordering::SeqCst);
        if !store.has_blob(digest) {
            download(client, store, repository, descriptor, reporter, failed)?;
        }
        reporter.transferred(digest);
        import::store_layer(store, unpacker, digest, diff_id)?;
        reporter.unpacked(digest);
        Ok(())
    });
    reporter.end();
    result.map(|()| changed.load(Ordering::SeqCst))
}

/// Streams one blob into `tmp/pull-<pid>-...`, hashing as it goes; only a
/// complete, verified file is renamed into the blob store. A transfer that
/// breaks off (stall, dropped connection, 5xx) is tried again up to
/// [`client::TRIES`] times, from where it stopped when the registry
/// honours `Range`.
fn download(
    client: &Client,
    store: &Store,
    repository: &str,
    descriptor: &Descriptor,
    reporter: &dyn TransferReporter,
    cancelled: &AtomicBool,
) -> Result<()> {
    let tmp = store
        .tmp_dir()
        .join(format!("pull-{}", atomic::unique_suffix()));
    let io_err = |source| RegistryError::Io {
        path: tmp.clone(),
        source,
    };
    let result = (|| {
        let mut file = std::fs::File::create(&tmp).map_err(io_err)?;
        let mut hasher = Hasher::new();
        let what = format!("blob {}", descriptor.digest);
        let transfer = Transfer {
            client,
            repository,
            descriptor,
            what: &what,
            tmp: &tmp,
            reporter,
            cancelled,
        };
        client.retrying(&what, || transfer.receive(&mut file, &mut hasher))?;
        let size = hasher.bytes;
        let actual = hasher.finish();
        if size != descriptor.size || actual != descriptor.digest {
            return Err(RegistryError::Verify {
                registry: client.registry.clone(),
                what: "blob",
                digest: descriptor.digest.clone(),
                source: DigestError::Mismatch {
                    expected: descriptor.digest.clone(),
                    actual,
                },
            });
        }
        file.sync_all().map_err(io_err)?;
        store.publish_blob_file(&tmp, &descriptor.digest)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// One blob download in progress.
struct Transfer<'a> {
    client: &'a Client,
    repository: &'a str,
    descriptor: &'a Descriptor,
    what: &'a str,
    tmp: &'a std::path::Path,
    reporter: &'a dyn TransferReporter,
    cancelled: &'a AtomicBool,
}

impl Transfer<'_> {
    /// One try: asks for the bytes after those `file` and `hasher` already
    /// hold (the whole blob again if the registry ignores the range) and
    /// appends them, up to the descriptor's size plus one byte (so a longer
    /// body fails verification). A body that ends short is an
    /// `Interrupted` error, to be tried again.
    fn receive(&self, file: &mut std::fs::File, hasher: &mut Hasher) -> Result<()> {
        let (client, descriptor) = (self.client, self.descriptor);
        let tmp_err = |source| RegistryError::Io {
            path: self.tmp.to_path_buf(),
            source,
        };
        let offset = hasher.bytes;
        if offset > 0 && offset == descriptor.size {
            // Everything arrived before the connection failed: verify that.
            return Ok(());
        }
        let response = client.blob(self.repository, &descriptor.digest, offset)?;
        if offset > 0 && !resumes_at(&response, offset) {
            // A whole body: start over.
            file.set_len(0).map_err(tmp_err)?;
            file.seek(SeekFrom::Start(0)).map_err(tmp_err)?;
            *hasher = Hasher::new();
        }
        let mut body = response.into_body().into_reader();
        let mut buf = vec![0u8; 256 << 10];
        loop {
            if self.cancelled.load(Ordering::Relaxed) {
                return Err(RegistryError::Cancelled);
            }
            let n = body
                .read(&mut buf)
                .map_err(|e| client.body_error(self.what, hasher.bytes, &e))?;
            if n == 0 {
                break;
            }
            let n = n.min((descriptor.size + 1 - hasher.bytes) as usize);
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n]).map_err(tmp_err)?;
            if hasher.bytes > descriptor.size {
                break;
            }
            self.reporter.progress(&descriptor.digest, hasher.bytes);
        }
        if hasher.bytes < descriptor.size {
            return Err(RegistryError::Interrupted {
                registry: client.registry.clone(),
                what: self.what.into(),
                received: hasher.bytes,
                reason: format!("the body ended before its {} bytes", descriptor.size),
            });
        }
        Ok(())
    }
}

/// Whether a ranged GET was answered with the bytes from `offset` on (206
/// and a matching `Content-Range: bytes OFFSET-...`).
fn resumes_at(response: &ureq::http::Response<ureq::Body>, offset: u64) -> bool {
    response.status().as_u16() == 206
        && response
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().strip_prefix("bytes "))
            .and_then(|v| v.split('-').next())
            .and_then(|start| start.trim().parse::<u64>().ok())
            == Some(offset)
}

/// Removes what killed pulls left in tmp/: `pull-<pid>-*` blobs and
/// `layer-<pid>-*` staging directories of processes that are gone.
fn remove_stale_temporaries(store: &Store, unpacker: &dyn Unpacker) {
    let Ok(entries) = std::fs::read_dir(store.tmp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((kind, rest)) = name.split_once('-') else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || crate::store::check::is_alive(pid) {
            continue;
        }
        match kind {
            "pull" => {
                let _ = std::fs::remove_file(entry.path());
            }
            "layer" => {
                let _ = unpacker.remove(&entry.path());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_of_processes() {
        use crate::store::check::is_alive;
        assert!(is_alive(std::process::id()));
        assert!(!is_alive(u32::MAX));
    }

    #[test]
    fn recognises_indexes() {
        assert!(is_index(b"{}", oci::MEDIA_TYPE_DOCKER_MANIFEST_LIST));
        assert!(is_index(
            br#"{"schemaVersion":2,"manifests":[]}"#,
            "application/json"
        ));
        assert!(!is_index(
            br#"{"schemaVersion":2,"layers":[]}"#,
            oci::MEDIA_TYPE_MANIFEST
        ));
        assert!(is_layer_type(oci::MEDIA_TYPE_LAYER_ZSTD));
        assert!(!is_layer_type(
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
        ));
    }
}
