//! Fault injection for the crash-safety tests (test-only, always compiled in).
//!
//! `DEVBOX_TEST_CRASH_AT=<point>` makes devbox kill itself with SIGKILL the
//! first time it reaches the named point; `<point>#<n>` at the n-th time.
//! The points sit inside the store's write paths, between the steps a crash
//! could separate (a temp file written but not renamed, a layer unpacked but
//! not published, a container directory retired but not deleted, ...).
//! Unset, a point costs one load of a cached `Option`.
//!
//! This is not a feature: nothing but `tests/it/system.rs` sets the variable.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The variable naming the point to die at.
pub const ENV: &str = "DEVBOX_TEST_CRASH_AT";

/// Every point, so the tests can walk them and a typo in a test is caught.
pub const POINTS: &[&str] = &[
    "atomic.before-rename",
    "blob.before-publish",
    "layer.before-publish",
    "image.before-ref",
    "container.staged",
    "container.retired",
    "gc.layer-retired",
    "volume.retired",
];

struct Target {
    name: String,
    nth: u32,
    seen: AtomicU32,
}

fn target() -> Option<&'static Target> {
    static TARGET: OnceLock<Option<Target>> = OnceLock::new();
    TARGET
        .get_or_init(|| {
            let value = std::env::var(ENV).ok()?;
            let (name, nth) = match value.split_once('#') {
                Some((name, n)) => (name.to_string(), n.parse().ok()?),
                None => (value, 1),
            };
            Some(Target {
                name,
                nth,
                seen: AtomicU32::new(0),
            })
        })
        .as_ref()
}

/// Dies here, as SIGKILL would kill us, if the test asked for it.
pub fn point(name: &str) {
    let Some(target) = target() else { return };
    if target.name != name || target.seen.fetch_add(1, Ordering::SeqCst) + 1 != target.nth {
        return;
    }
    let me = crate::sys::Pid::from_raw(std::process::id() as i32);
    let _ = crate::sys::process::kill(me, 9);
    // SIGKILL cannot be caught; should the signal somehow fail, still die
    // without unwinding or cleanup.
    std::process::abort();
}
