//! Storage: how container root filesystems are made, and path confinement.

pub mod confine;
pub mod copy;
pub mod driver;
pub mod fuse;
pub mod overlay;
pub mod shift;
pub mod vfs;
pub mod whiteout;
