//! devbox: a rootless, daemonless container tool for Python developers.
//!
//! Data flows left to right (see `../shared/DESIGN.md` and `STYLE.md`):
//! `cli` → `commands` → { `image` | `build` | `compose` | `python` | `runtime` | `net` | `fs` | `store` } → `sys`.
//! Only `sys` contains `unsafe` code and raw syscalls.

pub mod build;
pub mod cli;
pub mod commands;
pub mod compose;
pub mod context;
pub mod doctor;
pub mod env_vars;
pub mod fs;
pub mod image;
pub mod net;
pub mod paths;
pub mod python;
pub mod runtime;
pub mod spec;
pub mod store;
pub mod sys;
pub mod ui;

#[cfg(test)]
mod fuzz;
