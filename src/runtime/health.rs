//! Running a container's healthcheck from its monitor: `devbox exec` of the
//! check's command, with a timeout; the output is kept for `inspect`.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::paths::Paths;
use crate::spec::health::{self, HealthConfig, HealthResult};

/// When the next check is due, and how to run it.
pub struct Probe<'a> {
    pub config: &'a HealthConfig,
    paths: &'a Paths,
    id: &'a str,
    started: Instant,
    next: Instant,
}

impl<'a> Probe<'a> {
    /// The first check runs one interval after the start (Docker).
    pub fn new(config: &'a HealthConfig, paths: &'a Paths, id: &'a str) -> Probe<'a> {
        let now = Instant::now();
        Probe {
            config,
            paths,
            id,
            started: now,
            next: now + config.interval,
        }
    }

    pub fn due_in(&self) -> Duration {
        self.next.saturating_duration_since(Instant::now())
    }

    /// Runs the check now; returns its result and whether the start period
    /// was still running.
    pub fn run(&mut self) -> (HealthResult, bool) {
        let start = super::state::now();
        let in_start_period = self.started.elapsed() < self.config.start_period;
        let (exit_code, output) = match self.exec() {
            Ok(done) => done,
            Err(e) => (-1, format!("cannot run the healthcheck: {e}")),
        };
        self.next = Instant::now() + self.config.interval;
        let result = HealthResult {
            start,
            end: super::state::now(),
            exit_code,
            output,
        };
        (result, in_start_period)
    }

    fn exec(&self) -> std::io::Result<(i32, String)> {
        let argv = health::argv(&self.config.test).unwrap_or_default();
        // Output goes to a file: a pipe could be held open by something the
        // check left running.
        let mut out = tempfile_in(&self.paths.run_root)?;
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .arg("--root")
            .arg(&self.paths.root)
            .arg("--runroot")
            .arg(&self.paths.run_root)
            .arg("exec")
            .arg(self.id)
            .args(&argv)
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out.try_clone()?)
            .spawn()?;
        let deadline = Instant::now() + self.config.timeout;
        let code = loop {
            if let Some(status) = child.try_wait()? {
                break status.code().unwrap_or(-1);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                let secs = self.config.timeout.as_secs_f64();
                return Ok((-1, format!("Health check exceeded timeout ({secs}s)")));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut bytes = Vec::new();
        std::io::Seek::rewind(&mut out)?;
        out.by_ref()
            .take(health::KEPT_OUTPUT as u64)
            .read_to_end(&mut bytes)?;
        Ok((code, String::from_utf8_lossy(&bytes).into_owned()))
    }
}

/// An unnamed file in `dir` (removed at once, kept open).
fn tempfile_in(dir: &std::path::Path) -> std::io::Result<std::fs::File> {
    fs_err::create_dir_all(dir)?;
    let path = dir.join(format!(".health-{}", crate::store::atomic::unique_suffix()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    let _ = std::fs::remove_file(&path);
    Ok(file)
}
