//! `-v HOST:CONTAINER[:OPTS]` syntax.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A bind mount requested on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindMount {
    /// Absolute host path (relative ones are resolved by the caller).
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub target: String,
    pub readonly: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountSpecError {
    #[error("invalid volume specification `{0}`: expected HOST:CONTAINER[:OPTIONS]")]
    Syntax(String),
    #[error("invalid volume specification `{spec}`: mount path `{target}` must be absolute")]
    RelativeTarget { spec: String, target: String },
    #[error(
        "invalid volume specification `{spec}`: unknown option `{option}` (expected ro, rw, z, Z)"
    )]
    UnknownOption { spec: String, option: String },
    #[error("invalid volume specification `{spec}`: named and anonymous volumes are not supported yet; use an absolute or ./relative host path")]
    NamedVolume { spec: String },
}

/// Parses a `-v` value. `cwd` resolves `./` and `../` host paths.
pub fn parse_volume(spec: &str, cwd: &std::path::Path) -> Result<BindMount, MountSpecError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [source, target] => (*source, *target, ""),
        [source, target, options] => (*source, *target, *options),
        [_] => return Err(MountSpecError::NamedVolume { spec: spec.into() }),
        _ => return Err(MountSpecError::Syntax(spec.into())),
    };
    if source.is_empty() || target.is_empty() {
        return Err(MountSpecError::Syntax(spec.into()));
    }
    if !target.starts_with('/') {
        return Err(MountSpecError::RelativeTarget {
            spec: spec.into(),
            target: target.into(),
        });
    }
    let source = if source.starts_with('/') {
        PathBuf::from(source)
    } else if source == "."
        || source == ".."
        || source.starts_with("./")
        || source.starts_with("../")
    {
        cwd.join(source)
    } else {
        return Err(MountSpecError::NamedVolume { spec: spec.into() });
    };
    let mut readonly = false;
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option {
            "ro" => readonly = true,
            "rw" => readonly = false,
            // SELinux relabel options: accepted and ignored, like Podman without SELinux.
            "z" | "Z" => {}
            other => {
                return Err(MountSpecError::UnknownOption {
                    spec: spec.into(),
                    option: other.into(),
                })
            }
        }
    }
    Ok(BindMount {
        source: normalize(&source),
        target: target.to_string(),
        readonly,
    })
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
    use std::path::Path;

    #[test]
    fn parses_docker_forms() {
        let cwd = Path::new("/home/me/app");
        let m = parse_volume("/src:/app", cwd).unwrap();
        assert_eq!(m.source, PathBuf::from("/src"));
        assert_eq!(m.target, "/app");
        assert!(!m.readonly);
        assert!(parse_volume("/src:/app:ro", cwd).unwrap().readonly);
        assert!(!parse_volume("/src:/app:rw,z", cwd).unwrap().readonly);
        assert_eq!(
            parse_volume("./data:/data", cwd).unwrap().source,
            PathBuf::from("/home/me/app/data")
        );
        assert_eq!(
            parse_volume("../x:/x", cwd).unwrap().source,
            PathBuf::from("/home/me/x")
        );
    }

    #[test]
    fn rejects_bad_specs() {
        let cwd = Path::new("/");
        assert!(matches!(
            parse_volume("/a:b", cwd),
            Err(MountSpecError::RelativeTarget { .. })
        ));
        assert!(matches!(
            parse_volume("/a:/b:xx", cwd),
            Err(MountSpecError::UnknownOption { .. })
        ));
        assert!(matches!(
            parse_volume("/a:/b:ro:x", cwd),
            Err(MountSpecError::Syntax(_))
        ));
        assert!(matches!(
            parse_volume(":/b", cwd),
            Err(MountSpecError::Syntax(_))
        ));
        assert!(matches!(
            parse_volume("data:/b", cwd),
            Err(MountSpecError::NamedVolume { .. })
        ));
    }
}
