//! Resolving paths inside a container root without escaping it: symlinks
//! are followed as if `root` were `/` (like `filepath-securejoin`), so an
//! image cannot make devbox create or mount over host files.

use std::path::{Component, Path, PathBuf};

const MAX_LINKS: usize = 40;

#[derive(Debug, thiserror::Error)]
#[error("cannot resolve {path} inside the container: {reason}")]
pub struct ConfineError {
    pub path: String,
    pub reason: String,
}

/// Resolves `inside` (an absolute container path) to a host path under
/// `root`, following symlinks within the root. Missing components are
/// allowed (they are appended as is).
pub fn resolve_in_root(root: &Path, inside: &str) -> Result<PathBuf, ConfineError> {
    let mut pending: Vec<String> = components(inside);
    pending.reverse();
    let mut resolved: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = join(root, &resolved).join(&part);
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(ConfineError {
                        path: inside.into(),
                        reason: "too many levels of symbolic links".into(),
                    });
                }
                let target = std::fs::read_link(&candidate).map_err(|e| ConfineError {
                    path: inside.into(),
                    reason: e.to_string(),
                })?;
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    resolved.clear();
                }
                let mut more = components(&target);
                more.reverse();
                pending.extend(more);
            }
            _ => resolved.push(part),
        }
    }
    Ok(join(root, &resolved))
}

fn components(path: &str) -> Vec<String> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

fn join(root: &Path, parts: &[String]) -> PathBuf {
    let mut p = root.to_path_buf();
    for part in parts {
        p.push(part);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_cannot_escape() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::os::unix::fs::symlink("/usr/lib", root.join("lib")).unwrap();
        std::os::unix::fs::symlink("../../../../../etc/passwd", root.join("usr/evil")).unwrap();
        std::os::unix::fs::symlink("/", root.join("rootlink")).unwrap();
        assert_eq!(
            resolve_in_root(root, "/lib/x").unwrap(),
            root.join("usr/lib/x")
        );
        assert_eq!(
            resolve_in_root(root, "/usr/evil").unwrap(),
            root.join("etc/passwd")
        );
        assert_eq!(
            resolve_in_root(root, "/../../etc").unwrap(),
            root.join("etc")
        );
        assert_eq!(
            resolve_in_root(root, "/rootlink/etc").unwrap(),
            root.join("etc")
        );
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert!(resolve_in_root(root, "/loop").is_err());
    }
}
