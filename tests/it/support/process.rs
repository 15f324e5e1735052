//! Waiting on, and looking for, processes from the tests.

use std::time::{Duration, Instant};

/// Polls `done` every 50 ms; panics with `what` if it is not true `within`.
pub fn poll_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < within, "{what} (waited {within:?})");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Exists and has not exited (a zombie has closed its files, and released its locks).
pub fn process_running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
    })
}

/// Running processes whose command line contains `text`.
pub fn processes_mentioning(text: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            process_running(pid) && String::from_utf8_lossy(&cmdline).contains(text)
        })
        .collect()
}
