//! `devbox compose` and `devbox up`/`down`.

use std::time::{Duration, Instant};

use crate::support::{require, TestContext};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn http_get(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

#[test]
fn up_starts_services_that_reach_each_other_by_name_and_down_removes_them() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    ctx.busybox();
    let port = free_port();
    let dir = ctx.mkdir("shop");
    ctx.write_file(
        "shop/compose.yaml",
        &format!(
            "services:\n\
             \x20 web:\n\
             \x20   image: busybox:latest\n\
             \x20   command: [\"sh\", \"-c\", \"mkdir -p /www && echo hello-compose > /www/index.html && exec httpd -f -p 127.0.0.1:{port} -h /www\"]\n\
             \x20   ports: [\"127.0.0.1:{port}:{port}\"]\n\
             \x20 client:\n\
             \x20   image: busybox:latest\n\
             \x20   depends_on: [web]\n\
             \x20   command: [\"sh\", \"-c\", \"until wget -q -O - http://web:{port}/; do sleep 0.2; done; exec sleep 1000\"]\n"
        ),
    );
    let compose = |args: &[&str]| {
        ctx.devbox_cmd(&["compose"])
            .args(args)
            .current_dir(&dir)
            .run()
    };
    compose(&["up", "-d"])
        .success()
        .stderr_contains("Container shop-web-1  Started")
        .stderr_contains("Container shop-client-1  Started");
    // The host reaches the web service; the client reaches it by its service name.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let served = http_get(port).is_some_and(|b| b.contains("hello-compose"));
        let logs = compose(&["logs", "client"]);
        if served && logs.stdout.contains("client | hello-compose") {
            break;
        }
        assert!(Instant::now() < deadline, "no answer in time:\n{logs}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let ps = compose(&["ps"]);
    ps.success()
        .stdout_contains("shop-web-1")
        .stdout_contains("shop-client-1");
    assert_eq!(ps.stdout.matches("running").count(), 2, "{ps}");
    // A second `up` leaves running services alone.
    compose(&["up", "-d"])
        .success()
        .stderr_contains("Container shop-web-1  Running");

    ctx.devbox_cmd(&["down"]).current_dir(&dir).run().success();
    ctx.devbox(&["ps", "-aq"]).success().stdout_is("");
    assert!(http_get(port).is_none(), "the web service is gone");
}

#[test]
fn compose_errors_name_the_file() {
    let ctx = TestContext::new();
    let dir = ctx.mkdir("bad");
    ctx.write_file("bad/compose.yaml", "services:\n  web:\n    image: [1, 2]\n");
    let out = ctx
        .devbox_cmd(&["compose", "up", "-d"])
        .current_dir(&dir)
        .run();
    out.devbox_error(125);
    out.stderr_contains("compose.yaml:3");
    let empty = ctx.mkdir("empty");
    let out = ctx.devbox_cmd(&["up"]).current_dir(&empty).run();
    out.devbox_error(125);
    out.stderr_contains("nothing to run");
}
