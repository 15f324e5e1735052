//! Creating a container: the image config merged with the request
//! (ENTRYPOINT/CMD/ENV/WORKDIR/USER rules), a name and id, and its record
//! in the store.

use super::plan::RunSpec;
use super::state;
use super::{Result, RuntimeError};
use crate::spec::container::{self, Network};
use crate::spec::mount::{BindMount, TmpfsMount, VolumeMount};
use crate::spec::port::{self, PortMapping};
use crate::spec::{ids, user::UserSpec};
use crate::store::containers::{ContainerDirs, ContainerRecord};
use crate::store::images::Image;
use crate::store::Store;

/// What the user asked for, already parsed.
#[derive(Debug, Clone)]
pub struct Request {
    pub image_name: String,
    pub name: Option<String>,
    pub hostname: Option<String>,
    pub env: Vec<(String, String)>,
    pub workdir: Option<String>,
    pub user: Option<UserSpec>,
    pub binds: Vec<BindMount>,
    /// Named and anonymous volumes, made (or found) in the store at create.
    pub volumes: Vec<VolumeMount>,
    pub tmpfs: Vec<TmpfsMount>,
    /// `-p`; host port 0 = a free one, chosen at each start.
    pub ports: Vec<PortMapping>,
    /// `-P`: also every port the image EXPOSEs.
    pub publish_all: bool,
    /// `--add-host NAME:IP`.
    pub extra_hosts: Vec<(String, String)>,
    /// `--read-only`.
    pub read_only: bool,
    pub network: Network,
    /// User-defined networks, `container:NAME`, DNS settings.
    pub net: crate::spec::container::NetworkOptions,
    pub entrypoint: Option<Vec<String>>,
    pub args: Vec<String>,
    pub tty: bool,
    pub interactive: bool,
    pub auto_remove: bool,
    pub restart: crate::spec::restart::RestartPolicy,
    pub init: bool,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u64>,
    pub health: crate::spec::health::HealthOverrides,
    pub labels: std::collections::BTreeMap<String, String>,
    /// `--userns=keep-id`: the invoking user, who is also the default user.
    pub keep_id: Option<crate::spec::user::KeepIdUser>,
    /// `--cap-add`, `--cap-drop`, `--privileged`, `--security-opt`, limits.
    pub security: crate::spec::security::Security,
}

/// Randomness for ids and names; a failure is an error, never zeros (which
/// would give every container the same id).
fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    let mut urandom = fs_err::File::open("/dev/urandom")?;
    std::io::Read::read_exact(&mut urandom, &mut buf)?;
    Ok(buf)
}

/// Merges image and request into a RunSpec (pure).
pub fn run_spec(image: &Image, request: &Request, id: &str) -> Result<RunSpec> {
    let cfg = &image.config.config;
    let argv = container::command(
        cfg.entrypoint.as_deref(),
        cfg.cmd.as_deref(),
        request.entrypoint.clone(),
        &request.args,
    )
    .map_err(|e| RuntimeError::Setup(e.to_string()))?;
    let hostname = request
        .hostname
        .clone()
        .unwrap_or_else(|| id[..12].to_string());
    // HOME is filled in by init from the image's passwd when unset.
    let env = container::environment(
        cfg.env.as_deref().unwrap_or_default(),
        &request.env,
        &hostname,
        None,
        request.tty,
    );
    let user = match (&request.user, &request.keep_id) {
        (Some(u), _) => u.clone(),
        (None, Some(me)) => me.default_spec(),
        (None, None) => match cfg.user.as_deref().filter(|u| !u.is_empty()) {
            Some(u) => UserSpec::parse(u).map_err(|e| RuntimeError::Setup(e.to_string()))?,
            None => UserSpec::root(),
        },
    };
    Ok(RunSpec {
        argv,
        env: env.to_list(),
        workdir: container::workdir(request.workdir.as_deref(), cfg.working_dir.as_deref()),
        user,
        hostname,
        network: request.network,
        tty: request.tty,
        interactive: request.interactive,
        binds: request.binds.clone(),
        tmpfs: request.tmpfs.clone(),
        ports: published_ports(image, request)?,
        extra_hosts: request.extra_hosts.clone(),
        fill_volumes: Vec::new(),
        read_only: request.read_only,
        auto_remove: request.auto_remove,
        init: request.init,
        keep_id: request.keep_id.clone(),
        security: request.security.clone(),
        net: request.net.clone(),
    })
}

/// `-p` ports, plus with `-P` the image's EXPOSEd ports that `-p` does not publish already.
fn published_ports(image: &Image, request: &Request) -> Result<Vec<PortMapping>> {
    let mut ports = request.ports.clone();
    if request.publish_all {
        let exposed = image
            .config
            .config
            .exposed_ports
            .iter()
            .flat_map(|m| m.keys());
        for mapping in port::from_exposed(exposed.map(String::as_str))
            .map_err(|e| RuntimeError::Setup(format!("the image's EXPOSE: {e}")))?
        {
            if !ports
                .iter()
                .any(|p| p.container_port == mapping.container_port && p.proto == mapping.proto)
            {
                ports.push(mapping);
            }
        }
    }
    Ok(ports)
}

fn healthcheck(
    image: &Image,
    flags: &crate::spec::health::HealthOverrides,
) -> Option<crate::spec::health::HealthConfig> {
    let check = image.config.config.healthcheck.clone().unwrap_or_default();
    crate::spec::health::resolve(
        check.test.as_deref(),
        [check.interval, check.timeout, check.start_period],
        check.retries,
        flags,
    )
}

/// Named volumes (made when missing) and anonymous ones (always new: `-v /path`, and the
/// image's VOLUMEs that no mount covers), as bind mounts of their directories, each with
/// whether an empty volume is filled from the image (not with `nocopy`).
fn resolve_volumes(
    store: &Store,
    image: &Image,
    request: &Request,
) -> Result<Vec<(BindMount, bool)>> {
    let mut wanted: Vec<VolumeMount> = request.volumes.clone();
    let covered = |target: &str| {
        let target = target.trim_end_matches('/');
        request
            .binds
            .iter()
            .map(|b| b.target.as_str())
            .chain(request.volumes.iter().map(|v| v.target.as_str()))
            .chain(request.tmpfs.iter().map(|t| t.target.as_str()))
            .any(|t| t.trim_end_matches('/') == target)
    };
    for target in image.config.config.volumes.iter().flat_map(|v| v.keys()) {
        if !covered(target) {
            wanted.push(VolumeMount {
                name: None,
                target: target.clone(),
                readonly: false,
                nocopy: false,
            });
        }
    }
    let mut binds = Vec::new();
    for volume in wanted {
        let (name, anonymous) = match volume.name {
            Some(name) => (name, false),
            None => (ids::container_id(random_bytes()?), true),
        };
        store.create_volume(&name, Default::default(), anonymous)?;
        binds.push((
            BindMount {
                source: store.volume_data(&name),
                target: volume.target,
                readonly: volume.readonly,
                propagation: Default::default(),
            },
            !volume.nocopy,
        ));
    }
    Ok(binds)
}

/// Creates the container in the store.
pub fn create(
    store: &Store,
    image: &Image,
    request: &Request,
) -> Result<(ContainerRecord, ContainerDirs)> {
    let id = ids::container_id(random_bytes()?);
    let name = match &request.name {
        Some(n) => {
            ids::validate_name(n).map_err(|e| RuntimeError::Setup(e.to_string()))?;
            n.clone()
        }
        None => ids::generated_name(u32::from_le_bytes(random_bytes()?)),
    };
    let mut spec = run_spec(image, request, &id)?;
    let volumes = resolve_volumes(store, image, request)?;
    spec.fill_volumes = volumes
        .iter()
        .filter(|(_, fill)| *fill)
        .map(|(b, _)| b.target.clone())
        .collect();
    spec.binds.extend(volumes.into_iter().map(|(b, _)| b));
    let record = ContainerRecord {
        id,
        name,
        created: state::now(),
        image: request.image_name.clone(),
        image_id: image.id.clone(),
        spec,
        restart: request.restart,
        stop_signal: request
            .stop_signal
            .clone()
            .or_else(|| image.config.config.stop_signal.clone()),
        stop_timeout: request.stop_timeout,
        labels: request.labels.clone(),
        healthcheck: healthcheck(image, &request.health),
    };
    let dirs = match store.create_container(&record) {
        Err(crate::store::StoreError::NameInUse { .. }) if request.name.is_none() => {
            // A generated name collided: add a short suffix, as Podman does.
            let mut retry = record.clone();
            retry.name = format!("{}_{}", record.name, &record.id[..6]);
            let dirs = store.create_container(&retry)?;
            return Ok((retry, dirs));
        }
        other => other?,
    };
    Ok((record, dirs))
}
