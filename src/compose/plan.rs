//! What `compose up` runs for each service (pure): names, the image to build or use, and the
//! container request in devbox's own terms (`-p` mappings, mount requests, env).
//!
//! Networking: every service of a project shares one network namespace, like a Podman pod;
//! services find each other by name through /etc/hosts entries (`redis` → 127.0.0.1), which
//! covers the usual dev stack (web, redis, postgres on distinct ports). Declared networks are
//! accepted and recorded; per-network isolation needs user-defined networks.

use std::collections::BTreeMap;

use super::model::{Healthcheck, MountType, Project, Protocol, Restart, Service};
use crate::spec::health::HealthOverrides;
use crate::spec::mount::{BindMount, MountRequest, TmpfsMount, VolumeMount};
use crate::spec::port::{self, PortMapping};

/// Labels compose puts on what it creates; `down` and `ps` find containers by them.
pub const LABEL_PROJECT: &str = "com.docker.compose.project";
pub const LABEL_SERVICE: &str = "com.docker.compose.service";
/// The hash of the service's configuration: `up` recreates a container whose hash changed.
pub const LABEL_CONFIG_HASH: &str = "com.docker.compose.config-hash";
/// The replica's number (`<project>-<service>-<N>`).
pub const LABEL_NUMBER: &str = "com.docker.compose.container-number";
/// `True` on `compose run` containers, which `up`, `ps` and `scale` leave alone.
pub const LABEL_ONEOFF: &str = "com.docker.compose.oneoff";

/// Where a service's image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// Used as is (pulled if missing).
    Image(String),
    /// Built from a context, then tagged `tag`.
    Build {
        context: String,
        dockerfile: Option<String>,
        target: Option<String>,
        args: BTreeMap<String, String>,
        tag: String,
    },
}

/// One service's container, ready for the runtime.
#[derive(Debug, Clone, PartialEq)]
pub struct ServicePlan {
    pub service: String,
    /// `container_name`, or compose v2's `<project>-<service>-1`.
    pub container_name: String,
    pub image: ImageSource,
    pub entrypoint: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    /// KEY → value; unset bare keys are left out.
    pub env: Vec<(String, String)>,
    pub ports: Vec<PortMapping>,
    pub mounts: Vec<MountRequest>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: String,
    pub restart: Option<Restart>,
    pub labels: BTreeMap<String, String>,
    pub keep_id: bool,
    pub init: bool,
    pub tty: bool,
    pub interactive: bool,
    /// The other services' names, resolved to the shared loopback.
    pub extra_hosts: Vec<(String, String)>,
    pub project: String,
    /// `deploy.replicas` (1 when unset); `up --scale` overrides it.
    pub replicas: u32,
    /// The compose `healthcheck:` over the image's HEALTHCHECK.
    pub health: HealthOverrides,
    pub stop_signal: Option<String>,
    /// `stop_grace_period`, in whole seconds.
    pub stop_timeout: Option<u64>,
    /// `develop.watch` rules.
    pub watch: Vec<super::model::Watch>,
}

impl ServicePlan {
    /// Replica `n`'s container: `container_name` for a service that sets one (it has one
    /// replica), else compose v2's `<project>-<service>-<n>`.
    pub fn container_for(&self, n: u32) -> String {
        if n == 1 {
            return self.container_name.clone();
        }
        format!("{}-{}-{n}", self.project, self.service)
    }
}

/// Compose's config hash: the service as configured, less what does not change the
/// container (build instructions: a rebuilt image is caught by its id; replicas; ordering;
/// profiles; watch rules). Hex SHA-256 of its JSON.
pub fn config_hash(service: &Service) -> String {
    use sha2::Digest as _;
    let mut s = service.clone();
    s.build = None;
    s.deploy = None;
    s.depends_on.clear();
    s.profiles.clear();
    s.develop = None;
    let json = serde_json::to_vec(&s).unwrap_or_default();
    hex::encode(sha2::Sha256::digest(json))
}

/// Quotes one word for `/bin/sh` (a `CMD` healthcheck runs as a `CMD-SHELL` one).
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:=@%+,-".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// The compose `healthcheck:` as `--health-*` flags: `disable: true` or `test: [NONE]`
/// disables the image's check; durations and retries override the image's.
pub fn health(check: Option<&Healthcheck>) -> HealthOverrides {
    let Some(h) = check else {
        return HealthOverrides::default();
    };
    let duration =
        |d: Option<super::model::Duration>| d.map(|d| std::time::Duration::from_nanos(d.nanos));
    let cmd = match h.test.split_first() {
        Some((kind, [cmd])) if kind == "CMD-SHELL" => Some(cmd.clone()),
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(
            rest.iter()
                .map(|w| shell_quote(w))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    };
    HealthOverrides {
        cmd,
        interval: duration(h.interval),
        timeout: duration(h.timeout),
        start_period: duration(h.start_period),
        retries: h.retries,
        disabled: h.disable || h.test.first().is_some_and(|t| t == "NONE"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("service `{service}`: {reason}")]
    Service { service: String, reason: String },
}

fn bad(service: &str, reason: impl Into<String>) -> PlanError {
    PlanError::Service {
        service: service.into(),
        reason: reason.into(),
    }
}

/// The volume's name in the store: `<project>_<name>` (compose's), or its `name:`, or the
/// name itself when `external`.
pub fn volume_name(project: &Project, name: &str) -> String {
    match project.volumes.get(name) {
        Some(v) if v.name.is_some() => v.name.clone().unwrap_or_default(),
        Some(v) if v.external => name.to_string(),
        _ => format!("{}_{name}", project.name),
    }
}

fn ports(name: &str, service: &Service) -> Result<Vec<PortMapping>, PlanError> {
    let mut out = Vec::new();
    for p in &service.ports {
        // `- "9000"` publishes on a free host port (compose's short syntax); container-only
        // ports go in `expose:`.
        let published = p.published.as_deref().unwrap_or("");
        let proto = match p.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => return Err(bad(name, "sctp ports are not supported")),
        };
        let spec = match &p.host_ip {
            Some(ip) if ip.contains(':') => format!("[{ip}]:{published}:{}/{proto}", p.target),
            Some(ip) => format!("{ip}:{published}:{}/{proto}", p.target),
            None if published.is_empty() => format!("{}/{proto}", p.target),
            None => format!("{published}:{}/{proto}", p.target),
        };
        out.extend(port::parse(&spec).map_err(|e| bad(name, e.to_string()))?);
    }
    Ok(out)
}

fn mounts(
    project: &Project,
    name: &str,
    service: &Service,
) -> Result<Vec<MountRequest>, PlanError> {
    service
        .volumes
        .iter()
        .map(|v| {
            Ok(match v.kind {
                MountType::Bind => MountRequest::Bind(BindMount {
                    source: v
                        .source
                        .clone()
                        .ok_or_else(|| {
                            bad(name, format!("bind mount on {} has no source", v.target))
                        })?
                        .into(),
                    target: v.target.clone(),
                    readonly: v.read_only,
                    propagation: Default::default(),
                }),
                MountType::Volume => MountRequest::Volume(VolumeMount {
                    name: v.source.as_deref().map(|s| volume_name(project, s)),
                    target: v.target.clone(),
                    readonly: v.read_only,
                    nocopy: false,
                }),
                MountType::Tmpfs => MountRequest::Tmpfs(TmpfsMount {
                    target: v.target.clone(),
                    size: v.tmpfs.as_ref().and_then(|t| t.size),
                    mode: None,
                    readonly: v.read_only,
                }),
            })
        })
        .collect()
}

/// Plans every service of `project` (in name order; `start_order` gives the order to start).
pub fn plan(project: &Project) -> Result<Vec<ServicePlan>, PlanError> {
    let names: Vec<&String> = project.services.keys().collect();
    project
        .services
        .iter()
        .map(|(name, service)| {
            let image = match (&service.build, &service.image) {
                (Some(build), image) => ImageSource::Build {
                    context: build.context.clone(),
                    dockerfile: build.dockerfile.clone(),
                    target: build.target.clone(),
                    args: build
                        .args
                        .iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
                        .collect(),
                    tag: image
                        .clone()
                        .unwrap_or_else(|| format!("{}-{name}", project.name)),
                },
                (None, Some(image)) => ImageSource::Image(image.clone()),
                (None, None) => return Err(bad(name, "has neither `image` nor `build`")),
            };
            let mut labels = service.labels.clone();
            labels.insert(LABEL_PROJECT.into(), project.name.clone());
            labels.insert(LABEL_SERVICE.into(), name.clone());
            labels.insert(LABEL_CONFIG_HASH.into(), config_hash(service));
            let replicas = service
                .deploy
                .as_ref()
                .and_then(|d| d.replicas)
                .unwrap_or(1);
            let keep_id = match service.userns_mode.as_deref() {
                None | Some("") => false,
                Some("keep-id") => true,
                Some(other) => {
                    return Err(bad(
                        name,
                        format!("userns_mode `{other}` is not supported (keep-id is)"),
                    ))
                }
            };
            let mut extra_hosts: Vec<(String, String)> = names
                .iter()
                .filter(|n| n.as_str() != name)
                .map(|n| (n.to_string(), "127.0.0.1".to_string()))
                .collect();
            extra_hosts.extend(
                service
                    .extra_hosts
                    .iter()
                    .map(|h| (h.host.clone(), h.ip.clone())),
            );
            Ok(ServicePlan {
                service: name.clone(),
                container_name: service
                    .container_name
                    .clone()
                    .unwrap_or_else(|| format!("{}-{name}-1", project.name)),
                image,
                entrypoint: service.entrypoint.clone(),
                command: service.command.clone(),
                env: service
                    .environment
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
                    .collect(),
                ports: ports(name, service)?,
                mounts: mounts(project, name, service)?,
                working_dir: service.working_dir.clone(),
                user: service.user.clone(),
                hostname: service.hostname.clone().unwrap_or_else(|| name.clone()),
                restart: service.restart,
                labels,
                keep_id,
                init: service.init.unwrap_or(false),
                tty: service.tty.unwrap_or(false),
                interactive: service.stdin_open.unwrap_or(false),
                extra_hosts,
                project: project.name.clone(),
                replicas,
                health: health(service.healthcheck.as_ref()),
                stop_signal: service.stop_signal.clone(),
                stop_timeout: service
                    .stop_grace_period
                    .map(|d| d.nanos.div_ceil(1_000_000_000)),
                watch: service
                    .develop
                    .as_ref()
                    .map(|d| d.watch.clone())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::{load, LoadInput, SourceFile};

    fn project(yaml: &str) -> Project {
        load(&LoadInput {
            files: vec![SourceFile {
                name: "compose.yaml".into(),
                text: yaml.into(),
            }],
            working_dir: "/src/shop".into(),
            default_project_name: Some("shop".into()),
            ..Default::default()
        })
        .unwrap()
        .project
    }

    /// The handbook's compose file: a web service built from `.` and redis.
    #[test]
    fn the_handbooks_web_and_redis() {
        let p = project(
            "services:\n  web:\n    build: .\n    ports:\n      - \"5000:5000\"\n    volumes:\n      - .:/code\n      - logvolume01:/var/log\n    depends_on:\n      - redis\n  redis:\n    image: redis:alpine\nvolumes:\n  logvolume01: {}\n",
        );
        let plans = plan(&p).unwrap();
        let web = plans.iter().find(|s| s.service == "web").unwrap();
        assert_eq!(web.container_name, "shop-web-1");
        assert_eq!(
            web.image,
            ImageSource::Build {
                context: "/src/shop".into(),
                dockerfile: None,
                target: None,
                args: BTreeMap::new(),
                tag: "shop-web".into()
            }
        );
        assert_eq!(web.ports.len(), 1);
        assert_eq!(
            (web.ports[0].host_port, web.ports[0].container_port),
            (5000, 5000)
        );
        assert_eq!(
            web.mounts,
            [
                MountRequest::Bind(BindMount {
                    source: "/src/shop".into(),
                    target: "/code".into(),
                    readonly: false,
                    propagation: Default::default()
                }),
                MountRequest::Volume(VolumeMount {
                    name: Some("shop_logvolume01".into()),
                    target: "/var/log".into(),
                    readonly: false,
                    nocopy: false
                }),
            ]
        );
        assert_eq!(
            web.extra_hosts,
            [("redis".to_string(), "127.0.0.1".to_string())]
        );
        assert_eq!(web.labels[LABEL_PROJECT], "shop");
        assert_eq!(web.hostname, "web");
        let redis = plans.iter().find(|s| s.service == "redis").unwrap();
        assert_eq!(redis.image, ImageSource::Image("redis:alpine".into()));
    }

    #[test]
    fn healthchecks_replicas_and_the_config_hash() {
        let yaml = "services:\n  db:\n    image: db\n    deploy:\n      replicas: 3\n    stop_grace_period: 1500ms\n    healthcheck:\n      test: [\"CMD\", \"pg_isready\", \"-U\", \"it's me\"]\n      interval: 2s\n      retries: 5\n  off:\n    image: db\n    healthcheck:\n      test: [\"NONE\"]\n  shell:\n    image: db\n    healthcheck:\n      test: redis-cli ping\n";
        let plans = plan(&project(yaml)).unwrap();
        let db = &plans[0];
        assert_eq!(db.replicas, 3);
        assert_eq!(
            (db.container_for(1).as_str(), db.container_for(3).as_str()),
            ("shop-db-1", "shop-db-3")
        );
        assert_eq!(db.stop_timeout, Some(2));
        assert_eq!(
            db.health.cmd.as_deref(),
            Some("pg_isready -U 'it'\\''s me'")
        );
        assert_eq!(db.health.interval, Some(std::time::Duration::from_secs(2)));
        assert_eq!(db.health.retries, Some(5));
        assert!(plans[1].health.disabled);
        assert_eq!(plans[2].health.cmd.as_deref(), Some("redis-cli ping"));

        // Replicas and ordering do not change the hash; the command does.
        let base = project("services:\n  a:\n    image: x\n    command: [\"one\"]\n");
        let scaled = project("services:\n  a:\n    image: x\n    command: [\"one\"]\n    deploy:\n      replicas: 2\n    profiles: [p]\n");
        let changed = project("services:\n  a:\n    image: x\n    command: [\"two\"]\n");
        let hash = |p: &Project| plan(p).unwrap()[0].labels[LABEL_CONFIG_HASH].clone();
        assert_eq!(hash(&base), hash(&scaled));
        assert_ne!(hash(&base), hash(&changed));
        assert_eq!(hash(&base).len(), 64);
    }

    #[test]
    fn names_ports_and_options() {
        let p = project(
            "services:\n  app:\n    image: app:dev\n    build:\n      context: .\n      target: dev\n    container_name: my-app\n    userns_mode: keep-id\n    ports:\n      - \"127.0.0.1:8000:8000\"\n      - target: 53\n        published: \"5353\"\n        protocol: udp\n      - \"9000\"\n    environment:\n      A: \"1\"\n      UNSET:\n    volumes:\n      - type: tmpfs\n        target: /tmp\n      - data:/data:ro\nvolumes:\n  data:\n    external: true\n",
        );
        let app = &plan(&p).unwrap()[0];
        assert_eq!(app.container_name, "my-app");
        assert!(app.keep_id);
        assert!(
            matches!(&app.image, ImageSource::Build { tag, target, .. } if tag == "app:dev" && target.as_deref() == Some("dev"))
        );
        assert_eq!(app.ports.len(), 3);
        assert_eq!(app.ports[0].host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(app.ports[1].proto, crate::spec::port::Proto::Udp);
        assert_eq!(
            app.ports[2].host_port, 0,
            "a bare port is published on a free one"
        );
        assert_eq!(app.env, [("A".to_string(), "1".to_string())]);
        assert!(matches!(&app.mounts[0], MountRequest::Tmpfs(t) if t.target == "/tmp"));
        assert!(
            matches!(&app.mounts[1], MountRequest::Volume(v) if v.name.as_deref() == Some("data") && v.readonly)
        );
    }
}
