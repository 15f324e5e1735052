//! Container networking: generated /etc files, slirp4netns.

pub mod etc_files;
pub mod portproxy;
pub mod slirp;
