//! Where COPY and ADD read files: the build context (after .dockerignore)
//! or the layers of a stage or image (the merged view, whiteouts applied).

use std::collections::BTreeSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::ignore::{self, PatternMatcher};
use crate::fs::whiteout;

/// A read-only tree of files addressed by slash-separated relative paths
/// (`""` is the root).
pub trait Files {
    /// The names in directory `rel`, sorted, hidden ones left out.
    fn list(&self, rel: &str) -> Vec<String>;
    /// The host path and metadata of `rel`, or None if absent or hidden.
    fn stat(&self, rel: &str) -> Option<(PathBuf, std::fs::Metadata)>;
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

/// The build context directory with its .dockerignore.
pub struct ContextFiles {
    pub root: PathBuf,
    pub ignore: PatternMatcher,
}

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("the build context {0} is not a directory")]
    NotADirectory(PathBuf),
    #[error("{path}: {source}")]
    Ignore {
        path: PathBuf,
        #[source]
        source: ignore::IgnoreError,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ContextFiles {
    /// Opens `root`; the ignore file is `<dockerfile>.dockerignore` next to
    /// the Dockerfile if it exists, else `<root>/.dockerignore`.
    pub fn open(root: &Path, dockerfile: &Path) -> Result<ContextFiles, ContextError> {
        if !root.is_dir() {
            return Err(ContextError::NotADirectory(root.to_path_buf()));
        }
        let specific = PathBuf::from(format!("{}.dockerignore", dockerfile.display()));
        let file = if specific.is_file() {
            specific
        } else {
            root.join(".dockerignore")
        };
        let patterns = match std::fs::read_to_string(&file) {
            Ok(text) => ignore::read_patterns(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(ContextError::Read { path: file, source }),
        };
        let ignore = PatternMatcher::new(patterns)
            .map_err(|source| ContextError::Ignore { path: file, source })?;
        Ok(ContextFiles {
            root: root.to_path_buf(),
            ignore,
        })
    }

    fn excluded(&self, rel: &str, is_dir: bool) -> bool {
        let hit = self.ignore.matches(rel).unwrap_or(false);
        // An excluded directory may still hold `!` exceptions.
        hit && !(is_dir && self.ignore.has_exclusions())
    }
}

impl ContextFiles {
    /// `rel` on the host with the symlinks of its directories resolved
    /// inside the context (Docker's FollowSymlinkInScope): a link out of the
    /// context, `../x` or `/etc`, can never make a COPY read the host.
    fn scoped(&self, rel: &str) -> PathBuf {
        match rel.rsplit_once('/') {
            Some((dirs, name)) => self.root.join(resolve_links(self, dirs)).join(name),
            None => self.root.join(rel),
        }
    }
}

impl Files for ContextFiles {
    fn list(&self, rel: &str) -> Vec<String> {
        let dir = self.root.join(resolve_links(self, rel));
        let Ok(dir) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = dir
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                (!self.excluded(&join(rel, &name), is_dir)).then_some(name)
            })
            .collect();
        names.sort();
        names
    }

    fn stat(&self, rel: &str) -> Option<(PathBuf, std::fs::Metadata)> {
        let path = if rel.is_empty() {
            self.root.clone()
        } else {
            self.scoped(rel)
        };
        let meta = std::fs::symlink_metadata(&path).ok()?;
        if !rel.is_empty() && self.excluded(rel, meta.is_dir()) {
            return None;
        }
        Some((path, meta))
    }
}

/// The merged view of image layers (unpacked `diff` dirs, bottom first).
pub struct LayerFiles {
    pub layers: Vec<PathBuf>,
}

fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

impl Files for LayerFiles {
    fn list(&self, rel: &str) -> Vec<String> {
        let mut names: BTreeSet<String> = BTreeSet::new();
        for layer in &self.layers {
            let dir = layer.join(rel);
            match std::fs::symlink_metadata(&dir) {
                Ok(m) if m.is_dir() => {}
                // Replaced by a file or deleted in this layer.
                Ok(_) => {
                    names.clear();
                    continue;
                }
                Err(_) => continue,
            }
            if crate::sys::fs::get_xattr(&dir, whiteout::opaque_xattr(true).as_bytes()).is_ok()
                || crate::sys::fs::get_xattr(&dir, whiteout::opaque_xattr(false).as_bytes()).is_ok()
            {
                names.clear();
            }
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                match entry.metadata() {
                    Ok(m) if is_whiteout(&m) => {
                        names.remove(&name);
                    }
                    _ => {
                        names.insert(name);
                    }
                }
            }
        }
        names.into_iter().collect()
    }

    fn stat(&self, rel: &str) -> Option<(PathBuf, std::fs::Metadata)> {
        for layer in self.layers.iter().rev() {
            let path = layer.join(rel);
            if let Ok(meta) = std::fs::symlink_metadata(&path) {
                if is_whiteout(&meta) {
                    return None;
                }
                return Some((path, meta));
            }
        }
        None
    }
}

/// `path` (relative, slash-separated) with the symlinks in it resolved
/// inside `files`, as a copy into the image follows them (e.g. `bin/` →
/// `usr/bin/` in a merged-/usr Debian image).
pub fn resolve_links(files: &dyn Files, path: &str) -> String {
    let mut resolved: Vec<String> = Vec::new();
    let mut pending: std::collections::VecDeque<String> = path
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        match part.as_str() {
            "." => continue,
            ".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        let mut candidate = resolved.clone();
        candidate.push(part.clone());
        let link = files
            .stat(&candidate.join("/"))
            .filter(|(_, m)| m.file_type().is_symlink())
            .and_then(|(p, _)| std::fs::read_link(p).ok());
        match link {
            Some(target) if hops < 40 => {
                hops += 1;
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    resolved.clear();
                }
                for (i, t) in target.split('/').filter(|t| !t.is_empty()).enumerate() {
                    pending.insert(i, t.to_string());
                }
            }
            _ => resolved.push(part),
        }
    }
    resolved.join("/")
}

/// Whether `name` matches a shell pattern (`*`, `?`, `[a-z]`, `[!x]`,
/// `\` escapes), Go's `filepath.Match` within one path component.
pub fn component_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(c) = n.first() else { return false };
                let mut i = 1;
                let negate = matches!(p.get(1), Some('!') | Some('^'));
                if negate {
                    i += 1;
                }
                let mut hit = false;
                let mut first = true;
                while i < p.len() && (p[i] != ']' || first) {
                    first = false;
                    if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                        if p[i] <= *c && *c <= p[i + 2] {
                            hit = true;
                        }
                        i += 3;
                    } else {
                        if p[i] == *c {
                            hit = true;
                        }
                        i += 1;
                    }
                }
                if i >= p.len() {
                    return false;
                }
                hit != negate && go(&p[i + 1..], &n[1..])
            }
            Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && go(&p[2..], &n[1..]),
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The paths a COPY source names: itself, or every match of its glob.
pub fn resolve(files: &dyn Files, source: &str) -> Vec<String> {
    let cleaned = ignore::clean_path(source.trim_start_matches('/'));
    if cleaned == "." || cleaned.is_empty() {
        return vec![String::new()];
    }
    let mut current = vec![String::new()];
    for part in cleaned.split('/') {
        let mut next = Vec::new();
        for base in &current {
            if has_glob(part) {
                for name in files.list(base) {
                    if component_match(part, &name) {
                        next.push(join(base, &name));
                    }
                }
            } else {
                next.push(join(base, part));
            }
        }
        current = next;
    }
    current
        .into_iter()
        .filter(|p| files.stat(p).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(component_match("*.py", "app.py"));
        assert!(!component_match("*.py", "app.pyc"));
        assert!(component_match("req?.txt", "req1.txt"));
        assert!(component_match("[a-c]x", "bx"));
        assert!(!component_match("[!a-c]x", "bx"));
        assert!(component_match("a\\*", "a*"));
    }

    #[test]
    fn context_respects_dockerignore() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::create_dir_all(root.join("pkg/__pycache__")).unwrap();
        std::fs::write(root.join("pkg/__pycache__/m.pyc"), "").unwrap();
        std::fs::write(root.join("pkg/m.py"), "").unwrap();
        std::fs::write(root.join("app.py"), "").unwrap();
        std::fs::write(root.join(".env"), "").unwrap();
        std::fs::write(root.join(".dockerignore"), ".git\n.env\n**/__pycache__\n").unwrap();
        let ctx = ContextFiles::open(root, &root.join("Dockerfile")).unwrap();
        assert_eq!(ctx.list(""), [".dockerignore", "app.py", "pkg"]);
        assert_eq!(ctx.list("pkg"), ["m.py"]);
        assert!(ctx.stat(".env").is_none());
        assert_eq!(resolve(&ctx, "*.py"), ["app.py"]);
        assert_eq!(resolve(&ctx, "pkg/*"), ["pkg/m.py"]);
        assert!(resolve(&ctx, "missing.txt").is_empty());
        assert_eq!(resolve(&ctx, "."), [""]);
    }

    #[test]
    fn layers_apply_whiteouts() {
        let dir = tempfile::tempdir().unwrap();
        let (l1, l2) = (dir.path().join("1"), dir.path().join("2"));
        std::fs::create_dir_all(l1.join("d")).unwrap();
        std::fs::write(l1.join("d/a"), "1").unwrap();
        std::fs::write(l1.join("d/b"), "1").unwrap();
        std::fs::create_dir_all(l2.join("d")).unwrap();
        std::fs::write(l2.join("d/a"), "2").unwrap();
        let view = LayerFiles {
            layers: vec![l1.clone(), l2.clone()],
        };
        assert_eq!(view.list("d"), ["a", "b"]);
        assert_eq!(view.stat("d/a").unwrap().0, l2.join("d/a"));
        std::os::unix::fs::symlink("usr/bin", l1.join("bin")).unwrap();
        std::fs::create_dir_all(l2.join("e")).unwrap();
        std::os::unix::fs::symlink("../d", l2.join("e/up")).unwrap();
        assert_eq!(resolve_links(&view, "bin/x"), "usr/bin/x");
        assert_eq!(resolve_links(&view, "/e/up/a"), "d/a");
        if crate::sys::fs::make_whiteout(&l2.join("d/b")).is_ok() {
            assert_eq!(view.list("d"), ["a"]);
            assert!(view.stat("d/b").is_none());
        }
    }
}
