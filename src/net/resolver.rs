//! The embedded resolver a network holder runs on its gateway's port 53, over UDP and TCP
//! (RFC 1035 §4.2: over TCP each message is prefixed with its length on two bytes; clients
//! use it for answers that do not fit a datagram, and some, like Go's, when asked to).
//!
//! Names of the network's containers are answered here; other names are forwarded to the
//! first upstream server through one UDP socket made in the host's network namespace (the
//! holder cannot make new host sockets once it left it), and its answer is relayed to the
//! client by the transport the client used.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::dns;

/// The addresses of a name on the network (empty: not one of its containers).
pub type Lookup = Arc<dyn Fn(&str) -> Vec<Ipv4Addr> + Send + Sync>;

/// A TCP client that sends nothing for this long is disconnected (RFC 7766 §6.2.3 suggests
/// seconds).
const TCP_IDLE: Duration = Duration::from_secs(10);
/// How long a forwarded query waits for its upstream answer.
const UPSTREAM_WAIT: Duration = Duration::from_secs(5);

/// Where an answer goes.
enum ReplyTo {
    Udp(SocketAddr),
    /// The thread serving a TCP connection, waiting for it.
    Tcp(mpsc::Sender<Vec<u8>>),
}

/// Queries forwarded upstream, by the id we gave them: who asked, their id, when.
type Pending = Mutex<HashMap<u16, (ReplyTo, u16, Instant)>>;

struct Resolver {
    udp: UdpSocket,
    upstream: Option<(UdpSocket, SocketAddr)>,
    pending: Pending,
    next_id: Mutex<u16>,
    lookup: Lookup,
}

/// Starts the resolver's threads on `udp` and `tcp` (bound to the gateway's port 53).
/// `upstream` is a UDP socket of the host's network namespace, and `servers` where it
/// forwards (none, as on internal networks: other names get NXDOMAIN).
pub fn start(
    udp: UdpSocket,
    tcp: TcpListener,
    upstream: Option<UdpSocket>,
    servers: &[SocketAddr],
    lookup: Lookup,
) {
    let resolver = Arc::new(Resolver {
        udp,
        upstream: upstream.zip(servers.first().copied()),
        pending: Mutex::default(),
        next_id: Mutex::new(1),
        lookup,
    });
    if resolver.upstream.is_some() {
        let r = resolver.clone();
        std::thread::spawn(move || r.relay_upstream_answers());
    }
    let r = resolver.clone();
    std::thread::spawn(move || {
        for stream in tcp.incoming() {
            let Ok(stream) = stream else { continue };
            let r = r.clone();
            std::thread::spawn(move || r.serve_tcp(stream));
        }
    });
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, client)) = resolver.udp.recv_from(&mut buf) {
            resolver.handle(&buf[..n], ReplyTo::Udp(client));
        }
    });
}

impl Resolver {
    /// Answers `packet`, or forwards it; malformed queries are dropped.
    fn handle(&self, packet: &[u8], reply_to: ReplyTo) {
        let Some(question) = dns::parse_query(packet) else {
            return;
        };
        let known = (self.lookup)(&question.name);
        if !known.is_empty() {
            self.send(reply_to, dns::answer(packet, &question, &known));
            return;
        }
        let Some((upstream, server)) = &self.upstream else {
            self.send(reply_to, dns::error(packet, &question, dns::RCODE_NXDOMAIN));
            return;
        };
        let id = {
            let mut next = self.next_id.lock().unwrap_or_else(|e| e.into_inner());
            *next = next.wrapping_add(1);
            *next
        };
        if let Ok(mut p) = self.pending.lock() {
            p.retain(|_, (_, _, at)| at.elapsed() < Duration::from_secs(10));
            p.insert(id, (reply_to, question.id, Instant::now()));
        }
        let _ = upstream.send_to(&dns::with_id(packet, id), server);
    }

    fn send(&self, reply_to: ReplyTo, message: Vec<u8>) {
        match reply_to {
            ReplyTo::Udp(client) => {
                let _ = self.udp.send_to(&message, client);
            }
            ReplyTo::Tcp(waiting) => {
                let _ = waiting.send(message);
            }
        }
    }

    /// Hands each upstream answer to whoever asked, with their id back.
    fn relay_upstream_answers(&self) {
        let Some((upstream, _)) = &self.upstream else {
            return;
        };
        let mut buf = vec![0u8; 65536];
        while let Ok((n, _)) = upstream.recv_from(&mut buf) {
            let Some(id) = dns::id(&buf[..n]) else {
                continue;
            };
            let Some((reply_to, original, _)) =
                self.pending.lock().ok().and_then(|mut p| p.remove(&id))
            else {
                continue;
            };
            self.send(reply_to, dns::with_id(&buf[..n], original));
        }
    }

    /// One TCP connection: length-prefixed queries, answered in order, until the client
    /// closes it or stays idle.
    fn serve_tcp(&self, mut stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(TCP_IDLE));
        let _ = stream.set_nodelay(true);
        loop {
            let mut len = [0u8; 2];
            if stream.read_exact(&mut len).is_err() {
                return;
            }
            let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if stream.read_exact(&mut query).is_err() {
                return;
            }
            let (tx, rx) = mpsc::channel();
            self.handle(&query, ReplyTo::Tcp(tx));
            // Nothing comes for a dropped query or an upstream that does not answer: the
            // client's own timeout decides then.
            let Ok(answer) = rx.recv_timeout(UPSTREAM_WAIT) else {
                continue;
            };
            let Ok(len) = u16::try_from(answer.len()) else {
                return;
            };
            let mut framed = len.to_be_bytes().to_vec();
            framed.extend_from_slice(&answer);
            if stream.write_all(&framed).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `name` (type A, id 0x4242, RD).
    fn query(name: &str) -> Vec<u8> {
        let mut q = vec![0x42, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        q
    }

    fn ask_tcp(stream: &mut TcpStream, name: &str) -> Vec<u8> {
        let q = query(name);
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        stream.write_all(&framed).unwrap();
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).unwrap();
        let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut answer).unwrap();
        answer
    }

    #[test]
    fn answers_over_tcp_and_udp() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let (udp_at, tcp_at) = (udp.local_addr().unwrap(), tcp.local_addr().unwrap());
        let lookup: Lookup = Arc::new(|name: &str| match name {
            "web" => vec![Ipv4Addr::new(10, 89, 0, 2)],
            _ => Vec::new(),
        });
        start(udp, tcp, None, &[], lookup);

        // Two queries on one connection, each length-prefixed.
        let mut stream = TcpStream::connect(tcp_at).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let answer = ask_tcp(&mut stream, "web");
        assert_eq!(&answer[..2], &[0x42, 0x42]);
        assert_eq!(u16::from_be_bytes([answer[6], answer[7]]), 1, "one record");
        assert_eq!(&answer[answer.len() - 4..], &[10, 89, 0, 2]);
        let unknown = ask_tcp(&mut stream, "nope");
        assert_eq!(
            unknown[3] & 0x0f,
            dns::RCODE_NXDOMAIN,
            "no upstream: NXDOMAIN"
        );

        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        client.send_to(&query("web"), udp_at).unwrap();
        let mut buf = [0u8; 512];
        let n = client.recv(&mut buf).unwrap();
        assert_eq!(&buf[n - 4..n], &[10, 89, 0, 2]);
    }
}
