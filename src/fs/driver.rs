//! Storage drivers: how a container's root filesystem is made from the
//! image layers and its own writable layer.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Driver {
    /// The kernel's overlayfs, mounted inside the user namespace.
    Overlay,
    /// devbox's own FUSE overlay filesystem.
    FuseOverlayfs,
    /// A plain copy of the layers per container.
    Vfs,
}

impl Driver {
    pub fn name(self) -> &'static str {
        match self {
            Driver::Overlay => "overlay",
            Driver::FuseOverlayfs => "fuse-overlayfs",
            Driver::Vfs => "vfs",
        }
    }

    pub fn parse(name: &str) -> Option<Driver> {
        [Driver::Overlay, Driver::FuseOverlayfs, Driver::Vfs]
            .into_iter()
            .find(|d| d.name() == name)
    }
}

impl std::fmt::Display for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in [Driver::Overlay, Driver::FuseOverlayfs, Driver::Vfs] {
            assert_eq!(Driver::parse(d.name()), Some(d));
        }
        assert_eq!(Driver::parse("btrfs"), None);
    }
}
