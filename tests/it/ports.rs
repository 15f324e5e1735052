//! Published ports: `-p`, `-P`, `devbox port`, a port in use.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::{require, TestContext};

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
