//! The OCI image layout (what skopeo calls `oci-archive` when tarred):
//! `oci-layout`, `index.json` naming each manifest, `blobs/sha256/<hex>`.

use std::collections::BTreeMap;

use crate::image::oci::{self, Descriptor, ImageIndex};
use crate::image::{Digest, Reference};

/// The OCI spec's annotation for a manifest's name in a layout.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containerd's (and Docker's) annotation for the full image name.
pub const CONTAINERD_NAME: &str = "io.containerd.image.name";

pub const OCI_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// Path of a blob in the layout.
pub fn blob_name(digest: &Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}

/// `index.json` for `(manifest descriptor, tags)` pairs (pure): one entry
/// per tag, named the full way (`docker.io/library/busybox:latest`) in both
/// annotations, as Podman does; one unnamed entry for an untagged image.
pub fn index(images: &[(Descriptor, Vec<Reference>)]) -> ImageIndex {
    let mut manifests = Vec::new();
    for (descriptor, tags) in images {
        if tags.is_empty() {
            manifests.push(descriptor.clone());
        }
        for tag in tags {
            let mut named = descriptor.clone();
            named.annotations = BTreeMap::from([
                (REF_NAME.to_string(), tag.to_string()),
                (CONTAINERD_NAME.to_string(), tag.to_string()),
            ]);
            manifests.push(named);
        }
    }
    ImageIndex {
        schema_version: 2,
        media_type: Some(oci::MEDIA_TYPE_INDEX.into()),
        manifests,
        annotations: BTreeMap::new(),
    }
}

/// The name an index entry gives its image, if any (pure). Docker writes
/// only a tag (`latest`) in `ref.name` and the full name in containerd's
/// annotation; skopeo and Podman write a full name in `ref.name`. A bare tag
/// without a full name cannot name an image: it loads untagged.
pub fn entry_name(descriptor: &Descriptor) -> Option<Reference> {
    let full = descriptor.annotations.get(CONTAINERD_NAME);
    let name = descriptor.annotations.get(REF_NAME);
    full.into_iter()
        .chain(name.filter(|n| n.contains(':') || n.contains('/')))
        .find_map(|n| Reference::parse(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor() -> Descriptor {
        Descriptor::new(oci::MEDIA_TYPE_MANIFEST, Digest::of(b"m"), 1)
    }

    #[test]
    fn index_names_each_tag() {
        let tags = vec![
            Reference::parse("busybox").unwrap(),
            Reference::parse("localhost:5000/app:dev").unwrap(),
        ];
        let index = index(&[(descriptor(), tags.clone())]);
        assert_eq!(index.manifests.len(), 2);
        assert_eq!(
            index.manifests[0].annotations[REF_NAME],
            "docker.io/library/busybox:latest"
        );
        let names: Vec<_> = index.manifests.iter().filter_map(entry_name).collect();
        assert_eq!(names, tags);
    }

    #[test]
    fn names_from_other_tools() {
        let mut d = descriptor();
        d.annotations.insert(REF_NAME.into(), "latest".into());
        assert_eq!(entry_name(&d), None);
        d.annotations
            .insert(CONTAINERD_NAME.into(), "docker.io/library/alpine:3".into());
        assert_eq!(entry_name(&d), Some(Reference::parse("alpine:3").unwrap()));
        let mut skopeo = descriptor();
        skopeo.annotations.insert(REF_NAME.into(), "app:dev".into());
        assert_eq!(
            entry_name(&skopeo),
            Some(Reference::parse("app:dev").unwrap())
        );
    }
}
