//! `--restart no|always|unless-stopped|on-failure[:N]` and the decision the
//! monitor takes when a container's command ends (pure).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Docker's restart policies. A closed set (STYLE: oci-spec): no `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    UnlessStopped,
    /// Restart after a non-zero exit, at most `max` times (`None`: no limit).
    OnFailure {
        max: Option<u32>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid restart policy `{0}`: expected no, always, unless-stopped or on-failure[:N]")]
pub struct RestartPolicyError(pub String);

impl std::str::FromStr for RestartPolicy {
    type Err = RestartPolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || RestartPolicyError(s.to_string());
        let (name, count) = match s.split_once(':') {
            Some((name, count)) => (name, Some(count)),
            None => (s, None),
        };
        match (name, count) {
            ("" | "no", None) => Ok(RestartPolicy::No),
            ("always", None) => Ok(RestartPolicy::Always),
            ("unless-stopped", None) => Ok(RestartPolicy::UnlessStopped),
            ("on-failure", None) => Ok(RestartPolicy::OnFailure { max: None }),
            ("on-failure", Some(n)) => {
                let max: u32 = n.parse().map_err(|_| bad())?;
                Ok(RestartPolicy::OnFailure {
                    max: (max > 0).then_some(max),
                })
            }
            _ => Err(bad()),
        }
    }
}

impl RestartPolicy {
    /// Docker's `HostConfig.RestartPolicy.Name`.
    pub fn name(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
            RestartPolicy::OnFailure { .. } => "on-failure",
        }
    }

    /// Docker's `HostConfig.RestartPolicy.MaximumRetryCount`.
    pub fn maximum_retry_count(self) -> u32 {
        match self {
            RestartPolicy::OnFailure { max } => max.unwrap_or(0),
            _ => 0,
        }
    }

    /// Whether the monitor starts the command again after it ended with
    /// `exit_code`, having restarted it `restarts` times already.
    /// `stopped_by_user`: `stop`, `kill` or `rm -f` asked for the end.
    pub fn should_restart(self, exit_code: i32, restarts: u32, stopped_by_user: bool) -> bool {
        if stopped_by_user {
            return false;
        }
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure { max } => {
                exit_code != 0 && max.is_none_or(|max| restarts < max)
            }
        }
    }

    /// Whether `system boot` starts the container again. `always` ignores
    /// an earlier `stop`, as Docker does when its daemon starts.
    pub fn start_at_boot(self, stopped_by_user: bool) -> bool {
        match self {
            RestartPolicy::Always => true,
            RestartPolicy::UnlessStopped => !stopped_by_user,
            _ => false,
        }
    }
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestartPolicy::OnFailure { max: Some(n) } => write!(f, "on-failure:{n}"),
            other => f.write_str(other.name()),
        }
    }
}

impl Serialize for RestartPolicy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RestartPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The pause before restart number `restarts + 1`: Docker's back-off, 100 ms
/// doubling each time, at most a minute; reset when the command had run for
/// 10 s or more.
pub fn backoff(previous: Duration, ran_for: Duration) -> Duration {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(60);
    if previous.is_zero() || ran_for >= Duration::from_secs(10) {
        return FIRST;
    }
    (previous * 2).min(MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_docker_spellings() {
        for s in [
            "no",
            "always",
            "unless-stopped",
            "on-failure",
            "on-failure:3",
        ] {
            let p: RestartPolicy = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
        }
        assert_eq!("".parse::<RestartPolicy>().unwrap(), RestartPolicy::No);
        assert!("sometimes".parse::<RestartPolicy>().is_err());
        assert!("always:3".parse::<RestartPolicy>().is_err());
        assert!("on-failure:x".parse::<RestartPolicy>().is_err());
    }

    #[test]
    fn on_failure_counts_restarts() {
        let p: RestartPolicy = "on-failure:2".parse().unwrap();
        assert!(p.should_restart(1, 0, false));
        assert!(p.should_restart(1, 1, false));
        assert!(!p.should_restart(1, 2, false));
        assert!(!p.should_restart(0, 0, false));
        assert_eq!(p.maximum_retry_count(), 2);
    }

    #[test]
    fn a_user_stop_wins_over_every_policy() {
        for p in ["always", "unless-stopped", "on-failure"] {
            let p: RestartPolicy = p.parse().unwrap();
            assert!(!p.should_restart(1, 0, true));
        }
        assert!(RestartPolicy::Always.should_restart(0, 100, false));
        assert!(!RestartPolicy::No.should_restart(1, 0, false));
    }

    #[test]
    fn boot_starts_always_and_unstopped_unless_stopped() {
        assert!(RestartPolicy::Always.start_at_boot(true));
        assert!(RestartPolicy::UnlessStopped.start_at_boot(false));
        assert!(!RestartPolicy::UnlessStopped.start_at_boot(true));
        assert!(!RestartPolicy::No.start_at_boot(false));
    }

    #[test]
    fn backoff_doubles_from_100ms_and_resets() {
        let mut d = Duration::ZERO;
        let short = Duration::from_millis(5);
        let mut seen = Vec::new();
        for _ in 0..4 {
            d = backoff(d, short);
            seen.push(d.as_millis());
        }
        assert_eq!(seen, [100, 200, 400, 800]);
        assert_eq!(backoff(d, Duration::from_secs(11)).as_millis(), 100);
        assert_eq!(
            backoff(Duration::from_secs(50), short),
            Duration::from_secs(60)
        );
    }
}
