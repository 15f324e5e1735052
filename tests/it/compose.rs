//! `devbox compose` and `devbox up`/`down`.

use std::time::{Duration, Instant};

use crate::support::{require, Output, TestContext};

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
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    ctx.busybox();
    let port = free_port();
    let dir = ctx.mkdir("shop");
    ctx.write_file(
        "shop/compose.yaml",
        &format!(
            "services:\n\
             \x20 web:\n\
             \x20   image: busybox:latest\n\
             \x20   command: [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n\
             \x20   volumes: [\"./www:/www\"]\n\
             \x20   ports: [\"127.0.0.1:{port}:8080\"]\n\
             \x20 client:\n\
             \x20   image: busybox:latest\n\
             \x20   depends_on: [web]\n\
             \x20   command: [\"sh\", \"-c\", \"until wget -q -O - http://web:8080/; do sleep 0.2; done; exec sleep 1000\"]\n"
        ),
    );
    ctx.write_file("shop/www/index.html", "hello-compose\n");
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
    assert_eq!(ps.stdout.matches("   Up ").count(), 2, "{ps}");
    assert!(
        ps.stdout.starts_with("NAME ") && ps.stdout.contains("   SERVICE   "),
        "compose's columns:\n{ps}"
    );
    // An edit of the bind-mounted source is served at once, without a rebuild.
    ctx.write_file("shop/www/index.html", "edited-source\n");
    assert!(http_get(port).is_some_and(|b| b.contains("edited-source")));
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

/// A project directory and `devbox compose` in it.
struct Project<'a> {
    ctx: &'a TestContext,
    dir: std::path::PathBuf,
    name: &'a str,
}

impl<'a> Project<'a> {
    /// With the busybox image imported.
    fn new(ctx: &'a TestContext, name: &'a str, compose: &str) -> Project<'a> {
        ctx.busybox();
        let dir = ctx.mkdir(name);
        ctx.write_file(&format!("{name}/compose.yaml"), compose);
        Project { ctx, dir, name }
    }

    fn write(&self, file: &str, text: &str) {
        self.ctx.write_file(&format!("{}/{file}", self.name), text);
    }

    fn cmd(&self, args: &[&str]) -> crate::support::command::UserCommand {
        self.ctx
            .devbox_cmd(&["compose"])
            .args(args)
            .current_dir(&self.dir)
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).run()
    }

    fn id(&self, container: &str) -> String {
        let out = self
            .ctx
            .devbox(&["inspect", "--format", "{{.Id}}", container]);
        out.success();
        out.stdout.trim().to_string()
    }

    /// `compose exec -T SERVICE sh -c SCRIPT`'s stdout (empty when it fails).
    fn exec(&self, service: &str, script: &str) -> String {
        let out = self.run(&["exec", "-T", service, "sh", "-c", script]);
        if out.code == 0 {
            out.stdout
        } else {
            String::new()
        }
    }
}

/// Where `a` appears before `b` in `text`.
fn before(text: &str, a: &str, b: &str) -> bool {
    matches!((text.find(a), text.find(b)), (Some(x), Some(y)) if x < y)
}

fn poll(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Sends `signal` to this test's `devbox compose VERB` process (a foreground command).
fn signal_compose(ctx: &TestContext, verb: &str, signal: nix::sys::signal::Signal) {
    let root = ctx.root.display().to_string();
    for pid in pids_with(&[&root, "compose", &format!(" {verb}")]) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).ok();
    }
}

/// Whether this test's `devbox compose VERB` has a SIGINT handler (`SigCgt` in its status).
fn catches_sigint(ctx: &TestContext, verb: &str) -> bool {
    let root = ctx.root.display().to_string();
    pids_with(&[&root, "compose", &format!(" {verb}")])
        .iter()
        .any(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            status
                .lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))
                .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
                .is_some_and(|mask| mask & (1 << (libc_sigint() - 1)) != 0)
        })
}

fn libc_sigint() -> u32 {
    nix::sys::signal::Signal::SIGINT as u32
}

/// Host pids whose command line has every one of `needles`.
fn pids_with(needles: &[&str]) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            needles.iter().all(|n| cmdline.contains(n)).then_some(pid)
        })
        .collect()
}

const SLEEPER: &str =
    "image: busybox:latest\n    command: [\"sleep\", \"1000\"]\n    stop_grace_period: 1s";

#[test]
fn depends_on_waits_for_healthy_and_completed_dependencies() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    let p = Project::new(
        &ctx,
        "deps",
        &format!(
            "services:\n\
             \x20 db:\n\
             \x20   image: busybox:latest\n\
             \x20   command: [\"sh\", \"-c\", \"sleep 1; touch /tmp/ready; exec sleep 1000\"]\n\
             \x20   healthcheck:\n\
             \x20     test: [\"CMD\", \"test\", \"-f\", \"/tmp/ready\"]\n\
             \x20     interval: 300ms\n\
             \x20     retries: 20\n\
             \x20 migrate:\n\
             \x20   image: busybox:latest\n\
             \x20   command: [\"true\"]\n\
             \x20 web:\n\
             \x20   {SLEEPER}\n\
             \x20   depends_on:\n\
             \x20     db: {{condition: service_healthy}}\n\
             \x20     migrate: {{condition: service_completed_successfully}}\n"
        ),
    );
    let up = p.run(&["up", "-d"]);
    up.success();
    assert!(
        before(
            &up.stderr,
            "Container deps-db-1  Healthy",
            "Container deps-web-1  Started"
        ),
        "web starts once db is healthy:\n{up}"
    );
    assert!(
        before(
            &up.stderr,
            "Container deps-migrate-1  Completed",
            "Container deps-web-1  Started"
        ),
        "web starts once migrate completed:\n{up}"
    );
    assert_eq!(
        ctx.devbox(&[
            "inspect",
            "--format",
            "{{.State.Health.Status}}",
            "deps-db-1"
        ])
        .stdout
        .trim(),
        "healthy"
    );
    p.run(&["down"]).success();

    // A dependency that never gets healthy, or fails, stops `up` with its name.
    p.write(
        "compose.yaml",
        &format!(
            "services:\n\
             \x20 db:\n\
             \x20   {SLEEPER}\n\
             \x20   healthcheck:\n\
             \x20     test: [\"CMD-SHELL\", \"exit 1\"]\n\
             \x20     interval: 200ms\n\
             \x20     retries: 2\n\
             \x20 web:\n\
             \x20   {SLEEPER}\n\
             \x20   depends_on:\n\
             \x20     db: {{condition: service_healthy}}\n"
        ),
    );
    let out = p.run(&["up", "-d"]);
    out.code_is(125);
    out.stderr_contains(
        "dependency failed to start: container deps-db-1 (service `db`) is unhealthy",
    );
    assert!(!out.stderr.contains("deps-web-1  Started"), "{out}");
    p.run(&["down"]).success();
    p.write(
        "compose.yaml",
        &format!(
            "services:\n\
             \x20 migrate:\n\
             \x20   image: busybox:latest\n\
             \x20   command: [\"sh\", \"-c\", \"exit 3\"]\n\
             \x20 web:\n\
             \x20   {SLEEPER}\n\
             \x20   depends_on:\n\
             \x20     migrate: {{condition: service_completed_successfully}}\n"
        ),
    );
    let out = p.run(&["up", "-d"]);
    out.code_is(125);
    out.stderr_contains("service `migrate` didn't complete successfully: exit 3");
    // Without a healthcheck, service_healthy cannot be met: said at once, with the fix.
    p.write(
        "compose.yaml",
        &format!(
            "services:\n\
             \x20 db:\n\
             \x20   {SLEEPER}\n\
             \x20 web:\n\
             \x20   {SLEEPER}\n\
             \x20   depends_on:\n\
             \x20     db: {{condition: service_healthy}}\n"
        ),
    );
    let out = p.run(&["up", "-d"]);
    out.code_is(125);
    out.stderr_contains("dependency `db` has no healthcheck");
    p.run(&["down"]).success();
}

#[test]
fn up_again_recreates_only_what_changed() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    ctx.busybox();
    let compose = |a: &str| {
        format!(
            "services:\n\
             \x20 a:\n\
             \x20   image: busybox:latest\n\
             \x20   command: [\"sleep\", \"{a}\"]\n\
             \x20 b:\n\
             \x20   {SLEEPER}\n"
        )
    };
    let p = Project::new(&ctx, "idem", &compose("1000"));
    p.run(&["up", "-d"]).success();
    let (a1, b1) = (p.id("idem-a-1"), p.id("idem-b-1"));
    let again = p.run(&["up", "-d"]);
    again
        .success()
        .stderr_contains("Container idem-a-1  Running")
        .stderr_contains("Container idem-b-1  Running");
    assert_eq!(
        (p.id("idem-a-1"), p.id("idem-b-1")),
        (a1.clone(), b1.clone())
    );

    p.write("compose.yaml", &compose("1001"));
    // --no-recreate keeps the old container even though its config changed.
    p.run(&["up", "-d", "--no-recreate"])
        .success()
        .stderr_contains("Container idem-a-1  Running");
    assert_eq!(p.id("idem-a-1"), a1);
    let changed = p.run(&["up", "-d"]);
    changed
        .success()
        .stderr_contains("Container idem-a-1  Recreated")
        .stderr_contains("Container idem-b-1  Running");
    let a2 = p.id("idem-a-1");
    assert_ne!(a2, a1, "a changed: recreated");
    assert_eq!(p.id("idem-b-1"), b1, "b did not change: kept");

    // A stopped service is started again, not recreated.
    p.run(&["stop", "b"])
        .success()
        .stderr_contains("Container idem-b-1  Stopped");
    p.run(&["up", "-d"])
        .success()
        .stderr_contains("Container idem-b-1  Started");
    assert_eq!(p.id("idem-b-1"), b1);

    p.run(&["up", "-d", "--force-recreate"])
        .success()
        .stderr_contains("Container idem-a-1  Recreated")
        .stderr_contains("Container idem-b-1  Recreated");
    assert_ne!(p.id("idem-b-1"), b1);
    p.run(&["down"]).success();
}

#[test]
fn scale_replicas_and_profiles() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    let p = Project::new(
        &ctx,
        "sc",
        &format!(
            "services:\n\
             \x20 web:\n\
             \x20   {SLEEPER}\n\
             \x20   deploy:\n\
             \x20     replicas: 2\n\
             \x20 debug:\n\
             \x20   {SLEEPER}\n\
             \x20   profiles: [debug]\n\
             \x20 ops:\n\
             \x20   {SLEEPER}\n\
             \x20   profiles: [ops]\n"
        ),
    );
    p.run(&["up", "-d", "--scale", "web=3"]).success();
    let names = |p: &Project| {
        let out = p.ctx.devbox(&["ps", "--format", "{{.Names}}"]);
        out.success();
        let mut names: Vec<String> = out.stdout.lines().map(str::to_string).collect();
        names.sort();
        names
    };
    assert_eq!(
        names(&p),
        ["sc-web-1", "sc-web-2", "sc-web-3"],
        "profiled services stay off"
    );
    // Without --scale, deploy.replicas counts again: the third goes.
    p.run(&["up", "-d"])
        .success()
        .stderr_contains("Container sc-web-3  Removed");
    assert_eq!(names(&p), ["sc-web-1", "sc-web-2"]);
    // A profile enables its services; naming a service enables it; so does COMPOSE_PROFILES.
    p.run(&["--profile", "debug", "up", "-d"])
        .success()
        .stderr_contains("Container sc-debug-1  Started");
    p.cmd(&["up", "-d"])
        .env("COMPOSE_PROFILES", "ops")
        .run()
        .success()
        .stderr_contains("Container sc-ops-1  Started");
    let ps = p.run(&["ps", "--services"]);
    ps.success();
    assert_eq!(ps.stdout, "debug\nops\nweb\n");
    p.run(&["down"]).success();
    p.run(&["up", "-d", "ops"])
        .success()
        .stderr_contains("Container sc-ops-1  Started");
    assert_eq!(names(&p), ["sc-ops-1"], "only the service named");
    let bad = p.run(&["up", "-d", "--scale", "nope=2"]);
    bad.devbox_error(125);
    bad.stderr_contains("no such service: `nope`");
    p.run(&["down"]).success();
}

#[test]
fn the_container_verbs() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    let p = Project::new(
        &ctx,
        "verbs",
        "services:\n\
         \x20 web:\n\
         \x20   image: busybox:latest\n\
         \x20   command: [\"sh\", \"-c\", \"echo started; exec sleep 1000\"]\n\
         \x20   environment:\n\
         \x20     GREETING: hello\n",
    );
    p.run(&["up", "-d"]).success();
    // exec: in the running container, with its environment; -e adds to it.
    let exec = p.run(&[
        "exec",
        "-T",
        "-e",
        "EXTRA=1",
        "web",
        "sh",
        "-c",
        "echo $GREETING $EXTRA",
    ]);
    exec.success().stdout_is("hello 1");
    // run --rm: a one-off container of the service with another command, then gone.
    let run = p.run(&["run", "--rm", "web", "sh", "-c", "echo one-off $GREETING"]);
    run.success().stdout_contains("one-off hello");
    let all = ctx.devbox(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(
        all.stdout.trim(),
        "verbs-web-1",
        "the run container is removed:\n{all}"
    );
    let code = p.run(&["run", "--rm", "web", "sh", "-c", "exit 7"]);
    code.code_is(7);
    // top: the container's name, then its processes.
    let top = p.run(&["top"]);
    top.success()
        .stdout_contains("verbs-web-1")
        .stdout_contains("sleep 1000");
    // logs: `service | line`.
    poll("the service's output", Duration::from_secs(10), || {
        p.run(&["logs"]).stdout.contains("web | started")
    });
    // stop, then ps shows it only with -a; start; restart.
    p.run(&["stop", "-t", "1"])
        .success()
        .stderr_contains("Container verbs-web-1  Stopped");
    assert!(!p.run(&["ps"]).stdout.contains("verbs-web-1"));
    p.run(&["ps", "-a"]).success().stdout_contains("Exited (");
    p.run(&["start"])
        .success()
        .stderr_contains("Container verbs-web-1  Started");
    p.run(&["ps"]).success().stdout_contains("   Up ");
    p.run(&["restart", "-t", "1", "web"])
        .success()
        .stderr_contains("Container verbs-web-1  Started");
    // rm leaves running containers alone; -s stops them first.
    p.run(&["rm", "-f"])
        .success()
        .stderr_contains("No stopped containers");
    p.run(&["rm", "-f", "-s"])
        .success()
        .stderr_contains("Going to remove verbs-web-1")
        .stderr_contains("Container verbs-web-1  Removed");
    ctx.devbox(&["ps", "-aq"]).success().stdout_is("");
    let none = p.run(&["exec", "-T", "web", "true"]);
    none.devbox_error(125);
    none.stderr_contains("service `web` is not running");
}

#[test]
fn build_and_down_rmi_and_volumes() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    let p = Project::new(
        &ctx,
        "img",
        "services:\n\
         \x20 app:\n\
         \x20   build: .\n\
         \x20   volumes: [\"data:/data\"]\n\
         \x20   command: [\"sh\", \"-c\", \"cat /greeting >> /data/log; exec sleep 1000\"]\n\
         volumes:\n\
         \x20 data: {}\n",
    );
    p.write(
        "Dockerfile",
        "FROM busybox:latest\nCOPY greeting /greeting\n",
    );
    p.write("greeting", "built once\n");
    p.run(&["build"])
        .success()
        .stderr_contains("Service app  Built (img-app)");
    ctx.devbox(&["images"]).success().stdout_contains("img-app");
    p.run(&["up", "-d"]).success();
    poll("the first line", Duration::from_secs(10), || {
        p.exec("app", "cat /data/log") == "built once\n"
    });
    // The named volume outlives `down`.
    p.run(&["down"]).success();
    p.run(&["up", "-d"]).success();
    poll("the second line", Duration::from_secs(10), || {
        p.exec("app", "cat /data/log") == "built once\nbuilt once\n"
    });
    // A new image (rebuilt with --build) recreates the container.
    p.write("greeting", "built twice\n");
    p.run(&["up", "-d", "--build"])
        .success()
        .stderr_contains("Container img-app-1  Recreated");
    poll("the rebuilt image's line", Duration::from_secs(10), || {
        p.exec("app", "cat /data/log").ends_with("built twice\n")
    });
    p.run(&["down", "-v", "--rmi", "local"])
        .success()
        .stderr_contains("Volume img_data  Removed")
        .stderr_contains("Image img-app  Removed");
    assert!(!ctx.devbox(&["images"]).stdout.contains("img-app"));
    assert!(!ctx.devbox(&["volume", "ls"]).stdout.contains("img_data"));
}

#[test]
fn foreground_up_streams_prefixed_logs_and_ctrl_c_stops_the_services() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    let p = Project::new(
        &ctx,
        "fg",
        "services:\n\
         \x20 ticker:\n\
         \x20   image: busybox:latest\n\
         \x20   command: [\"sh\", \"-c\", \"echo tick; exec sleep 1000\"]\n\
         \x20   stop_grace_period: 1s\n",
    );
    let cmd = p.cmd(&["up"]).timeout(Duration::from_secs(60));
    let foreground = std::thread::spawn(move || cmd.run());
    // Once the services run, `up` catches SIGINT (it does not before: a build or a wait is
    // interrupted as usual).
    poll("up catching SIGINT", Duration::from_secs(30), || {
        catches_sigint(&ctx, "up")
    });
    signal_compose(&ctx, "up", nix::sys::signal::SIGINT);
    let out = foreground.join().expect("the foreground up");
    out.success()
        .stdout_contains("ticker | tick")
        .stderr_contains("Gracefully stopping")
        .stderr_contains("Container fg-ticker-1  Stopped");
    p.run(&["ps", "-a"]).success().stdout_contains("Exited (");
    p.run(&["down"]).success();
}

#[test]
fn watch_syncs_files_and_rebuilds_when_requirements_change() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    let p = Project::new(
        &ctx,
        "w",
        "services:\n\
         \x20 app:\n\
         \x20   build: .\n\
         \x20   command: [\"sh\", \"-c\", \"mkdir -p /app; exec sleep 1000\"]\n\
         \x20   develop:\n\
         \x20     watch:\n\
         \x20       - path: ./src\n\
         \x20         action: sync\n\
         \x20         target: /app\n\
         \x20         ignore: [\"*.tmp\"]\n\
         \x20       - path: ./requirements.txt\n\
         \x20         action: rebuild\n",
    );
    p.write(
        "Dockerfile",
        "FROM busybox:latest\nCOPY requirements.txt /requirements.txt\n",
    );
    p.write("requirements.txt", "flask==3.0\n");
    p.write("src/app.py", "v1\n");
    let cmd = p.cmd(&["watch"]).timeout(Duration::from_secs(120));
    let watcher = std::thread::spawn(move || cmd.run());
    poll("the service running", Duration::from_secs(30), || {
        p.exec("app", "test -d /app && echo ok") == "ok\n"
    });
    let app = p.id("w-app-1");
    // Edits are copied in (again and again, in case the watcher was not ready yet).
    let mut n = 0;
    poll("an edit synced", Duration::from_secs(30), || {
        n += 1;
        p.write("src/app.py", &format!("v{n}\n"));
        p.write("src/pkg/new.py", "new\n");
        p.write("src/junk.tmp", "junk\n");
        std::thread::sleep(Duration::from_millis(800));
        p.exec("app", "cat /app/app.py") == format!("v{n}\n")
            && p.exec("app", "cat /app/pkg/new.py") == "new\n"
    });
    assert_eq!(
        p.exec("app", "ls /app/junk.tmp 2>/dev/null"),
        "",
        "ignored files stay out"
    );
    std::fs::remove_file(p.dir.join("src/pkg/new.py")).unwrap();
    poll("a deletion synced", Duration::from_secs(10), || {
        p.exec("app", "test -e /app/pkg/new.py || echo gone") == "gone\n"
    });
    assert_eq!(p.id("w-app-1"), app, "syncing does not recreate");
    // requirements.txt: rebuilt and recreated.
    p.write("requirements.txt", "flask==3.1\n");
    poll("a rebuild", Duration::from_secs(60), || {
        p.exec("app", "cat /requirements.txt") == "flask==3.1\n"
    });
    assert_ne!(p.id("w-app-1"), app, "the rebuild recreates the container");
    signal_compose(&ctx, "watch", nix::sys::signal::SIGTERM);
    let out = watcher.join().expect("the watcher");
    out.stderr_contains("Watch enabled")
        .stderr_contains("Syncing service `app` after changes were detected")
        .stderr_contains("Rebuilding service `app` after changes were detected");
    p.run(&["down"]).success();
}

#[test]
fn up_watch_follows_logs_and_syncs_until_ctrl_c() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    let p = Project::new(
        &ctx,
        "uw",
        "services:\n\
         \x20 app:\n\
         \x20   image: busybox:latest\n\
         \x20   command: [\"sh\", \"-c\", \"mkdir -p /app; echo watching; exec sleep 1000\"]\n\
         \x20   stop_grace_period: 1s\n\
         \x20   develop:\n\
         \x20     watch:\n\
         \x20       - {path: ./src, action: sync, target: /app}\n",
    );
    p.write("src/page.txt", "v0\n");
    let cmd = p.cmd(&["up", "--watch"]).timeout(Duration::from_secs(90));
    let foreground = std::thread::spawn(move || cmd.run());
    poll("up catching SIGINT", Duration::from_secs(30), || {
        catches_sigint(&ctx, "up")
    });
    let mut n = 0;
    poll("an edit synced", Duration::from_secs(30), || {
        n += 1;
        p.write("src/page.txt", &format!("v{n}\n"));
        std::thread::sleep(Duration::from_millis(800));
        p.exec("app", "cat /app/page.txt") == format!("v{n}\n")
    });
    signal_compose(&ctx, "up", nix::sys::signal::SIGINT);
    let out = foreground.join().expect("the foreground up");
    out.success()
        .stdout_contains("app | watching")
        .stderr_contains("Watch enabled")
        .stderr_contains("Syncing service `app` after changes were detected")
        .stderr_contains("Container uw-app-1  Stopped");
    p.run(&["down"]).success();
}

#[test]
fn pull_fetches_image_services_and_skips_built_ones() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "newuidmap", "busybox", "registry");
    let registry = crate::support::registry::Registry::start();
    let remote = format!("{}/tools/busybox:1.0", registry.host());
    let p = Project::new(
        &ctx,
        "pl",
        &format!(
            "services:\n\
             \x20 cache:\n\
             \x20   image: {remote}\n\
             \x20 app:\n\
             \x20   build: .\n"
        ),
    );
    ctx.devbox(&["push", "busybox:latest", &remote]).success();
    p.run(&["pull"])
        .success()
        .stderr_contains("Service cache  Pulled")
        .stderr_contains("Service app  Skipped");
    ctx.devbox(&["images"])
        .success()
        .stdout_contains("tools/busybox");
}

/// A busybox service serving "hello-from-<name>" on container port 8080 (`$$` is compose's
/// escape for the shell's `$`).
fn web_service(name: &str, extra: &str) -> String {
    format!(
        "  {name}:\n    image: busybox:latest\n    environment: {{TAG: {name}}}\n    stop_grace_period: 1s\n    command: [\"sh\", \"-c\", \"mkdir -p /www && echo hello-from-$$TAG > /www/index.html && exec httpd -f -p 8080 -h /www\"]\n{extra}"
    )
}

fn sleeper_service(name: &str, extra: &str) -> String {
    format!("  {name}:\n    {SLEEPER}\n{extra}")
}

/// The capability bits of `CapEff:` in a /proc/PID/status text.
fn cap_eff(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or_else(|| panic!("no CapEff in {status:?}"))
}

fn network_names(ctx: &TestContext) -> String {
    let out = ctx.devbox(&["network", "ls", "--format", "{{.Name}}"]);
    out.success();
    out.stdout
}

#[test]
fn services_resolve_each_other_by_service_container_name_and_alias_on_the_default_network() {
    use crate::networks::fetch;
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    let p = Project::new(
        &ctx,
        "dns",
        &format!(
            "services:\n{}{}{}",
            web_service(
                "web",
                "    networks:\n      default:\n        aliases: [www]\n"
            ),
            web_service("api", ""),
            sleeper_service("client", "")
        ),
    );
    p.run(&["up", "-d"])
        .success()
        .stderr_contains("Network dns_default  Created");
    let got = p.exec(
        "client",
        &format!(
            "({}) && ({}) && ({}) && ({})",
            fetch("web"),
            fetch("dns-web-1"),
            fetch("www"),
            fetch("api")
        ),
    );
    assert_eq!(got.matches("hello-from-web").count(), 3, "{got}");
    assert!(got.contains("hello-from-api"), "{got}");
    // Compose's labels on the network.
    let inspect = ctx.devbox(&["network", "inspect", "dns_default"]);
    inspect
        .success()
        .stdout_contains("\"com.docker.compose.network\": \"default\"")
        .stdout_contains("\"com.docker.compose.project\": \"dns\"");
    p.run(&["down"])
        .success()
        .stderr_contains("Network dns_default  Removed");
    assert!(!network_names(&ctx).contains("dns_default"));
}

#[test]
fn declared_networks_isolate_services_and_an_internal_one_has_no_outbound() {
    use crate::networks::fetch;
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    let host = crate::support::HttpServer::start("host-ok");
    let p = Project::new(
        &ctx,
        "iso",
        &format!(
            "services:\n{}{}{}networks:\n  front: {{}}\n  back:\n    internal: true\n",
            web_service("a", "    networks: [front]\n"),
            web_service("b", "    networks: [front, back]\n"),
            sleeper_service("c", "    networks: [back]\n"),
        ),
    );
    p.run(&["up", "-d"]).success();
    let names = network_names(&ctx);
    assert!(
        names.contains("iso_front") && names.contains("iso_back"),
        "{names}"
    );
    assert!(
        !names.contains("iso_default"),
        "no service uses the default network: {names}"
    );
    // b is on both networks: a and c reach it; c does not reach a.
    assert!(p.exec("a", &fetch("b")).contains("hello-from-b"));
    assert!(p.exec("c", &fetch("b")).contains("hello-from-b"));
    let out = p.run(&["exec", "-T", "c", "sh", "-c", &fetch("a")]);
    assert_ne!(out.code, 0, "c reached a across networks:\n{out}");
    assert!(!out.stdout.contains("hello-from-a"));
    // slirp4netns maps 10.0.2.2 to the host's loopback: a has a way out, c has none.
    let probe = format!(
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 10.0.2.2 {} || echo NO-ROUTE",
        host.port
    );
    assert!(p.exec("a", &probe).contains("host-ok"));
    let closed = p.exec("c", &probe);
    assert!(
        closed.contains("NO-ROUTE") && !closed.contains("host-ok"),
        "{closed}"
    );
    p.run(&["down"]).success();
    let names = network_names(&ctx);
    assert!(!names.contains("iso_"), "{names}");
}

#[test]
fn down_keeps_external_networks_and_names_a_network_still_in_use() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    ctx.devbox(&["network", "create", "shared-ext"]).success();
    let p = Project::new(
        &ctx,
        "ext",
        &format!(
            "services:\n{}{}networks:\n  outside:\n    external: true\n    name: shared-ext\n",
            sleeper_service("x", "    networks: [outside]\n"),
            sleeper_service("y", ""),
        ),
    );
    p.run(&["up", "-d"]).success();
    // x is on the external network: a container outside the project reaches it by name.
    ctx.devbox(&[
        "run",
        "--rm",
        "--network",
        "shared-ext",
        ctx.busybox(),
        "nslookup",
        "ext-x-1",
    ])
    .success();
    // A container of no project on the project's network keeps it.
    ctx.devbox(&[
        "run",
        "-d",
        "--name",
        "intruder",
        "--network",
        "ext_default",
        ctx.busybox(),
        "sleep",
        "1000",
    ])
    .success();
    // Like Docker Compose, the containers' progress comes first, then the error.
    let out = p.run(&["down"]);
    assert_eq!(out.code, 125, "{out}");
    out.stderr_contains(
        "Error: cannot remove network: network ext_default is in use by running container(s) intruder",
    );
    ctx.devbox(&[
        "ps",
        "-q",
        "--filter",
        "label=com.docker.compose.project=ext",
    ])
    .success()
    .stdout_is("");
    ctx.devbox(&["rm", "-f", "intruder"]).success();
    p.run(&["down"]).success();
    let names = network_names(&ctx);
    assert!(names.contains("shared-ext"), "{names}");
    assert!(!names.contains("ext_default"), "{names}");

    // A missing external network fails `up`, naming it.
    p.write(
        "compose.yaml",
        "services:\n  x:\n    image: busybox:latest\n    networks: [gone]\nnetworks:\n  gone:\n    external: true\n",
    );
    let out = p.run(&["up", "-d"]);
    out.devbox_error(125);
    out.stderr_contains("network gone declared as external, but could not be found");
}

#[test]
fn two_services_listen_on_one_container_port_published_on_different_host_ports() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    let (one, two) = (free_port(), free_port());
    let p = Project::new(
        &ctx,
        "ports",
        &format!(
            "services:\n{}{}",
            web_service("one", &format!("    ports: [\"127.0.0.1:{one}:8080\"]\n")),
            web_service("two", &format!("    ports: [\"127.0.0.1:{two}:8080\"]\n")),
        ),
    );
    p.run(&["up", "-d"])
        .success()
        .stderr_contains(&format!("one: http://127.0.0.1:{one}/"))
        .stderr_contains(&format!("two: http://127.0.0.1:{two}/"));
    poll("both services answer", Duration::from_secs(15), || {
        http_get(one).is_some_and(|b| b.contains("hello-from-one"))
            && http_get(two).is_some_and(|b| b.contains("hello-from-two"))
    });
    p.run(&["ps"])
        .success()
        .stdout_contains(&format!("127.0.0.1:{one}->8080/tcp"));
    p.run(&["down"]).success();
}

#[test]
fn a_keep_id_service_on_the_project_network_writes_user_files_and_reaches_others() {
    use crate::networks::fetch;
    use std::os::unix::fs::MetadataExt;
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    let p = Project::new(
        &ctx,
        "kept",
        &format!(
            "services:\n{}{}",
            web_service("web", ""),
            sleeper_service(
                "app",
                "    userns_mode: keep-id\n    volumes: [\"./src:/src\"]\n"
            ),
        ),
    );
    ctx.mkdir("kept/src");
    p.run(&["up", "-d"]).success();
    let got = p.exec(
        "app",
        &format!(
            "id -u; stat -c '%u:%g' /bin/busybox; echo made > /src/made; {}",
            fetch("web")
        ),
    );
    let mut lines = got.lines();
    assert_eq!(
        lines.next(),
        Some(ctx.user.uid.to_string().as_str()),
        "{got}"
    );
    assert_eq!(
        lines.next(),
        Some("0:0"),
        "image files keep their owner: {got}"
    );
    assert!(got.contains("hello-from-web"), "{got}");
    let made = std::fs::metadata(p.dir.join("src/made")).unwrap();
    assert_eq!((made.uid(), made.gid()), (ctx.user.uid, ctx.user.gid));
    p.run(&["down"]).success();
}

#[test]
fn confinement_keys_reach_the_service() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    let p = Project::new(
        &ctx,
        "caps",
        &format!(
            "services:\n{}{}",
            sleeper_service(
                "tight",
                "    cap_drop: [NET_RAW]\n    cap_add: [NET_ADMIN]\n    read_only: true\n    tmpfs: /scratch\n    security_opt: [no-new-privileges]\n    expose: [\"9000\"]\n"
            ),
            sleeper_service("plain", ""),
        ),
    );
    let up = p.run(&["up", "-d"]);
    up.success();
    assert!(!up.stderr.contains("unknown"), "{up}");
    let (net_admin, net_raw) = (1u64 << 12, 1u64 << 13);
    let tight = p.exec(
        "tight",
        "cat /proc/1/status; touch /x 2>/dev/null && echo root-writable; touch /scratch/y && echo tmpfs-ok",
    );
    let caps = cap_eff(&tight);
    assert!(caps & net_admin != 0 && caps & net_raw == 0, "{caps:x}");
    assert!(tight.contains("NoNewPrivs:\t1"), "{tight}");
    assert!(tight.contains("tmpfs-ok") && !tight.contains("root-writable"));
    let caps = cap_eff(&p.exec("plain", "cat /proc/1/status"));
    assert!(caps & net_admin == 0 && caps & net_raw != 0, "{caps:x}");
    p.run(&["down"]).success();

    // Limits get `run --pids-limit`'s message (devbox applies none yet, see `confine`).
    p.write(
        "compose.yaml",
        &format!(
            "services:\n{}",
            sleeper_service("limited", "    pids_limit: 100\n    mem_limit: 512m\n")
        ),
    );
    let out = p.run(&["up", "-d"]);
    out.devbox_error(125);
    out.stderr_contains("cannot apply --pids-limit, --memory or --cpus")
        .stderr_contains("service `limited`");
    p.run(&["down"]).success();
}
