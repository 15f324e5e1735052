//! The layer cache: each step's key is its parent's key and the step's
//! expanded text (plus, for COPY/ADD, a digest of exactly the files
//! copied); `<root>/buildcache-v1/<key hex>` records the layer it made.

use serde::{Deserialize, Serialize};

use crate::image::oci::Descriptor;
use crate::image::Digest;
use crate::store::Store;

/// The next key in the chain (pure).
pub fn next_key(parent: &Digest, text: &str) -> Digest {
    let mut bytes = parent.to_string().into_bytes();
    bytes.push(b'\n');
    bytes.extend_from_slice(text.as_bytes());
    Digest::of(&bytes)
}

/// What a cached step produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The layer (blob descriptor and diff id), or None for an empty diff.
    pub layer: Option<(Descriptor, Digest)>,
    /// When the step first ran (kept so a cached rebuild gives the same id).
    pub created: String,
}

fn path(store: &Store, key: &Digest) -> std::path::PathBuf {
    store.root.join("buildcache-v1").join(key.hex())
}

/// The cached result of `key`, if it and its layer are still in the store.
pub fn lookup(store: &Store, key: &Digest) -> Option<Entry> {
    let bytes = std::fs::read(path(store, key)).ok()?;
    let entry: Entry = serde_json::from_slice(&bytes).ok()?;
    match &entry.layer {
        Some((blob, diff_id)) if !(store.has_blob(&blob.digest) && store.has_layer(diff_id)) => {
            None
        }
        _ => Some(entry),
    }
}

pub fn record(store: &Store, key: &Digest, entry: &Entry) -> std::io::Result<()> {
    let path = path(store, key);
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir)?;
    }
    let bytes = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
    crate::store::atomic::write_atomic(&path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_chain() {
        let root = Digest::of(b"base");
        let a = next_key(&root, "RUN a");
        assert_eq!(a, next_key(&root, "RUN a"));
        assert_ne!(a, next_key(&root, "RUN b"));
        assert_ne!(next_key(&a, "COPY x"), next_key(&root, "COPY x"));
    }

    #[test]
    fn entries_round_trip_and_need_their_layer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let key = Digest::of(b"k");
        let empty = Entry {
            layer: None,
            created: "t".into(),
        };
        record(&store, &key, &empty).unwrap();
        assert_eq!(lookup(&store, &key), Some(empty));
        let missing = Entry {
            layer: Some((
                Descriptor::new("x", Digest::of(b"blob"), 1),
                Digest::of(b"diff"),
            )),
            created: "t".into(),
        };
        record(&store, &key, &missing).unwrap();
        assert_eq!(lookup(&store, &key), None);
    }
}
