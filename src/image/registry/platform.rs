//! `--platform os/arch[/variant]` and picking an index entry for it (pure).

use std::fmt;
use std::str::FromStr;

use crate::image::oci::{self, Descriptor, ImageIndex};

/// The platform a pull asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSpec {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl PlatformSpec {
    /// `linux/<this machine's architecture>`.
    pub fn host() -> PlatformSpec {
        PlatformSpec {
            os: "linux".into(),
            architecture: oci::host_architecture().into(),
            variant: None,
        }
    }

    /// Whether an index entry's platform is this one. Without a variant any
    /// variant matches (the exact and the default variant are preferred by
    /// [`select`]).
    fn matches(&self, platform: &oci::Platform) -> bool {
        platform.os == self.os
            && platform.architecture == self.architecture
            && match &self.variant {
                Some(v) => {
                    platform
                        .variant
                        .as_deref()
                        .unwrap_or(default_variant(&self.architecture))
                        == v
                }
                None => true,
            }
    }
}

/// The variant an entry without one means (`arm64` is `v8`).
fn default_variant(architecture: &str) -> &'static str {
    match architecture {
        "arm64" => "v8",
        "arm" => "v7",
        _ => "",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid platform `{0}`: expected OS/ARCH[/VARIANT], e.g. `linux/amd64` or `linux/arm64/v8`"
)]
pub struct PlatformError(pub String);

impl FromStr for PlatformSpec {
    type Err = PlatformError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        let valid = |p: &&str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(valid) {
            return Err(PlatformError(s.into()));
        }
        Ok(PlatformSpec {
            os: parts[0].to_ascii_lowercase(),
            architecture: normalise_arch(&parts[1].to_ascii_lowercase()).into(),
            variant: parts.get(2).map(|v| v.to_ascii_lowercase()),
        })
    }
}

/// Accepts the kernel's names too (`x86_64`, `aarch64`), as Docker does.
fn normalise_arch(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "i386" | "i686" => "386",
        other => other,
    }
}

impl fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The index entry for `spec`, or the list of platforms the index offers.
pub fn select<'a>(
    index: &'a ImageIndex,
    spec: &PlatformSpec,
) -> Result<&'a Descriptor, Vec<String>> {
    let candidates: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| d.platform.as_ref().is_some_and(|p| spec.matches(p)))
        .collect();
    // Prefer the exact variant, then the architecture's default one.
    let wanted = spec
        .variant
        .clone()
        .unwrap_or_else(|| default_variant(&spec.architecture).to_string());
    let best = candidates
        .iter()
        .find(|d| {
            d.platform
                .as_ref()
                .and_then(|p| p.variant.as_deref())
                .unwrap_or("")
                == wanted
                || d.platform.as_ref().is_some_and(|p| p.variant.is_none())
        })
        .or(candidates.first());
    best.copied().ok_or_else(|| {
        index
            .manifests
            .iter()
            .filter_map(|d| d.platform.as_ref())
            .filter(|p| p.os != "unknown")
            .map(|p| match &p.variant {
                Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                None => format!("{}/{}", p.os, p.architecture),
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Digest;

    fn entry(arch: &str, variant: Option<&str>, n: u8) -> Descriptor {
        let mut d = Descriptor::new(oci::MEDIA_TYPE_MANIFEST, Digest::of(&[n]), 1);
        d.platform = Some(oci::Platform {
            architecture: arch.into(),
            os: "linux".into(),
            variant: variant.map(Into::into),
            os_version: None,
        });
        d
    }

    fn index() -> ImageIndex {
        ImageIndex {
            schema_version: 2,
            media_type: Some(oci::MEDIA_TYPE_INDEX.into()),
            manifests: vec![
                entry("amd64", None, 1),
                entry("arm", Some("v6"), 2),
                entry("arm", Some("v7"), 3),
                entry("arm64", Some("v8"), 4),
            ],
            annotations: Default::default(),
        }
    }

    #[test]
    fn parses_platforms() {
        let p: PlatformSpec = "linux/arm64/v8".parse().unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert_eq!(
            "linux/x86_64".parse::<PlatformSpec>().unwrap().architecture,
            "amd64"
        );
        for bad in ["", "linux", "linux/", "a/b/c/d", "linux/am d64"] {
            assert!(bad.parse::<PlatformSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn picks_the_platform() {
        let index = index();
        let pick = |s: &str| select(&index, &s.parse().unwrap()).map(|d| d.digest.clone());
        assert_eq!(pick("linux/amd64"), Ok(Digest::of(&[1])));
        assert_eq!(pick("linux/arm"), Ok(Digest::of(&[3])));
        assert_eq!(pick("linux/arm/v6"), Ok(Digest::of(&[2])));
        assert_eq!(pick("linux/arm64"), Ok(Digest::of(&[4])));
        assert_eq!(
            pick("linux/s390x"),
            Err(vec![
                "linux/amd64".to_string(),
                "linux/arm/v6".into(),
                "linux/arm/v7".into(),
                "linux/arm64/v8".into()
            ])
        );
    }
}
