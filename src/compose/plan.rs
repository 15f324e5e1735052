//! What `compose up` runs for each service (pure): names, the image to build or use, the
//! networks to create, and the container request in devbox's own terms (`-p` mappings, mount
//! requests, env).
//!
//! Networking is Docker Compose's: each service has its own network namespace on the
//! project's user-defined networks (`<project>_default` for services that declare none),
//! where the embedded DNS resolves it by service name (an alias on every network it is on),
//! container name and its declared aliases.

use std::collections::BTreeMap;

use super::model::{Healthcheck, MountType, Project, Protocol, Restart, Service};
use crate::spec::container::NetworkAttachment;
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
/// On networks: the network's key in the compose file (`default`, `front`).
pub const LABEL_NETWORK: &str = "com.docker.compose.network";

/// The network key of services that declare none.
pub const DEFAULT_NETWORK: &str = "default";

/// A network of the project, as `up` creates it (or finds it, when external).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPlan {
    /// The key in the compose file.
    pub key: String,
    /// The name in the store: `<project>_<key>`, or `name:`, or the key when external.
    pub name: String,
    /// Must exist; neither created nor removed.
    pub external: bool,
    pub internal: bool,
    /// `ipam.config[0]`.
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    /// The project's and the network key's labels over the file's.
    pub labels: BTreeMap<String, String>,
}

/// Where a service's containers are on the network (`networks:` or `network_mode:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceNetworking {
    /// On the project's networks (at least the default one).
    Networks(Vec<NetworkAttachment>),
    /// `network_mode: host`.
    Host,
    /// `network_mode: none`.
    None,
    /// `network_mode: bridge`: a network of its own, as `devbox run` gives (slirp4netns).
    Bridge,
    /// `network_mode: service:NAME`: that service's first container's namespace.
    Service { service: String, container: String },
    /// `network_mode: container:NAME`.
    Container(String),
}

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
    /// `extra_hosts`.
    pub extra_hosts: Vec<(String, String)>,
    pub networking: ServiceNetworking,
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
    /// The confinement keys, as `devbox run`'s flags take them.
    pub confinement: Confinement,
}

/// `cap_add`, `cap_drop`, `privileged`, `security_opt`, `read_only` and the limits, checked
/// by `devbox run`'s rules when the container is made.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Confinement {
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub security_opt: Vec<String>,
    pub read_only: bool,
    pub pids_limit: Option<i64>,
    pub mem_limit: Option<String>,
    pub cpus: Option<f64>,
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
    #[error("network `{network}`: {reason}")]
    Network { network: String, reason: String },
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

/// A network's name in the store: its `name:`, or the key itself when external, else
/// `<project>_<key>` (compose's).
pub fn network_name(project: &Project, key: &str) -> String {
    match project.networks.get(key) {
        Some(n) if n.name.is_some() => n.name.clone().unwrap_or_default(),
        Some(n) if n.external => key.to_string(),
        _ => format!("{}_{key}", project.name),
    }
}

/// The network keys a service is on: its `networks:`, else the default network (none with
/// a `network_mode`).
fn network_keys(service: &Service) -> Vec<String> {
    if service.network_mode.is_some() {
        return Vec::new();
    }
    if service.networks.is_empty() {
        return vec![DEFAULT_NETWORK.to_string()];
    }
    service.networks.keys().cloned().collect()
}

/// The networks the services `names` are on, in key order, with what creating them takes.
/// Only the bridge driver exists; other drivers fail here, before anything is created.
pub fn networks<'a>(
    project: &Project,
    names: impl IntoIterator<Item = &'a String>,
) -> Result<Vec<NetworkPlan>, PlanError> {
    let mut keys = std::collections::BTreeSet::new();
    for name in names {
        if let Some(service) = project.services.get(name) {
            keys.extend(network_keys(service));
        }
    }
    keys.into_iter()
        .map(|key| {
            let declared = project.networks.get(&key).cloned().unwrap_or_default();
            if let Some(driver) = declared.driver.as_deref().filter(|d| *d != "bridge") {
                return Err(PlanError::Network {
                    network: key.clone(),
                    reason: format!(
                        "driver `{driver}` is not supported (devbox has the bridge driver only)"
                    ),
                });
            }
            let ipam = declared
                .ipam
                .as_ref()
                .and_then(|i| i.config.first().cloned())
                .unwrap_or_default();
            let mut labels = declared.labels.clone();
            labels.insert(LABEL_PROJECT.into(), project.name.clone());
            labels.insert(LABEL_NETWORK.into(), key.clone());
            Ok(NetworkPlan {
                name: network_name(project, &key),
                external: declared.external,
                internal: declared.internal,
                subnet: ipam.subnet,
                gateway: ipam.gateway,
                labels,
                key,
            })
        })
        .collect()
}

/// A service's networking: its attachments (the service name is an alias on each network,
/// after its declared aliases, as compose does), or its `network_mode`.
fn networking(
    project: &Project,
    name: &str,
    service: &Service,
) -> Result<ServiceNetworking, PlanError> {
    let Some(mode) = service.network_mode.as_deref() else {
        let mut attachments = Vec::new();
        for key in network_keys(service) {
            let options = service.networks.get(&key).cloned().flatten();
            let mut aliases = vec![name.to_string()];
            let mut ip = None;
            if let Some(options) = options {
                aliases.extend(options.aliases.iter().filter(|a| *a != name).cloned());
                ip = options
                    .ipv4_address
                    .as_deref()
                    .map(|a| {
                        a.parse().map_err(|_| {
                            bad(
                                name,
                                format!("invalid ipv4_address `{a}` on network `{key}`"),
                            )
                        })
                    })
                    .transpose()?;
            }
            attachments.push(NetworkAttachment {
                name: network_name(project, &key),
                aliases,
                ip,
            });
        }
        return Ok(ServiceNetworking::Networks(attachments));
    };
    let other = |kind: &str, target: &str| {
        if target.is_empty() {
            return Err(bad(name, format!("network_mode `{kind}:` names no {kind}")));
        }
        if !service.ports.is_empty() {
            return Err(bad(
                name,
                format!("ports cannot be published with network_mode `{mode}`: publish them on the {kind} whose network is shared"),
            ));
        }
        Ok(())
    };
    Ok(match mode {
        "host" => ServiceNetworking::Host,
        "none" => ServiceNetworking::None,
        "bridge" | "default" => ServiceNetworking::Bridge,
        m => match (m.strip_prefix("service:"), m.strip_prefix("container:")) {
            (Some(target), _) => {
                other("service", target)?;
                if !project.services.contains_key(target) {
                    return Err(bad(
                        name,
                        format!("network_mode `{mode}` names a service that does not exist"),
                    ));
                }
                ServiceNetworking::Service {
                    service: target.to_string(),
                    container: project.services[target]
                        .container_name
                        .clone()
                        .unwrap_or_else(|| format!("{}-{target}-1", project.name)),
                }
            }
            (_, Some(target)) => {
                other("container", target)?;
                ServiceNetworking::Container(target.to_string())
            }
            _ => {
                return Err(bad(
                    name,
                    format!("network_mode `{mode}` is not supported (host, none, bridge, service:NAME and container:NAME are)"),
                ))
            }
        },
    })
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
    let tmpfs = service.tmpfs.iter().map(|spec| {
        crate::spec::mount::parse_tmpfs(spec)
            .map(MountRequest::Tmpfs)
            .map_err(|e| bad(name, format!("tmpfs: {e}")))
    });
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
        .chain(tmpfs)
        .collect()
}

/// Plans every service of `project` (in name order; `start_order` gives the order to start).
pub fn plan(project: &Project) -> Result<Vec<ServicePlan>, PlanError> {
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
            let extra_hosts = service
                .extra_hosts
                .iter()
                .map(|h| (h.host.clone(), h.ip.clone()))
                .collect();
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
                networking: networking(project, name, service)?,
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
                confinement: Confinement {
                    cap_add: service.cap_add.clone(),
                    cap_drop: service.cap_drop.clone(),
                    privileged: service.privileged.unwrap_or(false),
                    security_opt: service.security_opt.clone(),
                    read_only: service.read_only.unwrap_or(false),
                    pids_limit: service.pids_limit,
                    mem_limit: service.mem_limit.clone(),
                    cpus: service.cpus,
                },
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
        assert!(web.extra_hosts.is_empty());
        assert_eq!(
            web.networking,
            ServiceNetworking::Networks(vec![NetworkAttachment {
                name: "shop_default".into(),
                aliases: vec!["web".into()],
                ip: None
            }])
        );
        let networks = networks(&p, p.services.keys()).unwrap();
        assert_eq!(networks.len(), 1);
        assert_eq!(networks[0].name, "shop_default");
        assert_eq!(networks[0].labels[LABEL_NETWORK], "default");
        assert_eq!(networks[0].labels[LABEL_PROJECT], "shop");
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

    #[test]
    fn networks_aliases_and_network_modes() {
        let p = project(
            "services:\n  api:\n    image: x\n    networks:\n      front:\n        aliases: [api.local]\n        ipv4_address: 10.5.0.9\n      back:\n  db:\n    image: x\n    networks: [back]\n  side:\n    image: x\n    network_mode: service:api\n  host:\n    image: x\n    network_mode: host\nnetworks:\n  front:\n    internal: true\n    ipam:\n      config:\n        - subnet: 10.5.0.0/24\n  back:\n    external: true\n    name: shared-back\n",
        );
        let plans = plan(&p).unwrap();
        let by = |n: &str| {
            plans
                .iter()
                .find(|s| s.service == n)
                .unwrap()
                .networking
                .clone()
        };
        assert_eq!(
            by("api"),
            ServiceNetworking::Networks(vec![
                NetworkAttachment {
                    name: "shared-back".into(),
                    aliases: vec!["api".into()],
                    ip: None
                },
                NetworkAttachment {
                    name: "shop_front".into(),
                    aliases: vec!["api".into(), "api.local".into()],
                    ip: Some("10.5.0.9".parse().unwrap())
                },
            ])
        );
        assert_eq!(
            by("side"),
            ServiceNetworking::Service {
                service: "api".into(),
                container: "shop-api-1".into()
            }
        );
        assert_eq!(by("host"), ServiceNetworking::Host);
        // Only the networks in use; none for `host` and `side`.
        let all = networks(&p, p.services.keys()).unwrap();
        let names: Vec<_> = all.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["shared-back", "shop_front"]);
        assert!(all[0].external && !all[1].external && all[1].internal);
        assert_eq!(all[1].subnet.as_deref(), Some("10.5.0.0/24"));
        let only_host = networks(&p, [&"host".to_string()]).unwrap();
        assert!(only_host.is_empty());

        let overlay =
            project("services:\n  a:\n    image: x\nnetworks:\n  default:\n    driver: overlay\n");
        let err = networks(&overlay, overlay.services.keys()).unwrap_err();
        assert!(
            err.to_string()
                .contains("driver `overlay` is not supported"),
            "{err}"
        );
        let bad_mode = project("services:\n  a:\n    image: x\n    network_mode: pasta\n");
        assert!(plan(&bad_mode)
            .unwrap_err()
            .to_string()
            .contains("network_mode `pasta`"));
        let ports = project("services:\n  a:\n    image: x\n    network_mode: \"container:b\"\n    ports: [\"80:80\"]\n");
        assert!(plan(&ports)
            .unwrap_err()
            .to_string()
            .contains("publish them on the container"));
    }
}
