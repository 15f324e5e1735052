//! A user-defined network's holder (`devbox:[network] NAME`): a small process that owns the
//! network's namespace and everything in it while containers use it.
//!
//! Rootless, a network namespace can only be configured by a process with CAP_NET_ADMIN over
//! the user namespace that owns it, and a veth pair can only join two namespaces owned by the
//! same user namespace (or one we hold capabilities over). So every network holder lives in one
//! shared user namespace (made by the first holder with the user's subordinate id mapping,
//! joined by the others, like Podman's pause process), and containers on user networks run in
//! that user namespace too (`userns::spawn_in`). Each holder has a network namespace with:
//!
//! - a bridge `br0` with the network's gateway address;
//! - one veth pair per attached container (`v<id>` on the bridge, `ethN` in the container);
//! - the embedded DNS resolver on the gateway's port 53, UDP and TCP (`net::resolver`):
//!   container names, aliases and short ids on this network, other names forwarded upstream
//!   through a socket made in the host's network namespace before the holder left it.
//!
//! Outbound traffic does not cross the bridge: each container keeps its own slirp4netns (its
//! default route), unless all its networks are `--internal`, in which case it has none. The
//! bridge carries container-to-container traffic only, so containers on different networks
//! have no path to each other (only published ports on the host, as with Docker).
//!
//! The holder is driven over a Unix socket (one JSON line each way per request) and lives
//! while containers are attached: it polls their pids, and exits once none is left (or none
//! came within [`IDLE_EXIT`] of its start), or on `network rm`. Starting holders and attaching
//! containers happen under one lock (`start.lock`) that the holder also takes before it exits,
//! so a container being attached never finds its holder gone.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::resolver;
use crate::store::lock::Lock;
use crate::store::networks::NetworkRecord;
use crate::sys;

/// The MTU of the bridge and of every veth on it. The bridge only joins containers of this
/// machine, never a physical link, so it takes slirp4netns's 65520 rather than Ethernet's
/// 1500 (Docker's and Podman's default): fewer, bigger segments for the same bytes, which is
/// most of the cost of a veth pair.
const BRIDGE_MTU: &str = "65520";

/// A holder that nobody attached to within this time after its start exits.
pub const IDLE_EXIT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum HolderError {
    #[error("`{0}` is not installed (looked in PATH, /usr/sbin and /sbin); user-defined networks need iproute2 and util-linux")]
    ToolMissing(&'static str),
    #[error("the holder of network `{network}` does not answer at {}: {source}", socket.display())]
    Unreachable {
        network: String,
        socket: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("network `{network}`: {message}")]
    Refused { network: String, message: String },
}

/// The holder's files in the store's `netrun-v1/`, by network id.
#[derive(Debug, Clone)]
pub struct HolderFiles {
    pub socket: PathBuf,
    /// Held exclusively by the live holder.
    pub lock: PathBuf,
    pub pid: PathBuf,
    pub log: PathBuf,
}

impl HolderFiles {
    pub fn new(run_dir: &Path, network_id: &str) -> HolderFiles {
        let base = &network_id[..12.min(network_id.len())];
        HolderFiles {
            socket: run_dir.join(format!("{base}.sock")),
            lock: run_dir.join(format!("{base}.lock")),
            pid: run_dir.join(format!("{base}.pid")),
            log: run_dir.join(format!("{base}.log")),
        }
    }

    /// The holder's pid, if one is alive.
    pub fn live_pid(&self) -> Option<i32> {
        if !Lock::is_held(&self.lock) {
            return None;
        }
        std::fs::read_to_string(&self.pid).ok()?.trim().parse().ok()
    }
}

/// The lock under which holders start and containers attach (and holders decide to exit).
pub fn start_lock_path(run_dir: &Path) -> PathBuf {
    run_dir.join("start.lock")
}

/// What the holder is told when it starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HolderConfig {
    pub network: NetworkRecord,
    pub run_dir: PathBuf,
    /// Where names the network does not know are forwarded (none for internal networks).
    pub upstream: Vec<SocketAddr>,
    pub ip_tool: PathBuf,
    pub nsenter: PathBuf,
}

/// A container to attach.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttachRequest {
    pub container_id: String,
    /// Host pid of the container's init.
    pub pid: i32,
    /// Names the resolver answers for it: name, aliases, short id.
    pub names: Vec<String>,
    pub ip: Option<Ipv4Addr>,
    /// The interface inside the container (`eth0`, `eth1`, ...).
    pub ifname: String,
    /// Its MAC address (`--mac-address`); the kernel picks one otherwise.
    #[serde(default)]
    pub mac: Option<String>,
}

/// Where a container was attached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attached {
    pub network: String,
    pub network_id: String,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    pub aliases: Vec<String>,
    #[serde(default)]
    pub mac: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Request {
    Ping,
    Attach(AttachRequest),
    Detach { container_id: String },
    Shutdown,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Ok,
    Attached { ip: Ipv4Addr, mac: String },
    Error(String),
}

fn ask(network: &str, socket: &Path, request: &Request) -> Result<Reply, HolderError> {
    let unreachable = |source| HolderError::Unreachable {
        network: network.to_string(),
        socket: socket.to_path_buf(),
        source,
    };
    let mut stream = crate::sys::ipc::connect_unix(socket).map_err(unreachable)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(unreachable)?;
    let mut line = serde_json::to_string(request).map_err(|e| unreachable(e.into()))?;
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(unreachable)?;
    let mut reply = String::new();
    BufReader::new(&stream)
        .read_line(&mut reply)
        .map_err(unreachable)?;
    serde_json::from_str(&reply).map_err(|e| unreachable(e.into()))
}

/// Whether a holder answers on `files`.
pub fn ping(network: &NetworkRecord, files: &HolderFiles) -> bool {
    matches!(
        ask(&network.name, &files.socket, &Request::Ping),
        Ok(Reply::Ok)
    )
}

/// Attaches a running container to the network.
pub fn attach(
    network: &NetworkRecord,
    files: &HolderFiles,
    request: AttachRequest,
    aliases: Vec<String>,
) -> Result<Attached, HolderError> {
    match ask(&network.name, &files.socket, &Request::Attach(request))? {
        Reply::Attached { ip, mac } => Ok(Attached {
            network: network.name.clone(),
            network_id: network.id.clone(),
            ip,
            prefix: network.subnet.prefix,
            gateway: network.gateway,
            aliases,
            mac,
        }),
        Reply::Error(message) => Err(HolderError::Refused {
            network: network.name.clone(),
            message,
        }),
        Reply::Ok => Err(HolderError::Refused {
            network: network.name.clone(),
            message: "unexpected reply".into(),
        }),
    }
}

/// Detaches a container (its interface goes away).
pub fn detach(
    network: &NetworkRecord,
    files: &HolderFiles,
    container_id: &str,
) -> Result<(), HolderError> {
    let request = Request::Detach {
        container_id: container_id.to_string(),
    };
    match ask(&network.name, &files.socket, &request)? {
        Reply::Error(message) => Err(HolderError::Refused {
            network: network.name.clone(),
            message,
        }),
        _ => Ok(()),
    }
}

/// Stops the holder, if one runs (`network rm`).
pub fn shutdown(network: &NetworkRecord, files: &HolderFiles) {
    if files.live_pid().is_some() {
        let _ = ask(&network.name, &files.socket, &Request::Shutdown);
    }
}

/// Finds a helper program the holder runs, in PATH or the sbin directories (`ip` lives in
/// /usr/sbin, which an unprivileged user's PATH often lacks).
pub fn find_tool(name: &'static str) -> Result<PathBuf, HolderError> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found.ok_or(HolderError::ToolMissing(name))
}

/// The nameservers of the host's resolv.conf, as upstreams for the resolver.
pub fn upstreams(host_resolv_conf: &str) -> Vec<SocketAddr> {
    host_resolv_conf
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver"))
        // The forwarding socket is IPv4.
        .filter_map(|ip| ip.trim().parse::<Ipv4Addr>().ok())
        .map(|ip| SocketAddr::new(ip.into(), 53))
        .collect()
}

/// One attached container, as the holder tracks it.
struct Member {
    pid: i32,
    start_time: Option<u64>,
    ip: Ipv4Addr,
    names: Vec<String>,
    veth: String,
}

type Members = Arc<Mutex<HashMap<String, Member>>>;

/// The holder role: sets up the bridge and the resolver, reports through `ready`, then serves
/// until no container is left. Runs in the shared user namespace and its own network
/// namespace; `upstream` is a UDP socket of the host's network namespace.
pub fn serve(
    config: HolderConfig,
    upstream: Option<OwnedFd>,
    ready: impl FnOnce(Result<(), String>),
) -> u8 {
    let net = &config.network;
    sys::process::set_name(&format!("devbox:[network] {}", net.name));
    let _ = sys::process::setsid();
    let files = HolderFiles::new(&config.run_dir, &net.id);
    let setup = || -> Result<(Lock, UnixListener, UdpSocket, TcpListener), String> {
        let lock = Lock::try_exclusive(&files.lock)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "another holder runs for this network".to_string())?;
        sys::net::bring_up_loopback().map_err(|e| e.to_string())?;
        let gw = format!("{}/{}", net.gateway, net.subnet.prefix);
        run(
            &config.ip_tool,
            &["link", "add", "br0", "mtu", BRIDGE_MTU, "type", "bridge"],
        )?;
        run(&config.ip_tool, &["addr", "add", &gw, "dev", "br0"])?;
        run(&config.ip_tool, &["link", "set", "br0", "up"])?;
        let resolver = SocketAddr::new(net.gateway.into(), 53);
        let cannot = |e| format!("cannot bind the resolver on {resolver}: {e}");
        let dns_udp = UdpSocket::bind(resolver).map_err(cannot)?;
        let dns_tcp = TcpListener::bind(resolver).map_err(cannot)?;
        let _ = std::fs::remove_file(&files.socket);
        let listener = crate::sys::ipc::bind_unix(&files.socket)
            .map_err(|e| format!("cannot bind {}: {e}", files.socket.display()))?;
        crate::store::atomic::write_atomic(&files.pid, std::process::id().to_string().as_bytes())
            .map_err(|e| e.to_string())?;
        Ok((lock, listener, dns_udp, dns_tcp))
    };
    let (_lock, listener, dns_udp, dns_tcp) = match setup() {
        Ok(s) => s,
        Err(message) => {
            ready(Err(message));
            return 1;
        }
    };
    ready(Ok(()));
    let members: Members = Arc::default();
    let known = members.clone();
    let lookup: resolver::Lookup = Arc::new(move |name: &str| {
        known
            .lock()
            .map(|m| {
                m.values()
                    .filter(|m| m.names.iter().any(|n| n == name) && alive(m.pid, m.start_time))
                    .map(|m| m.ip)
                    .collect()
            })
            .unwrap_or_default()
    });
    resolver::start(
        dns_udp,
        dns_tcp,
        upstream.map(UdpSocket::from),
        &config.upstream,
        lookup,
    );
    let started = Instant::now();
    let mut had_members = false;
    loop {
        let readable = sys::ipc::poll_readable(&[listener.as_fd()], 300).unwrap_or_default();
        if readable.first() == Some(&true) {
            if let Ok((stream, _)) = listener.accept() {
                if serve_one(&config, stream, &members) {
                    break;
                }
            }
        }
        let mut guard = members.lock().unwrap_or_else(|e| e.into_inner());
        guard.retain(|_, m| alive(m.pid, m.start_time));
        had_members |= !guard.is_empty();
        let idle = guard.is_empty() && (had_members || started.elapsed() > IDLE_EXIT);
        drop(guard);
        if idle && !config.run_dir.is_dir() {
            // The store's runtime state was removed: nobody can reach us, and locking below
            // would make the directory again.
            break;
        }
        if idle {
            // Nobody may be attaching while we go.
            let start_lock = start_lock_path(&config.run_dir);
            if let Ok(Some(_held)) = Lock::try_exclusive(&start_lock) {
                if members.lock().map(|m| m.is_empty()).unwrap_or(true) {
                    break;
                }
            }
        }
    }
    let _ = std::fs::remove_file(&files.socket);
    let _ = std::fs::remove_file(&files.pid);
    0
}

/// Handles one request; true when the holder is to exit.
fn serve_one(config: &HolderConfig, stream: UnixStream, members: &Members) -> bool {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut line = String::new();
    if BufReader::new(&stream).read_line(&mut line).is_err() {
        return false;
    }
    let (reply, exit) = match serde_json::from_str::<Request>(&line) {
        Ok(Request::Ping) => (Reply::Ok, false),
        Ok(Request::Shutdown) => (Reply::Ok, true),
        Ok(Request::Attach(request)) => (
            match attach_member(config, request, members) {
                Ok((ip, mac)) => Reply::Attached { ip, mac },
                Err(e) => Reply::Error(e),
            },
            false,
        ),
        Ok(Request::Detach { container_id }) => {
            let member = members
                .lock()
                .ok()
                .and_then(|mut m| m.remove(&container_id));
            if let Some(member) = member {
                let _ = run(&config.ip_tool, &["link", "del", &member.veth]);
            }
            (Reply::Ok, false)
        }
        Err(e) => (Reply::Error(format!("bad request: {e}")), false),
    };
    let mut text = serde_json::to_string(&reply).unwrap_or_default();
    text.push('\n');
    let _ = (&stream).write_all(text.as_bytes());
    exit
}

/// Creates the container's veth pair, addresses it, and records its names.
fn attach_member(
    config: &HolderConfig,
    request: AttachRequest,
    members: &Members,
) -> Result<(Ipv4Addr, String), String> {
    let net = &config.network;
    let start_time = start_time(request.pid);
    if start_time.is_none() {
        return Err(format!("container process {} is gone", request.pid));
    }
    let mut guard = members.lock().map_err(|e| e.to_string())?;
    guard.retain(|_, m| alive(m.pid, m.start_time));
    if guard.contains_key(&request.container_id) {
        return Err("the container is already attached".into());
    }
    let used: Vec<Ipv4Addr> = guard.values().map(|m| m.ip).collect();
    let ip = match request.ip {
        Some(ip) if !net.subnet.is_host(ip) || ip == net.gateway => {
            return Err(format!(
                "address {ip} is not a free host address of {}",
                net.subnet
            ))
        }
        Some(ip) if used.contains(&ip) => return Err(format!("address {ip} is already in use")),
        Some(ip) => ip,
        None => net
            .subnet
            .hosts()
            .find(|ip| *ip != net.gateway && !used.contains(ip))
            .ok_or_else(|| format!("no free address left in {}", net.subnet))?,
    };
    let veth = format!(
        "v{}",
        &request.container_id[..12.min(request.container_id.len())]
    );
    let pid = request.pid.to_string();
    let ip_tool = config.ip_tool.to_string_lossy().to_string();
    // A leftover of an earlier run of the same container.
    let _ = run(&config.ip_tool, &["link", "del", &veth]);
    let mut add = vec![
        "link",
        "add",
        veth.as_str(),
        "mtu",
        BRIDGE_MTU,
        "type",
        "veth",
        "peer",
        "name",
        request.ifname.as_str(),
        "mtu",
        BRIDGE_MTU,
    ];
    if let Some(mac) = &request.mac {
        add.extend(["address", mac.as_str()]);
    }
    add.extend(["netns", pid.as_str()]);
    let steps = || -> Result<String, String> {
        run(&config.ip_tool, &add)?;
        run(
            &config.ip_tool,
            &["link", "set", &veth, "master", "br0", "up"],
        )?;
        let inside = |args: &[&str]| -> Result<String, String> {
            let netns = format!("--net=/proc/{pid}/ns/net");
            let mut all = vec![netns.as_str(), ip_tool.as_str()];
            all.extend_from_slice(args);
            run(&config.nsenter, &all)
        };
        let cidr = format!("{ip}/{}", net.subnet.prefix);
        inside(&["addr", "add", &cidr, "dev", &request.ifname])?;
        inside(&["link", "set", &request.ifname, "up"])?;
        let link = inside(&["-o", "link", "show", &request.ifname])?;
        Ok(link
            .split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .unwrap_or_default()
            .to_string())
    };
    let mac = steps().inspect_err(|_| {
        let _ = run(&config.ip_tool, &["link", "del", &veth]);
    })?;
    guard.insert(
        request.container_id,
        Member {
            pid: request.pid,
            start_time,
            ip,
            names: request
                .names
                .iter()
                .map(|n| n.to_ascii_lowercase())
                .collect(),
            veth,
        },
    );
    Ok((ip, mac))
}

/// Runs a helper; its stderr is the error.
fn run(program: &Path, args: &[&str]) -> Result<String, String> {
    let output = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).to_string())
    } else {
        Err(format!(
            "`{} {}` failed: {}",
            program.display(),
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// The start time of `pid` (field 22 of /proc/PID/stat): a pid reused by another process
/// has another one.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn alive(pid: i32, since: Option<u64>) -> bool {
    start_time(pid).is_some() && start_time(pid) == since
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_come_from_resolv_conf() {
        let conf = "search corp\nnameserver 10.255.255.53\nnameserver ::1\noptions ndots:2\n";
        assert_eq!(
            upstreams(conf),
            vec!["10.255.255.53:53".parse::<SocketAddr>().unwrap()]
        );
    }

    #[test]
    fn files_are_named_by_the_short_id() {
        let f = HolderFiles::new(Path::new("/run/x"), "0123456789abcdef");
        assert_eq!(f.socket, Path::new("/run/x/0123456789ab.sock"));
        assert!(f.live_pid().is_none());
    }
}
