//! Detached containers and the lifecycle verbs (issue 4): `run -d` under a monitor, logs,
//! stop/kill/start, restart policies, exec, inspect/ps formats, and state that stays true
//! when processes die. Busybox image, as the unprivileged user.

use std::time::{Duration, Instant};

use crate::support::process::{poll_until, process_running};
use crate::support::{require, Output, TestContext};

/// Removes every container of the test's store when dropped, so a failed test leaves no
/// monitor running.
struct Cleanup<'a>(&'a TestContext);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let ids = self.0.devbox(&["ps", "-aq"]);
        let ids: Vec<&str> = ids.stdout.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            self.0.devbox(&args);
        }
    }
}

/// The busybox image, and the removal of every container when the test ends.
fn busybox(ctx: &TestContext) -> (Cleanup<'_>, &str) {
    (Cleanup(ctx), ctx.busybox())
}

/// `run -d --network none ARGS`, asserting it prints a 64-hex id; returns the id.
fn run_detached(ctx: &TestContext, args: &[&str]) -> String {
    let out = ctx
        .devbox_cmd(&["run", "-d", "--network", "none"])
        .args(args)
        .run();
    out.success();
    let id = out.out().to_string();
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        out.fail("expected `run -d` to print the container's 64-hex id");
    }
    id
}

/// `run -d --network none FLAGS IMAGE sh -c SCRIPT`; returns the id.
fn run_sh(ctx: &TestContext, flags: &[&str], img: &str, script: &str) -> String {
    let mut args = flags.to_vec();
    args.extend([img, "sh", "-c", script]);
    run_detached(ctx, &args)
}

/// `inspect --format TEMPLATE ID`, trimmed.
fn inspect(ctx: &TestContext, id: &str, template: &str) -> String {
    let out = ctx.devbox(&["inspect", "--format", template, id]);
    out.success();
    out.out().to_string()
}

/// Polls `inspect` until `template` renders `want`, or panics after `within`.
fn wait_for(ctx: &TestContext, id: &str, template: &str, want: &str, within: Duration) {
    let what = format!("`{template}` of {id} is not {want:?}");
    poll_until(&what, within, || inspect(ctx, id, template) == want);
}

/// The host pid of the monitor of container `id` (found by its command line).
fn monitor_pid(id: &str) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        (cmdline.contains("__monitor") && cmdline.contains(id)).then_some(pid)
    })
}

fn process_exists(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn timed(f: impl FnOnce() -> Output) -> (Output, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

#[test]
fn detached_run_prints_the_id_and_keeps_running() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    let id = run_sh(&ctx, &["--name", "bg"], img, "echo started; sleep 1000");
    ctx.devbox(&["ps", "-q"]).success().stdout_is(&id[..12]);
    assert_eq!(
        inspect(&ctx, "bg", "{{.State.Status}} {{.State.Running}}"),
        "running true"
    );
    let pid: i32 = inspect(&ctx, &id, "{{.State.Pid}}").parse().unwrap();
    assert!(
        process_exists(pid),
        "the container's pid {pid} is not on the host"
    );
    let monitor = monitor_pid(&id).expect("a monitor process for the container");
    let status = std::fs::read_to_string(format!("/proc/{monitor}/status")).unwrap();
    assert!(status.contains("devbox:[monitor"), "{status}");
    wait_for(
        &ctx,
        &id,
        "{{.State.Running}}",
        "true",
        Duration::from_secs(1),
    );
    poll_until("no output in the log", Duration::from_secs(5), || {
        ctx.devbox(&["logs", &id]).stdout.contains("started")
    });
    ctx.devbox(&["rm", "-f", "bg"]).success().stdout_is("bg");
}

#[test]
fn a_detached_rm_container_removes_itself_and_wait_gets_its_code() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    let id = run_sh(&ctx, &["--rm"], img, "sleep 0.3; exit 6");
    ctx.devbox(&["wait", &id]).success().stdout_is("6");
    poll_until(
        "the container was not removed",
        Duration::from_secs(5),
        || ctx.container_dirs().is_empty(),
    );
    ctx.devbox(&["ps", "-aq"]).success().stdout_is("");
    ctx.devbox(&["run", "-d", "--rm", "--restart", "always", img, "true"])
        .devbox_error(125);
}

#[test]
fn detached_start_errors_keep_their_exit_codes() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    let out = ctx.devbox(&["run", "-d", "--network", "none", img, "no-such-command"]);
    let line = out.devbox_error(127);
    assert!(line.contains("no-such-command"), "{out}");
    assert!(out.stdout.is_empty(), "no id on failure\n{out}");
}

#[test]
fn logs_follow_new_lines_and_tail() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    let script = "for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done; echo oops >&2";
    let id = run_sh(&ctx, &[], img, script);
    // Started before the lines are written: -f shows them as they come and ends with the
    // container.
    let (out, took) = timed(|| ctx.devbox(&["logs", "-f", &id]));
    out.success();
    assert_eq!(
        out.stdout, "line 1\nline 2\nline 3\nline 4\nline 5\n",
        "{out}"
    );
    assert_eq!(out.stderr, "oops\n", "stderr lines go to stderr\n{out}");
    assert!(
        took >= Duration::from_millis(500),
        "-f returned early ({took:?})\n{out}"
    );
    // --tail counts the lines of both streams, as Docker's does.
    let tail = ctx.devbox(&["logs", "--tail", "3", &id]);
    tail.success().stdout_exactly("line 4\nline 5\n");
    assert_eq!(tail.stderr, "oops\n", "{tail}");
    let out = ctx.devbox(&["logs", "-t", "--tail", "2", &id]);
    let (time, text) = out.out().split_once(' ').expect("a timestamp");
    assert!(time.ends_with('Z') && time.contains('T'), "{out}");
    assert_eq!(text, "line 5");
    ctx.devbox(&["logs", "--since", "2000-01-01T00:00:00Z", &id])
        .success()
        .stdout_contains("line 1");
    let future = ctx.devbox(&["logs", "--since", "4000000000", &id]);
    future.success().stdout_exactly("");
}

#[test]
fn stop_of_a_process_ignoring_sigterm_takes_the_timeout_and_ends_137() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    // PID 1 without a handler ignores SIGTERM.
    let id = run_detached(&ctx, &[img, "sleep", "1000"]);
    let (out, took) = timed(|| ctx.devbox(&["stop", "-t", "1", &id]));
    out.success().stdout_is(&id);
    assert!(took >= Duration::from_secs(1), "stop took only {took:?}");
    assert!(took < Duration::from_secs(6), "stop took {took:?}");
    assert_eq!(
        inspect(&ctx, &id, "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    ctx.devbox(&["wait", &id]).success().stdout_is("137");
}

#[test]
fn stop_of_a_process_handling_sigterm_is_prompt_and_keeps_its_code() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    let script = "trap 'echo bye; exit 3' TERM; echo ready; while true; do sleep 0.1; done";
    let id = run_sh(&ctx, &[], img, script);
    poll_until("the trap was never set", Duration::from_secs(5), || {
        ctx.devbox(&["logs", &id]).stdout.contains("ready")
    });
    let (out, took) = timed(|| ctx.devbox(&["stop", &id]));
    out.success();
    assert!(
        took < Duration::from_secs(5),
        "stop took {took:?} (default timeout is 10 s)"
    );
    assert_eq!(inspect(&ctx, &id, "{{.State.ExitCode}}"), "3");
    ctx.devbox(&["logs", &id]).stdout_contains("bye");
}

#[test]
fn kill_sends_the_signal_and_start_runs_the_container_again() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    let id = run_sh(&ctx, &[], img, "echo $$ >> /runs; sleep 1000");
    // "running" comes before the shell's first line: wait for each run's line.
    let runs = |n: usize| {
        poll_until(
            &format!("/runs never had {n} lines"),
            Duration::from_secs(10),
            || {
                ctx.devbox(&["exec", &id, "cat", "/runs"])
                    .stdout
                    .lines()
                    .count()
                    == n
            },
        )
    };
    runs(1);
    ctx.devbox(&["kill", &id]).success();
    ctx.devbox(&["wait", &id]).success().stdout_is("137");
    ctx.devbox(&["kill", "-s", "TERM", &id])
        .code_is(1)
        .stderr_contains("is not running");
    // `start` reuses the container's upper directory: the file written by the first run is
    // still there.
    ctx.devbox(&["start", &id]).success().stdout_is(&id);
    assert_eq!(inspect(&ctx, &id, "{{.State.Status}}"), "running");
    runs(2);
    ctx.devbox(&["restart", "-t", "0", &id]).success();
    assert_eq!(inspect(&ctx, &id, "{{.State.Status}}"), "running");
    ctx.devbox(&["exec", &id, "cat", "/runs"]).success();
    ctx.devbox(&["kill", "-s", "NOSUCH", &id]).devbox_error(125);
}

#[test]
fn on_failure_2_restarts_exactly_twice() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    let id = run_sh(
        &ctx,
        &["--restart", "on-failure:2"],
        img,
        "echo run; exit 1",
    );
    ctx.devbox(&["wait", &id]).success().stdout_is("1");
    let logs = ctx.devbox(&["logs", &id]);
    assert_eq!(logs.stdout, "run\nrun\nrun\n", "{logs}");
    assert_eq!(
        inspect(&ctx, &id, "{{.RestartCount}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}"),
        "2 on-failure 2"
    );
}

#[test]
fn always_restarts_after_exit_zero() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    let id = run_sh(&ctx, &["--restart", "always"], img, "echo run; sleep 0.2");
    poll_until("not restarted", Duration::from_secs(10), || {
        ctx.devbox(&["logs", &id]).stdout.matches("run").count() >= 3
    });
    let count: u32 = inspect(&ctx, &id, "{{.RestartCount}}").parse().unwrap();
    assert!(count >= 2, "RestartCount {count}");
    ctx.devbox(&["stop", &id]).success();
    assert_eq!(inspect(&ctx, &id, "{{.State.Status}}"), "exited");
    // `update` changes the policy of an existing container.
    ctx.devbox(&["update", "--restart", "no", &id]).success();
    assert_eq!(
        inspect(&ctx, &id, "{{.HostConfig.RestartPolicy.Name}}"),
        "no"
    );
}

#[test]
fn unless_stopped_is_not_restarted_after_stop_nor_at_boot() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    let id = run_detached(&ctx, &["--restart", "unless-stopped", img, "sleep", "1000"]);
    ctx.devbox(&["stop", "-t", "0", &id]).success();
    poll_until(
        "the monitor should be gone",
        Duration::from_secs(10),
        || monitor_pid(&id).is_none(),
    );
    // Time a restart would have taken.
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        inspect(&ctx, &id, "{{.State.Status}} {{.RestartCount}}"),
        "exited 0"
    );
    ctx.devbox(&["system", "boot"]).success().stdout_is("");
    assert_eq!(inspect(&ctx, &id, "{{.State.Status}}"), "exited");
}

#[test]
fn a_killed_monitor_shows_the_container_exited_and_boot_starts_it_again() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    let id = run_detached(
        &ctx,
        &["--name", "svc", "--restart", "always", img, "sleep", "1000"],
    );
    let pid: i32 = inspect(&ctx, &id, "{{.State.Pid}}").parse().unwrap();
    let mut monitor = None;
    poll_until("no monitor process found", Duration::from_secs(5), || {
        monitor = monitor_pid(&id);
        monitor.is_some()
    });
    let monitor = monitor.unwrap();
    nix_kill(monitor, 9);
    // kill(2) returns before the process is gone (and its lock with it).
    poll_until(
        "the killed monitor is still alive",
        Duration::from_secs(10),
        || !process_running(monitor),
    );
    let ps = ctx.devbox(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    ps.success().stdout_is("svc Exited (unknown)");
    assert_eq!(
        inspect(
            &ctx,
            &id,
            "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}"
        ),
        "exited 255 false"
    );
    ctx.devbox(&["ps", "-q"]).success().stdout_is("");
    // The container dies with its monitor (parent-death signal).
    poll_until(
        "the container outlived its monitor",
        Duration::from_secs(10),
        || !process_exists(pid),
    );
    ctx.devbox(&["system", "boot"]).success().stdout_is("svc");
    assert_eq!(inspect(&ctx, &id, "{{.State.Status}}"), "running");
}

fn nix_kill(pid: i32, signal: i32) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("running kill");
    assert!(status.success());
}

#[test]
fn exec_sees_the_containers_processes_and_files() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    let id = run_sh(&ctx, &[], img, "echo hi > /tmp/marker; exec sleep 1000");
    let out = ctx.devbox(&["exec", &id, "ps"]);
    out.success();
    let first = out.stdout.lines().nth(1).unwrap_or_default();
    assert!(
        first.trim_start().starts_with("1 ") && first.contains("sleep 1000"),
        "{out}"
    );
    assert!(
        !out.stdout.contains("devbox"),
        "host processes are visible\n{out}"
    );
    ctx.devbox(&["exec", &id, "cat", "/tmp/marker"])
        .success()
        .stdout_is("hi");
    ctx.devbox(&["exec", &id, "sh", "-c", "exit 7"]).code_is(7);
    ctx.devbox(&[
        "exec",
        "-e",
        "FOO=bar",
        "-w",
        "/etc",
        "-u",
        "1000:1000",
        &id,
        "sh",
        "-c",
        "echo $FOO $(pwd) $(id -u):$(id -g)",
    ])
    .success()
    .stdout_is("bar /etc 1000:1000");
    ctx.devbox(&["exec", &id, "hostname"])
        .success()
        .stdout_is(&id[..12]);
    ctx.devbox_cmd(&["exec", "-i", &id, "cat"])
        .stdin("piped\n")
        .run()
        .success()
        .stdout_is("piped");
    ctx.devbox(&["exec", &id, "no-such-command"])
        .devbox_error(127);
    ctx.devbox(&["exec", "-d", &id, "sh", "-c", "echo later > /tmp/d"])
        .success();
    poll_until(
        "the detached exec wrote /tmp/d",
        Duration::from_secs(10),
        || ctx.devbox(&["exec", &id, "cat", "/tmp/d"]).stdout.trim() == "later",
    );
    ctx.devbox(&["stop", "-t", "0", &id]).success();
    ctx.devbox(&["exec", &id, "true"]).devbox_error(125);
}

#[test]
fn rm_force_of_a_running_container_leaves_no_process_and_no_mount() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let id = run_detached(&ctx, &["--restart", "always", img, "sleep", "1000"]);
    let pid: i32 = inspect(&ctx, &id, "{{.State.Pid}}").parse().unwrap();
    ctx.devbox(&["rm", &id])
        .code_is(1)
        .stderr_contains("is running");
    ctx.devbox(&["rm", "-f", &id]).success();
    assert!(
        !process_exists(pid),
        "the container's process {pid} survived rm -f"
    );
    assert!(monitor_pid(&id).is_none(), "the monitor survived rm -f");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&id),
        "a mount of the container is left:\n{mounts}"
    );
    assert!(
        ctx.container_dirs().is_empty(),
        "{:?}",
        ctx.container_dirs()
    );
    ctx.devbox(&["ps", "-a"]).success();
}

#[test]
fn twenty_containers_started_and_removed_in_parallel_leave_a_clean_store() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let ctx = &ctx;
                s.spawn(move || {
                    let name = format!("par{i}");
                    let out = ctx.devbox(&[
                        "run",
                        "-d",
                        "--network",
                        "none",
                        "--name",
                        &name,
                        img,
                        "sleep",
                        "1000",
                    ]);
                    out.success();
                    ctx.devbox(&["ps", "-a"]).success();
                    ctx.devbox(&["rm", "-f", &name]).success();
                })
            })
            .collect();
        for h in handles {
            h.join().expect("a worker panicked");
        }
    });
    ctx.devbox(&["ps", "-a", "-q"]).success().stdout_exactly("");
    assert!(
        ctx.container_dirs().is_empty(),
        "{:?}",
        ctx.container_dirs()
    );
    let names = std::fs::read_dir(ctx.root.join("names-v1"))
        .unwrap()
        .count();
    assert_eq!(names, 0, "names are left reserved");
}

#[test]
fn ps_filters_and_formats() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    let web = run_detached(
        &ctx,
        &["--name", "web", "-l", "tier=front", img, "sleep", "1000"],
    );
    let job = run_sh(&ctx, &["--name", "job"], img, "exit 3");
    ctx.devbox(&["wait", "job"]).success().stdout_is("3");
    ctx.devbox(&["ps", "--format", "{{.Names}}"])
        .success()
        .stdout_is("web");
    ctx.devbox(&["ps", "-a", "--format", "{{.Names}}"])
        .success()
        .stdout_is("job\nweb");
    let q = |filter: &str| {
        ctx.devbox(&["ps", "-a", "-q", "--filter", filter])
            .out()
            .to_string()
    };
    assert_eq!(q("status=exited"), job[..12]);
    assert_eq!(q("status=running"), web[..12]);
    assert_eq!(q("name=we"), web[..12]);
    assert_eq!(q(&format!("id={}", &job[..6])), job[..12]);
    assert_eq!(q("label=tier=front"), web[..12]);
    assert_eq!(q("label=tier"), web[..12]);
    assert_eq!(q("exited=3"), job[..12]);
    assert_eq!(q("exited=0"), "");
    assert_eq!(q("ancestor=busybox").lines().count(), 2);
    // A status filter looks at stopped containers without -a.
    ctx.devbox(&["ps", "-q", "--filter", "status=exited"])
        .success()
        .stdout_is(&job[..12]);
    ctx.devbox(&["ps", "--filter", "color=red"])
        .devbox_error(125);
    let json = ctx.devbox(&["ps", "-a", "--format", "json"]);
    json.success();
    let rows: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(rows.len(), 2, "{json}");
    assert_eq!(rows[1]["Names"], "web");
    assert_eq!(rows[1]["State"], "running");
    assert_eq!(rows[1]["Labels"], "tier=front");
    let table = ctx.devbox(&["ps", "-a", "--format", "table {{.Names}}\\t{{.Status}}"]);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(
        lines[0].starts_with("NAMES") && lines[0].contains("STATUS"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("job ") && lines[1].contains("Exited (3)"),
        "{table}"
    );
    let header = ctx.devbox(&["ps", "-s"]);
    assert!(
        header
            .stdout
            .lines()
            .next()
            .unwrap_or_default()
            .ends_with("SIZE"),
        "{header}"
    );
    // inspect: Docker's JSON shape and templates.
    let out = ctx.devbox(&["inspect", "web"]);
    out.success();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("a JSON array");
    assert_eq!(doc[0]["Id"], web.as_str());
    assert_eq!(doc[0]["Name"], "/web");
    assert_eq!(doc[0]["State"]["Running"], true);
    assert_eq!(doc[0]["Config"]["Labels"]["tier"], "front");
    assert_eq!(doc[0]["HostConfig"]["RestartPolicy"]["Name"], "no");
    assert_eq!(inspect(&ctx, "job", "{{.State.ExitCode}}"), "3");
    assert_eq!(
        inspect(&ctx, "web", "{{json .Config.Cmd}}"),
        r#"["sleep","1000"]"#
    );
    ctx.devbox(&["inspect", "no-such", "web"]).code_is(1);
}

#[test]
fn service_install_writes_a_user_unit_running_system_boot() {
    let ctx = TestContext::new();
    require!(ctx, "userns");
    let out = ctx.devbox(&["system", "service", "install"]);
    out.success();
    let path = ctx.path("config/systemd/user/devbox-boot.service");
    assert_eq!(out.out(), path.display().to_string());
    let unit = std::fs::read_to_string(&path).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    assert!(
        exec.ends_with(&format!("--root {} system boot", ctx.root.display())),
        "{unit}"
    );
    assert!(unit.contains("WantedBy=default.target"), "{unit}");
}

#[test]
fn the_book_example_runs() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, _) = busybox(&ctx);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/book/src/examples/containers.sh"
    );
    let bin_dir = crate::support::binary().parent().unwrap().to_path_buf();
    let out = ctx
        .command("/bin/sh")
        .arg(script)
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .env("DEVBOX_ROOT", &ctx.root)
        .timeout(Duration::from_secs(120))
        .run();
    out.success()
        .stdout_contains("web: Up")
        .stdout_contains("hi from /tmp")
        .stdout_contains("2 restarts");
}

#[test]
fn init_reaps_orphans_and_passes_signals_on() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    // An orphan whose parent exits is reparented to PID 1, which must reap it.
    let out = ctx.run_offline(&[
        "--init",
        img,
        "sh",
        "-c",
        "(sleep 0.1 &); sleep 0.6; ps -o pid,stat,comm",
    ]);
    out.success().stdout_contains("devbox:[reaper]");
    assert!(!out.stdout.contains(" Z "), "a zombie was left\n{out}");
    // SIGTERM from `stop` reaches the command (not PID 1 any more), promptly.
    let id = run_detached(&ctx, &["--init", img, "sleep", "1000"]);
    let (out, took) = timed(|| ctx.devbox(&["stop", &id]));
    out.success();
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
    assert_eq!(inspect(&ctx, &id, "{{.State.ExitCode}}"), "143");
}

#[test]
fn a_failing_healthcheck_turns_the_container_unhealthy_after_its_retries() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    let flags = [
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "300ms",
        "--health-retries",
        "2",
    ];
    // Healthy while /tmp/ok exists, failing once it is gone.
    let script = "touch /tmp/ok; sleep 1.5; rm /tmp/ok; sleep 1000";
    let id = run_sh(&ctx, &flags, img, script);
    assert_eq!(inspect(&ctx, &id, "{{.State.Health.Status}}"), "starting");
    ctx.devbox(&["ps", "--format", "{{.Status}}"])
        .success()
        .stdout_contains("(health: starting)");
    wait_for(
        &ctx,
        &id,
        "{{.State.Health.Status}}",
        "healthy",
        Duration::from_secs(5),
    );
    ctx.devbox(&["ps", "--format", "{{.Status}}"])
        .success()
        .stdout_contains("(healthy)");
    wait_for(
        &ctx,
        &id,
        "{{.State.Health.Status}}",
        "unhealthy",
        Duration::from_secs(10),
    );
    let streak: u32 = inspect(&ctx, &id, "{{.State.Health.FailingStreak}}")
        .parse()
        .unwrap();
    assert!(streak >= 2, "FailingStreak {streak}");
    let out = ctx.devbox(&["inspect", &id]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let log = doc[0]["State"]["Health"]["Log"].as_array().unwrap();
    assert_eq!(log.last().unwrap()["ExitCode"], 1, "{out}");
    assert_eq!(doc[0]["Config"]["Healthcheck"]["Retries"], 2);
    ctx.devbox(&["ps", "--format", "{{.Status}}"])
        .success()
        .stdout_contains("(unhealthy)");
    ctx.devbox(&["ps", "-q", "--filter", "health=unhealthy"])
        .success()
        .stdout_is(&id[..12]);
    // --no-healthcheck: no State.Health at all.
    let plain = run_detached(&ctx, &["--no-healthcheck", img, "sleep", "1000"]);
    assert_eq!(inspect(&ctx, &plain, "{{.State.Health}}"), "<no value>");
}

#[test]
fn stop_sends_the_images_stopsignal() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let _cleanup = Cleanup(&ctx);
    let img = ctx.import_busybox("usr1:latest", &["STOPSIGNAL SIGUSR1"]);
    let script = "trap 'exit 5' USR1; echo ready; while true; do sleep 0.1; done";
    let id = run_sh(&ctx, &[], &img, script);
    poll_until("the trap was never set", Duration::from_secs(5), || {
        ctx.devbox(&["logs", &id]).stdout.contains("ready")
    });
    assert_eq!(inspect(&ctx, &id, "{{.Config.StopSignal}}"), "SIGUSR1");
    let (out, took) = timed(|| ctx.devbox(&["stop", &id]));
    out.success();
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
    assert_eq!(inspect(&ctx, &id, "{{.State.ExitCode}}"), "5");
    // --stop-signal and --stop-timeout on the command line.
    let id = run_detached(
        &ctx,
        &[
            "--stop-signal",
            "KILL",
            "--stop-timeout",
            "30",
            &img,
            "sleep",
            "1000",
        ],
    );
    let (out, took) = timed(|| ctx.devbox(&["stop", &id]));
    out.success();
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
    assert_eq!(
        inspect(&ctx, &id, "{{.State.ExitCode}} {{.Config.StopTimeout}}"),
        "137 30"
    );
    let id = run_detached(&ctx, &["--stop-timeout", "1", &img, "sleep", "1000"]);
    let (out, took) = timed(|| ctx.devbox(&["stop", &id]));
    out.success();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "stop took {took:?}"
    );
    ctx.devbox(&["run", "-d", "--stop-signal", "NOPE", &img, "true"])
        .devbox_error(125);
}

#[test]
fn attach_passes_input_and_output_and_detaches_with_ctrl_p_ctrl_q() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    let out = ctx
        .devbox_cmd(&["run", "-d", "-i", "--network", "none", img, "sh"])
        .run();
    out.success();
    let id = out.out().to_string();
    // Typed input reaches the shell, its output comes back; Ctrl-P Ctrl-Q leaves it running.
    let session = format!(
        "(printf 'echo hello; echo oops >&2\\n'; sleep 1; printf '\\020\\021') | {} --root {} attach {id}",
        crate::support::binary().display(),
        ctx.root.display()
    );
    let out = ctx.command("/bin/sh").arg("-c").arg(&session).run();
    out.success();
    assert_eq!(out.stdout, "hello\n", "{out}");
    out.stderr_contains("oops");
    assert_eq!(inspect(&ctx, &id, "{{.State.Status}}"), "running");
    // Attached when the container ends: attach returns its exit code.
    ctx.devbox_cmd(&["attach", &id])
        .stdin("exit 4\n")
        .run()
        .code_is(4);
    assert_eq!(inspect(&ctx, &id, "{{.State.ExitCode}}"), "4");
    ctx.devbox(&["attach", &id]).devbox_error(125);
}

#[test]
fn pause_top_rename_diff_prune_port_and_stats() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    let script = "echo x > /etc/added; rm /etc/group; while true; do echo tick; sleep 0.1; done";
    let id = run_sh(&ctx, &["--name", "ticker"], img, script);
    ctx.devbox(&["pause", "ticker"])
        .success()
        .stdout_is("ticker");
    assert_eq!(
        inspect(
            &ctx,
            &id,
            "{{.State.Status}} {{.State.Paused}} {{.State.Running}}"
        ),
        "paused true true"
    );
    ctx.devbox(&["ps", "--format", "{{.Status}}"])
        .success()
        .stdout_contains("(Paused)");
    let before = ctx.devbox(&["logs", &id]).stdout.lines().count();
    std::thread::sleep(Duration::from_millis(500));
    let after = ctx.devbox(&["logs", &id]).stdout.lines().count();
    assert_eq!(before, after, "a paused container went on writing");
    ctx.devbox(&["unpause", "ticker"]).success();
    poll_until("no output after unpause", Duration::from_secs(5), || {
        ctx.devbox(&["logs", &id]).stdout.lines().count() > after
    });
    // top: the host's ps on the container's processes.
    let top = ctx.devbox(&["top", "ticker"]);
    top.success()
        .stdout_contains("PID")
        .stdout_contains("while true");
    ctx.devbox(&["rename", "ticker", "tocker"]).success();
    ctx.devbox(&["ps", "--format", "{{.Names}}"])
        .success()
        .stdout_is("tocker");
    ctx.devbox(&["rename", "tocker", "bad/name"])
        .devbox_error(125);
    let diff = ctx.devbox(&["diff", "tocker"]);
    diff.success();
    assert!(diff.stdout.contains("A /etc/added\n"), "{diff}");
    assert!(diff.stdout.contains("D /etc/group\n"), "{diff}");
    assert!(diff.stdout.contains("C /etc\n"), "{diff}");
    assert!(
        !diff.stdout.contains("/etc/hosts"),
        "runtime mount points are not changes\n{diff}"
    );
    ctx.devbox(&["port", "tocker"]).success().stdout_is("");
    let stats = ctx.devbox(&["stats", "--no-stream"]);
    assert!(stats.devbox_error(125).contains("cgroup"), "{stats}");
    // prune removes what is not running, and keeps the running one.
    let done = run_sh(&ctx, &[], img, "true");
    ctx.devbox(&["wait", &done]).success();
    let prune = ctx.devbox(&["container", "prune", "-f"]);
    prune.success().stdout_contains(&done);
    assert!(!prune.stdout.contains(&id), "{prune}");
    ctx.devbox(&["ps", "-aq"]).success().stdout_is(&id[..12]);
}

#[test]
fn cp_copies_to_and_from_running_and_stopped_containers() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let (_cleanup, img) = busybox(&ctx);
    ctx.write_file("in/dir/file", "from the host\n");
    run_detached(&ctx, &["--name", "box", img, "sleep", "1000"]);
    let host_dir = ctx.path("in/dir");
    let host_dir = host_dir.to_str().unwrap();
    ctx.devbox(&["cp", host_dir, "box:/tmp"]).success();
    ctx.devbox(&["exec", "box", "cat", "/tmp/dir/file"])
        .success()
        .stdout_is("from the host");
    let out = ctx.path("passwd");
    ctx.devbox(&["cp", "box:/etc/passwd", out.to_str().unwrap()])
        .success();
    assert!(std::fs::read_to_string(&out).unwrap().starts_with("root:"));
    // A stopped container: read through its layers, written into its upper dir.
    ctx.devbox(&["stop", "-t", "0", "box"]).success();
    let back = ctx.path("back");
    ctx.devbox(&["cp", "box:/tmp/dir/file", back.to_str().unwrap()])
        .success();
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "from the host\n");
    let file = ctx.path("in/dir/file");
    ctx.devbox(&["cp", file.to_str().unwrap(), "box:/etc/"])
        .success();
    ctx.devbox(&["start", "box"]).success();
    ctx.devbox(&["exec", "box", "cat", "/etc/file"])
        .success()
        .stdout_is("from the host");
    ctx.devbox(&["exec", "box", "test", "-f", "/etc/passwd"])
        .success();
    ctx.devbox(&["cp", "box:/no/such", back.to_str().unwrap()])
        .devbox_error(125);
}
