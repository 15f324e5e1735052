//! Docker's `docker save` archive (what skopeo calls `docker-archive`):
//! `manifest.json` (one entry per image: config file, tags, layer files),
//! `repositories` (legacy: repository -> tag -> top layer), the config as
//! `<config hex>.json` and each layer as an uncompressed `<diff id hex>.tar`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::image::{Digest, Reference};

/// One entry of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    #[serde(rename = "Config")]
    pub config: String,
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
}

/// File name of an image config in the archive.
pub fn config_name(id: &Digest) -> String {
    format!("{}.json", id.hex())
}

/// File name of an (uncompressed) layer in the archive.
pub fn layer_name(diff_id: &Digest) -> String {
    format!("{}.tar", diff_id.hex())
}

/// The `manifest.json` entry of one image (pure).
pub fn manifest_entry(id: &Digest, tags: &[Reference], diff_ids: &[Digest]) -> ManifestEntry {
    ManifestEntry {
        config: config_name(id),
        repo_tags: (!tags.is_empty()).then(|| tags.iter().map(Reference::familiar).collect()),
        layers: diff_ids.iter().map(layer_name).collect(),
    }
}

/// The legacy `repositories` file: repository -> tag -> top layer id (pure).
pub fn repositories(
    images: &[(Vec<Reference>, Vec<Digest>)],
) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (tags, diff_ids) in images {
        let Some(top) = diff_ids.last() else { continue };
        for tag in tags {
            if let Some(t) = &tag.tag {
                out.entry(tag.familiar_name())
                    .or_default()
                    .insert(t.clone(), top.hex().to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_json_has_dockers_shape() {
        let id = Digest::of(b"config");
        let layer = Digest::of(b"layer");
        let tags = vec![Reference::parse("busybox").unwrap()];
        let entry = manifest_entry(&id, &tags, std::slice::from_ref(&layer));
        let json = serde_json::to_value(vec![entry]).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{
                "Config": format!("{}.json", id.hex()),
                "RepoTags": ["busybox:latest"],
                "Layers": [format!("{}.tar", layer.hex())],
            }])
        );
        let untagged = manifest_entry(&id, &[], &[]);
        assert_eq!(untagged.repo_tags, None);
    }

    #[test]
    fn reads_docker_24_manifests() {
        let text = r#"[{"Config":"abc.json","RepoTags":null,"Layers":["x/layer.tar"]}]"#;
        let entries: Vec<ManifestEntry> = serde_json::from_str(text).unwrap();
        assert_eq!(entries[0].layers, vec!["x/layer.tar"]);
        assert_eq!(entries[0].repo_tags, None);
    }

    #[test]
    fn repositories_point_at_the_top_layer() {
        let tags = vec![Reference::parse("localhost:5000/app:dev").unwrap()];
        let layers = vec![Digest::of(b"1"), Digest::of(b"2")];
        let repos = repositories(&[(tags, layers.clone())]);
        assert_eq!(repos["localhost:5000/app"]["dev"], layers[1].hex());
    }
}
