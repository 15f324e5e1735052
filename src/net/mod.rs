//! Container networking: generated /etc files, slirp4netns.

pub mod dns;
pub mod etc_files;
pub mod holder;
pub mod portproxy;
pub mod resolver;
pub mod slirp;
pub mod subnet;
