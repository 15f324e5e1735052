//! `devbox doctor`: each check probes one prerequisite of rootless
//! containers and knows its fix. Integration tests skip with the same
//! probes' reasons (through `devbox doctor --format json`).

pub mod checks;
