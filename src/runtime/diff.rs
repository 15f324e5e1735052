//! `diff`: what a container changed, read from its upper directory against
//! the image's layers (overlayfs's format: a deletion is a 0/0 character
//! device).

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Docker's kinds: `A` added, `C` changed, `D` deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Changed,
    Deleted,
}

impl Change {
    pub fn letter(self) -> char {
        match self {
            Change::Added => 'A',
            Change::Changed => 'C',
            Change::Deleted => 'D',
        }
    }
}

/// Mount points the runtime itself creates in the upper directory; not the
/// container's changes (Docker leaves them out too).
const RUNTIME_MOUNT_POINTS: &[&str] = &[
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/proc",
    "/sys",
    "/dev",
];

/// Every path under `upper`, sorted, with its kind: deleted if it is a
/// whiteout, changed if some lower dir has it, else added.
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> Vec<(String, Change)> {
    let mut out = Vec::new();
    walk(upper, upper, lowers, &mut out);
    out.retain(|(path, change)| {
        *change != Change::Added || !RUNTIME_MOUNT_POINTS.contains(&path.as_str())
    });
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn walk(root: &Path, dir: &Path, lowers: &[PathBuf], out: &mut Vec<(String, Change)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let whiteout = meta.file_type().is_char_device() && meta.rdev() == 0;
        let in_lower = lowers
            .iter()
            .any(|l| std::fs::symlink_metadata(l.join(rel)).is_ok());
        let kind = match (whiteout, in_lower) {
            (true, _) => Change::Deleted,
            (false, true) => Change::Changed,
            (false, false) => Change::Added,
        };
        out.push((format!("/{}", rel.display()), kind));
        if meta.is_dir() {
            walk(root, &path, lowers, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_changed_and_nested() {
        let dir = tempfile::tempdir().unwrap();
        let lower = dir.path().join("lower");
        let upper = dir.path().join("upper");
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::write(lower.join("etc/passwd"), "").unwrap();
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::write(upper.join("etc/passwd"), "x").unwrap();
        std::fs::write(upper.join("etc/new"), "x").unwrap();
        std::fs::create_dir_all(upper.join("data")).unwrap();
        std::fs::write(upper.join("etc/hosts"), "").unwrap();
        let got: Vec<String> = changes(&upper, &[lower])
            .into_iter()
            .map(|(p, c)| format!("{} {p}", c.letter()))
            .collect();
        assert_eq!(got, ["A /data", "C /etc", "A /etc/new", "C /etc/passwd"]);
    }
}
