//! Confinement (issue 11): capabilities, no_new_privs, the seccomp filter, masked and
//! read-only paths, resource-limit messages, `exec` and `inspect`. Every assertion is made
//! inside the container, as the unprivileged user, with busybox or python3 as the probe.

use std::os::unix::fs::MetadataExt;

use crate::support::{require, HostProcess, TestContext};

/// Docker's default set as the kernel shows it (CapEff/CapBnd of `docker run`).
const DOCKER_DEFAULT: &str = "00000000a80425fb";

/// The lines `Name:\tvalue` of /proc/self/status inside a container started with `flags`.
fn status(ctx: &TestContext, flags: &[&str]) -> Vec<(String, String)> {
    let img = ctx.busybox();
    let mut args = flags.to_vec();
    args.extend([img, "cat", "/proc/self/status"]);
    let out = ctx.run_offline(&args);
    out.success();
    parse_status(out.out())
}

fn parse_status(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// `run -d --network none --cap-drop NET_RAW --security-opt no-new-privileges IMAGE ARGS`;
/// returns the id.
fn start_confined(ctx: &TestContext, extra: &str, args: &[&str]) -> String {
    let mut all = vec![
        "run",
        "-d",
        "--network",
        "none",
        extra,
        "--cap-drop",
        "NET_RAW",
        "--security-opt",
        "no-new-privileges",
    ];
    all.extend(args);
    let out = ctx.devbox(&all);
    out.success();
    out.out().to_string()
}

fn field<'a>(status: &'a [(String, String)], name: &str) -> &'a str {
    status
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in /proc/self/status: {status:?}"))
}

#[test]
fn default_capabilities_are_dockers_and_only_inside() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let s = status(&ctx, &[]);
    assert_eq!(field(&s, "CapEff"), DOCKER_DEFAULT);
    assert_eq!(field(&s, "CapPrm"), DOCKER_DEFAULT);
    assert_eq!(field(&s, "CapBnd"), DOCKER_DEFAULT);
    assert_eq!(field(&s, "CapInh"), "0000000000000000");
    assert_eq!(field(&s, "CapAmb"), "0000000000000000");
    // Mode 2: a filter is installed; no_new_privs is off by default, as in Docker.
    assert_eq!(field(&s, "Seccomp"), "2");
    assert_eq!(field(&s, "NoNewPrivs"), "0");
}

#[test]
fn a_non_root_user_has_an_empty_effective_set() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let s = status(&ctx, &["-u", "1000:1000"]);
    assert_eq!(field(&s, "CapEff"), "0000000000000000");
    assert_eq!(field(&s, "CapPrm"), "0000000000000000");
    assert_eq!(field(&s, "CapBnd"), DOCKER_DEFAULT);
    assert_eq!(field(&s, "Uid"), "1000\t1000\t1000\t1000");
}

#[test]
fn cap_add_and_cap_drop_change_the_sets() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    // + CAP_SYS_ADMIN (21), - CAP_NET_RAW (13), names in any of Docker's spellings.
    let s = status(
        &ctx,
        &["--cap-add", "sys_admin", "--cap-drop", "CAP_NET_RAW"],
    );
    assert_eq!(field(&s, "CapEff"), "00000000a82405fb");
    assert_eq!(field(&s, "CapBnd"), "00000000a82405fb");
    let s = status(&ctx, &["--cap-drop", "ALL", "--cap-add", "CHOWN"]);
    assert_eq!(field(&s, "CapEff"), "0000000000000001");
    assert_eq!(field(&s, "CapBnd"), "0000000000000001");
}

#[test]
fn unknown_capability_is_a_usage_error() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let out = ctx.run_offline(&["--cap-add", "NET_FOO", img, "true"]);
    let line = out.devbox_error(125);
    assert!(line.contains("unknown capability `NET_FOO`"), "{out}");
    assert!(ctx.container_dirs().is_empty(), "{out}");
}

#[test]
fn privileged_has_every_capability_no_filter_and_no_masks() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let s = status(&ctx, &["--privileged"]);
    let bnd = u64::from_str_radix(field(&s, "CapBnd"), 16).unwrap();
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").unwrap();
    let all = (1u64 << (last.trim().parse::<u32>().unwrap() + 1)) - 1;
    assert_eq!(bnd, all, "{s:?}");
    assert_eq!(field(&s, "CapEff"), field(&s, "CapBnd"));
    assert_eq!(field(&s, "Seccomp"), "0");
    let img = ctx.busybox();
    // /proc/keys has content again (masked, it would be /dev/null).
    let out = ctx.run_offline(&[
        "--privileged",
        img,
        "sh",
        "-c",
        "grep -c ' /proc/keys ' /proc/self/mountinfo || true",
    ]);
    out.success().stdout_is("0");
}

#[test]
fn seccomp_blocks_new_user_namespaces_unless_unconfined() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let out = ctx.run_offline(&[img, "unshare", "-U", "true"]);
    if out.code == 0 {
        out.fail("unshare -U succeeded under the default seccomp filter");
    }
    // systempaths=unconfined lifts the masks only, not the filter.
    let out = ctx.run_offline(&[
        "--security-opt",
        "systempaths=unconfined",
        img,
        "sh",
        "-c",
        "grep -c ' /proc/keys ' /proc/self/mountinfo; unshare -U true || echo refused",
    ]);
    out.success().stdout_is("0\nrefused");
    assert!(out.stderr.contains("Operation not permitted"), "{out}");
    ctx.run_offline(&[
        "--security-opt",
        "seccomp=unconfined",
        img,
        "unshare",
        "-U",
        "true",
    ])
    .success();
}

#[test]
fn seccomp_default_denies_keyctl_bpf_and_friends() {
    let mut ctx = TestContext::new();
    require!(ctx, "userns", "mmdebstrap");
    let debian = ctx.use_debian();
    let calls = [
        "keyctl",
        "add_key",
        "request_key",
        "bpf",
        "perf_event_open",
        "kexec_load",
        "unshare",
        "init_module",
        "finit_module",
        "delete_module",
        "mount",
        "reboot",
        "swapon",
        "open_by_handle_at",
    ];
    let numbers: Vec<String> = calls
        .iter()
        .map(|c| {
            devbox::spec::seccomp::syscall_number(c)
                .unwrap()
                .to_string()
        })
        .collect();
    // Each call with harmless arguments; print its errno (EPERM = 1 from the filter).
    let script = format!(
        "import ctypes\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         for nr in [{}]:\n\
         \x20   r = libc.syscall(nr, 0, 0, 0, 0, 0)\n\
         \x20   print(r, ctypes.get_errno())\n",
        numbers.join(",")
    );
    let out = ctx.run_offline(&[&debian, "python3", "-c", &script]);
    out.success();
    let lines: Vec<&str> = out.out().lines().collect();
    assert_eq!(lines.len(), calls.len(), "{out}");
    for (call, line) in calls.iter().zip(&lines) {
        assert_eq!(*line, "-1 1", "{call} was not refused with EPERM: {out}");
    }
    // Unconfined, keyctl reaches the kernel and answers something other than EPERM.
    let out = ctx.run_offline(&[
        "--security-opt",
        "seccomp=unconfined",
        &debian,
        "python3",
        "-c",
        &script,
    ]);
    out.success();
    assert_ne!(out.out().lines().next(), Some("-1 1"), "{out}");
}

#[test]
fn threads_and_subprocesses_work_under_the_filter() {
    let mut ctx = TestContext::new();
    require!(ctx, "userns", "mmdebstrap");
    let debian = ctx.use_debian();
    // glibc tries clone3 first: the filter must answer ENOSYS, not EPERM, for this to work.
    let script = "import threading, subprocess\n\
                  t = threading.Thread(target=lambda: None); t.start(); t.join()\n\
                  print(subprocess.run(['echo', 'ok'], capture_output=True, text=True).stdout.strip())\n";
    ctx.run_offline(&[&debian, "python3", "-c", script])
        .success()
        .stdout_is("ok");
}

#[test]
fn a_seccomp_profile_file_applies_its_rules() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let profile = ctx.write_file(
        "no-mkdir.json",
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
    );
    let opt = format!("seccomp={}", profile.display());
    let out = ctx.run_offline(&["--security-opt", &opt, img, "mkdir", "/tmp/x"]);
    if out.code == 0 {
        out.fail("mkdir succeeded although the profile refuses it");
    }
    assert!(out.stderr.contains("Permission denied"), "{out}");
    // The profile replaces the default one: unshare is allowed by it.
    ctx.run_offline(&["--security-opt", &opt, img, "unshare", "-U", "true"])
        .success();
}

#[test]
fn a_bad_seccomp_profile_is_a_clear_error() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let profile = ctx.write_file("bad.json", r#"{"defaultAction": "SCMP_ACT_SOMETIMES"}"#);
    let opt = format!("seccomp={}", profile.display());
    let out = ctx.run_offline(&["--security-opt", &opt, img, "true"]);
    let line = out.devbox_error(125);
    assert!(line.contains("invalid seccomp profile"), "{out}");
    assert!(line.contains("SCMP_ACT_SOMETIMES"), "{out}");
    let out = ctx.run_offline(&["--security-opt", "seccomp=/no/such.json", img, "true"]);
    out.devbox_error(125);
    assert!(out.stderr.contains("cannot read seccomp profile"), "{out}");
}

#[test]
fn no_new_privileges_is_set_when_asked() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    for opt in ["no-new-privileges", "no-new-privileges=true"] {
        let s = status(&ctx, &["--security-opt", opt]);
        assert_eq!(field(&s, "NoNewPrivs"), "1");
        assert_eq!(field(&s, "Seccomp"), "2");
    }
    let s = status(&ctx, &["-u", "1000", "--security-opt", "no-new-privileges"]);
    assert_eq!(field(&s, "NoNewPrivs"), "1");
    // With --init the command is the reaper's child and gets the same.
    let s = status(&ctx, &["--init", "--security-opt", "no-new-privileges"]);
    assert_eq!(field(&s, "NoNewPrivs"), "1");
    assert_eq!(field(&s, "Seccomp"), "2");
    assert_eq!(field(&s, "CapEff"), DOCKER_DEFAULT);
    assert_eq!(field(&s, "CapBnd"), DOCKER_DEFAULT);
}

#[test]
fn masked_paths_read_empty_and_proc_sys_is_read_only() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    // Docker's lists, probed where this kernel has the path (kcore, sysrq-trigger and
    // others are missing from some kernels).
    let masked = [
        "/proc/acpi",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
    ];
    let readonly = [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ];
    let mut script = String::new();
    let mut expected = Vec::new();
    for path in masked.iter().filter(|p| std::path::Path::new(p).exists()) {
        // A file reads empty, a directory lists empty, and either is a mount point.
        script.push_str(&format!(
            "if [ -d {path} ]; then ls -A {path} | wc -l; else wc -c < {path}; fi; \
             grep -c ' {path} ' /proc/self/mountinfo; "
        ));
        expected.extend([format!("0 {path}"), format!("1 {path}")]);
    }
    for path in readonly.iter().filter(|p| std::path::Path::new(p).exists()) {
        script.push_str(&format!(
            "grep ' {path} ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; "
        ));
        expected.push(format!("ro {path}"));
    }
    script
        .push_str("echo x > /proc/sys/kernel/hostname 2>/dev/null && echo written || echo refused");
    expected.push("refused".into());
    let out = ctx.run_offline(&[img, "sh", "-c", &script]);
    out.success();
    let got: Vec<&str> = out.out().lines().map(str::trim).collect();
    let want: Vec<&str> = expected
        .iter()
        .map(|e| e.split(' ').next().unwrap())
        .collect();
    assert_eq!(got, want, "expected (value path): {expected:?}\n{out}");
    assert!(
        expected.len() > 4,
        "too few of Docker's paths exist here: {expected:?}"
    );
}

#[test]
fn limits_without_a_delegated_cgroup_say_why() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        crate::support::capability::skip(
            "cgroup-v1",
            "this machine has cgroup v2; the message for cgroup v1 cannot be seen here",
        );
        return;
    }
    let img = ctx.busybox();
    for flags in [
        ["--memory", "512m"],
        ["--pids-limit", "100"],
        ["--cpus", "1.5"],
    ] {
        let mut args = flags.to_vec();
        args.extend([img, "true"]);
        let out = ctx.run_offline(&args);
        let line = out.devbox_error(125);
        assert!(
            line.contains("cannot apply --pids-limit, --memory or --cpus"),
            "{out}"
        );
        assert!(line.contains("cgroup v1"), "{out}");
        assert!(
            out.stderr.contains("hint: resource limits need cgroup v2"),
            "{out}"
        );
    }
    assert!(ctx.container_dirs().is_empty());
}

/// Where cgroup v2 is delegated to the test user: the container's init is in a cgroup of
/// its own holding the limits as cgroup v2 writes them, the pids limit bites, and the cgroup
/// is gone once the container is.
#[test]
fn limits_apply_through_a_delegated_cgroup() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "cgroup-delegated");
    let img = ctx.busybox();
    let out = ctx.devbox(&[
        "run",
        "-d",
        "--network",
        "none",
        "--pids-limit",
        "20",
        "--memory",
        "64m",
        "--cpus",
        "1.5",
        img,
        "sleep",
        "60",
    ]);
    out.success();
    let id = out.out().to_string();
    let pid = ctx
        .devbox(&["inspect", "--format", "{{.State.Pid}}", &id])
        .success()
        .out()
        .to_string();
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("init's cgroup");
    let own = cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a cgroup v2 line");
    assert!(own.contains("/devbox-"), "{cgroup}");
    let dir = std::path::Path::new("/sys/fs/cgroup").join(own.trim_start_matches('/'));
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(read("pids.max"), "20");
    assert_eq!(read("memory.max"), "67108864");
    assert_eq!(read("cpu.max"), "150000 100000");
    ctx.devbox(&["rm", "-f", &id]).success();
    // The container's monitor removes it as it ends, maybe just after `rm` returns.
    for _ in 0..100 {
        if !dir.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!dir.exists(), "{} outlived its container", dir.display());

    // The pids limit bites: 40 background sleeps cannot all start under a limit of 20.
    let out = ctx.run_offline(&[
        "--pids-limit",
        "20",
        img,
        "sh",
        "-c",
        "for i in $(seq 40); do sleep 5 & done; wait; echo done",
    ]);
    out.stderr_contains("can't fork");
}

#[test]
fn exec_gets_the_containers_confinement() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let id = start_confined(&ctx, "--init", &[img, "sleep", "60"]);
    let out = ctx.devbox(&["exec", &id, "cat", "/proc/self/status"]);
    out.success();
    let s = parse_status(out.out());
    assert_eq!(field(&s, "CapEff"), "00000000a80405fb");
    assert_eq!(field(&s, "CapBnd"), "00000000a80405fb");
    assert_eq!(field(&s, "NoNewPrivs"), "1");
    assert_eq!(field(&s, "Seccomp"), "2");
    let out = ctx.devbox(&[
        "exec",
        "-u",
        "1000",
        &id,
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    out.success().stdout_contains("0000000000000000");
    let out = ctx.devbox(&["exec", &id, "unshare", "-U", "true"]);
    if out.code == 0 {
        out.fail("exec escaped the seccomp filter");
    }
    // `exec --privileged`: every capability, no filter (no_new_privs stays, as in Docker).
    let out = ctx.devbox(&["exec", "--privileged", &id, "cat", "/proc/self/status"]);
    out.success();
    let s = parse_status(out.out());
    assert_eq!(field(&s, "Seccomp"), "0");
    assert_eq!(field(&s, "CapEff"), field(&s, "CapBnd"));
    assert_ne!(field(&s, "CapEff"), "00000000a80405fb");
    ctx.devbox(&["rm", "-f", &id]).success();
}

#[test]
fn inspect_shows_the_security_settings() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let id = start_confined(&ctx, "--cap-add=NET_ADMIN", &[img, "true"]);
    let out = ctx.devbox(&["inspect", &id]);
    out.success();
    let doc: serde_json::Value = serde_json::from_str(out.out()).expect("json");
    let host = &doc[0]["HostConfig"];
    assert_eq!(host["CapAdd"], serde_json::json!(["NET_ADMIN"]), "{host}");
    assert_eq!(host["CapDrop"], serde_json::json!(["NET_RAW"]));
    assert_eq!(host["Privileged"], false);
    assert_eq!(
        host["SecurityOpt"],
        serde_json::json!(["no-new-privileges"])
    );
    assert_eq!(host["PidsLimit"], serde_json::Value::Null);
    assert_eq!(host["Memory"], 0);
    assert_eq!(host["NanoCpus"], 0);
}

// ---- escape attempts that must fail -------------------------------------------------------

#[test]
fn mounting_is_refused() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let out = ctx.run_offline(&[img, "mount", "-t", "tmpfs", "none", "/mnt"]);
    out.failure();
    // busybox words EPERM as "permission denied (are you root?)".
    let err = out.stderr.to_lowercase();
    assert!(
        err.contains("not permitted") || err.contains("permission denied"),
        "{out}"
    );
    // Remounting the read-only /proc/sys read-write is a mount too.
    let out = ctx.run_offline(&[img, "mount", "-o", "remount,rw", "/proc/sys"]);
    out.failure();
}

#[test]
fn a_process_outside_cannot_be_ptraced_or_signalled() {
    let mut ctx = TestContext::new();
    require!(ctx, "userns", "mmdebstrap");
    let debian = ctx.use_debian();
    let outside = HostProcess::spawn("sleep", &["60"]);
    // PTRACE_ATTACH (16) and kill(0) of the host pid: the PID namespace does not have it.
    let script = format!(
        "import ctypes, os\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         print(libc.ptrace(16, {pid}, 0, 0), ctypes.get_errno())\n\
         try:\n\
         \x20   os.kill({pid}, 0); print('reached')\n\
         except ProcessLookupError:\n\
         \x20   print('no such process')\n",
        pid = outside.pid()
    );
    let out = ctx.run_offline(&[&debian, "python3", "-c", &script]);
    out.success().stdout_is("-1 3\nno such process");
}

#[test]
fn a_setuid_binary_made_inside_gains_nothing_outside() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let dir = ctx.mkdir("shared");
    let volume = format!("{}:/shared", dir.display());
    ctx.run_offline(&[
        "-v",
        &volume,
        img,
        "sh",
        "-c",
        "cp /bin/busybox /shared/suid && chmod 4755 /shared/suid",
    ])
    .success();
    // Root in the container is the user on the host: the setuid bit gives the user's own uid.
    let meta = std::fs::metadata(dir.join("suid")).unwrap();
    assert_eq!(meta.uid(), ctx.user.uid, "owner on the host");
    assert_ne!(meta.uid(), 0);
}
