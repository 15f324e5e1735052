//! User-defined networks: `<root>/networks-v1/<name>.json`, written atomically under the store
//! lock (names and subnets are unique across networks). The network's holder process keeps
//! its socket, lock and log in the runtime directory ([`Store::network_run_dir`],
//! `net::holder`).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{atomic, lock::Lock, Store, StoreError};
use crate::net::subnet::{self, Subnet};

/// Names `network ls` shows for the built-in modes; no user network may take them.
pub const PREDEFINED: [(&str, &str); 3] =
    [("bridge", "bridge"), ("host", "host"), ("none", "null")];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub name: String,
    /// 64 hex digits, like a container's.
    pub id: String,
    pub created: String,
    /// Always `bridge`.
    pub driver: String,
    pub subnet: Subnet,
    pub gateway: Ipv4Addr,
    /// No route out: containers reach each other only.
    pub internal: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// What `network create` asks for.
#[derive(Debug, Clone, Default)]
pub struct NewNetwork {
    pub name: String,
    pub subnet: Option<Subnet>,
    pub gateway: Option<Ipv4Addr>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("network with name {0} already exists")]
    Exists(String),
    #[error("`{0}` is a predefined network name")]
    Predefined(String),
    #[error("invalid network name `{0}`: use letters, digits, `_`, `.` and `-`, starting with a letter or digit")]
    BadName(String),
    #[error("network {0} not found")]
    NotFound(String),
    #[error("subnet {subnet} cannot be used: {reason}")]
    Clash { subnet: Subnet, reason: String },
    #[error("gateway {gateway} is not a host address of subnet {subnet}")]
    Gateway { gateway: Ipv4Addr, subnet: Subnet },
    #[error("no free 10.89.N.0/24 subnet is left")]
    Exhausted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl crate::ui::diagnostics::Hint for NetworkError {
    fn hint(&self) -> Option<String> {
        match self {
            NetworkError::NotFound(_) => Some("list networks with `devbox network ls`".into()),
            NetworkError::Clash { .. } => {
                Some("choose another `--subnet`, or leave it out to get a free one".into())
            }
            _ => None,
        }
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && name.len() <= 64
}

impl Store {
    pub fn networks_dir(&self) -> PathBuf {
        self.root.join("networks-v1")
    }

    /// Where network holders keep their socket, lock, pid and log files: the store's default
    /// runtime directory (`$XDG_RUNTIME_DIR/devbox/<store hash>/networks`), whose short path
    /// fits a Unix socket's address.
    pub fn network_run_dir(&self) -> PathBuf {
        crate::paths::default_run_root(&self.root, crate::sys::ids::current_euid()).join("networks")
    }

    fn network_file(&self, name: &str) -> PathBuf {
        self.networks_dir().join(format!("{name}.json"))
    }

    /// Creates a network; `routes` are the host's (a subnet over them is refused).
    pub fn create_network(
        &self,
        new: NewNetwork,
        routes: &[(String, Subnet)],
    ) -> Result<NetworkRecord, NetworkError> {
        if PREDEFINED.iter().any(|(n, _)| *n == new.name) {
            return Err(NetworkError::Predefined(new.name));
        }
        if !valid_name(&new.name) {
            return Err(NetworkError::BadName(new.name));
        }
        fs_err::create_dir_all(self.networks_dir()).map_err(StoreError::from)?;
        let _lock = Lock::exclusive(&self.lock_path()).map_err(StoreError::from)?;
        let existing = self.list_networks()?;
        if existing.iter().any(|n| n.name == new.name) {
            return Err(NetworkError::Exists(new.name));
        }
        let taken: Vec<(String, Subnet)> = existing
            .iter()
            .map(|n| (n.name.clone(), n.subnet))
            .collect();
        let subnet = match new.subnet {
            Some(subnet) => {
                if let Some(reason) = subnet::clash(subnet, &taken, routes) {
                    return Err(NetworkError::Clash { subnet, reason });
                }
                subnet
            }
            None => subnet::choose(&taken, routes).ok_or(NetworkError::Exhausted)?,
        };
        let gateway = new.gateway.unwrap_or(subnet.default_gateway());
        if !subnet.is_host(gateway) {
            return Err(NetworkError::Gateway { gateway, subnet });
        }
        let record = NetworkRecord {
            name: new.name,
            id: random_id()?,
            created: crate::runtime::state::now(),
            driver: "bridge".into(),
            subnet,
            gateway,
            internal: new.internal,
            labels: new.labels,
        };
        let json = serde_json::to_vec_pretty(&record).map_err(std::io::Error::other);
        atomic::write_atomic(
            &self.network_file(&record.name),
            &json.map_err(StoreError::from)?,
        )
        .map_err(StoreError::from)?;
        Ok(record)
    }

    /// A network by name, full id or unique id prefix.
    pub fn network(&self, name_or_id: &str) -> Result<NetworkRecord, NetworkError> {
        let networks = self.list_networks()?;
        if let Some(n) = networks.iter().find(|n| n.name == name_or_id) {
            return Ok(n.clone());
        }
        let matches: Vec<&NetworkRecord> = networks
            .iter()
            .filter(|n| !name_or_id.is_empty() && n.id.starts_with(name_or_id))
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(NetworkError::NotFound(name_or_id.to_string())),
            _ => Err(StoreError::Ambiguous {
                prefix: name_or_id.to_string(),
                what: "network",
            }
            .into()),
        }
    }

    /// Every user-defined network, by name.
    pub fn list_networks(&self) -> Result<Vec<NetworkRecord>, StoreError> {
        let entries = match std::fs::read_dir(self.networks_dir()) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let bytes = fs_err::read(&path)?;
            let record: NetworkRecord =
                serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            out.push(record);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Removes a network's record (the caller checked that no running container uses it and
    /// stopped its holder).
    pub fn remove_network(&self, name: &str) -> Result<(), NetworkError> {
        let _lock = Lock::exclusive(&self.lock_path()).map_err(StoreError::from)?;
        match std::fs::remove_file(self.network_file(name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(NetworkError::NotFound(name.to_string()))
            }
            Err(e) => Err(StoreError::from(e).into()),
        }
    }
}

fn random_id() -> Result<String, StoreError> {
    let mut buf = [0u8; 32];
    let mut urandom = fs_err::File::open("/dev/urandom")?;
    std::io::Read::read_exact(&mut urandom, &mut buf)?;
    Ok(hex::encode(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(name: &str, subnet: Option<&str>) -> NewNetwork {
        NewNetwork {
            name: name.into(),
            subnet: subnet.map(|s| s.parse().unwrap()),
            ..NewNetwork::default()
        }
    }

    #[test]
    fn create_find_list_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = store.create_network(new("a", None), &[]).unwrap();
        assert_eq!(a.subnet.to_string(), "10.89.0.0/24");
        assert_eq!(a.gateway.to_string(), "10.89.0.1");
        let b = store.create_network(new("b", None), &[]).unwrap();
        assert_eq!(b.subnet.to_string(), "10.89.1.0/24");
        assert!(matches!(
            store.create_network(new("a", None), &[]),
            Err(NetworkError::Exists(_))
        ));
        assert!(matches!(
            store.create_network(new("c", Some("10.89.0.0/16")), &[]),
            Err(NetworkError::Clash { .. })
        ));
        assert!(matches!(
            store.create_network(new("bridge", None), &[]),
            Err(NetworkError::Predefined(_))
        ));
        assert!(matches!(
            store.create_network(new("-x", None), &[]),
            Err(NetworkError::BadName(_))
        ));
        assert_eq!(store.network(&a.id[..8]).unwrap().name, "a");
        assert_eq!(store.list_networks().unwrap().len(), 2);
        store.remove_network("a").unwrap();
        assert!(matches!(store.network("a"), Err(NetworkError::NotFound(_))));
    }

    #[test]
    fn gateway_must_be_in_the_subnet() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut n = new("g", Some("10.90.0.0/24"));
        n.gateway = Some("10.91.0.1".parse().unwrap());
        assert!(matches!(
            store.create_network(n, &[]),
            Err(NetworkError::Gateway { .. })
        ));
    }
}
