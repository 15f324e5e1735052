//! OCI whiteout naming (pure), shared by layer unpacking, the FUSE overlay
//! and commit: `.wh.NAME` deletes NAME from lower layers, `.wh..wh..opq`
//! makes its directory opaque.

pub const PREFIX: &str = ".wh.";
pub const OPAQUE: &str = ".wh..wh..opq";

#[derive(Debug, PartialEq, Eq)]
pub enum Whiteout<'a> {
    /// The directory holding this entry hides everything below it.
    Opaque,
    /// The named sibling is deleted.
    File(&'a str),
}

/// Classifies a tar entry's file name.
pub fn classify(file_name: &str) -> Option<Whiteout<'_>> {
    if file_name == OPAQUE {
        return Some(Whiteout::Opaque);
    }
    file_name
        .strip_prefix(PREFIX)
        .filter(|n| !n.is_empty())
        .map(Whiteout::File)
}

/// The xattr overlayfs reads for an opaque directory.
pub fn opaque_xattr(userxattr: bool) -> &'static str {
    if userxattr {
        "user.overlay.opaque"
    } else {
        "trusted.overlay.opaque"
    }
}

/// Whether an xattr is the overlay's own (`user.overlay.*`,
/// `trusted.overlay.*`): never copied, hidden from containers.
pub fn is_overlay_xattr(name: &std::ffi::OsStr) -> bool {
    let name = name.as_encoded_bytes();
    name.starts_with(b"user.overlay.") || name.starts_with(b"trusted.overlay.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_names() {
        assert_eq!(classify(".wh..wh..opq"), Some(Whiteout::Opaque));
        assert_eq!(classify(".wh.foo"), Some(Whiteout::File("foo")));
        assert_eq!(classify(".wh."), None);
        assert_eq!(classify("foo"), None);
        assert_eq!(opaque_xattr(true), "user.overlay.opaque");
        use std::ffi::OsStr;
        assert!(is_overlay_xattr(OsStr::new("user.overlay.opaque")));
        assert!(is_overlay_xattr(OsStr::new("trusted.overlay.origin")));
        assert!(!is_overlay_xattr(OsStr::new("user.mime_type")));
    }
}
