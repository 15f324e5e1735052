//! What `inspect` and `ps` show of a container, in Docker's JSON shape for
//! the fields devbox has (pure: record and state in, JSON out).

use std::time::SystemTime;

use serde_json::{json, Value};

use super::state::{State, Status};
use crate::spec::container::Network;
use crate::spec::health::HealthStatus;
use crate::store::containers::{ContainerDirs, ContainerRecord};
use crate::ui::units::{human_duration, human_size_with_precision};

/// The exit code shown when the owner died before recording one (a killed
/// monitor, a reboot). Docker has no such case; 255 is what a shell shows
/// for "ended abnormally", and `State.Error` says why.
pub const UNKNOWN_EXIT_CODE: i32 = 255;

/// Go's zero time, which Docker prints for times that never happened.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Docker shows an empty list as `null`.
fn non_empty(list: &[String]) -> Option<&[String]> {
    (!list.is_empty()).then_some(list)
}

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
    let network = network_name(spec);
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
            "CapAdd": non_empty(&spec.security.cap_add),
            "CapDrop": non_empty(&spec.security.cap_drop),
            "Privileged": spec.security.privileged,
            "SecurityOpt": non_empty(&spec.security.security_opt),
            "PidsLimit": spec.security.limits.pids,
            "Memory": spec.security.limits.memory.unwrap_or(0),
            "NanoCpus": spec.security.limits.nano_cpus.unwrap_or(0),
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
            "Networks": networks_json(spec, state),
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

/// `HostConfig.NetworkMode`: the mode, the first user-defined network, or `container:NAME`.
fn network_name(spec: &super::plan::RunSpec) -> String {
    match spec.network {
        Network::Slirp4netns => "slirp4netns".into(),
        Network::Pasta => "pasta".into(),
        Network::None => "none".into(),
        Network::Host => "host".into(),
        Network::User => spec
            .net
            .networks
            .first()
            .map(|n| n.name.clone())
            .unwrap_or_default(),
        Network::Container => format!(
            "container:{}",
            spec.net.container.as_deref().unwrap_or_default()
        ),
    }
}

/// Docker's `NetworkSettings.Networks`: per network the address of the current run (empty
/// when not running), gateway and aliases.
fn networks_json(spec: &super::plan::RunSpec, state: &State) -> Value {
    let mut map = serde_json::Map::new();
    if spec.network != Network::User {
        map.insert(network_name(spec), json!({}));
        return Value::Object(map);
    }
    for wanted in &spec.net.networks {
        let live = state
            .networks
            .iter()
            .find(|a| a.network == wanted.name)
            .filter(|_| state.status.is_live());
        map.insert(
            wanted.name.clone(),
            json!({
                "NetworkID": live.map(|a| a.network_id.clone()).unwrap_or_default(),
                "IPAddress": live.map(|a| a.ip.to_string()).unwrap_or_default(),
                "IPPrefixLen": live.map(|a| a.prefix).unwrap_or(0),
                "Gateway": live.map(|a| a.gateway.to_string()).unwrap_or_default(),
                "MacAddress": live.map(|a| a.mac.clone()).unwrap_or_default(),
                "Aliases": wanted.aliases,
                "IPAMConfig": wanted.ip.map(|ip| json!({ "IPv4Address": ip.to_string() })),
            }),
        );
    }
    Value::Object(map)
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
        "Networks": match record.spec.network {
            Network::User => record.spec.net.networks.iter().map(|n| n.name.clone()).collect::<Vec<_>>().join(","),
            _ => network_name(&record.spec),
        },
        "Size": size.map(|s| human_size_with_precision(s, 3)).unwrap_or_default(),
    })
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
