//! What `inspect` and `ps` show of a container, in Docker's JSON shape for
//! the fields devbox has (pure: record and state in, JSON out).

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use super::state::{State, Status};
use crate::spec::container::Network;
use crate::spec::health::HealthStatus;
use crate::store::containers::{ContainerDirs, ContainerRecord};

/// The exit code shown when the owner died before recording one (a killed
/// monitor, a reboot). Docker has no such case; 255 is what a shell shows
/// for "ended abnormally", and `State.Error` says why.
pub const UNKNOWN_EXIT_CODE: i32 = 255;

/// Go's zero time, which Docker prints for times that never happened.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Docker's `inspect` document for one container.
pub fn inspect(record: &ContainerRecord, state: &State, dirs: &ContainerDirs) -> Value {
    let spec = &record.spec;
    let lost = state.status == Status::Exited && state.exit_code.is_none();
    let error = match (&state.error, lost && state.started_at.is_some()) {
        (Some(e), _) => e.clone(),
        (None, true) => {
            "exit code unknown: the container's monitor ended without recording it".into()
        }
        (None, false) => String::new(),
    };
    let network = network_name(spec.network);
    let mut doc = json!({
        "Id": record.id,
        "Created": record.created,
        "Path": spec.argv.first(),
        "Args": spec.argv.get(1..).unwrap_or_default(),
        "State": {
            "Status": state.status.as_str(),
            "Running": state.status.is_live(),
            "Paused": state.status == Status::Paused,
            "Restarting": false,
            "OOMKilled": false,
            "Dead": false,
            "Pid": state.pid.unwrap_or(0),
            "ExitCode": exit_code(state),
            "Error": error,
            "StartedAt": state.started_at.as_deref().unwrap_or(ZERO_TIME),
            "FinishedAt": state.finished_at.as_deref().unwrap_or(ZERO_TIME),
        },
        "Image": record.image_id.to_string(),
        "LogPath": dirs.log(),
        "Name": format!("/{}", record.name),
        "RestartCount": state.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": {
            "Binds": spec.binds.iter().map(|b| format!(
                "{}:{}{}", b.source.display(), b.target, if b.readonly { ":ro" } else { "" }
            )).collect::<Vec<_>>(),
            "NetworkMode": network,
            "RestartPolicy": {
                "Name": record.restart.name(),
                "MaximumRetryCount": record.restart.maximum_retry_count(),
            },
            "AutoRemove": spec.auto_remove,
        },
        "Mounts": spec.binds.iter().map(|b| json!({
            "Type": if b.source.parent().is_some_and(|p| p.file_name().is_some()
                && p.parent().and_then(|v| v.file_name()).is_some_and(|v| v == "volumes-v1"))
                && b.source.ends_with("_data") { "volume" } else { "bind" },
            "Source": b.source,
            "Destination": b.target,
            "Mode": if b.readonly { "ro" } else { "" },
            "RW": !b.readonly,
            "Propagation": "rprivate",
        })).collect::<Vec<_>>(),
        "Config": {
            "Hostname": spec.hostname,
            "User": user_text(&spec.user),
            "Tty": spec.tty,
            "OpenStdin": spec.interactive,
            "Env": spec.env,
            "Cmd": spec.argv,
            "Image": record.image,
            "WorkingDir": spec.workdir,
            "Labels": record.labels,
            "StopSignal": record.stop_signal.as_deref().unwrap_or("SIGTERM"),
            "StopTimeout": record.stop_timeout,
        },
        "NetworkSettings": {
            "Ports": ports_json(&state.ports),
            "IPAddress": "",
            "Networks": { network: {} },
        },
    });
    if let Some(health) = &state.health {
        doc["State"]["Health"] = json!({
            "Status": health.status.as_str(),
            "FailingStreak": health.failing_streak,
            "Log": health.log.iter().map(|r| json!({
                "Start": r.start,
                "End": r.end,
                "ExitCode": r.exit_code,
                "Output": r.output,
            })).collect::<Vec<_>>(),
        });
    }
    if let Some(check) = &record.healthcheck {
        doc["Config"]["Healthcheck"] = json!({
            "Test": check.test,
            "Interval": check.interval.as_nanos() as u64,
            "Timeout": check.timeout.as_nanos() as u64,
            "StartPeriod": check.start_period.as_nanos() as u64,
            "Retries": check.retries,
        });
    }
    doc
}

fn user_text(user: &crate::spec::user::UserSpec) -> String {
    use crate::spec::user::Id;
    let id = |i: &Id| match i {
        Id::Num(n) => n.to_string(),
        Id::Name(s) => s.clone(),
    };
    match &user.group {
        Some(g) => format!("{}:{}", id(&user.user), id(g)),
        None => id(&user.user),
    }
}

fn exit_code(state: &State) -> i32 {
    match (state.status, state.exit_code) {
        (Status::Exited, None) if state.started_at.is_some() => UNKNOWN_EXIT_CODE,
        (_, code) => code.unwrap_or(0),
    }
}

fn network_name(network: Network) -> &'static str {
    match network {
        Network::Slirp4netns => "slirp4netns",
        Network::None => "none",
        Network::Host => "host",
    }
}

/// `ps`'s STATUS column: `Up 5 seconds`, `Exited (0) 3 minutes ago`,
/// `Exited (unknown)`, `Created`.
pub fn status_text(state: &State, now: SystemTime) -> String {
    let since = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| humantime::parse_rfc3339(t).ok())
            .and_then(|t| now.duration_since(t).ok())
            .unwrap_or_default()
    };
    match (state.status, state.exit_code) {
        (Status::Paused, _) => format!("Up {} (Paused)", human_duration(since(&state.started_at))),
        (Status::Running, _) => {
            let up = format!("Up {}", human_duration(since(&state.started_at)));
            match state.health.as_ref().map(|h| h.status) {
                Some(HealthStatus::Starting) => format!("{up} (health: starting)"),
                Some(other) => format!("{up} ({})", other.as_str()),
                None => up,
            }
        }
        (Status::Exited, None) => "Exited (unknown)".into(),
        (Status::Exited, Some(code)) => format!(
            "Exited ({code}) {} ago",
            human_duration(since(&state.finished_at))
        ),
        (Status::Created, _) => "Created".into(),
    }
}

/// Docker's `units.HumanDuration`.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (mins, hours) = (secs / 60, secs / 3600);
    match () {
        _ if secs < 1 => "Less than a second".into(),
        _ if secs == 1 => "1 second".into(),
        _ if secs < 60 => format!("{secs} seconds"),
        _ if mins == 1 => "About a minute".into(),
        _ if mins < 60 => format!("{mins} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

/// One row of `ps --format`: Docker's field names.
pub fn ps_row(
    record: &ContainerRecord,
    state: &State,
    size: Option<u64>,
    now: SystemTime,
) -> Value {
    let created = humantime::parse_rfc3339(&record.created).ok();
    let running_for = created
        .and_then(|c| now.duration_since(c).ok())
        .map(|d| format!("{} ago", human_duration(d)))
        .unwrap_or_default();
    json!({
        "ID": record.id[..12],
        "Image": record.image,
        "Command": format!("\"{}\"", record.spec.argv.join(" ")),
        "CreatedAt": record.created,
        "RunningFor": running_for,
        "Ports": "",
        "Status": status_text(state, now),
        "State": state.status.as_str(),
        "Names": record.name,
        "Health": state.health.as_ref().map(|h| h.status.as_str()).unwrap_or(""),
        "Labels": record.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "Mounts": record.spec.binds.iter().map(|b| b.target.clone()).collect::<Vec<_>>().join(","),
        "Networks": network_name(record.spec.network),
        "Size": size.map(human_size).unwrap_or_default(),
    })
}

/// Sizes as Docker prints them (`1.2MB`, decimal units).
pub fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
            + units[unit]
    }
}

/// Docker's `NetworkSettings.Ports`: `"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]`.
fn ports_json(ports: &[crate::spec::port::PortMapping]) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for p in ports {
        let key = format!("{}/{}", p.container_port, p.proto);
        let entry = json!({
            "HostIp": p.host_ip.map(|ip| ip.to_string()).unwrap_or_else(|| "0.0.0.0".into()),
            "HostPort": p.host_port.to_string(),
        });
        if let serde_json::Value::Array(list) = map.entry(key).or_insert_with(|| json!([])) {
            list.push(entry);
        }
    }
    serde_json::Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_docker() {
        assert_eq!(
            human_duration(Duration::from_millis(10)),
            "Less than a second"
        );
        assert_eq!(human_duration(Duration::from_secs(5)), "5 seconds");
        assert_eq!(human_duration(Duration::from_secs(70)), "About a minute");
        assert_eq!(human_duration(Duration::from_secs(600)), "10 minutes");
        assert_eq!(human_duration(Duration::from_secs(3 * 3600)), "3 hours");
    }

    #[test]
    fn sizes_use_decimal_units() {
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(1_500_000), "1.5MB");
    }

    #[test]
    fn status_texts() {
        let now = SystemTime::now();
        let mut s = State::created();
        assert_eq!(status_text(&s, now), "Created");
        s.running(1, humantime::format_rfc3339(now).to_string());
        assert!(status_text(&s, now).starts_with("Up "));
        s.exited(Some(3), humantime::format_rfc3339(now).to_string());
        assert!(status_text(&s, now).starts_with("Exited (3) "));
        s.mark_lost();
        assert_eq!(status_text(&s, now), "Exited (unknown)");
        assert_eq!(exit_code(&s), UNKNOWN_EXIT_CODE);
    }
}
