//! devbox's integration tests: one test binary (faster linking), a module per area.
//! Every test runs the real binary as an unprivileged user; see `support` for the harness.

mod support;

mod cli;
mod harness;
mod registry;
mod run;
