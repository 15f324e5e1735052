//! Unpacking a layer tar into a directory of the store: OCI whiteouts become
//! overlayfs whiteouts, owners are kept (this runs inside the user
//! namespace, so they land on the mapped ids), nothing is written outside
//! the destination.

use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

use crate::fs::whiteout::{self, Whiteout};
use crate::image::digest::Hasher;
use crate::image::Digest;
use crate::sys;

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("cannot read layer {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("layer entry `{entry}`: {source}")]
    Entry {
        entry: String,
        #[source]
        source: std::io::Error,
    },
    #[error("layer entry `{entry}`: {reason}")]
    Hostile { entry: String, reason: String },
    #[error("layer {path}: {source}")]
    DiffId {
        path: PathBuf,
        #[source]
        source: crate::image::digest::DigestError,
    },
    #[error("layer entry `{entry}`: {source}")]
    Sys {
        entry: String,
        #[source]
        source: sys::SysError,
    },
}

/// What unpacking skipped, for a warning.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UnpackReport {
    pub entries: u64,
    pub skipped_devices: u64,
}

/// Opens a layer blob, transparently decompressing gzip and zstd.
pub fn open_layer(path: &Path) -> Result<Box<dyn Read + Send>, LayerError> {
    let read_err = |source| LayerError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = BufReader::new(std::fs::File::open(path).map_err(read_err)?);
    let magic = {
        use std::io::BufRead;
        file.fill_buf()
            .map_err(read_err)?
            .get(..4)
            .map(<[u8]>::to_vec)
            .unwrap_or_default()
    };
    if magic.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(file)))
    } else if magic == ZSTD_MAGIC {
        Ok(Box::new(
            zstd::stream::read::Decoder::with_buffer(file).map_err(read_err)?,
        ))
    } else {
        Ok(Box::new(file))
    }
}

/// The first bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Unpacks `tar` into `dest` (which must exist). Without `owners`, every file belongs to the
/// unpacking user (a user namespace that maps one id cannot give files other owners). With
/// `diff_id`, the uncompressed stream must have that digest (the image config's promise),
/// or the unpack fails and the caller discards `dest`.
pub fn unpack(
    tar: &Path,
    dest: &Path,
    userxattr: bool,
    owners: bool,
    diff_id: Option<&Digest>,
) -> Result<UnpackReport, LayerError> {
    let mut archive = tar::Archive::new(ReadAhead::spawn(open_layer(tar)?));
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(owners);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(true);
    archive.set_overwrite(true);
    let mut report = UnpackReport::default();
    let entries = archive.entries().map_err(|source| LayerError::Read {
        path: tar.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let mut entry = entry.map_err(|source| LayerError::Read {
            path: tar.to_path_buf(),
            source,
        })?;
        report.entries += 1;
        let path = entry
            .path()
            .map_err(|source| LayerError::Entry {
                entry: "?".into(),
                source,
            })?
            .into_owned();
        let name = path.display().to_string();
        let relative = contained(&path).ok_or_else(|| LayerError::Hostile {
            entry: name.clone(),
            reason: "the path leaves the layer".into(),
        })?;
        let file_name = relative.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(wh) = whiteout::classify(file_name) {
            let parent = dest.join(relative.parent().unwrap_or(Path::new("")));
            ensure_dir_inside(dest, &parent, &name)?;
            match wh {
                Whiteout::Opaque => {
                    sys::fs::set_xattr(&parent, whiteout::opaque_xattr(userxattr), b"y").map_err(
                        |source| LayerError::Sys {
                            entry: name,
                            source,
                        },
                    )?
                }
                // `.wh..` and `.wh...` would name the directory itself or
                // its parent: `.wh...` at the top deletes outside the layer.
                Whiteout::File("." | "..") => {
                    return Err(LayerError::Hostile {
                        entry: name,
                        reason: "a whiteout names `.` or `..`".into(),
                    })
                }
                Whiteout::File(hidden) => {
                    let target = parent.join(hidden);
                    let _ =
                        std::fs::remove_file(&target).or_else(|_| std::fs::remove_dir_all(&target));
                    sys::fs::make_whiteout(&target).map_err(|source| LayerError::Sys {
                        entry: name,
                        source,
                    })?;
                }
            }
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_character_special() || kind.is_block_special() {
            // Device nodes cannot be created in a user namespace (Docker's
            // rootless mode skips them too).
            report.skipped_devices += 1;
            continue;
        }
        // tar's unpack_in refuses `..` and checks that the parent directory,
        // symlinks resolved, is still inside `dest`.
        match entry.unpack_in(dest) {
            Ok(true) => {}
            Ok(false) => {
                return Err(LayerError::Hostile {
                    entry: name,
                    reason: "the path leaves the layer".into(),
                })
            }
            Err(source) => {
                return Err(LayerError::Entry {
                    entry: name,
                    source: with_causes(source),
                })
            }
        }
    }
    if let Some(expected) = diff_id {
        // The tar ends with zero blocks tar stops at: hash those too.
        let actual = archive
            .into_inner()
            .finish()
            .map_err(|source| LayerError::Read {
                path: tar.to_path_buf(),
                source,
            })?;
        if &actual != expected {
            return Err(LayerError::DiffId {
                path: tar.to_path_buf(),
                source: crate::image::digest::DigestError::Mismatch {
                    expected: expected.clone(),
                    actual,
                },
            });
        }
    }
    Ok(report)
}

/// Decompresses and hashes a layer on a thread of its own, a few MiB ahead
/// of the tar unpacker, so that the two use two cores (a single thread
/// doing both is what made pulls slow on a busy machine).
struct ReadAhead {
    chunks: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    current: Vec<u8>,
    pos: usize,
    worker: std::thread::JoinHandle<Digest>,
}

impl ReadAhead {
    const CHUNK: usize = 256 << 10;

    fn spawn(mut source: Box<dyn Read + Send>) -> ReadAhead {
        let (sender, chunks) = std::sync::mpsc::sync_channel(16);
        let worker = std::thread::spawn(move || {
            let mut hasher = Hasher::new();
            loop {
                let mut chunk = vec![0u8; Self::CHUNK];
                let n = match read_up_to(&mut source, &mut chunk) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        let _ = sender.send(Err(e));
                        break;
                    }
                };
                chunk.truncate(n);
                hasher.update(&chunk);
                // The reader stopped listening (an error): nothing left to do.
                if sender.send(Ok(chunk)).is_err() {
                    break;
                }
            }
            hasher.finish()
        });
        ReadAhead {
            chunks,
            current: Vec::new(),
            pos: 0,
            worker,
        }
    }

    /// Reads the rest and returns the digest of the whole stream.
    fn finish(mut self) -> std::io::Result<Digest> {
        std::io::copy(&mut self, &mut std::io::sink())?;
        drop(self.chunks);
        self.worker
            .join()
            .map_err(|_| std::io::Error::other("the layer reader thread panicked"))
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.current.len() {
            match self.chunks.recv() {
                Ok(Ok(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Fills `buf` as far as the source allows; 0 only at the end.
fn read_up_to(source: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// tar's errors keep the cause (e.g. `Permission denied`) out of their
/// text; the helper reports text only, so fold it in.
fn with_causes(error: std::io::Error) -> std::io::Error {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    std::io::Error::new(error.kind(), text)
}

/// The entry's path as a relative path without `..`, or None if it would
/// leave the layer.
fn contained(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Creates `dir` (below `dest`), refusing to go through symlinks.
fn ensure_dir_inside(dest: &Path, dir: &Path, entry: &str) -> Result<(), LayerError> {
    let rel = dir.strip_prefix(dest).unwrap_or(Path::new(""));
    let mut cur = dest.to_path_buf();
    for c in rel.components() {
        cur.push(c);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(LayerError::Hostile {
                    entry: entry.into(),
                    reason: "a whiteout goes through a symlink".into(),
                })
            }
            Ok(_) => {}
            Err(_) => std::fs::create_dir(&cur).map_err(|source| LayerError::Entry {
                entry: entry.into(),
                source,
            })?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(names: &[&str]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for name in names {
            let mut header = tar::Header::new_gnu();
            header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            header.set_size(0);
            header.set_mode(0o644);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            builder.append(&header, std::io::empty()).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn whiteouts_of_dot_and_dotdot_are_refused() {
        for hostile in [".wh...", "a/.wh..", "a/.wh..."] {
            let dir = tempfile::tempdir().unwrap();
            let tar = dir.path().join("layer.tar");
            std::fs::write(&tar, tar_of(&["a/keep", hostile])).unwrap();
            let diff = dir.path().join("layer/diff");
            std::fs::create_dir_all(&diff).unwrap();
            let err = unpack(&tar, &diff, true, true, None).unwrap_err();
            assert!(
                matches!(err, LayerError::Hostile { .. }),
                "{hostile}: {err}"
            );
            assert!(diff.join("a/keep").is_file(), "{hostile} deleted the layer");
        }
    }

    #[test]
    fn read_ahead_passes_every_byte_and_hashes_them() {
        let data: Vec<u8> = (0..700_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut reader = ReadAhead::spawn(Box::new(std::io::Cursor::new(data.clone())));
        let mut head = vec![0u8; 1000];
        reader.read_exact(&mut head).unwrap();
        assert_eq!(head, data[..1000]);
        assert_eq!(reader.finish().unwrap(), Digest::of(&data));
    }

    #[test]
    fn containment() {
        assert_eq!(contained(Path::new("./a/b")), Some(PathBuf::from("a/b")));
        assert_eq!(
            contained(Path::new("/etc/passwd")),
            Some(PathBuf::from("etc/passwd"))
        );
        assert_eq!(contained(Path::new("a/../../b")), None);
    }
}
