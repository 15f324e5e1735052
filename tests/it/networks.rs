//! User-defined networks: name resolution, isolation between networks, `--internal`,
//! `container:NAME`, the `network` commands. All traffic stays on this machine.

use crate::support::process::poll_until;
use crate::support::{require, HttpServer, Output, TestContext};

/// `devbox run --rm --network NETWORK busybox sh -c SCRIPT`.
fn run_on(ctx: &TestContext, network: &str, script: &str) -> Output {
    ctx.devbox(&[
        "run",
        "--rm",
        "--network",
        network,
        ctx.busybox(),
        "sh",
        "-c",
        script,
    ])
}

/// busybox httpd serving "hello-from-<tag>" on container port 8080.
const SERVE: &str =
    "mkdir -p /www && echo hello-from-$TAG > /www/index.html && exec httpd -f -p 8080 -h /www";

/// Starts a detached web server named `name` on `network`.
fn serve(ctx: &TestContext, name: &str, network: &str, extra: &[&str]) {
    let mut args = vec!["run", "-d", "--name", name, "--network", network, "-e"];
    let tag = format!("TAG={name}");
    args.push(&tag);
    args.extend_from_slice(extra);
    args.extend_from_slice(&[ctx.busybox(), "sh", "-c", SERVE]);
    ctx.devbox(&args).success();
}

/// A shell command that fetches `url` (retried while the server starts), as a busybox
/// script; `nc` rather than `wget`, which segfaults on refused connections.
pub(crate) fn fetch(host: &str) -> String {
    format!(
        "for i in $(seq 50); do r=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {host} 8080 2>/dev/null) && [ -n \"$r\" ] && echo \"$r\" && exit 0; sleep 0.1; done; exit 1"
    )
}

#[test]
fn containers_on_a_network_resolve_and_reach_each_other() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    ctx.devbox(&["network", "create", "dev"]).success();
    serve(&ctx, "web", "dev", &["--network-alias", "www"]);
    let img = ctx.busybox();
    // By name (nslookup asks the embedded resolver) and over TCP, by name and by alias.
    let out = run_on(
        &ctx,
        "dev",
        &format!("nslookup web && {} && {}", fetch("web"), fetch("www")),
    );
    out.success().stdout_contains("hello-from-web");
    out.stdout_contains("10.89.0.");
    // inspect shows the address, gateway and aliases, as Docker does.
    let inspect = ctx.devbox(&[
        "inspect",
        "--format",
        "{{json .NetworkSettings.Networks}}",
        "web",
    ]);
    inspect
        .success()
        .stdout_contains("\"Gateway\":\"10.89.0.1\"");
    inspect.stdout_contains("\"IPAddress\":\"10.89.0.2\"");
    inspect.stdout_contains("\"Aliases\":[\"www\"]");
    // A container started later is resolvable by one that was there before.
    ctx.devbox(&[
        "run",
        "-d",
        "--name",
        "early",
        "--network",
        "dev",
        img,
        "sleep",
        "600",
    ])
    .success();
    serve(&ctx, "late", "dev", &[]);
    let out = ctx.devbox(&["exec", "early", "sh", "-c", &fetch("late")]);
    out.success().stdout_contains("hello-from-late");
    ctx.devbox(&["rm", "-f", "web", "early", "late"]).success();
}

#[test]
fn a_container_on_another_network_cannot_reach_them() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    ctx.devbox(&["network", "create", "one"]).success();
    ctx.devbox(&["network", "create", "two"]).success();
    serve(&ctx, "srv", "one", &[]);
    // Its address, from a container on the same network (which reaches it).
    let out = run_on(&ctx, "one", &fetch("srv"));
    out.success().stdout_contains("hello-from-srv");
    let networks = ctx.devbox(&[
        "inspect",
        "--format",
        "{{json .NetworkSettings.Networks}}",
        "srv",
    ]);
    networks.success();
    let doc: serde_json::Value = serde_json::from_str(networks.out().trim()).unwrap();
    let ip = doc["one"]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(ip.starts_with("10.89."), "{ip}");
    // From the other network: neither the name resolves nor the address answers.
    let out = run_on(&ctx, "two", &format!("nslookup srv && echo RESOLVED; printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {ip} 8080 && echo REACHED; true"));
    out.success();
    assert!(!out.out().contains("RESOLVED"), "{}", out.out());
    assert!(!out.out().contains("hello-from-srv"), "{}", out.out());
    ctx.devbox(&["rm", "-f", "srv"]).success();
}

#[test]
fn internal_networks_have_no_outbound_access() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    let host = HttpServer::start("host-ok");
    ctx.devbox(&["network", "create", "open"]).success();
    ctx.devbox(&["network", "create", "--internal", "closed"])
        .success();
    // slirp4netns maps 10.0.2.2 to the host's loopback.
    let probe = format!(
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 10.0.2.2 {} || echo NO-ROUTE",
        host.port
    );
    let out = run_on(&ctx, "open", &probe);
    out.success().stdout_contains("host-ok");
    let out = run_on(&ctx, "closed", &probe);
    out.success().stdout_contains("NO-ROUTE");
    assert!(!out.out().contains("host-ok"), "{}", out.out());
    // Containers on the internal network still reach each other.
    serve(&ctx, "inside", "closed", &[]);
    let out = run_on(&ctx, "closed", &fetch("inside"));
    out.success().stdout_contains("hello-from-inside");
    ctx.devbox(&["rm", "-f", "inside"]).success();
}

#[test]
fn container_network_mode_shares_localhost() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns");
    let img = ctx.busybox();
    ctx.devbox(&[
        "run", "-d", "--name", "pod", "-e", "TAG=pod", img, "sh", "-c",
        "mkdir -p /www && echo hello-from-$TAG > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www",
    ])
    .success();
    let out = run_on(&ctx, "container:pod", &fetch("127.0.0.1"));
    out.success().stdout_contains("hello-from-pod");
    // Publishing ports is the other container's business.
    let out = ctx.devbox(&[
        "run",
        "--rm",
        "--network",
        "container:pod",
        "-p",
        "8080",
        img,
        "true",
    ]);
    out.devbox_error(125);
    ctx.devbox(&["rm", "-f", "pod"]).success();
}

#[test]
fn published_ports_work_on_a_user_network() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    ctx.devbox(&["network", "create", "pub"]).success();
    serve(&ctx, "site", "pub", &["-p", "127.0.0.1::8080"]);
    let out = ctx.devbox(&["port", "site", "8080"]);
    out.success();
    let port: u16 = out
        .out()
        .trim()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let body = crate::ports::get(port);
    assert!(body.contains("hello-from-site"));
    assert!(body.contains("200"));
    ctx.devbox(&["rm", "-f", "site"]).success();
}

#[test]
fn network_commands_manage_networks() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    let id = ctx.devbox(&[
        "network",
        "create",
        "--subnet",
        "10.123.0.0/24",
        "--gateway",
        "10.123.0.254",
        "mine",
    ]);
    id.success();
    assert_eq!(id.out().trim().len(), 64);
    let ls = ctx.devbox(&["network", "ls"]);
    ls.success().stdout_contains("mine");
    for predefined in ["bridge", "host", "none"] {
        ls.stdout_contains(predefined);
    }
    let inspect = ctx.devbox(&["network", "inspect", "mine"]);
    inspect
        .success()
        .stdout_contains("\"Subnet\": \"10.123.0.0/24\"");
    inspect.stdout_contains("\"Gateway\": \"10.123.0.254\"");
    // Names and subnets are unique; a clash says with what.
    let again = ctx.devbox(&["network", "create", "mine"]);
    assert!(again.devbox_error(125).contains("already exists"));
    let clash = ctx.devbox(&["network", "create", "--subnet", "10.123.0.0/16", "other"]);
    assert!(clash.devbox_error(125).contains("overlaps network `mine`"));
    let slirp = ctx.devbox(&["network", "create", "--subnet", "10.0.0.0/16", "s"]);
    assert!(slirp.devbox_error(125).contains("slirp4netns"));
    // In use by a running container: refused; stopped: removed.
    let img = ctx.busybox();
    ctx.devbox(&[
        "run",
        "-d",
        "--name",
        "user",
        "--network",
        "mine",
        "--ip",
        "10.123.0.7",
        img,
        "sleep",
        "600",
    ])
    .success();
    let ip = ctx.devbox(&["exec", "user", "ip", "-4", "addr", "show", "eth0"]);
    ip.success().stdout_contains("10.123.0.7/24");
    let busy = ctx.devbox(&["network", "rm", "mine"]);
    assert!(busy
        .devbox_error(125)
        .contains("in use by running container(s) user"));
    ctx.devbox(&["rm", "-f", "user"]).success();
    ctx.devbox(&["network", "rm", "mine"]).success();
    let gone = ctx.devbox(&["run", "--rm", "--network", "mine", img, "true"]);
    assert!(gone.devbox_error(125).contains("network mine not found"));
    ctx.devbox(&["network", "create", "spare"]).success();
    ctx.devbox(&["network", "prune", "-f"])
        .success()
        .stdout_contains("spare");
    let ls = ctx.devbox(&["network", "ls", "-q"]);
    assert_eq!(ls.out().lines().count(), 3, "{}", ls.out());
}

#[test]
fn connect_and_disconnect() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    ctx.devbox(&["network", "create", "a"]).success();
    ctx.devbox(&["network", "create", "b"]).success();
    serve(&ctx, "svc", "a", &[]);
    // A running container on a user network joins another one at once.
    ctx.devbox(&["network", "connect", "--alias", "api", "b", "svc"])
        .success();
    let out = run_on(&ctx, "b", &fetch("api"));
    out.success().stdout_contains("hello-from-svc");
    ctx.devbox(&["network", "disconnect", "b", "svc"]).success();
    let out = run_on(&ctx, "b", "nslookup svc || echo GONE");
    out.success().stdout_contains("GONE");
    ctx.devbox(&["rm", "-f", "svc"]).success();
}

#[test]
fn python_resolves_a_container_by_name() {
    let mut ctx = TestContext::new();
    require!(
        ctx,
        "userns",
        "busybox",
        "slirp4netns",
        "networks",
        "mmdebstrap"
    );
    let py = ctx.use_debian();
    let net = format!("py{}", std::process::id());
    ctx.devbox(&["network", "create", &net]).success();
    let name = format!("db{}", std::process::id());
    ctx.devbox(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        &net,
        &py,
        "sleep",
        "600",
    ])
    .success();
    // getaddrinfo asks over UDP; then the same question by hand over TCP (length-prefixed,
    // RFC 1035 4.2.2), which clients use for big answers.
    let script = PY_RESOLVE.replace("NAME", &name);
    let out = ctx.devbox(&[
        "run",
        "--rm",
        "--network",
        &net,
        &py,
        "python3",
        "-c",
        &script,
    ]);
    let text = out.success().out();
    ctx.devbox(&["rm", "-f", &name]).success();
    ctx.devbox(&["network", "rm", &net]).success();
    let udp = text.lines().find_map(|l| l.strip_prefix("udp "));
    let tcp = text.lines().find_map(|l| l.strip_prefix("tcp "));
    assert!(udp.is_some_and(|a| a.starts_with("10.")), "{text}");
    assert_eq!(udp, tcp, "the TCP answer differs: {text}");
}

/// Resolves NAME with getaddrinfo (UDP), then asks the resolver of /etc/resolv.conf over TCP.
const PY_RESOLVE: &str = r#"
import socket, struct
print('udp', socket.getaddrinfo('NAME', 80, socket.AF_INET)[0][4][0])
ns = [l.split()[1] for l in open('/etc/resolv.conf') if l.startswith('nameserver')][0]
labels = b''.join(bytes([len(p)]) + p.encode() for p in 'NAME'.split('.'))
query = struct.pack('>6H', 0x4242, 0x0100, 1, 0, 0, 0) + labels + b'\0' + struct.pack('>2H', 1, 1)
s = socket.create_connection((ns, 53), timeout=5)
s.sendall(struct.pack('>H', len(query)) + query)
def read(n):
    got = b''
    while len(got) < n:
        chunk = s.recv(n - len(got))
        assert chunk, 'closed'
        got += chunk
    return got
answer = read(struct.unpack('>H', read(2))[0])
assert answer[:2] == b'\x42\x42', answer
assert struct.unpack('>H', answer[6:8])[0] == 1, answer
print('tcp', socket.inet_ntoa(answer[-4:]))
"#;

/// Whether a network holder for network `id` runs (its command line names the id).
fn holder_runs(id: &str) -> bool {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .any(|cmdline| {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            text.contains("__network-holder") && text.contains(id)
        })
}

#[test]
fn the_holder_goes_with_the_last_container() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    let id = ctx.devbox(&["network", "create", "short"]);
    let id = id.success().out().trim().to_string();
    assert!(
        !holder_runs(&id),
        "no holder before a container uses the network"
    );
    let img = ctx.busybox();
    ctx.devbox(&[
        "run",
        "-d",
        "--name",
        "c1",
        "--network",
        "short",
        img,
        "sleep",
        "600",
    ])
    .success();
    assert!(
        holder_runs(&id),
        "the holder outlives the `run -d` that started it"
    );
    ctx.devbox(&["rm", "-f", "c1"]).success();
    poll_until(
        "the holder exits once its last container is gone",
        std::time::Duration::from_secs(10),
        || !holder_runs(&id),
    );
    // network rm stops a holder too (started again by a container, which then goes).
    ctx.devbox(&[
        "run",
        "-d",
        "--name",
        "c2",
        "--network",
        "short",
        img,
        "sleep",
        "600",
    ])
    .success();
    ctx.devbox(&["rm", "-f", "c2"]).success();
    ctx.devbox(&["network", "rm", "short"]).success();
    poll_until(
        "network rm stops the holder",
        std::time::Duration::from_secs(10),
        || !holder_runs(&id),
    );
}

#[test]
fn dns_flags_write_resolv_conf() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns");
    let out = ctx.devbox(&[
        "run",
        "--rm",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.test",
        "--dns-option",
        "ndots:2",
        ctx.busybox(),
        "cat",
        "/etc/resolv.conf",
    ]);
    out.success()
        .stdout_is("nameserver 192.0.2.53\nsearch example.test\noptions ndots:2");
}

#[test]
fn keep_id_on_a_user_network_keeps_the_users_ids_and_reaches_others_by_name() {
    use std::os::unix::fs::MetadataExt;
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    let (uid, gid) = (ctx.user.uid, ctx.user.gid);
    ctx.devbox(&["network", "create", "kid"]).success();
    // A default-mapped server first (the networks' user namespace exists), then a keep-id
    // client in a user namespace nested in it.
    serve(&ctx, "web", "kid", &[]);
    let src = ctx.mkdir("src");
    let bind = format!("{}:/src", src.display());
    let out = ctx.devbox(&[
        "run",
        "--rm",
        "--userns=keep-id",
        "--network",
        "kid",
        "-v",
        &bind,
        ctx.busybox(),
        "sh",
        "-c",
        &format!(
            "id -u; id -g; stat -c '%u:%g' /bin/busybox /home/app; echo new > /src/made; {}",
            fetch("web")
        ),
    ]);
    out.success().stdout_contains("hello-from-web");
    let lines: Vec<&str> = out.stdout.lines().take(4).collect();
    assert_eq!(
        lines,
        [
            uid.to_string().as_str(),
            gid.to_string().as_str(),
            "0:0",
            "1000:1000"
        ],
        "the user's ids inside, image files keep their owners:\n{out}"
    );
    let made = std::fs::metadata(src.join("made")).unwrap();
    assert_eq!(
        (made.uid(), made.gid()),
        (uid, gid),
        "the bind-mounted file is the user's on the host"
    );
    // A keep-id server is reached by name from a default-mapped client too, and connected
    // to one more network while it runs.
    serve(&ctx, "kept", "kid", &["--userns=keep-id", "-u", "0"]);
    run_on(&ctx, "kid", &fetch("kept"))
        .success()
        .stdout_contains("hello-from-kept");
    ctx.devbox(&["network", "create", "kid2"]).success();
    ctx.devbox(&["network", "connect", "kid2", "kept"])
        .success();
    run_on(&ctx, "kid2", &fetch("kept"))
        .success()
        .stdout_contains("hello-from-kept");
    ctx.devbox(&["rm", "-f", "web", "kept"]).success();
}

#[test]
fn mac_address_sets_the_interface_address() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    let net = format!("mac{}", std::process::id());
    ctx.devbox(&["network", "create", &net]).success();
    let out = ctx.devbox(&[
        "run",
        "--rm",
        "--network",
        &net,
        "--mac-address",
        "02:42:AC:11:00:99",
        ctx.busybox(),
        "cat",
        "/sys/class/net/eth0/address",
    ]);
    ctx.devbox(&["network", "rm", &net]).success();
    out.success().stdout_is("02:42:ac:11:00:99");
    // A multicast address is refused before anything starts.
    ctx.devbox(&[
        "run",
        "--rm",
        "--network",
        &net,
        "--mac-address",
        "01:00:5e:00:00:01",
        ctx.busybox(),
        "true",
    ])
    .code_is(125)
    .stderr_contains("multicast");
}
