//! A container's lifecycle status, with the transitions it allows.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    /// Running, with its processes stopped (`pause`).
    Paused,
    Exited,
}

impl Status {
    /// A status that claims a process exists; only true while the owner
    /// holds the container's lock.
    pub fn is_live(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }

    pub fn can_start(self) -> bool {
        matches!(self, Status::Created | Status::Exited)
    }

    pub fn can_remove(self, force: bool) -> bool {
        force || !self.is_live()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Exited => "exited",
        }
    }
}

/// What happened to a container (state.json).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    /// Host pid of the container's first process while it runs.
    pub pid: Option<i32>,
    /// `None` with status exited means "unknown" (the owner died).
    pub exit_code: Option<i32>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Why the last start failed, for `inspect`.
    pub error: Option<String>,
    /// How often the monitor restarted the command (`RestartCount`).
    #[serde(default)]
    pub restart_count: u32,
    /// The boot the state was written in: after a reboot nothing runs.
    #[serde(default)]
    pub boot_id: Option<String>,
    /// `State.Health` while a healthcheck runs.
    #[serde(default)]
    pub health: Option<crate::spec::health::Health>,
    /// The published ports of the current run, host ports as bound.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<crate::spec::port::PortMapping>,
    /// Where the current run is on its user-defined networks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<crate::net::holder::Attached>,
}

impl State {
    pub fn created() -> State {
        State {
            status: Status::Created,
            pid: None,
            exit_code: None,
            started_at: None,
            finished_at: None,
            error: None,
            restart_count: 0,
            boot_id: None,
            health: None,
            ports: Vec::new(),
            networks: Vec::new(),
        }
    }

    pub fn running(&mut self, pid: i32, now: String) {
        self.status = Status::Running;
        self.pid = Some(pid);
        self.exit_code = None;
        self.started_at = Some(now);
        self.finished_at = None;
        self.error = None;
        self.boot_id = boot_id();
    }

    pub fn exited(&mut self, code: Option<i32>, now: String) {
        self.status = Status::Exited;
        self.pid = None;
        self.exit_code = code;
        self.finished_at = Some(now);
    }

    /// The owner died without recording an exit (SIGKILL, reboot).
    pub fn mark_lost(&mut self) {
        self.status = Status::Exited;
        self.pid = None;
        self.exit_code = None;
    }
}

/// This boot of the machine (`/proc/sys/kernel/random/boot_id`).
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

/// Now, as RFC 3339 with nanoseconds (Docker's format).
pub fn now() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions() {
        let mut s = State::created();
        assert!(s.status.can_start());
        s.running(42, now());
        assert!(!s.status.can_start());
        assert!(!s.status.can_remove(false));
        assert!(s.status.can_remove(true));
        s.exited(Some(3), now());
        assert_eq!(s.exit_code, Some(3));
        assert!(s.status.can_remove(false));
        s.running(43, now());
        s.mark_lost();
        assert_eq!((s.status, s.exit_code), (Status::Exited, None));
    }
}
