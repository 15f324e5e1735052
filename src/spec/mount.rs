//! Mount requests from the command line (pure): `-v SRC:DST[:OPTS]`, `--mount
//! type=...,source=...,target=...`, `--tmpfs DST[:OPTS]`, with Docker's syntax and errors.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Bind propagation (`bind-propagation=`); devbox's default is `rprivate`, like Docker's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    Private,
    #[default]
    Rprivate,
    Shared,
    Rshared,
    Slave,
    Rslave,
}

impl Propagation {
    /// Whether the mount stays linked to the host's (mounts made under the source on the
    /// host appear inside): then the container's mount tree must not be cut from the
    /// host's wholesale (it is made rslave, as runc does, instead of rprivate).
    pub fn follows_host(self) -> bool {
        !matches!(self, Propagation::Private | Propagation::Rprivate)
    }

    /// Whether it applies to the mounts under the target too (the `r` forms).
    pub fn recursive(self) -> bool {
        matches!(
            self,
            Propagation::Rprivate | Propagation::Rshared | Propagation::Rslave
        )
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "private" => Propagation::Private,
            "rprivate" => Propagation::Rprivate,
            "shared" => Propagation::Shared,
            "rshared" => Propagation::Rshared,
            "slave" => Propagation::Slave,
            "rslave" => Propagation::Rslave,
            _ => return None,
        })
    }
}

/// A bind mount of a host path (also what a named volume becomes once resolved to its
/// directory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindMount {
    /// Absolute host path (relative ones are resolved by the caller).
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub target: String,
    pub readonly: bool,
    #[serde(default)]
    pub propagation: Propagation,
}

/// A named (`name: Some`) or anonymous volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeMount {
    pub name: Option<String>,
    pub target: String,
    pub readonly: bool,
    /// `volume-nocopy` / `:nocopy`: a new volume is not filled from the image.
    pub nocopy: bool,
}

/// A tmpfs (`--tmpfs`, `--mount type=tmpfs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TmpfsMount {
    pub target: String,
    /// Bytes; `None` is the kernel's default (half of RAM).
    pub size: Option<u64>,
    /// Permission bits of the root; `None` is 1777.
    pub mode: Option<u32>,
    pub readonly: bool,
}

/// What one `-v`/`--mount`/`--tmpfs` asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MountRequest {
    Bind(BindMount),
    Volume(VolumeMount),
    Tmpfs(TmpfsMount),
}

impl MountRequest {
    pub fn target(&self) -> &str {
        match self {
            MountRequest::Bind(b) => &b.target,
            MountRequest::Volume(v) => &v.target,
            MountRequest::Tmpfs(t) => &t.target,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountSpecError {
    #[error("invalid volume specification `{0}`: expected [SOURCE:]CONTAINER_PATH[:OPTIONS]")]
    Syntax(String),
    #[error("invalid mount specification `{spec}`: mount path `{target}` must be absolute")]
    RelativeTarget { spec: String, target: String },
    #[error("invalid volume specification `{spec}`: unknown option `{option}` (expected ro, rw, z, Z, nocopy, or a propagation mode)")]
    UnknownOption { spec: String, option: String },
    #[error("invalid volume name `{name}` in `{spec}`: a name is [a-zA-Z0-9][a-zA-Z0-9_.-]+; a host path must start with `/`, `./` or `../`")]
    VolumeName { spec: String, name: String },
    #[error("invalid --mount `{spec}`: {reason}")]
    Mount { spec: String, reason: String },
    #[error("invalid --tmpfs `{spec}`: {reason}")]
    Tmpfs { spec: String, reason: String },
}

/// Docker's volume name rule.
pub fn valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn is_host_path(source: &str) -> bool {
    source.starts_with('/')
        || source == "."
        || source == ".."
        || source.starts_with("./")
        || source.starts_with("../")
}

fn absolute_target(spec: &str, target: &str) -> Result<String, MountSpecError> {
    if target.starts_with('/') {
        Ok(target.to_string())
    } else {
        Err(MountSpecError::RelativeTarget {
            spec: spec.into(),
            target: target.into(),
        })
    }
}

/// Parses a `-v` value: `/host:/ctr[:opts]`, `./rel:/ctr`, `name:/ctr[:opts]` (a named
/// volume) or `/ctr` (an anonymous volume). `cwd` resolves `./` and `../` host paths.
pub fn parse_volume(spec: &str, cwd: &Path) -> Result<MountRequest, MountSpecError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [target] => ("", *target, ""),
        [source, target] => (*source, *target, ""),
        [source, target, options] => (*source, *target, *options),
        _ => return Err(MountSpecError::Syntax(spec.into())),
    };
    if target.is_empty() || (parts.len() > 1 && source.is_empty()) {
        return Err(MountSpecError::Syntax(spec.into()));
    }
    let target = absolute_target(spec, target)?;
    let mut readonly = false;
    let mut nocopy = false;
    let mut propagation = Propagation::default();
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option {
            "ro" => readonly = true,
            "rw" => readonly = false,
            "nocopy" => nocopy = true,
            // SELinux relabel options: accepted and ignored, like Podman without SELinux.
            "z" | "Z" => {}
            other => match Propagation::parse(other) {
                Some(p) => propagation = p,
                None => {
                    return Err(MountSpecError::UnknownOption {
                        spec: spec.into(),
                        option: other.into(),
                    })
                }
            },
        }
    }
    if source.is_empty() {
        return Ok(MountRequest::Volume(VolumeMount {
            name: None,
            target,
            readonly,
            nocopy,
        }));
    }
    if is_host_path(source) {
        let source = if source.starts_with('/') {
            PathBuf::from(source)
        } else {
            cwd.join(source)
        };
        return Ok(MountRequest::Bind(BindMount {
            source: normalize(&source),
            target,
            readonly,
            propagation,
        }));
    }
    if !valid_volume_name(source) {
        return Err(MountSpecError::VolumeName {
            spec: spec.into(),
            name: source.into(),
        });
    }
    Ok(MountRequest::Volume(VolumeMount {
        name: Some(source.to_string()),
        target,
        readonly,
        nocopy,
    }))
}

/// `64m`, `1g`, `512k`, `1048576` → bytes (Docker's RAMInBytes, binary units).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    let text = text.strip_suffix('b').unwrap_or(&text);
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let n: u64 = digits.parse().ok()?;
    let factor: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// Parses a `--mount` value: comma-separated `key=value` fields (`type`, `source`/`src`,
/// `target`/`destination`/`dst`, `readonly`/`ro`, `bind-propagation`, `volume-nocopy`,
/// `tmpfs-size`, `tmpfs-mode`). Bind sources must be absolute and, like Docker, must exist
/// (checked by the caller, which can see the host).
pub fn parse_mount(spec: &str) -> Result<MountRequest, MountSpecError> {
    let bad = |reason: String| MountSpecError::Mount {
        spec: spec.into(),
        reason,
    };
    let mut kind = "volume".to_string();
    let mut source: Option<String> = None;
    let mut target: Option<String> = None;
    let mut readonly = false;
    let mut propagation = None;
    let mut nocopy = false;
    let mut size = None;
    let mut mode = None;
    let flag = |key: &str, value: Option<&str>| -> Result<bool, MountSpecError> {
        match value {
            None | Some("true") | Some("1") => Ok(true),
            Some("false") | Some("0") => Ok(false),
            Some(v) => Err(bad(format!(
                "invalid value `{v}` for `{key}` (true or false)"
            ))),
        }
    };
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim())),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let need = |value: Option<&str>| {
            value
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .ok_or_else(|| bad(format!("`{key}` needs a value")))
        };
        match key.as_str() {
            "type" => kind = need(value)?,
            "source" | "src" => source = Some(need(value)?),
            "target" | "destination" | "dst" => target = Some(need(value)?),
            "readonly" | "ro" => readonly = flag(&key, value)?,
            "bind-propagation" => {
                let v = need(value)?;
                propagation = Some(
                    Propagation::parse(&v).ok_or_else(|| {
                        bad(format!(
                            "invalid propagation mode: {v} (expected private, rprivate, shared, rshared, slave or rslave)"
                        ))
                    })?,
                )
            }
            "volume-nocopy" => nocopy = flag(&key, value)?,
            "tmpfs-size" => {
                let v = need(value)?;
                size = Some(parse_size(&v).ok_or_else(|| bad(format!("invalid tmpfs-size `{v}`")))?)
            }
            "tmpfs-mode" => {
                let v = need(value)?;
                mode = Some(
                    u32::from_str_radix(&v, 8)
                        .ok()
                        .filter(|m| *m <= 0o7777)
                        .ok_or_else(|| bad(format!("invalid tmpfs-mode `{v}` (octal)")))?,
                )
            }
            // Accepted for compatibility: meaningless on Linux or for local volumes.
            "consistency" | "bind-nonrecursive" | "volume-driver" | "volume-opt"
            | "volume-label" => {}
            other => return Err(bad(format!("unknown field `{other}`"))),
        }
    }
    let target = target.ok_or_else(|| bad("`target` is required".into()))?;
    let target = absolute_target(spec, &target)?;
    let only = |what: &str, set: bool| {
        if set {
            Err(bad(format!("`{what}` does not apply to type={kind}")))
        } else {
            Ok(())
        }
    };
    match kind.as_str() {
        "bind" => {
            only("tmpfs-size", size.is_some())?;
            only("tmpfs-mode", mode.is_some())?;
            only("volume-nocopy", nocopy)?;
            let source = source.ok_or_else(|| bad("`source` is required for a bind".into()))?;
            if !source.starts_with('/') {
                return Err(bad(format!(
                    "bind source `{source}` must be an absolute path"
                )));
            }
            Ok(MountRequest::Bind(BindMount {
                source: normalize(Path::new(&source)),
                target,
                readonly,
                propagation: propagation.unwrap_or_default(),
            }))
        }
        "volume" => {
            only("tmpfs-size", size.is_some())?;
            only("tmpfs-mode", mode.is_some())?;
            only("bind-propagation", propagation.is_some())?;
            if let Some(name) = &source {
                if !valid_volume_name(name) {
                    return Err(MountSpecError::VolumeName {
                        spec: spec.into(),
                        name: name.clone(),
                    });
                }
            }
            Ok(MountRequest::Volume(VolumeMount {
                name: source,
                target,
                readonly,
                nocopy,
            }))
        }
        "tmpfs" => {
            only("source", source.is_some())?;
            only("bind-propagation", propagation.is_some())?;
            only("volume-nocopy", nocopy)?;
            Ok(MountRequest::Tmpfs(TmpfsMount {
                target,
                size,
                mode,
                readonly,
            }))
        }
        other => Err(bad(format!(
            "unknown type `{other}` (bind, volume or tmpfs)"
        ))),
    }
}

/// Parses a `--tmpfs DST[:OPTIONS]` value (`size=64m`, `mode=1770`, `ro`/`rw`; the mount flags
/// `noexec`, `nosuid`, `nodev`, `exec` are accepted).
pub fn parse_tmpfs(spec: &str) -> Result<TmpfsMount, MountSpecError> {
    let bad = |reason: String| MountSpecError::Tmpfs {
        spec: spec.into(),
        reason,
    };
    let (target, options) = spec.split_once(':').unwrap_or((spec, ""));
    let target = absolute_target(spec, target)?;
    let mut mount = TmpfsMount {
        target,
        size: None,
        mode: None,
        readonly: false,
    };
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option.split_once('=') {
            Some(("size", v)) => {
                mount.size = Some(parse_size(v).ok_or_else(|| bad(format!("invalid size `{v}`")))?)
            }
            Some(("mode", v)) => {
                mount.mode = Some(
                    u32::from_str_radix(v, 8)
                        .ok()
                        .filter(|m| *m <= 0o7777)
                        .ok_or_else(|| bad(format!("invalid mode `{v}` (octal)")))?,
                )
            }
            None if option == "ro" => mount.readonly = true,
            None if option == "rw" => mount.readonly = false,
            None if matches!(
                option,
                "noexec" | "exec" | "nosuid" | "suid" | "nodev" | "dev"
            ) => {}
            _ => return Err(bad(format!("unknown option `{option}`"))),
        }
    }
    Ok(mount)
}

/// Lexically removes `.` and `..` components.
fn normalize(path: &std::path::Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(spec: &str) -> BindMount {
        match parse_volume(spec, Path::new("/home/me/app")).unwrap() {
            MountRequest::Bind(b) => b,
            other => panic!("{spec}: {other:?}"),
        }
    }

    #[test]
    fn binds_in_docker_forms() {
        let m = bind("/src:/app");
        assert_eq!(
            (m.source.as_path(), m.target.as_str(), m.readonly),
            (Path::new("/src"), "/app", false)
        );
        assert!(bind("/src:/app:ro").readonly);
        assert!(!bind("/src:/app:rw,z").readonly);
        assert_eq!(bind("/src:/app:rshared").propagation, Propagation::Rshared);
        assert_eq!(
            bind("./data:/data").source,
            PathBuf::from("/home/me/app/data")
        );
        assert_eq!(bind("../x:/x").source, PathBuf::from("/home/me/x"));
    }

    #[test]
    fn named_and_anonymous_volumes() {
        let cwd = Path::new("/");
        assert_eq!(
            parse_volume("pgdata:/var/lib/postgresql/data:ro", cwd).unwrap(),
            MountRequest::Volume(VolumeMount {
                name: Some("pgdata".into()),
                target: "/var/lib/postgresql/data".into(),
                readonly: true,
                nocopy: false,
            })
        );
        assert_eq!(
            parse_volume("/cache", cwd).unwrap(),
            MountRequest::Volume(VolumeMount {
                name: None,
                target: "/cache".into(),
                readonly: false,
                nocopy: false,
            })
        );
        assert!(matches!(
            parse_volume("v1:/x:nocopy", cwd).unwrap(),
            MountRequest::Volume(VolumeMount { nocopy: true, .. })
        ));
    }

    #[test]
    fn rejects_bad_volume_specs() {
        let cwd = Path::new("/");
        let err = |s: &str| parse_volume(s, cwd).unwrap_err();
        assert!(matches!(err("/a:b"), MountSpecError::RelativeTarget { .. }));
        assert!(matches!(
            err("relative"),
            MountSpecError::RelativeTarget { .. }
        ));
        assert!(matches!(
            err("/a:/b:xx"),
            MountSpecError::UnknownOption { .. }
        ));
        assert!(matches!(err("/a:/b:ro:x"), MountSpecError::Syntax(_)));
        assert!(matches!(err(":/b"), MountSpecError::Syntax(_)));
        assert!(matches!(err("-bad:/b"), MountSpecError::VolumeName { .. }));
        assert!(matches!(err("a:/b"), MountSpecError::VolumeName { .. }));
    }

    #[test]
    fn mount_flag_forms() {
        assert_eq!(
            parse_mount("type=bind,source=/src,target=/app,readonly,bind-propagation=rslave")
                .unwrap(),
            MountRequest::Bind(BindMount {
                source: "/src".into(),
                target: "/app".into(),
                readonly: true,
                propagation: Propagation::Rslave,
            })
        );
        assert_eq!(
            parse_mount("src=data,dst=/data,volume-nocopy=true").unwrap(),
            MountRequest::Volume(VolumeMount {
                name: Some("data".into()),
                target: "/data".into(),
                readonly: false,
                nocopy: true,
            })
        );
        assert_eq!(
            parse_mount("type=tmpfs,destination=/run,tmpfs-size=64m,tmpfs-mode=1770").unwrap(),
            MountRequest::Tmpfs(TmpfsMount {
                target: "/run".into(),
                size: Some(64 << 20),
                mode: Some(0o1770),
                readonly: false,
            })
        );
        assert!(matches!(
            parse_mount("type=volume,target=/x").unwrap(),
            MountRequest::Volume(VolumeMount { name: None, .. })
        ));
    }

    #[test]
    fn mount_flag_errors_say_what() {
        let err = |s: &str| parse_mount(s).unwrap_err().to_string();
        assert!(err("type=bind,source=/a").contains("`target` is required"));
        assert!(err("type=bind,target=/a").contains("`source` is required"));
        assert!(err("type=bind,source=rel,target=/a").contains("must be an absolute path"));
        assert!(err("type=nfs,target=/a").contains("unknown type `nfs`"));
        assert!(err("type=bind,source=/a,target=/b,colour=red").contains("unknown field `colour`"));
        assert!(
            err("type=tmpfs,source=/a,target=/b").contains("`source` does not apply to type=tmpfs")
        );
        assert!(err("type=bind,source=/a,target=/b,tmpfs-size=1m").contains("does not apply"));
        assert!(err("type=tmpfs,target=/b,tmpfs-size=lots").contains("invalid tmpfs-size"));
        assert!(err("type=bind,source=/a,target=/b,readonly=maybe").contains("invalid value"));
        assert!(err("type=bind,source=/a,target=rel").contains("must be absolute"));
    }

    #[test]
    fn tmpfs_flag() {
        let t = parse_tmpfs("/run:rw,size=1g,mode=755,noexec").unwrap();
        assert_eq!(
            (t.target.as_str(), t.size, t.mode),
            ("/run", Some(1 << 30), Some(0o755))
        );
        assert_eq!(parse_tmpfs("/tmp").unwrap().size, None);
        assert!(parse_tmpfs("tmp").is_err());
        assert!(parse_tmpfs("/tmp:size=x")
            .unwrap_err()
            .to_string()
            .contains("invalid size"));
        assert!(parse_tmpfs("/tmp:bogus").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512k"), Some(512 << 10));
        assert_eq!(parse_size("64MB"), Some(64 << 20));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("1x"), None);
    }
}
