//! The Python workflow: project detection (pure) and templates.

pub mod app;
pub mod deps;
pub mod detect;
pub mod files;
pub mod testing;
pub mod version;

pub mod render;
pub use detect::{detect, Project, Service};
pub mod init;
