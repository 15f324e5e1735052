//! COPY and ADD: which files go where (Docker's rules), a digest of exactly
//! those files for the cache key, and the layer tar they make.
//!
//! Rules: a directory source copies its contents; the destination is a
//! directory when it ends with `/`, when there are several sources, or when
//! it already is one in the image; new files belong to 0:0 unless
//! `--chown`; `--chmod` sets the mode; ADD extracts local tar archives.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use super::files::{self, Files};
use super::layer_write::LayerWriter;
use crate::image::digest::Hasher;
use crate::image::Digest;

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{instruction} failed: file not found in build context or excluded by .dockerignore: stat {source_path}: file does not exist")]
    NotFound {
        instruction: &'static str,
        source_path: String,
    },
    #[error("when using {instruction} with more than one source file, the destination must be a directory and end with a /")]
    NotADirectory { instruction: &'static str },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What an item is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemSource {
    File(PathBuf),
    Symlink(PathBuf),
    Dir,
    Inline(Vec<u8>),
    /// A local tar archive ADD extracts into the item's target directory.
    Archive(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Path in the image without the leading `/`.
    pub target: String,
    pub source: ItemSource,
    pub mode: u32,
    pub mtime: i64,
}

/// One COPY/ADD, its words already expanded.
pub struct CopyRequest<'a> {
    pub instruction: &'static str,
    pub files: &'a dyn Files,
    pub sources: Vec<String>,
    /// Heredoc sources: (file name, contents).
    pub inline: Vec<(String, String)>,
    /// Files ADD downloaded: (file name, where it is); mode 0600 as Docker.
    pub fetched: Vec<(String, PathBuf)>,
    /// Absolute path in the image; a trailing `/` means a directory.
    pub dest: String,
    /// The destination is an existing directory in the image.
    pub dest_is_dir: bool,
    pub chmod: Option<u32>,
    pub extract_archives: bool,
}

fn join(dir: &str, name: &str) -> String {
    let dir = dir.trim_matches('/');
    match (dir.is_empty(), name.is_empty()) {
        (true, _) => name.to_string(),
        (_, true) => dir.to_string(),
        _ => format!("{dir}/{name}"),
    }
}

fn base_name(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

/// Is `path` a tar archive (plain or gzip)?
fn is_archive(path: &std::path::Path) -> bool {
    let Ok(reader) = crate::image::layer::open_layer(path) else {
        return false;
    };
    let mut head = vec![0u8; 512];
    let mut reader = reader.take(512);
    let mut n = 0;
    while n < 512 {
        match reader.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n == 512 && &head[257..262] == b"ustar"
}

/// Works out every file, link and directory the instruction writes.
pub fn items(req: &CopyRequest) -> Result<Vec<Item>, CopyError> {
    let mut roots: Vec<String> = Vec::new();
    for source in &req.sources {
        let matches = files::resolve(req.files, source);
        if matches.is_empty() {
            return Err(CopyError::NotFound {
                instruction: req.instruction,
                source_path: source.clone(),
            });
        }
        roots.extend(matches);
    }
    let count = roots.len() + req.inline.len() + req.fetched.len();
    let dest_dir = req.dest.ends_with('/') || req.dest_is_dir;
    let single_file = count == 1
        && !dest_dir
        && match roots.first() {
            Some(r) => req.files.stat(r).is_some_and(|(_, m)| !m.is_dir()),
            None => true,
        };
    if count > 1 && !dest_dir {
        return Err(CopyError::NotADirectory {
            instruction: req.instruction,
        });
    }
    let dest = req.dest.trim_matches('/').to_string();
    let mut out: BTreeMap<String, Item> = BTreeMap::new();
    // Heredocs (0644) and downloads (0600, as Docker) are named files.
    let named = req
        .inline
        .iter()
        .map(|(name, data)| (name, ItemSource::Inline(data.clone().into_bytes()), 0o644))
        .chain(
            req.fetched
                .iter()
                .map(|(name, path)| (name, ItemSource::File(path.clone()), 0o600)),
        );
    for (name, source, mode) in named {
        let target = if single_file {
            dest.clone()
        } else {
            join(&dest, name)
        };
        out.insert(
            target.clone(),
            Item {
                target,
                source,
                mode: req.chmod.unwrap_or(mode),
                mtime: 0,
            },
        );
    }
    for root in roots {
        let Some((path, meta)) = req.files.stat(&root) else {
            continue;
        };
        if meta.is_dir() {
            walk(req, &root, &dest, &mut out);
            continue;
        }
        let target = if single_file {
            dest.clone()
        } else {
            join(&dest, base_name(&root))
        };
        if req.extract_archives && meta.is_file() && is_archive(&path) {
            out.insert(
                format!("{dest}/"),
                Item {
                    target: dest.clone(),
                    source: ItemSource::Archive(path),
                    mode: 0o755,
                    mtime: meta.mtime(),
                },
            );
            continue;
        }
        out.insert(target.clone(), item(req, target, path, &meta));
    }
    Ok(out.into_values().collect())
}

fn item(req: &CopyRequest, target: String, path: PathBuf, meta: &std::fs::Metadata) -> Item {
    let source = if meta.file_type().is_symlink() {
        ItemSource::Symlink(std::fs::read_link(&path).unwrap_or_default())
    } else if meta.is_dir() {
        ItemSource::Dir
    } else {
        ItemSource::File(path)
    };
    let mode = match (&source, req.chmod) {
        (ItemSource::Symlink(_), _) => 0o777,
        (_, Some(m)) => m,
        _ => meta.permissions().mode() & 0o7777,
    };
    Item {
        target,
        source,
        mode,
        mtime: meta.mtime(),
    }
}

/// The contents of directory `rel` go under `dest`.
fn walk(req: &CopyRequest, rel: &str, dest: &str, out: &mut BTreeMap<String, Item>) {
    for name in req.files.list(rel) {
        let child = join(rel, &name);
        let Some((path, meta)) = req.files.stat(&child) else {
            continue;
        };
        let target = join(dest, &name);
        out.insert(target.clone(), item(req, target.clone(), path, &meta));
        if meta.is_dir() {
            walk(req, &child, &target, out);
        }
    }
}

/// A digest of exactly what is copied: paths, kinds, modes and contents
/// (not mtimes: touching a file does not invalidate the cache).
pub fn content_digest(items: &[Item]) -> Result<Digest, CopyError> {
    let mut h = Hasher::new();
    for item in items {
        h.update(item.target.as_bytes());
        h.update(format!("\0{:o}\0", item.mode).as_bytes());
        match &item.source {
            ItemSource::Dir => h.update(b"dir"),
            ItemSource::Symlink(t) => h.update(format!("link:{}", t.display()).as_bytes()),
            ItemSource::Inline(data) => h.update(data),
            ItemSource::File(p) | ItemSource::Archive(p) => {
                h.update(b"file:");
                let mut f = std::fs::File::open(p).map_err(|source| CopyError::Read {
                    path: p.clone(),
                    source,
                })?;
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let n = f.read(&mut buf).map_err(|source| CopyError::Read {
                        path: p.clone(),
                        source,
                    })?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
            }
        }
        h.update(b"\n");
    }
    Ok(h.finish())
}

/// Every directory above the items that is not an item itself.
pub fn parent_dirs(items: &[Item]) -> Vec<String> {
    let targets: std::collections::BTreeSet<&str> =
        items.iter().map(|i| i.target.as_str()).collect();
    let mut dirs = std::collections::BTreeSet::new();
    for item in items {
        let mut p = item.target.as_str();
        while let Some((parent, _)) = p.rsplit_once('/') {
            if !targets.contains(parent) {
                dirs.insert(parent.to_string());
            }
            p = parent;
        }
        if matches!(item.source, ItemSource::Archive(_)) && !item.target.is_empty() {
            dirs.insert(item.target.clone());
        }
    }
    dirs.into_iter().collect()
}

/// A header for a directory entry.
pub fn dir_header(mode: u32, owner: (u32, u32), mtime: i64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(mode);
    h.set_uid(owner.0.into());
    h.set_gid(owner.1.into());
    h.set_mtime(mtime.max(0) as u64);
    h.set_size(0);
    h
}

/// Writes the items as a layer; `parent` gives the header of each parent
/// directory (its metadata in the image, or a new one).
pub fn write_layer(
    writer: &mut LayerWriter,
    items: &[Item],
    owner: (u32, u32),
    parent: &dyn Fn(&str) -> tar::Header,
) -> Result<(), CopyError> {
    let io = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| CopyError::Read { path, source }
    };
    let mut entries: Vec<(String, Option<&Item>)> =
        parent_dirs(items).into_iter().map(|d| (d, None)).collect();
    entries.extend(
        items
            .iter()
            .filter(|i| !matches!(i.source, ItemSource::Archive(_)))
            .map(|i| (i.target.clone(), Some(i))),
    );
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (target, item) in entries {
        let Some(item) = item else {
            let mut h = parent(&target);
            writer
                .append(&mut h, &format!("{target}/"), None, &mut std::io::empty())
                .map_err(io(std::path::Path::new(&target)))?;
            continue;
        };
        let mut h = tar::Header::new_ustar();
        h.set_uid(owner.0.into());
        h.set_gid(owner.1.into());
        h.set_mode(item.mode);
        h.set_mtime(item.mtime.max(0) as u64);
        match &item.source {
            ItemSource::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                writer
                    .append(&mut h, &format!("{target}/"), None, &mut std::io::empty())
                    .map_err(io(std::path::Path::new(&target)))?;
            }
            ItemSource::Symlink(link) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                writer
                    .append(&mut h, &target, Some(link), &mut std::io::empty())
                    .map_err(io(link))?;
            }
            ItemSource::Inline(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                writer
                    .append(&mut h, &target, None, &mut data.as_slice())
                    .map_err(io(std::path::Path::new(&target)))?;
            }
            ItemSource::File(path) => {
                let mut f = std::fs::File::open(path).map_err(io(path))?;
                let len = f.metadata().map_err(io(path))?.len();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(len);
                writer
                    .append(&mut h, &target, None, &mut (&mut f).take(len))
                    .map_err(io(path))?;
            }
            ItemSource::Archive(_) => {}
        }
    }
    for item in items {
        if let ItemSource::Archive(path) = &item.source {
            extract_into(writer, path, &item.target)?;
        }
    }
    Ok(())
}

/// ADD of a local archive: its entries, moved under `dest`.
fn extract_into(
    writer: &mut LayerWriter,
    path: &std::path::Path,
    dest: &str,
) -> Result<(), CopyError> {
    let err = |source| CopyError::Read {
        path: path.to_path_buf(),
        source,
    };
    let reader = crate::image::layer::open_layer(path).map_err(|e| CopyError::Read {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(err)? {
        let mut entry = entry.map_err(err)?;
        let name = entry.path().map_err(err)?.display().to_string();
        let cleaned = super::ignore::clean_path(name.trim_start_matches('/'));
        if cleaned == "." || cleaned.starts_with("..") {
            continue;
        }
        let target = join(dest, &cleaned);
        let mut header = entry.header().clone();
        let link = entry.link_name().map_err(err)?.map(|l| l.into_owned());
        let kind = header.entry_type();
        let target = if kind.is_dir() {
            format!("{target}/")
        } else {
            target
        };
        let link = match (kind, link) {
            (tar::EntryType::Link, Some(l)) => Some(PathBuf::from(join(
                dest,
                &super::ignore::clean_path(&l.display().to_string()),
            ))),
            (_, l) => l,
        };
        writer
            .append(&mut header, &target, link.as_deref(), &mut entry)
            .map_err(err)?;
    }
    Ok(())
}

/// `--chmod=755` (octal).
pub fn parse_chmod(text: &str) -> Option<u32> {
    u32::from_str_radix(text, 8).ok().filter(|m| *m <= 0o7777)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::files::ContextFiles;

    fn ctx() -> (tempfile::TempDir, ContextFiles) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/pkg")).unwrap();
        std::fs::write(root.join("src/app.py"), "print(1)").unwrap();
        std::fs::write(root.join("src/pkg/m.py"), "").unwrap();
        std::fs::write(root.join("requirements.txt"), "flask").unwrap();
        let files = ContextFiles::open(root, &root.join("Dockerfile")).unwrap();
        (dir, files)
    }

    fn req<'a>(files: &'a dyn Files, sources: &[&str], dest: &str) -> CopyRequest<'a> {
        CopyRequest {
            instruction: "COPY",
            files,
            sources: sources.iter().map(|s| s.to_string()).collect(),
            inline: Vec::new(),
            fetched: Vec::new(),
            dest: dest.into(),
            dest_is_dir: false,
            chmod: None,
            extract_archives: false,
        }
    }

    fn targets(items: &[Item]) -> Vec<&str> {
        items.iter().map(|i| i.target.as_str()).collect()
    }

    #[test]
    fn docker_copy_rules() {
        let (_d, files) = ctx();
        let one = items(&req(&files, &["requirements.txt"], "/app/req.txt")).unwrap();
        assert_eq!(targets(&one), ["app/req.txt"]);
        let into = items(&req(&files, &["requirements.txt"], "/app/")).unwrap();
        assert_eq!(targets(&into), ["app/requirements.txt"]);
        let dir = items(&req(&files, &["src"], "/app")).unwrap();
        assert_eq!(targets(&dir), ["app/app.py", "app/pkg", "app/pkg/m.py"]);
        assert_eq!(parent_dirs(&dir), ["app"]);
        let err = items(&req(&files, &["src/app.py", "requirements.txt"], "/app")).unwrap_err();
        assert!(err.to_string().contains("must be a directory"), "{err}");
        let err = items(&req(&files, &["nope.txt"], "/app/")).unwrap_err();
        assert!(err.to_string().contains("stat nope.txt"), "{err}");
        let glob = items(&req(&files, &["src/*.py"], "/app/")).unwrap();
        assert_eq!(targets(&glob), ["app/app.py"]);
    }

    #[test]
    fn digest_follows_content_not_mtime() {
        let (d, files) = ctx();
        let a = content_digest(&items(&req(&files, &["."], "/app/")).unwrap()).unwrap();
        std::fs::write(d.path().join("src/app.py"), "print(1)").unwrap();
        let b = content_digest(&items(&req(&files, &["."], "/app/")).unwrap()).unwrap();
        assert_eq!(a, b);
        std::fs::write(d.path().join("src/app.py"), "print(2)").unwrap();
        let c = content_digest(&items(&req(&files, &["."], "/app/")).unwrap()).unwrap();
        assert_ne!(a, c);
        assert_eq!(parse_chmod("755"), Some(0o755));
        assert_eq!(parse_chmod("9"), None);
    }
}
