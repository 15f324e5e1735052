//! Storage: how container root filesystems are made, and path confinement.

pub mod confine;
pub mod overlay;
pub mod whiteout;
