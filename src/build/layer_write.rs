//! Writing OCI layer tars: one pass produces the gzip blob and, on the way,
//! the diff id (sha256 of the uncompressed tar) and the blob digest.
//!
//! [`pack_upper`] turns an overlay upper directory (a RUN container's, or
//! `devbox commit`'s) into a layer: 0/0 character devices become `.wh.NAME`,
//! opaque directories get `.wh..wh..opq`. Entries are sorted and keep their
//! mtimes, so the same tree gives the same diff id. It runs inside the user
//! namespace (`devbox __pack`) so it reads files of any mapped owner and sees
//! the owners as the container does.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fs::whiteout;
use crate::image::digest::Hasher;
use crate::image::Digest;

/// A finished layer blob on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerBlob {
    /// The gzip file (to be moved into the blob store).
    pub path: PathBuf,
    pub diff_id: Digest,
    pub digest: Digest,
    pub size: u64,
    /// Entries written; 0 means an empty diff (no layer, like BuildKit).
    pub entries: u64,
}

/// Hashes the uncompressed stream, gzips it, hashes the compressed one.
pub struct Sink {
    diff: Hasher,
    gz: flate2::write::GzEncoder<HashingFile>,
}

pub struct HashingFile {
    file: std::fs::File,
    hasher: Hasher,
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.gz.write(buf)?;
        self.diff.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.gz.flush()
    }
}

/// A layer tar being written.
pub struct LayerWriter {
    pub tar: tar::Builder<Sink>,
    path: PathBuf,
    pub entries: u64,
}

impl LayerWriter {
    pub fn create(path: &Path) -> std::io::Result<LayerWriter> {
        let file = std::fs::File::create(path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let sink = Sink {
            diff: Hasher::new(),
            // Fast compression: builds are about turnaround time.
            gz: flate2::write::GzEncoder::new(
                HashingFile {
                    file,
                    hasher: Hasher::new(),
                },
                flate2::Compression::fast(),
            ),
        };
        let mut tar = tar::Builder::new(sink);
        tar.follow_symlinks(false);
        Ok(LayerWriter {
            tar,
            path: path.to_path_buf(),
            entries: 0,
        })
    }

    /// Appends an entry: `data` for regular files, `link` for symlinks and
    /// hard links (set the header's type first).
    pub fn append(
        &mut self,
        header: &mut tar::Header,
        path: &str,
        link: Option<&Path>,
        data: &mut dyn std::io::Read,
    ) -> std::io::Result<()> {
        self.entries += 1;
        match link {
            Some(target) => self.tar.append_link(header, path, target),
            None => self.tar.append_data(header, path, data),
        }
    }

    pub fn finish(self) -> std::io::Result<LayerBlob> {
        let sink = self.tar.into_inner()?;
        let diff_id = sink.diff.finish();
        let file = sink.gz.finish()?;
        file.file.sync_all()?;
        let size = file.hasher.bytes;
        Ok(LayerBlob {
            path: self.path,
            diff_id,
            digest: file.hasher.finish(),
            size,
            entries: self.entries,
        })
    }
}

/// A header from a file's metadata (owners as stat shows them).
pub fn header_from(meta: &std::fs::Metadata) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
    header
}

fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// One entry of an upper dir, collected before writing.
struct Entry {
    rel: String,
    meta: std::fs::Metadata,
}

/// Collects the tree under `root` (sorted, depth-first, parents first).
fn collect(root: &Path, rel: &str, out: &mut Vec<Entry>) -> std::io::Result<()> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let meta = std::fs::symlink_metadata(root.join(&child))?;
        let is_dir = meta.is_dir();
        out.push(Entry {
            rel: child.clone(),
            meta,
        });
        if is_dir {
            collect(root, &child, out)?;
        }
    }
    Ok(())
}

/// Drops mount stubs: `stubs` (relative paths such as `etc/hosts` or a
/// cache mount's target) that are empty files or directories, and their
/// parent directories when nothing else is left in them. They are removed
/// from disk too, so the upper dir can become the unpacked layer as is.
fn drop_stubs(root: &Path, entries: Vec<Entry>, stubs: &[String]) -> Vec<Entry> {
    let stubs: BTreeSet<&str> = stubs.iter().map(|s| s.trim_matches('/')).collect();
    let mut ancestors: BTreeSet<String> = BTreeSet::new();
    for stub in &stubs {
        let mut p = *stub;
        while let Some((parent, _)) = p.rsplit_once('/') {
            ancestors.insert(parent.to_string());
            p = parent;
        }
    }
    let empty_dir =
        |rel: &str| std::fs::read_dir(root.join(rel)).is_ok_and(|mut d| d.next().is_none());
    let mut dropped: BTreeSet<String> = BTreeSet::new();
    for e in &entries {
        let is_stub = stubs.contains(e.rel.as_str())
            && ((e.meta.is_file() && e.meta.len() == 0) || (e.meta.is_dir() && empty_dir(&e.rel)));
        if is_stub {
            dropped.insert(e.rel.clone());
        }
    }
    // Parents (deepest first) left with nothing but dropped stubs.
    let mut candidates: Vec<&String> = ancestors.iter().collect();
    candidates.sort_by_key(|a| std::cmp::Reverse(a.matches('/').count()));
    for dir in candidates {
        let prefix = format!("{dir}/");
        let has_dir = entries.iter().any(|e| e.rel == *dir && e.meta.is_dir());
        let others = entries
            .iter()
            .any(|e| e.rel.starts_with(&prefix) && !dropped.contains(&e.rel));
        if has_dir && !others {
            dropped.insert(dir.clone());
        }
    }
    for rel in dropped.iter().rev() {
        let path = root.join(rel);
        let _ = std::fs::remove_dir(&path).or_else(|_| std::fs::remove_file(&path));
    }
    entries
        .into_iter()
        .filter(|e| !dropped.contains(&e.rel))
        .collect()
}

/// Writes the overlay upper dir `upper` as a layer to `out`.
pub fn pack_upper(
    upper: &Path,
    out: &Path,
    stubs: &[String],
    userxattr: bool,
) -> std::io::Result<LayerBlob> {
    let mut entries = Vec::new();
    collect(upper, "", &mut entries)?;
    let entries = drop_stubs(upper, entries, stubs);
    let mut writer = LayerWriter::create(out)?;
    let mut links: HashMap<(u64, u64), String> = HashMap::new();
    for e in entries {
        let path = upper.join(&e.rel);
        let meta = &e.meta;
        let (parent, name) = match e.rel.rsplit_once('/') {
            Some((p, n)) => (format!("{p}/"), n),
            None => (String::new(), e.rel.as_str()),
        };
        if is_whiteout(meta) {
            let mut header = tar::Header::new_ustar();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(0);
            header.set_mode(0o600);
            header.set_mtime(meta.mtime().max(0) as u64);
            let wh = format!("{parent}{}{name}", whiteout::PREFIX);
            writer.append(&mut header, &wh, None, &mut std::io::empty())?;
            continue;
        }
        let ft = meta.file_type();
        let mut header = header_from(meta);
        if ft.is_dir() {
            writer.append(
                &mut header,
                &format!("{}/", e.rel),
                None,
                &mut std::io::empty(),
            )?;
            let opaque = [whiteout::opaque_xattr(userxattr)]
                .into_iter()
                .any(|x| crate::sys::fs::get_xattr(&path, x.as_bytes()).is_ok_and(|v| v == b"y"));
            if opaque {
                let mut wh = tar::Header::new_ustar();
                wh.set_entry_type(tar::EntryType::Regular);
                wh.set_size(0);
                wh.set_mode(0o600);
                wh.set_mtime(meta.mtime().max(0) as u64);
                let name = format!("{}/{}", e.rel, whiteout::OPAQUE);
                writer.append(&mut wh, &name, None, &mut std::io::empty())?;
            }
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&path)?;
            writer.append(&mut header, &e.rel, Some(&target), &mut std::io::empty())?;
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                let key = (meta.dev(), meta.ino());
                if let Some(first) = links.get(&key) {
                    header.set_entry_type(tar::EntryType::Link);
                    header.set_size(0);
                    let first = PathBuf::from(first);
                    writer.append(&mut header, &e.rel, Some(&first), &mut std::io::empty())?;
                    continue;
                }
                links.insert(key, e.rel.clone());
            }
            let mut file = std::fs::File::open(&path).map_err(|err| {
                std::io::Error::new(err.kind(), format!("{}: {err}", path.display()))
            })?;
            writer.append(&mut header, &e.rel, None, &mut file)?;
        } else if ft.is_fifo() {
            header.set_size(0);
            writer.append(&mut header, &e.rel, None, &mut std::io::empty())?;
        }
        // Sockets and device nodes are not layer content (Docker skips
        // sockets; devices cannot be made in a user namespace).
    }
    writer.finish()
}

/// What `devbox __pack` reports back through its output file.
#[derive(Debug, Serialize, Deserialize)]
pub struct PackReport {
    pub blob: LayerBlob,
}

/// Runs inside the user namespace: packs `upper` into `out_dir/layer.tar.gz`
/// and writes `out_dir/layer.json`.
pub fn pack_role(
    upper: &Path,
    out_dir: &Path,
    stubs: &[String],
    userxattr: bool,
) -> Result<(), String> {
    let blob = pack_upper(upper, &out_dir.join("layer.tar.gz"), stubs, userxattr)
        .map_err(|e| format!("cannot write the layer of {}: {e}", upper.display()))?;
    let json = serde_json::to_vec(&PackReport { blob }).map_err(|e| e.to_string())?;
    std::fs::write(out_dir.join("layer.json"), json).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(blob: &LayerBlob) -> Vec<String> {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(
            std::fs::File::open(&blob.path).unwrap(),
        ));
        archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn packs_sorted_and_deterministic_without_stubs() {
        let dir = tempfile::tempdir().unwrap();
        let upper = dir.path().join("upper");
        std::fs::create_dir_all(upper.join("app/sub")).unwrap();
        std::fs::write(upper.join("app/b.py"), "b").unwrap();
        std::fs::write(upper.join("app/a.py"), "a").unwrap();
        std::fs::hard_link(upper.join("app/a.py"), upper.join("app/sub/a2.py")).unwrap();
        std::os::unix::fs::symlink("a.py", upper.join("app/link")).unwrap();
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::write(upper.join("etc/hosts"), "").unwrap();
        std::fs::create_dir_all(upper.join("root/.cache/pip")).unwrap();
        let stubs = vec!["etc/hosts".to_string(), "root/.cache/pip".to_string()];
        let one = pack_upper(&upper, &dir.path().join("1.tgz"), &stubs, true).unwrap();
        assert_eq!(
            list(&one),
            [
                "app/",
                "app/a.py",
                "app/b.py",
                "app/link",
                "app/sub/",
                "app/sub/a2.py"
            ]
        );
        assert!(!upper.join("etc").exists() && !upper.join("root").exists());
        let two = pack_upper(&upper, &dir.path().join("2.tgz"), &stubs, true).unwrap();
        assert_eq!(one.diff_id, two.diff_id);
        assert_eq!(one.digest, two.digest);
    }

    #[test]
    fn empty_upper_is_an_empty_diff() {
        let dir = tempfile::tempdir().unwrap();
        let upper = dir.path().join("upper");
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::write(upper.join("etc/resolv.conf"), "").unwrap();
        let blob = pack_upper(
            &upper,
            &dir.path().join("l.tgz"),
            &["etc/resolv.conf".into()],
            true,
        )
        .unwrap();
        assert_eq!(blob.entries, 0);
    }
}
