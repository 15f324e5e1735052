//! devbox's integration tests: one test binary (faster linking), a module per area.
//! Every test runs the real binary as an unprivileged user; see `support` for the harness.

mod support;

mod build;
mod cli;
mod compose;
mod confine;
mod harness;
mod images;
mod lifecycle;
mod networks;
mod overlay;
mod ports;
mod python;
mod registry;
mod run;
mod system;
mod volumes;
