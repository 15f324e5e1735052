//! Published ports (`-p`) without slirp4netns's forwarder: a proxy process that binds the host
//! ports as the user (in the host's network namespace), then joins the container's user and
//! network namespaces. Sockets bound before the join stay in the host namespace; sockets made
//! after it are in the container's. So each accepted host connection is paired with a fresh
//! connection to 127.0.0.1:PORT inside the container, and bytes are moved between the two on
//! loopback on both sides with splice(2), never copied through userspace — no user-mode TCP
//! stack in the path (slirp4netns's `add_hostfwd`
//! goes through one, and is ~2x slower; see PEERS.md).
//!
//! The proxy is the devbox binary re-executed (`__port-proxy`), driven over its stdin/stdout
//! by one JSON line each way per step (bind, join), and it lives until its stdin closes: the
//! process that owns the container (the foreground `run`, or the monitor) holds that pipe, so
//! the proxy cannot outlive it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket,
};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::spec::port::{PortMapping, Proto};
use crate::sys;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot publish {mapping}: the host port is in use (or not allowed): {source}")]
    Bind {
        mapping: PortMapping,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the port proxy")]
    Spawn(#[source] std::io::Error),
    #[error("the port proxy failed: {0}")]
    Failed(String),
}

/// Parent → proxy.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Request {
    Bind(Vec<PortMapping>),
    Join { pid: i32 },
}

/// Proxy → parent.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    /// The mappings with the host ports actually bound (free ports filled in).
    Bound(Vec<PortMapping>),
    Joined,
    Error(String),
}

/// The parent's handle on a running proxy: drop it (closing the proxy's stdin) to stop it.
pub struct PortProxy {
    handle: duct::Handle,
    to_proxy: Option<std::io::PipeWriter>,
    from_proxy: BufReader<std::io::PipeReader>,
    /// The published ports, with the host ports bound.
    pub mappings: Vec<PortMapping>,
}

impl Drop for PortProxy {
    fn drop(&mut self) {
        drop(self.to_proxy.take());
        let _ = self.handle.wait();
    }
}

impl PortProxy {
    /// Starts the proxy and binds every host port, before the container exists: a port in
    /// use is an error before anything starts.
    pub fn bind(devbox: &Path, mappings: &[PortMapping]) -> Result<PortProxy, ProxyError> {
        let (stdin_r, stdin_w) = std::io::pipe().map_err(ProxyError::Spawn)?;
        let (stdout_r, stdout_w) = std::io::pipe().map_err(ProxyError::Spawn)?;
        let handle = duct::cmd(devbox, ["__port-proxy"])
            .stdin_file(stdin_r)
            .stdout_file(stdout_w)
            .unchecked()
            .start()
            .map_err(ProxyError::Spawn)?;
        let mut proxy = PortProxy {
            handle,
            to_proxy: Some(stdin_w),
            from_proxy: BufReader::new(stdout_r),
            mappings: Vec::new(),
        };
        match proxy.ask(&Request::Bind(mappings.to_vec()))? {
            Reply::Bound(bound) => {
                proxy.mappings = bound;
                Ok(proxy)
            }
            Reply::Error(e) => Err(ProxyError::Failed(e)),
            Reply::Joined => Err(ProxyError::Failed("unexpected reply".into())),
        }
    }

    /// Joins the namespaces of the container whose init is `pid` and starts forwarding.
    pub fn join(&mut self, pid: i32) -> Result<(), ProxyError> {
        match self.ask(&Request::Join { pid })? {
            Reply::Joined => Ok(()),
            Reply::Error(e) => Err(ProxyError::Failed(e)),
            Reply::Bound(_) => Err(ProxyError::Failed("unexpected reply".into())),
        }
    }

    fn ask(&mut self, request: &Request) -> Result<Reply, ProxyError> {
        let failed = |e: std::io::Error| ProxyError::Failed(e.to_string());
        let mut line =
            serde_json::to_string(request).map_err(|e| ProxyError::Failed(e.to_string()))?;
        line.push('\n');
        let to = self
            .to_proxy
            .as_mut()
            .ok_or_else(|| ProxyError::Failed("closed".into()))?;
        to.write_all(line.as_bytes()).map_err(failed)?;
        let mut reply = String::new();
        if self.from_proxy.read_line(&mut reply).map_err(failed)? == 0 {
            return Err(ProxyError::Failed("it exited".into()));
        }
        serde_json::from_str(&reply).map_err(|e| ProxyError::Failed(format!("{e}: {reply}")))
    }
}

/// A bound host socket.
enum Listener {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// Binds `[::]` (dual stack) when no address is given, or 0.0.0.0 where IPv6 is off.
fn bind_one(mapping: &PortMapping) -> std::io::Result<(Listener, u16)> {
    let addrs: Vec<IpAddr> = match mapping.host_ip {
        Some(ip) => vec![ip],
        None => vec![
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        ],
    };
    let mut last = None;
    for ip in addrs {
        let addr = SocketAddr::new(ip, mapping.host_port);
        let bound = match mapping.proto {
            Proto::Tcp => TcpListener::bind(addr).and_then(|l| {
                let port = l.local_addr()?.port();
                Ok((Listener::Tcp(l), port))
            }),
            Proto::Udp => UdpSocket::bind(addr).and_then(|s| {
                let port = s.local_addr()?.port();
                Ok((Listener::Udp(s), port))
            }),
        };
        match bound {
            Ok(b) => return Ok(b),
            // Only "no IPv6 here" falls back to IPv4; a port in use is an answer.
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no address to bind")))
}

/// The `__port-proxy` role: answers requests on stdin until it closes.
pub fn serve_role() -> u8 {
    sys::process::set_name("devbox:[ports]");
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut stdout = std::io::stdout();
    let mut reply = |r: Reply| {
        let line = serde_json::to_string(&r).unwrap_or_else(|_| "{\"error\":\"?\"}".into());
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    };
    let mut listeners: Vec<(Listener, PortMapping)> = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        match serde_json::from_str::<Request>(&line) {
            Ok(Request::Bind(mappings)) => {
                let mut bound = Vec::new();
                for mapping in mappings {
                    match bind_one(&mapping) {
                        Ok((listener, port)) => {
                            let mapping = PortMapping {
                                host_port: port,
                                ..mapping
                            };
                            bound.push(mapping);
                            listeners.push((listener, mapping));
                        }
                        Err(source) => {
                            reply(Reply::Error(
                                ProxyError::Bind { mapping, source }.to_string(),
                            ));
                            return 1;
                        }
                    }
                }
                reply(Reply::Bound(bound));
            }
            Ok(Request::Join { pid }) => {
                // Before any thread starts: joining a user namespace needs one thread.
                if let Err(e) = sys::ns::join_some(Path::new("/proc"), pid, &["user", "net"]) {
                    reply(Reply::Error(e.to_string()));
                    return 1;
                }
                for (listener, mapping) in listeners.drain(..) {
                    match listener {
                        Listener::Tcp(l) => {
                            std::thread::spawn(move || forward_tcp(l, mapping.container_port));
                        }
                        Listener::Udp(s) => {
                            std::thread::spawn(move || forward_udp(s, mapping.container_port));
                        }
                    }
                }
                reply(Reply::Joined);
            }
            Err(e) => {
                reply(Reply::Error(format!("bad request: {e}")));
                return 1;
            }
        }
    }
    0
}

/// The address inside the container a published port reaches.
fn inside(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

fn forward_tcp(listener: TcpListener, port: u16) {
    for client in listener.incoming() {
        let Ok(client) = client else { continue };
        std::thread::spawn(move || {
            // Refused inside (nothing listens yet): the client sees its connection closed.
            let Ok(server) = TcpStream::connect(inside(port)) else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            pump_both(client, server);
        });
    }
}

/// Copies both directions until each side has finished sending.
fn pump_both(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    let back = std::thread::spawn(move || pump(b2, a2));
    pump(a, b);
    let _ = back.join();
}

/// Copies one direction: zero-copy with splice(2), through a buffer where splice cannot be
/// used; then passes the end of the stream on.
fn pump(from: TcpStream, to: TcpStream) {
    if sys::net::splice_copy(&from, &to) == sys::net::Relay::Unsupported {
        let _ = std::io::copy(&mut &from, &mut &to);
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

/// UDP: one socket inside per client address, replies sent back from the host socket.
fn forward_udp(host: UdpSocket, port: u16) {
    let host = Arc::new(host);
    let clients: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, client)) = host.recv_from(&mut buf) else {
            return;
        };
        let existing = clients.lock().ok().and_then(|c| c.get(&client).cloned());
        let inner = match existing {
            Some(inner) => inner,
            None => {
                let Ok(sock) = UdpSocket::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
                else {
                    continue;
                };
                if sock.connect(inside(port)).is_err() {
                    continue;
                }
                let sock = Arc::new(sock);
                if let Ok(mut c) = clients.lock() {
                    c.insert(client, sock.clone());
                }
                let (reply_to, host) = (sock.clone(), host.clone());
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = reply_to.recv(&mut buf) {
                        let _ = host.send_to(&buf[..n], client);
                    }
                });
                sock
            }
        };
        let _ = inner.send(&buf[..n]);
    }
}
