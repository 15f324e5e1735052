//! Containers on user-defined networks: their networks' holders (`net::holder`), started on
//! demand in the one shared user namespace, and the container's attachment to each at start.

use std::ffi::OsString;
use std::net::UdpSocket;
use std::os::fd::OwnedFd;

use super::idmap::IdMapping;
use super::ipc::ToParent;
use super::{userns, Result, RuntimeError};
use crate::net::holder::{self, AttachRequest, Attached, HolderConfig, HolderFiles};
use crate::paths::HostPaths;
use crate::spec::container::NetworkAttachment;
use crate::store::containers::ContainerRecord;
use crate::store::lock::Lock;
use crate::store::networks::NetworkRecord;
use crate::store::Store;
use crate::sys::{self, ns::Namespaces};

/// The holders of a container's networks, alive and kept so (their start lock is held) until
/// the container is attached.
pub struct Lease {
    _start: Lock,
    pub networks: Vec<(NetworkRecord, HolderFiles, NetworkAttachment)>,
    /// The pid of a holder: the container joins its user namespace.
    pub holder_pid: i32,
}

/// The networks of `spec`, checked to exist.
pub fn records(store: &Store, wanted: &[NetworkAttachment]) -> Result<Vec<NetworkRecord>> {
    wanted
        .iter()
        .map(|n| {
            store
                .network(&n.name)
                .map_err(|e| RuntimeError::Setup(e.to_string()))
        })
        .collect()
}

/// Makes sure each network has a live holder, starting those that have none.
pub fn ensure_holders(
    store: &Store,
    mapping: &IdMapping,
    host: &HostPaths,
    wanted: &[NetworkAttachment],
    join_hint: Option<i32>,
) -> Result<Lease> {
    let records = records(store, wanted)?;
    let run_dir = store.network_run_dir();
    fs_err::create_dir_all(&run_dir)?;
    let start = Lock::exclusive(&holder::start_lock_path(&run_dir))?;
    let mut networks = Vec::new();
    let mut holder_pid = None;
    for (record, attachment) in records.into_iter().zip(wanted) {
        let files = HolderFiles::new(&run_dir, &record.id);
        let pid = match files.live_pid().filter(|_| holder::ping(&record, &files)) {
            Some(pid) => pid,
            None => spawn_holder(store, mapping, host, &record, &files, join_hint)?,
        };
        holder_pid.get_or_insert(pid);
        networks.push((record, files, attachment.clone()));
    }
    Ok(Lease {
        _start: start,
        networks,
        holder_pid: holder_pid.ok_or_else(|| RuntimeError::Setup("no network".into()))?,
    })
}

/// A live holder of any network: new holders join its user namespace.
fn any_live_holder(store: &Store) -> Option<i32> {
    let entries = std::fs::read_dir(store.network_run_dir()).ok()?;
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pid"))
        .find_map(|p| {
            let lock = p.with_extension("lock");
            Lock::is_held(&lock)
                .then(|| std::fs::read_to_string(&p).ok()?.trim().parse().ok())
                .flatten()
        })
}

fn spawn_holder(
    store: &Store,
    mapping: &IdMapping,
    host: &HostPaths,
    record: &NetworkRecord,
    files: &HolderFiles,
    join_hint: Option<i32>,
) -> Result<i32> {
    let tool = |name| holder::find_tool(name).map_err(|e| RuntimeError::Setup(e.to_string()));
    let host_resolv = std::fs::read_to_string(&host.etc_resolv_conf).unwrap_or_default();
    let config = HolderConfig {
        network: record.clone(),
        run_dir: store.network_run_dir(),
        upstream: if record.internal {
            Vec::new()
        } else {
            holder::upstreams(&host_resolv)
        },
        ip_tool: tool("ip")?,
        nsenter: tool("nsenter")?,
    };
    // One user namespace for every network (a container may be on several).
    let joined = join_hint
        .or_else(|| any_live_holder(store))
        .map(|pid| sys::ns::JoinedNamespaces::open(&host.proc, pid, &["user"]))
        .transpose()?;
    let namespaces = Namespaces {
        user: !matches!(mapping, IdMapping::Root),
        net: true,
        ..Namespaces::default()
    };
    let null: OwnedFd = fs_err::File::open("/dev/null")?.into();
    let null_out: OwnedFd = fs_err::OpenOptions::new()
        .write(true)
        .open("/dev/null")?
        .into();
    let log: OwnedFd = fs_err::File::create(&files.log)?.into();
    let child = userns::spawn_in(
        mapping,
        joined.as_ref(),
        namespaces,
        &[
            OsString::from("__network-holder"),
            OsString::from(&record.id),
        ],
        Some([&null, &null_out, &log]),
    )?;
    // The resolver's way out: a socket of this (the host's) network namespace.
    let upstream: Option<OwnedFd> = (!record.internal)
        .then(|| UdpSocket::bind("0.0.0.0:0").map(OwnedFd::from))
        .transpose()?;
    let fds: Vec<&OwnedFd> = upstream.iter().collect();
    let setup = |e: super::ipc::IpcError| RuntimeError::Setup(e.to_string());
    child.channel.send(&config, &fds).map_err(setup)?;
    let failed = |message: String| {
        let _ = sys::process::kill(child.pid, sys::process::SIGKILL);
        let _ = sys::process::wait_exit(child.pid);
        RuntimeError::Setup(format!(
            "cannot start the holder of network `{}`: {message}",
            record.name
        ))
    };
    match child.channel.recv::<ToParent>("network holder") {
        Ok(Some((ToParent::Started, _))) => Ok(child.pid.as_raw()),
        Ok(Some((ToParent::Failed { message, .. }, _))) => Err(failed(message)),
        Ok(_) => Err(failed(
            std::fs::read_to_string(&files.log)
                .unwrap_or_else(|_| "it exited".into())
                .trim()
                .to_string(),
        )),
        Err(e) => Err(failed(e.to_string())),
    }
}

/// The names a container answers to on its networks: name, short id, aliases.
fn names(record: &ContainerRecord, attachment: &NetworkAttachment) -> Vec<String> {
    let mut names = vec![record.name.clone(), record.id[..12].to_string()];
    names.extend(attachment.aliases.iter().cloned());
    names
}

/// Attaches the started container (init's host pid) to every network of the lease.
pub fn attach_all(lease: Lease, record: &ContainerRecord, pid: i32) -> Result<Vec<Attached>> {
    let mut attached = Vec::new();
    for (i, (network, files, attachment)) in lease.networks.iter().enumerate() {
        attached.push(attach_one(network, files, attachment, record, pid, i)?);
    }
    Ok(attached)
}

/// Attaches the container as interface `eth<index>`, answering to its names on the network.
fn attach_one(
    network: &NetworkRecord,
    files: &HolderFiles,
    attachment: &NetworkAttachment,
    record: &ContainerRecord,
    pid: i32,
    index: usize,
) -> Result<Attached> {
    let request = AttachRequest {
        container_id: record.id.clone(),
        pid,
        names: names(record, attachment),
        ip: attachment.ip,
        ifname: format!("eth{index}"),
        mac: (index == 0)
            .then(|| record.spec.net.mac_address.clone())
            .flatten(),
    };
    holder::attach(network, files, request, attachment.aliases.clone())
        .map_err(|e| RuntimeError::Setup(e.to_string()))
}

/// Attaches a running container to one more network (`network connect`).
pub fn connect_running(
    store: &Store,
    mapping: &IdMapping,
    host: &HostPaths,
    record: &ContainerRecord,
    pid: i32,
    attachment: &NetworkAttachment,
    index: usize,
) -> Result<Attached> {
    // A new holder joins the user namespace of the container's networks: that of a holder of
    // one of them, or the container's own, which is that namespace unless the container is
    // keep-id (its own is nested in it).
    let run_dir = store.network_run_dir();
    let hint = record
        .spec
        .net
        .networks
        .iter()
        .filter_map(|n| store.network(&n.name).ok())
        .find_map(|n| HolderFiles::new(&run_dir, &n.id).live_pid())
        .or(record.spec.keep_id.is_none().then_some(pid));
    let lease = ensure_holders(store, mapping, host, std::slice::from_ref(attachment), hint)?;
    let (network, files, attachment) = &lease.networks[0];
    attach_one(network, files, attachment, record, pid, index)
}

/// Detaches a running container from a network (`network disconnect`).
pub fn disconnect_running(
    store: &Store,
    network: &NetworkRecord,
    container_id: &str,
) -> Result<()> {
    let files = HolderFiles::new(&store.network_run_dir(), &network.id);
    if files.live_pid().is_none() {
        return Ok(());
    }
    holder::detach(network, &files, container_id).map_err(|e| RuntimeError::Setup(e.to_string()))
}

/// Stops a network's holder (`network rm`).
pub fn stop_holder(store: &Store, network: &NetworkRecord) {
    holder::shutdown(
        network,
        &HolderFiles::new(&store.network_run_dir(), &network.id),
    );
}

/// The containers whose spec names `network`, with whether each is running.
pub fn users(store: &Store, network: &str) -> Result<Vec<(ContainerRecord, bool)>> {
    Ok(store
        .list_containers()?
        .into_iter()
        .filter(|(record, _)| record.spec.net.networks.iter().any(|n| n.name == network))
        .map(|(record, state)| (record, state.status.is_live()))
        .collect())
}

/// `network connect`: a stopped container gets the network at its next start; a running one
/// on user networks already (so in their user namespace) is attached now.
pub fn connect(
    store: &Store,
    mapping: &IdMapping,
    host: &HostPaths,
    container: &str,
    attachment: NetworkAttachment,
) -> Result<()> {
    use crate::spec::container::Network;
    let network = store
        .network(&attachment.name)
        .map_err(|e| RuntimeError::Setup(e.to_string()))?;
    let id = store.resolve_container(container)?;
    let (mut record, mut state) = store.load_container(&id)?;
    let spec = &record.spec;
    if spec.net.networks.iter().any(|n| n.name == network.name) {
        return Err(RuntimeError::Setup(format!(
            "container {} is already connected to network {}",
            record.name, network.name
        )));
    }
    let mode_ok = match spec.network {
        Network::User => true,
        Network::Slirp4netns => spec.net.networks.is_empty(),
        _ => false,
    };
    if !mode_ok {
        return Err(RuntimeError::Setup(format!(
            "container {} uses network mode `{}`, which cannot be combined with a user-defined network",
            record.name,
            serde_json::to_value(spec.network).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
        )));
    }
    let attachment = NetworkAttachment {
        name: network.name.clone(),
        ..attachment
    };
    if let (true, Some(pid)) = (state.status.is_live(), state.pid) {
        if spec.network != Network::User {
            return Err(RuntimeError::Setup(format!(
                "container {} runs on the default network in a user namespace of its own: stop it first, then connect it (it joins the network at its next start)",
                record.name
            )));
        }
        let index = spec.net.networks.len();
        let attached = connect_running(store, mapping, host, &record, pid, &attachment, index)?;
        state.networks.push(attached);
        store.save_state(&id, &state)?;
    }
    record.spec.network = Network::User;
    record.spec.net.networks.push(attachment);
    store.save_record(&record)?;
    Ok(())
}

/// `network disconnect`.
pub fn disconnect(store: &Store, network: &str, container: &str) -> Result<()> {
    use crate::spec::container::Network;
    let network = store
        .network(network)
        .map_err(|e| RuntimeError::Setup(e.to_string()))?;
    let id = store.resolve_container(container)?;
    let (mut record, mut state) = store.load_container(&id)?;
    if !record
        .spec
        .net
        .networks
        .iter()
        .any(|n| n.name == network.name)
    {
        return Err(RuntimeError::Setup(format!(
            "container {} is not connected to network {}",
            record.name, network.name
        )));
    }
    if state.status.is_live() {
        disconnect_running(store, &network, &id)?;
        state.networks.retain(|a| a.network != network.name);
        store.save_state(&id, &state)?;
    }
    record.spec.net.networks.retain(|n| n.name != network.name);
    if record.spec.net.networks.is_empty() {
        record.spec.network = Network::Slirp4netns;
    }
    store.save_record(&record)?;
    Ok(())
}
