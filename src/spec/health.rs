//! Healthchecks (pure): the check a container runs (image HEALTHCHECK or the
//! `--health-*` flags), and how results turn into Docker's
//! `starting`/`healthy`/`unhealthy`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Docker's defaults.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_RETRIES: u32 = 3;
/// Results kept in `State.Health.Log`, and output bytes kept per result.
pub const KEPT_RESULTS: usize = 5;
pub const KEPT_OUTPUT: usize = 4096;

/// A container's healthcheck, resolved at create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthConfig {
    /// Docker's form: `["CMD", prog, args..]` or `["CMD-SHELL", "command"]`.
    pub test: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub retries: u32,
}

/// `--health-*` flags and the image's HEALTHCHECK, in Docker's units.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthOverrides {
    pub cmd: Option<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub retries: Option<u32>,
    pub disabled: bool,
}

/// The image's check (`test` and durations in nanoseconds, as in the image
/// config) merged with the flags. `None`: no healthcheck.
pub fn resolve(
    image_test: Option<&[String]>,
    image_durations: [Option<i64>; 3],
    image_retries: Option<u32>,
    flags: &HealthOverrides,
) -> Option<HealthConfig> {
    if flags.disabled {
        return None;
    }
    let test = match &flags.cmd {
        Some(cmd) => vec!["CMD-SHELL".to_string(), cmd.clone()],
        None => image_test?.to_vec(),
    };
    argv(&test)?;
    let nanos = |n: Option<i64>| {
        n.filter(|n| *n > 0)
            .map(|n| Duration::from_nanos(n.unsigned_abs()))
    };
    let [interval, timeout, start_period] = image_durations.map(nanos);
    Some(HealthConfig {
        test,
        interval: flags.interval.or(interval).unwrap_or(DEFAULT_INTERVAL),
        timeout: flags.timeout.or(timeout).unwrap_or(DEFAULT_TIMEOUT),
        start_period: flags.start_period.or(start_period).unwrap_or_default(),
        retries: flags
            .retries
            .or(image_retries)
            .filter(|r| *r > 0)
            .unwrap_or(DEFAULT_RETRIES),
    })
}

/// The command line of a check; `None` for `["NONE"]` or nothing.
pub fn argv(test: &[String]) -> Option<Vec<String>> {
    match test.split_first() {
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
        Some((kind, [cmd])) if kind == "CMD-SHELL" => {
            Some(vec!["/bin/sh".into(), "-c".into(), cmd.clone()])
        }
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

/// One check's result (`State.Health.Log[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthResult {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

/// `State.Health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: HealthStatus,
    pub failing_streak: u32,
    pub log: Vec<HealthResult>,
}

impl Health {
    pub fn starting() -> Health {
        Health {
            status: HealthStatus::Starting,
            failing_streak: 0,
            log: Vec::new(),
        }
    }

    /// Docker's rule: a success makes the container healthy; a failure
    /// counts towards `retries` (unhealthy when reached), except during the
    /// start period, where failures are not counted.
    pub fn record(&mut self, result: HealthResult, in_start_period: bool, retries: u32) {
        if result.exit_code == 0 {
            self.status = HealthStatus::Healthy;
            self.failing_streak = 0;
        } else if !in_start_period {
            self.failing_streak += 1;
            if self.failing_streak >= retries {
                self.status = HealthStatus::Unhealthy;
            }
        }
        self.log.push(result);
        if self.log.len() > KEPT_RESULTS {
            self.log.remove(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn result(code: i32) -> HealthResult {
        HealthResult {
            start: String::new(),
            end: String::new(),
            exit_code: code,
            output: String::new(),
        }
    }

    #[test]
    fn test_forms() {
        assert_eq!(argv(&v(&["CMD", "true"])), Some(v(&["true"])));
        assert_eq!(
            argv(&v(&["CMD-SHELL", "test -f /ok"])),
            Some(v(&["/bin/sh", "-c", "test -f /ok"]))
        );
        assert_eq!(argv(&v(&["NONE"])), None);
        assert_eq!(argv(&[]), None);
    }

    #[test]
    fn flags_override_the_image() {
        let image = v(&["CMD", "true"]);
        let none = HealthOverrides::default();
        let c = resolve(Some(&image), [Some(5_000_000_000), None, None], None, &none).unwrap();
        assert_eq!(
            (c.interval, c.timeout, c.retries),
            (Duration::from_secs(5), DEFAULT_TIMEOUT, 3)
        );
        let flags = HealthOverrides {
            cmd: Some("exit 1".into()),
            retries: Some(2),
            ..Default::default()
        };
        let c = resolve(Some(&image), [None; 3], None, &flags).unwrap();
        assert_eq!(c.test, v(&["CMD-SHELL", "exit 1"]));
        assert_eq!(c.retries, 2);
        let off = HealthOverrides {
            disabled: true,
            ..Default::default()
        };
        assert!(resolve(Some(&image), [None; 3], None, &off).is_none());
        assert!(resolve(Some(&v(&["NONE"])), [None; 3], None, &none).is_none());
        assert!(resolve(None, [None; 3], None, &none).is_none());
    }

    #[test]
    fn unhealthy_after_retries_and_not_during_start_period() {
        let mut h = Health::starting();
        h.record(result(1), true, 2);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 0));
        h.record(result(0), false, 2);
        assert_eq!(h.status, HealthStatus::Healthy);
        h.record(result(1), false, 2);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 1));
        h.record(result(1), false, 2);
        assert_eq!(h.status, HealthStatus::Unhealthy);
        for _ in 0..10 {
            h.record(result(1), false, 2);
        }
        assert_eq!(h.log.len(), KEPT_RESULTS);
    }
}
