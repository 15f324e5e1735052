//! The kernel overlay driver: its mount options, and a probe for `doctor`
//! and storage-driver detection.

use std::path::Path;

use crate::sys::{self, mount::Flags};

/// Inside fresh user+mount namespaces: mounts a tiny overlay under `dir`
/// (which holds lower/, upper/, work/, merged/) and checks a file shows
/// through.
pub fn probe_mount(dir: &Path, userxattr: bool) -> Result<(), String> {
    sys::mount::make_rprivate().map_err(|e| e.to_string())?;
    let mut data = format!(
        "lowerdir={},upperdir={},workdir={}",
        dir.join("lower").display(),
        dir.join("upper").display(),
        dir.join("work").display()
    );
    if userxattr {
        data.push_str(",userxattr");
    }
    let merged = dir.join("merged");
    sys::mount::mount("overlay", &merged, "overlay", Flags::empty(), Some(&data))
        .map_err(|e| e.to_string())?;
    if !merged.join("probe").exists() {
        return Err("the lower layer is not visible through the overlay".into());
    }
    std::fs::write(merged.join("written"), b"x")
        .map_err(|e| format!("cannot write through the overlay: {e}"))?;
    Ok(())
}
