//! Published ports: `-p`, `-P`, `devbox port`, a port in use.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::{require, HttpServer, TestContext};

/// An HTTP GET from the host; retried until the server in the container answers.
pub(crate) fn get(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect(("127.0.0.1", port))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
            let mut body = String::new();
            s.read_to_string(&mut body)?;
            Ok(body)
        })();
        match attempt {
            Ok(body) if body.contains("200") => return body,
            _ if Instant::now() > deadline => panic!("no answer on 127.0.0.1:{port}: {attempt:?}"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// busybox httpd serving "hello-from-<tag>" on container port 8080.
const SERVE: &str =
    "mkdir -p /www && echo hello-from-$TAG > /www/index.html && exec httpd -f -p 8080 -h /www";

fn host_port(ctx: &TestContext, name: &str, port: &str) -> u16 {
    let out = ctx.devbox(&["port", name, port]);
    out.success();
    out.out()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| out.fail("expected IP:PORT"))
}

#[test]
fn published_port_reaches_the_server_in_the_container() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns");
    let img = ctx.busybox();
    ctx.devbox(&[
        "run",
        "-d",
        "--name",
        "web",
        "-e",
        "TAG=web",
        "-p",
        "127.0.0.1::8080",
        img,
        "sh",
        "-c",
        SERVE,
    ])
    .success();
    let port = host_port(&ctx, "web", "8080");
    assert!(get(port).contains("hello-from-web"));
    let listed = ctx.devbox(&["port", "web"]);
    listed
        .success()
        .stdout_is(&format!("8080/tcp -> 127.0.0.1:{port}"));
    let inspect = ctx.devbox(&[
        "inspect",
        "--format",
        "{{json .NetworkSettings.Ports}}",
        "web",
    ]);
    inspect
        .success()
        .stdout_contains(&format!("\"HostPort\":\"{port}\""));

    // The same host port again: a clear error before anything starts.
    let busy = ctx.devbox(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        img,
        "true",
    ]);
    busy.devbox_error(125);
    busy.stderr_contains(&format!("8080/tcp -> 127.0.0.1:{port}"))
        .stderr_contains("in use");
    ctx.devbox(&["rm", "-f", "web"]).success();
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the port is closed with the container"
    );
}

#[test]
fn publish_all_uses_the_images_exposed_ports() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    ctx.import_busybox("exposing", &["EXPOSE 8080/tcp"]);
    ctx.devbox(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "all",
        "-e",
        "TAG=all",
        "-P",
        "exposing",
        "sh",
        "-c",
        SERVE,
    ])
    .success();
    let port = host_port(&ctx, "all", "8080/tcp");
    assert_ne!(port, 0);
    assert!(
        get(port).contains("hello-from-all"),
        "ports work without slirp4netns too"
    );
    ctx.devbox(&["rm", "-f", "all"]).success();
}

#[test]
fn bad_publish_specs_are_usage_errors() {
    let ctx = TestContext::new();
    require!(ctx, "busybox");
    let img = ctx.busybox();
    let out = ctx.run_offline(&["-p", "80/sctp", img, "true"]);
    out.devbox_error(125);
    out.stderr_contains("unsupported protocol `sctp`");
    let out = ctx.devbox(&["port", "no-such-container"]);
    out.devbox_error(125);
}

/// In the container: a TCP echo server on 9000 and a UDP one (answering in upper case) on 9001.
const PY_ECHO: &str = r#"
import socket, threading
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(('0.0.0.0', 9001))
def udp():
    while True:
        data, peer = u.recvfrom(65536)
        u.sendto(data.upper(), peer)
threading.Thread(target=udp, daemon=True).start()
t = socket.socket()
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(('0.0.0.0', 9000))
t.listen()
while True:
    c, _ = t.accept()
    while True:
        data = c.recv(1 << 16)
        if not data:
            break
        c.sendall(data)
    c.close()
"#;

/// Sends `data` through 127.0.0.1:`port` and reads the echo until the server closes.
fn echo_tcp(port: u16, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut writer = s.try_clone()?;
    let sent = data.to_vec();
    let feeder = std::thread::spawn(move || {
        let r = writer.write_all(&sent);
        let _ = writer.shutdown(std::net::Shutdown::Write);
        r
    });
    let mut back = Vec::new();
    let read = s.read_to_end(&mut back);
    let _ = feeder.join();
    read.map(|_| back)
}

#[test]
fn published_ports_carry_bulk_tcp_and_udp() {
    let mut ctx = TestContext::new();
    require!(ctx, "userns", "slirp4netns", "mmdebstrap");
    let py = ctx.use_debian();
    ctx.devbox(&[
        "run",
        "-d",
        "--name",
        "echo",
        "-p",
        "127.0.0.1::9000",
        "-p",
        "127.0.0.1::9001/udp",
        &py,
        "python3",
        "-c",
        PY_ECHO,
    ])
    .success();
    let tcp = host_port(&ctx, "echo", "9000");
    let udp = host_port(&ctx, "echo", "9001/udp");

    // 8 MiB both ways through the proxy (spliced), ends of stream passed on.
    let data: Vec<u8> = (0..8u32 << 20).map(|i| (i % 253) as u8).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let back = loop {
        match echo_tcp(tcp, &data) {
            Ok(back) if !back.is_empty() => break back,
            // Closed at once: the server inside is not listening yet.
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            other => panic!("no echo on 127.0.0.1:{tcp}: {:?}", other.map(|b| b.len())),
        }
    };
    assert!(
        back == data,
        "{} bytes came back of {}",
        back.len(),
        data.len()
    );

    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    let answer = loop {
        sock.send_to(b"ping", ("127.0.0.1", udp)).unwrap();
        if let Ok(n) = sock.recv(&mut buf) {
            break buf[..n].to_vec();
        }
        assert!(
            Instant::now() < deadline,
            "no UDP answer on 127.0.0.1:{udp}"
        );
    };
    assert_eq!(answer, b"PING");
    ctx.devbox(&["rm", "-f", "echo"]).success();
}

#[test]
fn pasta_reaches_the_host_and_publishes_ports() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "pasta");
    let host = HttpServer::start("host-ok");
    // pasta maps the gateway's address to the host's loopback, and /etc/hosts names it.
    // wget, not nc: with passt 2023-03-09 busybox nc never sees the server's close through
    // pasta and waits forever (wget stops at Content-Length).
    let probe = format!(
        "gw=$(ip route | awk '/^default/ {{print $3}}'); grep \"^$gw\thost.containers.internal\" /etc/hosts && \
         wget -q -O- http://$gw:{}/",
        host.port
    );
    let out = ctx.devbox(&[
        "run",
        "--rm",
        "--network",
        "pasta",
        ctx.busybox(),
        "sh",
        "-c",
        &probe,
    ]);
    out.success()
        .stdout_contains("host.containers.internal")
        .stdout_contains("host-ok");

    ctx.devbox(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "pasta",
        "-e",
        "TAG=pasta",
        "-p",
        "127.0.0.1::8080",
        ctx.busybox(),
        "sh",
        "-c",
        SERVE,
    ])
    .success();
    let port = host_port(&ctx, "web", "8080");
    assert!(get(port).contains("hello-from-pasta"));
    let mode = ctx.devbox(&["inspect", "--format", "{{.HostConfig.NetworkMode}}", "web"]);
    mode.success().stdout_is("pasta");
    ctx.devbox(&["rm", "-f", "web"]).success();
}
