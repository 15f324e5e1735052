//! Pure domain values shared by subsystems: the grammars of `-v`, `-e`,
//! `-u`, ids and names, and the rules that merge an image config with the
//! command line. No I/O here.

pub mod container;
pub mod env;
pub mod filter;
pub mod health;
pub mod ids;
pub mod mount;
pub mod port;
pub mod restart;
pub mod seccomp;
pub mod security;
pub mod user;
