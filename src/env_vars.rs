//! Every environment variable devbox reads, in one place (feeds the book's
//! environment reference).

/// Overrides the store location, like the global `--root` flag.
pub const DEVBOX_ROOT: &str = "DEVBOX_ROOT";
/// Overrides the runtime-state location, like the global `--runroot` flag.
pub const DEVBOX_RUNROOT: &str = "DEVBOX_RUNROOT";
/// Chooses the storage driver, like the global `--storage-driver` flag.
pub const DEVBOX_STORAGE_DRIVER: &str = "DEVBOX_STORAGE_DRIVER";
/// Set to any value to hide progress bars (tests set it for stable output).
pub const DEVBOX_NO_PROGRESS: &str = "DEVBOX_NO_PROGRESS";
/// Respected as the usual convention: no colours in output.
pub const NO_COLOR: &str = "NO_COLOR";
/// Compose profiles to enable, comma-separated (as `--profile` does).
pub const COMPOSE_PROFILES: &str = "COMPOSE_PROFILES";
/// XDG base directories (read through the `dirs` crate and directly).
pub const XDG_RUNTIME_DIR: &str = "XDG_RUNTIME_DIR";
/// Used by integration tests: a comma-separated list of capabilities
/// (`userns,newuidmap,slirp4netns,fuse,...`) that must not be skipped.
pub const DEVBOX_TEST_REQUIRE: &str = "DEVBOX_TEST_REQUIRE";
/// Docker's configuration directory; devbox reads registry credentials from
/// its `config.json` (default `~/.docker`).
pub const DOCKER_CONFIG: &str = "DOCKER_CONFIG";
