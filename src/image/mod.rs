//! Images: references, digests, OCI types, layers.

pub mod archive;
pub mod bootstrap;
pub mod change;
pub mod credentials;
pub mod digest;
pub mod import;
pub mod layer;
pub mod oci;
pub mod reference;
pub mod registry;

pub use digest::Digest;
pub use reference::Reference;
