//! The `vfs` driver: the container's root is a plain copy of the image
//! layers (applied bottom-up, whiteouts and opaque directories honoured),
//! made once per container inside its user namespace so owners are kept.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::copy::{self, CopyError};
use crate::sys;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CopyError + '_ {
    move |source| CopyError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn remove_any(path: &Path) -> Result<(), CopyError> {
    match std::fs::symlink_metadata(path) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path).map_err(io(path)),
        Ok(_) => std::fs::remove_file(path).map_err(io(path)),
    }
}

/// Applies `lowers` (top first) onto `dest`, bottom layer first.
pub fn populate(
    lowers: &[std::path::PathBuf],
    dest: &Path,
    opaque_xattr: &str,
) -> Result<(), CopyError> {
    for layer in lowers.iter().rev() {
        apply_layer(layer, dest, opaque_xattr)?;
    }
    Ok(())
}

fn apply_layer(src: &Path, dest: &Path, opaque_xattr: &str) -> Result<(), CopyError> {
    for entry in std::fs::read_dir(src).map_err(io(src))? {
        let entry = entry.map_err(io(src))?;
        let from = entry.path();
        let to = dest.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&from).map_err(io(&from))?;
        if meta.file_type().is_char_device() && meta.rdev() == 0 {
            remove_any(&to)?;
            continue;
        }
        if meta.is_dir() {
            let opaque =
                sys::fs::get_xattr(&from, opaque_xattr.as_bytes()).is_ok_and(|v| v == b"y");
            match std::fs::symlink_metadata(&to) {
                Ok(m) if m.is_dir() && !opaque => {}
                Ok(_) => {
                    remove_any(&to)?;
                    std::fs::create_dir(&to).map_err(io(&to))?;
                }
                Err(_) => std::fs::create_dir(&to).map_err(io(&to))?,
            }
            apply_layer(&from, &to, opaque_xattr)?;
            copy::copy_metadata(&from, &to, &meta)?;
        } else {
            remove_any(&to)?;
            copy::copy_entry(&from, &to, &meta, true)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_layers_win_and_whiteouts_delete() {
        let t = tempfile::tempdir().unwrap();
        let (low, up, dest) = (
            t.path().join("low"),
            t.path().join("up"),
            t.path().join("dest"),
        );
        for d in [&low, &up, &dest] {
            std::fs::create_dir_all(d.join("etc")).unwrap();
        }
        std::fs::write(low.join("etc/a"), "low").unwrap();
        std::fs::write(low.join("etc/gone"), "x").unwrap();
        std::fs::write(up.join("etc/a"), "up").unwrap();
        sys::fs::make_whiteout(&up.join("etc/gone")).unwrap();
        populate(&[up.clone(), low.clone()], &dest, "user.overlay.opaque").unwrap();
        assert_eq!(std::fs::read_to_string(dest.join("etc/a")).unwrap(), "up");
        assert!(!dest.join("etc/gone").exists());
    }
}
