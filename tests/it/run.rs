//! `devbox run` (issue 2): every test starts the real binary as the unprivileged user and
//! asserts what the container sees from inside it, with busybox applets as the probe.

use std::os::unix::fs::MetadataExt;

use crate::support::{require, HostProcess, HttpServer, TestContext};

// ---- exit codes and errors ------------------------------------------------------------------

#[test]
fn echo_prints_and_exits_zero() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    ctx.run_offline(&[img, "echo", "hello", "world"])
        .success()
        .stdout_exactly("hello world\n");
}

#[test]
fn exit_code_of_the_command_is_devbox_exit_code() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    ctx.run_offline(&[img, "sh", "-c", "exit 3"]).code_is(3);
}

#[test]
fn missing_image_is_125() {
    let ctx = TestContext::new();
    require!(ctx, "userns");
    let out = ctx.run_offline(&["no-such-image:latest", "true"]);
    let line = out.devbox_error(125);
    if !line.contains("no-such-image") {
        out.fail("expected the error to name the image");
    }
}

#[test]
fn bad_volume_spec_is_125() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let host = ctx.mkdir("vol");
    let spec = format!("{}:/mnt:bogus", host.display());
    let out = ctx.run_offline(&["-v", &spec, img, "true"]);
    out.devbox_error(125);
    // Nothing ran, nothing was left behind.
    assert!(ctx.container_dirs().is_empty(), "{out}");
}

#[test]
fn non_executable_command_is_126() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    ctx.run_offline(&[img, "/etc/passwd"]).code_is(126);
}

#[test]
fn missing_command_is_127() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    ctx.run_offline(&[img, "no-such-command"]).code_is(127);
    ctx.run_offline(&[img, "/no/such/path"]).code_is(127);
}

#[test]
fn missing_newuidmap_is_125_and_says_so() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "subuid", "busybox");
    let img = ctx.busybox();
    // A PATH with nothing in it: devbox itself is started by absolute path.
    let empty = ctx.mkdir("empty-path");
    let out = ctx
        .run_offline_cmd(&[img, "true"])
        .env("PATH", &empty)
        .run();
    out.devbox_error(125);
    out.stderr_contains("newuidmap");
}

#[test]
fn unshare_runs_a_command_as_root_of_the_user_namespace() {
    use std::os::unix::fs::MetadataExt;
    let ctx = TestContext::new();
    require!(ctx, "userns", "subuid");
    // Root inside is the user; the subordinate range follows (Podman's `unshare`).
    let out = ctx.devbox(&["unshare", "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    out.success();
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["0"], "{out}");
    let uid = ctx.user.uid.to_string();
    assert_eq!(lines[1], ["0", uid.as_str(), "1"], "{out}");
    assert_eq!(
        lines.len(),
        3,
        "one subordinate range after the user's uid:\n{out}"
    );
    // A file given to another user inside belongs to a subordinate id on the host: the user
    // cannot remove it directly, `unshare rm` can.
    let dir = ctx.mkdir("theirs");
    let d = dir.display().to_string();
    ctx.devbox(&[
        "unshare",
        "sh",
        "-c",
        &format!("mkdir {d}/sub && touch {d}/sub/f && chown -R 1000:1000 {d}/sub"),
    ])
    .success();
    let first_subordinate: u32 = lines[2][1].parse().unwrap();
    let owner = std::fs::metadata(dir.join("sub/f")).unwrap().uid();
    assert_eq!(
        owner,
        first_subordinate + 999,
        "uid 1000 inside is a subordinate id"
    );
    ctx.devbox(&["unshare", "rm", "-rf", &format!("{d}/sub")])
        .success();
    assert!(!dir.join("sub").exists(), "`unshare rm -rf` removed it");
    // Exit codes are the command's; one that cannot run gives 127 or 126.
    ctx.devbox(&["unshare", "sh", "-c", "exit 7"]).code_is(7);
    ctx.devbox(&["unshare", "no-such-command"])
        .devbox_error(127);
    ctx.devbox(&["unshare", "/etc/passwd"]).devbox_error(126);
    // No command: the user's shell, reading stdin.
    ctx.devbox_cmd(&["unshare"])
        .env("SHELL", "/bin/sh")
        .stdin("id -u\n")
        .run()
        .success()
        .stdout_is("0");
}

// ---- image config: ENTRYPOINT, CMD, ENV, WORKDIR, USER --------------------------------------

#[test]
fn entrypoint_and_cmd_from_the_image() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.import_busybox(
        "ep:1",
        &[r#"ENTRYPOINT ["echo", "ep"]"#, r#"CMD ["default", "args"]"#],
    );
    let run = |extra: &[&str]| ctx.run_offline(extra);
    // ENTRYPOINT + CMD.
    run(&[&img]).success().stdout_exactly("ep default args\n");
    // Arguments replace CMD, not ENTRYPOINT.
    run(&[&img, "x", "y"]).success().stdout_exactly("ep x y\n");
    // --entrypoint replaces ENTRYPOINT and clears CMD.
    run(&["--entrypoint", "echo", &img])
        .success()
        .stdout_exactly("\n");
    run(&["--entrypoint", "echo", &img, "only"])
        .success()
        .stdout_exactly("only\n");
}

#[test]
fn cmd_alone_and_shell_form() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let json = ctx.import_busybox("cmd:json", &[r#"CMD ["echo", "from", "cmd"]"#]);
    let shell = ctx.import_busybox("cmd:shell", &["CMD echo shell $((6*7))"]);
    ctx.run_offline(&[&json])
        .success()
        .stdout_exactly("from cmd\n");
    ctx.run_offline(&[&json, "echo", "over"])
        .success()
        .stdout_exactly("over\n");
    // Shell form runs through /bin/sh -c.
    ctx.run_offline(&[&shell])
        .success()
        .stdout_exactly("shell 42\n");
}

#[test]
fn env_from_the_image_and_overrides() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.import_busybox("env:1", &["ENV GREETING=hello", "ENV OTHER=kept"]);
    let probe = "echo $GREETING $OTHER";
    ctx.run_offline(&[&img, "sh", "-c", probe])
        .success()
        .stdout_exactly("hello kept\n");
    ctx.run_offline(&["-e", "GREETING=bye", &img, "sh", "-c", probe])
        .success()
        .stdout_exactly("bye kept\n");
    // PATH has Docker's default when the image sets none.
    ctx.run_offline(&[&img, "sh", "-c", "echo $PATH"])
        .success()
        .stdout_contains("/usr/bin");
}

#[test]
fn workdir_from_the_image_and_default() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.import_busybox("wd:1", &["WORKDIR /srv/app"]);
    ctx.run_offline(&[&img, "pwd"])
        .success()
        .stdout_exactly("/srv/app\n");
    ctx.run_offline(&[ctx.busybox(), "pwd"])
        .success()
        .stdout_exactly("/\n");
}

#[test]
fn user_from_the_image() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "subuid", "busybox");
    let img = ctx.import_busybox("usr:1", &["USER app"]);
    ctx.run_offline(&[&img, "sh", "-c", "id -u; id -g"])
        .success()
        .stdout_exactly("1000\n1000\n");
    // -u overrides it.
    ctx.run_offline(&["-u", "0", &img, "id", "-u"])
        .success()
        .stdout_exactly("0\n");
}

// ---- run flags --------------------------------------------------------------------------------

#[test]
fn env_flags() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let env_file = ctx.write_file("vars.env", "# a comment\nFROM_FILE=file value\n\nOTHER=2\n");
    let env_file = env_file.to_str().unwrap();
    ctx.run_offline_cmd(&[
        "-e",
        "A=1",
        "-e",
        "FROM_HOST",
        "-e",
        "UNSET_ON_HOST",
        "--env-file",
        env_file,
        img,
        "sh",
        "-c",
        "echo \"$A|$FROM_HOST|${UNSET_ON_HOST-unset}|$FROM_FILE|$OTHER\"",
    ])
    .env("FROM_HOST", "host value")
    .run()
    .success()
    .stdout_exactly("1|host value|unset|file value|2\n");
}

#[test]
fn workdir_flag_is_created_if_missing() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    ctx.run_offline(&["-w", "/does/not/exist", img, "pwd"])
        .success()
        .stdout_exactly("/does/not/exist\n");
}

#[test]
fn user_flag_by_uid_and_by_name() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "subuid", "busybox");
    let img = ctx.busybox();
    let probe = ["sh", "-c", "id -u; id -g"];
    let run = |user: &str| {
        let mut args = vec!["-u", user, img];
        args.extend_from_slice(&probe);
        ctx.run_offline(&args)
    };
    // A uid with a passwd entry takes that entry's group, as in Docker...
    run("1000").success().stdout_exactly("1000\n1000\n");
    // ...one without an entry gets gid 0.
    run("4242").success().stdout_exactly("4242\n0\n");
    run("1000:4243").success().stdout_exactly("1000\n4243\n");
    // A name is looked up in the image's /etc/passwd.
    run("app").success().stdout_exactly("1000\n1000\n");
    // Root by default.
    ctx.run_offline(&[img, "id", "-u"])
        .success()
        .stdout_exactly("0\n");
}

#[test]
fn the_command_is_pid_1() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    ctx.run_offline(&[img, "sh", "-c", "echo $$"])
        .success()
        .stdout_exactly("1\n");
}

#[test]
fn hostname_flag_and_default() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    ctx.run_offline(&["--hostname", "box1", img, "hostname"])
        .success()
        .stdout_exactly("box1\n");
    ctx.run_offline(&["--hostname", "box1", img, "cat", "/etc/hostname"])
        .success()
        .stdout_exactly("box1\n");

    // Default: the first 12 hex digits of the container id.
    let out = ctx.devbox(&["run", "--network", "none", "--name", "hn", img, "hostname"]);
    out.success();
    let hostname = out.out().to_string();
    if hostname.len() != 12 || !hostname.bytes().all(|b| b.is_ascii_hexdigit()) {
        out.fail("expected the default hostname to be 12 hex digits");
    }
    let ps = ctx.devbox(&["ps", "-a", "-q"]);
    ps.success();
    let id = ps.out();
    if !(id.starts_with(&hostname) || hostname.starts_with(id)) || id.lines().count() != 1 {
        ps.fail(&format!(
            "expected the one container's id to start with {hostname}"
        ));
    }
    ctx.devbox(&["rm", "hn"]).success();
}

// ---- bind mounts ------------------------------------------------------------------------------

#[test]
fn read_write_bind_mount() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let host = ctx.mkdir("rw");
    ctx.write_file("rw/from-host", "on the host\n");
    let spec = format!("{}:/data", host.display());
    ctx.run_offline(&[
        "-v",
        &spec,
        img,
        "sh",
        "-c",
        "cat /data/from-host && echo written inside > /data/from-container",
    ])
    .success()
    .stdout_exactly("on the host\n");
    let written = host.join("from-container");
    assert_eq!(
        std::fs::read_to_string(&written).unwrap(),
        "written inside\n"
    );
    // Container root is the user on the host: the file belongs to the test user.
    assert_eq!(std::fs::metadata(&written).unwrap().uid(), ctx.user.uid);
}

#[test]
fn read_only_bind_mount() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let host = ctx.mkdir("ro");
    let file = ctx.write_file("ro/file", "original\n");
    let spec = format!("{}:/data:ro", host.display());
    let out = ctx.run_offline(&[
        "-v",
        &spec,
        img,
        "sh",
        "-c",
        "cat /data/file; echo changed > /data/file && exit 0; touch /data/new && exit 0; exit 9",
    ]);
    out.code_is(9).stdout_contains("original");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "original\n");
    assert!(!host.join("new").exists());
}

// ---- lifecycle in the store -------------------------------------------------------------------

#[test]
fn rm_flag_leaves_nothing() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    ctx.run_offline(&[img, "true"]).success();
    ctx.run_offline(&[img, "sh", "-c", "exit 4"]).code_is(4);
    ctx.devbox(&["ps", "-a", "-q"]).success().stdout_exactly("");
    assert_eq!(ctx.container_dirs(), Vec::<String>::new());
    // The files go in a detached remover after `run` returns: they are gone soon after.
    let leftovers = || -> Vec<String> {
        std::fs::read_dir(ctx.root.join("tmp"))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|name| name.starts_with("removed-"))
                    .collect()
            })
            .unwrap_or_default()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !leftovers().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        leftovers(),
        Vec::<String>::new(),
        "retired dirs left behind"
    );
}

#[test]
fn without_rm_the_container_stays_until_rm() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    ctx.devbox(&["run", "--network", "none", "--name", "keep", img, "true"])
        .success();
    let ps = ctx.devbox(&["ps", "-a", "-q"]);
    ps.success();
    if ps.out().lines().count() != 1 {
        ps.fail("expected exactly one container");
    }
    assert_eq!(ctx.container_dirs().len(), 1);
    ctx.devbox(&["rm", "keep"]).success();
    ctx.devbox(&["ps", "-a", "-q"]).success().stdout_exactly("");
    assert_eq!(ctx.container_dirs(), Vec::<String>::new());
}

// ---- isolation --------------------------------------------------------------------------------

#[test]
fn host_processes_are_invisible() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let sleeper = HostProcess::spawn("sleep", &["31337"]);
    let out = ctx.run_offline(&[img, "ps", "-o", "pid,args"]);
    out.success();
    if out.stdout.contains("31337") {
        out.fail(&format!(
            "the host's `sleep 31337` (pid {}) is visible",
            sleeper.pid()
        ));
    }
    let out = ctx.run_offline(&[img, "ls", "/proc"]);
    out.success();
    let pids = out
        .stdout
        .split_whitespace()
        .filter(|e| e.bytes().all(|b| b.is_ascii_digit()))
        .count();
    if !(1..=2).contains(&pids) {
        out.fail(&format!(
            "expected only the container's own pids in /proc, found {pids}"
        ));
    }
}

#[test]
fn proc_dev_and_read_only_sys() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    ctx.run_offline(&[img, "sh", "-c",
        "test -r /proc/self/status && test -c /dev/null && test -c /dev/zero && test -c /dev/urandom \
         && test -d /dev/pts && test -d /dev/shm && echo ok",
    ])
    .success()
    .stdout_exactly("ok\n");
    // /dev/null works as a sink and is not a regular file left in the image.
    ctx.run_offline(&[img, "sh", "-c", "echo x > /dev/null && cat /dev/null"])
        .success()
        .stdout_exactly("");
    // /sys is mounted read-only.
    let out = ctx.run_offline(&[img, "cat", "/proc/mounts"]);
    out.success();
    let sys = out
        .stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("/sys"));
    let opts = sys
        .and_then(|l| l.split_whitespace().nth(3))
        .unwrap_or_else(|| out.fail("no /sys mount"));
    if !opts.split(',').any(|o| o == "ro") {
        out.fail("expected /sys to be mounted ro");
    }
    ctx.run_offline(&[img, "mkdir", "/sys/devbox-test"])
        .failure();
}

#[test]
fn etc_files_are_generated() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "slirp4netns", "busybox");
    let img = ctx.busybox();
    let out = ctx.devbox(&[
        "run",
        "--rm",
        "--hostname",
        "etcbox",
        img,
        "sh",
        "-c",
        "cat /etc/hostname; echo ---; cat /etc/hosts; echo ---; cat /etc/resolv.conf",
    ]);
    out.success();
    let parts: Vec<&str> = out.stdout.split("---\n").collect();
    if parts.len() != 3 {
        out.fail("expected three files");
    }
    if parts[0].trim() != "etcbox" {
        out.fail("/etc/hostname should hold the hostname");
    }
    if !parts[1].contains("localhost") || !parts[1].contains("etcbox") {
        out.fail("/etc/hosts should name localhost and the hostname");
    }
    if !parts[2].lines().any(|l| l.starts_with("nameserver ")) {
        out.fail("/etc/resolv.conf should have a nameserver");
    }
}

// ---- stdin and terminals ----------------------------------------------------------------------

#[test]
fn interactive_stdin_reaches_the_command() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let input = "line one\nline two\n";
    ctx.devbox_cmd(&["run", "--rm", "-i", "--network", "none", img, "cat"])
        .stdin(input)
        .run()
        .success()
        .stdout_exactly(input);
}

#[test]
fn without_interactive_stdin_is_empty() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    ctx.run_offline_cmd(&[img, "cat"])
        .stdin("must not arrive\n")
        .timeout(std::time::Duration::from_secs(30))
        .run()
        .success()
        .stdout_exactly("");
}

#[test]
fn tty_flag_gives_a_pty() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "script");
    let img = ctx.busybox();
    // `script` gives devbox a terminal; inside, the command gets a pty of its own.
    let inner = format!(
        "{} --root {} run --rm -t --network none {img} tty",
        crate::support::binary().display(),
        ctx.root.display()
    );
    let out = ctx
        .command("/usr/bin/script")
        .args(["-q", "-e", "-c", &inner, "/dev/null"])
        .run();
    out.success();
    if !out
        .stdout
        .lines()
        .any(|l| l.trim_end_matches('\r') == "/dev/pts/0")
    {
        out.fail("expected `tty` to print /dev/pts/0");
    }
}

// ---- network ----------------------------------------------------------------------------------

#[test]
fn default_network_reaches_the_host_loopback() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "slirp4netns", "busybox");
    let img = ctx.busybox();
    let server = HttpServer::start("hello from the host\n");
    let url = format!("http://10.0.2.2:{}/", server.port);
    ctx.devbox(&["run", "--rm", img, "wget", "-q", "-O-", &url])
        .success()
        .stdout_exactly("hello from the host\n");
}

#[test]
fn keep_id_containers_get_their_network_at_every_start() {
    // A keep-id init becomes root of its user namespace just before it execs devbox; until
    // then its /proc/PID/ns links were closed to its owner (the id change made it
    // non-dumpable), and a slirp4netns started in that window failed with "userns path
    // doesn't exist". Starts are repeated because the window is a few microseconds.
    let ctx = TestContext::new();
    require!(ctx, "userns", "slirp4netns", "busybox");
    let img = ctx.busybox();
    let server = HttpServer::start("hello from the host\n");
    let url = format!("http://10.0.2.2:{}/", server.port);
    for _ in 0..10 {
        ctx.devbox(&[
            "run",
            "--rm",
            "--userns=keep-id",
            img,
            "wget",
            "-q",
            "-O-",
            &url,
        ])
        .success()
        .stdout_exactly("hello from the host\n");
    }
}

#[test]
fn network_none_has_only_loopback() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let server = HttpServer::start("unreachable\n");
    let url = format!("http://10.0.2.2:{}/", server.port);
    let out = ctx.run_offline(&[img, "wget", "-q", "-T", "3", "-O-", &url]);
    out.failure();
    if out.stdout.contains("unreachable") {
        out.fail("the host server was reached with --network none");
    }
    let out = ctx.run_offline(&[img, "cat", "/proc/net/dev"]);
    out.success();
    // Two header lines, then one line per interface.
    let ifaces: Vec<&str> = out
        .stdout
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    if ifaces != ["lo"] {
        out.fail(&format!("expected only `lo`, found {ifaces:?}"));
    }
}

// ---- the Debian python image ------------------------------------------------------------------

#[test]
fn python_runs_in_the_debian_image() {
    let mut ctx = TestContext::new();
    require!(ctx, "userns", "subuid", "mmdebstrap");
    let img = ctx.use_debian();
    ctx.run_offline(&[&img, "python3", "-c", "print(6*7)"])
        .success()
        .stdout_exactly("42\n");
}

/// `devbox run` forwards the signals it gets to the container's PID 1 and exits with
/// the container's code (what Ctrl-C and `kill` rely on).
#[test]
fn signals_are_forwarded_to_pid_1() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let out = ctx.path("out");
    let script = format!(
        "{bin} --root {root} run --rm --network none {img} sh -c \
         'trap \"echo got-term; exit 7\" TERM; echo ready; while :; do sleep 0.05; done' > {out} & \
         pid=$!; \
         for i in $(seq 200); do grep -q ready {out} 2>/dev/null && break; sleep 0.05; done; \
         kill -TERM $pid; wait $pid; echo exit=$?; cat {out}",
        bin = crate::support::binary().display(),
        root = ctx.root.display(),
        out = out.display(),
    );
    ctx.command("/bin/sh")
        .arg("-c")
        .arg(script)
        .run()
        .success()
        .stdout_contains("exit=7")
        .stdout_contains("got-term");
}

// ---- id mapping fallback and terminal size ----------------------------------------------------

#[test]
fn without_subordinate_ids_the_user_alone_is_root_inside() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let Some(nosub) = crate::support::user::NosubSandbox::new() else {
        return;
    };
    let user = nosub.user;
    let data = nosub.dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir data");
    nosub.own(&data);
    let devbox = |args: &[&str]| nosub.devbox(args);
    let volume = format!("{}:/data", data.display());
    let out = devbox(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &volume,
        "bb",
        "sh",
        "-c",
        "id -u; touch /data/made-inside",
    ])
    .run();
    out.success()
        .stdout_is("0")
        .stderr_contains("no subordinate ids");
    let made = std::fs::metadata(data.join("made-inside")).expect("the file made inside");
    assert_eq!(made.uid(), user.uid, "root inside is the user on the host");
}

#[test]
fn tty_size_is_set_and_follows_the_terminal() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "script");
    let img = ctx.busybox();
    // Inside `script`'s terminal: set a size, start the container, change the size from the
    // background once the container's trap is set (it says so in a file on a bind mount):
    // TIOCSWINSZ sends SIGWINCH to devbox, the foreground job. `stty rows R cols C` sets the
    // two one after the other (two signals), so the container prints the size at every
    // SIGWINCH and stops at the final one.
    let ready = ctx.mkdir("ready");
    let body = format!(
        "stty rows 33 cols 77\n\
         (while [ ! -e {ready}/set ]; do sleep 0.05; done; stty rows 40 cols 100 </dev/tty) &\n\
         {} --root {} run --rm -t --network none -v {ready}:/ready {img} \
         sh -c 'trap \"s=\\$(stty size); echo \\$s; [ \\\"\\$s\\\" = \\\"40 100\\\" ] && exit 0\" WINCH; \
         stty size; touch /ready/set; i=0; while [ $i -lt 3 ]; do sleep 10 & wait; i=$((i+1)); done'\n",
        crate::support::binary().display(),
        ctx.root.display(),
        ready = ready.display(),
    );
    let script = ctx.write_file("resize.sh", &body);
    let out = ctx
        .command("/usr/bin/script")
        .args(["-q", "-e", "-c"])
        .arg(format!("sh {}", script.display()))
        .arg("/dev/null")
        .run();
    out.success();
    let sizes: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty())
        .collect();
    let resized = &sizes[1.min(sizes.len())..];
    if sizes.first() != Some(&"33 77")
        || resized.last() != Some(&"40 100")
        || resized.iter().any(|s| !["40 77", "40 100"].contains(s))
    {
        out.fail("expected the size set before start, then the new size after SIGWINCH");
    }
}

#[test]
fn as_root_no_user_namespace_is_needed() {
    let ctx = TestContext::new();
    require!(ctx, "busybox");
    if !nix::unistd::Uid::effective().is_root() {
        crate::support::capability::skip(
            "root",
            "running devbox as root needs the tests to run as root",
        );
        return;
    }
    let tar = crate::support::images::busybox_tar().expect("building the busybox image");
    let dir = tempfile::tempdir().expect("creating a sandbox");
    let root = dir.path().join("root");
    let devbox = |args: &[&str]| {
        std::process::Command::new(crate::support::binary())
            .arg("--root")
            .arg(&root)
            .args(args)
            .env("XDG_RUNTIME_DIR", dir.path())
            .output()
            .expect("running devbox as root")
    };
    let import = devbox(&["import", tar.to_str().unwrap(), "bb"]);
    assert!(import.status.success(), "import as root: {import:?}");
    let run = devbox(&[
        "run",
        "--rm",
        "--network",
        "none",
        "bb",
        "sh",
        "-c",
        "id -u; readlink /proc/self/ns/user",
    ]);
    assert!(run.status.success(), "run as root: {run:?}");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let host_userns = std::fs::read_link("/proc/self/ns/user").expect("host user namespace");
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("0"), "{stdout}");
    assert_eq!(
        lines.next(),
        Some(host_userns.to_str().unwrap()),
        "as root the container stays in the host's user namespace"
    );
}
