//! `system check|df|prune`, `info`, and crash safety (issue 11): devbox killed
//! at named points inside the store's write paths (`DEVBOX_TEST_CRASH_AT`,
//! see src/store/crash.rs) and at random moments must leave a store that
//! `system check` finds consistent, and the same command must then finish.

use std::path::Path;
use std::time::Duration;

use crate::support::process::{poll_until, processes_mentioning};
use crate::support::registry::Registry;
use crate::support::{binary, require, Output, TestContext};

const CRASH_ENV: &str = "DEVBOX_TEST_CRASH_AT";

/// `system check` passes: no inconsistency (leftovers of killed commands
/// may be listed; they break nothing).
#[track_caller]
fn assert_consistent(ctx: &TestContext, after: &str) {
    let check = ctx.devbox(&["system", "check"]);
    if check.code != 0 || check.stdout.contains("inconsistent:") {
        check.fail(&format!("the store is inconsistent after {after}"));
    }
}

/// `system check --repair` leaves nothing to report.
#[track_caller]
fn assert_repaired(ctx: &TestContext, after: &str) {
    ctx.devbox(&["system", "check", "--repair"]).success();
    let mut check = ctx.devbox(&["system", "check"]);
    if check
        .stdout
        .contains("reserved for a container that does not exist")
    {
        // A name reservation younger than a minute is a create in progress, left alone by
        // --repair; one that came of age between the two calls (a slow machine) is a
        // leftover now, and the next --repair takes it.
        ctx.devbox(&["system", "check", "--repair"]).success();
        check = ctx.devbox(&["system", "check"]);
    }
    check.success();
    if !check.stdout.trim().is_empty() {
        check.fail(&format!("findings remain after --repair ({after})"));
    }
}

/// What the test (root) wrote into the store belongs to the test user, as
/// if devbox had written it.
fn chown_to_user(ctx: &TestContext, path: &Path) {
    let owner = format!("{}:{}", ctx.user.uid, ctx.user.gid);
    let status = std::process::Command::new("chown")
        .args(["-R", "--no-dereference", &owner])
        .arg(path)
        .status()
        .expect("running chown");
    assert!(status.success());
}

/// A figure for the book, on the test's stderr.
fn report(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn killed(out: &Output) -> bool {
    out.code == 137
}

#[test]
fn check_is_clean_on_a_working_store() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "newuidmap", "busybox");
    let img = ctx.busybox();
    ctx.devbox(&[
        "run",
        "--network",
        "none",
        "--name",
        "c1",
        "-v",
        "data:/data",
        img,
        "true",
    ])
    .success();
    let check = ctx.devbox(&["system", "check"]);
    check
        .success()
        .stderr_contains("consistent, nothing to repair");
    assert_eq!(check.stdout, "", "{check}");
}

#[test]
fn check_reports_damage_and_repair_fixes_it() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "newuidmap", "busybox");
    let img = ctx.busybox();
    let root = &ctx.root;
    // An unpacked layer lost, a tag naming nothing, a blob that lies about
    // its digest, the staging dir of a dead process, a dangling name.
    let layers: Vec<_> = std::fs::read_dir(root.join("layers-v1"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(layers.len(), 1, "busybox is one layer");
    std::process::Command::new("rm")
        .arg("-rf")
        .arg(&layers[0])
        .status()
        .unwrap();
    let missing = "a".repeat(64);
    std::fs::write(root.join("refs-v1/ghost"), format!("sha256:{missing}")).unwrap();
    std::fs::write(root.join("blobs-v1/sha256").join("b".repeat(64)), "liar").unwrap();
    std::fs::create_dir_all(root.join("tmp/layer-999999999-0-1/diff")).unwrap();
    std::os::unix::fs::symlink("c".repeat(64), root.join("names-v1/nobody")).unwrap();
    // Older than a create in progress.
    std::process::Command::new("touch")
        .args(["-h", "-d", "2 hours ago"])
        .arg(root.join("names-v1/nobody"))
        .status()
        .unwrap();
    for made in [
        "refs-v1/ghost",
        "tmp/layer-999999999-0-1",
        "names-v1/nobody",
    ] {
        chown_to_user(&ctx, &root.join(made));
    }

    let check = ctx.devbox(&["system", "check"]);
    check
        .code_is(1)
        .stdout_contains("inconsistent: ")
        .stdout_contains("unpacked layer of image")
        .stdout_contains("refs-v1/ghost: names manifest")
        .stdout_contains("blob content does not match its digest")
        .stdout_contains("leftover: ")
        .stdout_contains("tmp/layer-999999999-0-1: left by devbox process 999999999")
        .stdout_contains("name nobody reserved for a container that does not exist")
        .stderr_contains("inconsistencies");
    assert_eq!(
        check.stdout.lines().count(),
        5,
        "one line per finding\n{check}"
    );

    let repair = ctx.devbox(&["system", "check", "--repair"]);
    repair.success().stdout_contains("(repaired)");
    assert_repaired(&ctx, "a repair");
    // The layer was unpacked again from its blob: the image runs.
    ctx.run_offline(&[img, "echo", "whole again"])
        .success()
        .stdout_is("whole again");
}

#[test]
fn a_container_recorded_running_whose_owner_died_is_a_leftover() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "newuidmap", "busybox");
    let img = ctx.busybox();
    ctx.devbox(&["run", "--network", "none", "--name", "ghost", img, "true"])
        .success();
    let dir = ctx.container_dirs().pop().expect("one container");
    let state_path = ctx.root.join("containers-v1").join(&dir).join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    state["status"] = "running".into();
    state["pid"] = 999_999_999.into();
    std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
    ctx.devbox(&["system", "check"])
        .success()
        .stdout_contains("leftover: ")
        .stdout_contains("container ghost is recorded as running but no process owns it");
    assert_repaired(&ctx, "marking a dead container exited");
    let repaired: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    assert_eq!(repaired["status"], "exited");
}

#[test]
fn df_prune_and_info_in_docker_shapes() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "newuidmap", "busybox");
    let img = ctx.busybox();
    ctx.import_busybox("old:1", &[]);
    ctx.import_busybox("old:1", &["ENV A=1"]); // old:1 moves: one dangling image
    ctx.run_offline_cmd(&[img, "true"]).run().success();
    ctx.devbox(&[
        "run",
        "--network",
        "none",
        "--name",
        "stopped",
        "-v",
        "/anon",
        img,
        "sh",
        "-c",
        "echo hi > /f",
    ])
    .success();

    let df = ctx.devbox(&["system", "df"]);
    df.success();
    let lines: Vec<&str> = df.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{df}");
    assert!(lines[0].starts_with("TYPE "), "{df}");
    for (line, kind) in
        lines[1..]
            .iter()
            .zip(["Images", "Containers", "Local Volumes", "Build Cache"])
    {
        assert!(line.starts_with(kind), "{df}");
    }
    let images: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(&images[1..3], ["3", "1"], "3 images, 1 in use\n{df}");
    let containers: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(&containers[1..3], ["1", "0"], "{df}");
    let volumes: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!(
        &volumes[2..4],
        ["1", "1"],
        "the stopped container links its volume\n{df}"
    );
    ctx.devbox(&["system", "df", "-v"])
        .success()
        .stdout_contains("Images space usage:")
        .stdout_contains("CONTAINER ID")
        .stdout_contains("stopped")
        .stdout_contains("VOLUME NAME");

    // Without -f it asks; EOF is no.
    ctx.devbox(&["system", "prune"])
        .success()
        .stderr_contains("WARNING! This will remove:");
    assert_eq!(ctx.container_dirs().len(), 1);

    let prune = ctx.devbox(&["system", "prune", "-f"]);
    prune
        .success()
        .stdout_contains("Deleted Containers:")
        .stdout_contains("Deleted Images:")
        .stdout_contains("Total reclaimed space:");
    assert!(ctx.container_dirs().is_empty());
    ctx.devbox(&["images", "-q"]).success();
    ctx.devbox(&["volume", "ls", "-q"])
        .success()
        .stdout_contains("");
    let volumes = ctx.devbox(&["volume", "ls", "-q"]);
    assert_eq!(
        volumes.stdout.lines().count(),
        1,
        "volumes stay without --volumes\n{volumes}"
    );
    ctx.devbox(&["system", "prune", "-f", "--volumes"])
        .success()
        .stdout_contains("Deleted Volumes:");
    ctx.devbox(&["system", "prune", "-f", "-a"])
        .success()
        .stdout_contains("untagged: busybox:latest");
    ctx.devbox(&["images", "-q"]).success().stdout_is("");
    assert_repaired(&ctx, "system prune -a");

    let info = ctx.devbox(&["info"]);
    info.success()
        .stdout_contains("Storage Driver: ")
        .stdout_contains("Cgroup Version: ")
        .stdout_contains("Network Backend: ")
        .stdout_contains(&format!("Docker Root Dir: {}", ctx.root.display()));
    ctx.devbox(&["system", "info", "--format", "{{.Rootless}} {{.Images}}"])
        .success()
        .stdout_is("true 0");
}

/// One command of the crash matrix: how to prepare, what to run.
struct Scenario {
    name: &'static str,
    args: Vec<String>,
    /// Runs before each attempt (e.g. the container `rm` removes).
    prepare: fn(&TestContext),
    /// After a successful re-run: whether the command's effect is there.
    done: fn(&TestContext) -> bool,
    /// A re-run may fail as Docker's would, when the killed run got far
    /// enough (`rm` of a removed container, `run --name` of a created
    /// one): whether this failure is that, and its work can be finished.
    rerun_refused: fn(&TestContext, &Output) -> bool,
}

fn never(_: &TestContext, _: &Output) -> bool {
    false
}

fn nothing(_: &TestContext) {}

fn points() -> Vec<String> {
    let mut out = Vec::new();
    for point in devbox::store::crash::POINTS {
        if *point == "atomic.before-rename" {
            // Every atomic write passes here: the first six of each command.
            out.extend((1..=6).map(|n| format!("{point}#{n}")));
        } else {
            out.push(point.to_string());
            out.push(format!("{point}#2"));
        }
    }
    out
}

/// Runs `scenario` killed at every point; returns (faults injected, runs).
fn crash_matrix(ctx: &TestContext, scenario: &Scenario) -> (usize, usize) {
    let mut faults = 0;
    let mut runs = 0;
    for point in points() {
        (scenario.prepare)(ctx);
        let args: Vec<&str> = scenario.args.iter().map(String::as_str).collect();
        let out = ctx
            .devbox_cmd(&args)
            .env(CRASH_ENV, &point)
            .timeout(Duration::from_secs(120))
            .run();
        runs += 1;
        if !killed(&out) {
            if out.code != 0 {
                out.fail(&format!(
                    "{} at {point}: neither killed nor done",
                    scenario.name
                ));
            }
            continue;
        }
        faults += 1;
        let when = format!("{} killed at {point}", scenario.name);
        assert_consistent(ctx, &when);
        // The same command finishes when run again.
        let again = ctx
            .devbox_cmd(&args)
            .timeout(Duration::from_secs(120))
            .run();
        if again.code != 0 && !(scenario.rerun_refused)(ctx, &again) {
            again.fail(&format!("re-running after {when}"));
        }
        assert!(
            (scenario.done)(ctx),
            "{when}: the re-run's effect is missing\n{again}"
        );
        assert_repaired(ctx, &when);
    }
    (faults, runs)
}

fn remove_all_images(ctx: &TestContext) {
    let ids = ctx.devbox(&["images", "-q"]);
    for id in ids.stdout.lines() {
        ctx.devbox(&["rmi", "-f", id]).success();
    }
}

fn has_image(ctx: &TestContext, name: &str) -> bool {
    ctx.devbox(&["image", "inspect", name]).code == 0
}

#[test]
fn killed_at_every_store_write_point_the_store_stays_consistent() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "newuidmap", "busybox");
    let img = ctx.busybox().to_string();
    // A small tree of its own, so its layer goes when the image does.
    ctx.write_file("tree/etc/hello", "hello\n");
    ctx.command("/usr/bin/tar")
        .args(["-cf", "tree.tar", "-C", "tree", "."])
        .run()
        .success();
    let tar = ctx.path("tree.tar").to_str().unwrap().to_string();
    ctx.write_file(
        "ctx/Dockerfile",
        "FROM busybox\nCOPY hello /hello\nRUN echo built > /built\n",
    );
    ctx.write_file("ctx/hello", "hello\n");
    let build_dir = ctx.path("ctx").to_str().unwrap().to_string();
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let scenarios = [
        Scenario {
            name: "import",
            args: s(&["import", &tar, "imported:1"]),
            prepare: |ctx| {
                // No other image uses its layer: the layer goes too.
                ctx.devbox(&["rmi", "-f", "imported:1"]);
            },
            done: |ctx| has_image(ctx, "imported:1"),
            rerun_refused: never,
        },
        Scenario {
            name: "build",
            args: s(&["build", "--no-cache", "-t", "built:1", &build_dir]),
            prepare: nothing,
            done: |ctx| has_image(ctx, "built:1"),
            rerun_refused: never,
        },
        Scenario {
            name: "run",
            args: s(&["run", "--network", "none", "--name", "r1", &img, "true"]),
            prepare: |ctx| {
                ctx.devbox(&["rm", "-f", "r1"]);
            },
            done: |ctx| ctx.devbox(&["inspect", "r1"]).code == 0,
            // The container was created: starting it finishes the run.
            rerun_refused: |ctx, out| {
                out.stderr.contains("is already in use")
                    && ctx.devbox(&["start", "-a", "r1"]).code == 0
            },
        },
        Scenario {
            name: "commit",
            args: s(&["commit", "src", "committed:1"]),
            prepare: |ctx| {
                if ctx.devbox(&["inspect", "src"]).code != 0 {
                    ctx.devbox(&[
                        "run",
                        "--network",
                        "none",
                        "--name",
                        "src",
                        "busybox",
                        "sh",
                        "-c",
                        "echo x > /x",
                    ])
                    .success();
                }
                ctx.devbox(&["rmi", "-f", "committed:1"]);
            },
            done: |ctx| has_image(ctx, "committed:1"),
            rerun_refused: never,
        },
        Scenario {
            name: "rm",
            args: s(&["rm", "-v", "gone"]),
            prepare: |ctx| {
                if ctx.devbox(&["inspect", "gone"]).code != 0 {
                    ctx.devbox(&[
                        "run",
                        "--network",
                        "none",
                        "--name",
                        "gone",
                        "-v",
                        "/anon",
                        "busybox",
                        "true",
                    ])
                    .success();
                }
            },
            done: |ctx| ctx.devbox(&["inspect", "gone"]).code != 0,
            rerun_refused: |_, out| out.stderr.contains("no such container"),
        },
        Scenario {
            name: "prune",
            args: s(&["system", "prune", "-f", "--volumes"]),
            prepare: |ctx| {
                ctx.devbox(&["run", "--network", "none", "-v", "/anon", "busybox", "true"])
                    .success();
                ctx.import_busybox("dangling:1", &["ENV X=1"]);
                ctx.import_busybox("dangling:1", &["ENV X=2"]);
            },
            done: |ctx| ctx.devbox(&["ps", "-aq"]).stdout.trim().is_empty(),
            rerun_refused: never,
        },
    ];
    let mut total = (0, 0);
    for scenario in &scenarios {
        let (faults, runs) = crash_matrix(&ctx, scenario);
        report(&format!(
            "{}: {faults} of {runs} runs killed at a crash point",
            scenario.name
        ));
        assert!(
            faults >= 2,
            "{}: the crash points were not reached",
            scenario.name
        );
        total.0 += faults;
        total.1 += runs;
    }
    report(&format!(
        "crash points: {} faults injected in {} runs, inconsistent stores: 0",
        total.0, total.1
    ));
}

#[test]
fn killed_pull_at_every_point_then_finishes() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "newuidmap", "busybox", "registry");
    let registry = Registry::start();
    let remote = format!("{}/crash/busybox:1", registry.host());
    ctx.devbox(&["push", "-q", ctx.busybox(), &remote])
        .success();
    let fresh = TestContext::new();
    let scenario = Scenario {
        name: "pull",
        args: vec!["pull".into(), "-q".into(), remote.clone()],
        prepare: remove_all_images,
        done: |ctx| ctx.devbox(&["images", "-q"]).stdout.lines().count() == 1,
        rerun_refused: never,
    };
    let (faults, runs) = crash_matrix(&fresh, &scenario);
    report(&format!(
        "pull: {faults} of {runs} runs killed at a crash point"
    ));
    assert!(faults >= 3, "the pull's crash points were not reached");
}

/// SIGKILL at random moments (not only at the named points): a bounded
/// loop over delays from 0 to ~0.6 s.
#[test]
fn killed_at_random_moments_the_store_stays_consistent() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "newuidmap", "busybox");
    let img = ctx.busybox().to_string();
    let tar = crate::support::images::busybox_tar().unwrap();
    let mut faults = 0;
    for round in 0..12u64 {
        // A cheap deterministic spread of delays: 0, 50, 100 ... ms.
        let delay = format!("0.{:03}", (round * 53) % 600);
        let commands: [Vec<&str>; 3] = [
            vec!["import", tar.to_str().unwrap(), "rand:1"],
            vec!["run", "--network", "none", "--name", "rr", &img, "true"],
            vec!["rm", "-f", "rr"],
        ];
        for args in &commands {
            let out = ctx
                .command("/usr/bin/timeout")
                .args(["--foreground", "-s", "KILL", &delay])
                .arg(binary())
                .arg("--root")
                .arg(&ctx.root)
                .args(args)
                .run();
            faults += usize::from(killed(&out));
            assert_consistent(&ctx, &format!("`{}` killed after {delay}s", args.join(" ")));
        }
        ctx.devbox(&["rm", "-f", "rr"]);
    }
    report(&format!("random kills: {faults} of 36 runs killed"));
    assert!(faults > 0, "no run was killed: the delays are too long");
    assert_repaired(&ctx, "the random kills");
    // Nothing a killed devbox started outlives it for long (a container's child once
    // waited forever at its gate, holding the container's liveness lock).
    let root = ctx.root.to_string_lossy().into_owned();
    poll_until(
        "a process of a killed devbox is still running",
        Duration::from_secs(20),
        || processes_mentioning(&root).is_empty(),
    );
}

/// The checker reads the files a killed command leaves in each place.
#[test]
fn leftover_names_carry_the_dead_pid() {
    let ctx = TestContext::new();
    std::fs::create_dir_all(ctx.root.join("tmp")).unwrap();
    chown_to_user(&ctx, &ctx.root);
    ctx.devbox(&["system", "check"]).success();
    let dead = ctx.root.join("tmp/pull-999999998-0-0");
    std::fs::write(&dead, "partial").unwrap();
    chown_to_user(&ctx, &dead);
    ctx.devbox(&["system", "check"])
        .success()
        .stdout_contains("leftover: ")
        .stdout_contains("pull-999999998-0-0: left by devbox process 999999998");
    assert_repaired(&ctx, "a dead pull's temp file");
    assert!(!Path::new(&dead).exists());
}

/// COPY sources that are symlinks out of the build context copy the link,
/// never what it points at; a path through such a link is not found.
#[test]
fn copy_never_reads_through_symlinks_out_of_the_context() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "newuidmap", "busybox");
    ctx.busybox();
    ctx.write_file("secret/key", "TOP SECRET\n");
    ctx.write_file("ctx/Dockerfile", "FROM busybox\nCOPY evil /evil\n");
    std::os::unix::fs::symlink("../secret/key", ctx.path("ctx/evil")).unwrap();
    std::os::unix::fs::symlink(ctx.path("secret"), ctx.path("ctx/outside")).unwrap();
    for link in ["ctx/evil", "ctx/outside"] {
        chown_to_user(&ctx, &ctx.path(link));
    }
    let context = ctx.path("ctx").to_str().unwrap().to_string();
    ctx.devbox(&["build", "-q", "-t", "link:1", &context])
        .success();
    let shown = ctx.run_offline(&["link:1", "sh", "-c", "readlink /evil; cat /evil || true"]);
    shown.success();
    assert!(!shown.stdout.contains("TOP SECRET"), "{shown}");
    assert!(
        shown.stdout.contains("../secret/key"),
        "the link itself is copied\n{shown}"
    );

    ctx.write_file("ctx/Dockerfile", "FROM busybox\nCOPY outside/key /key\n");
    let through = ctx.devbox(&["build", "-q", "-t", "link:2", &context]);
    if through.code == 0 {
        let cat = ctx.run_offline(&["link:2", "cat", "/key"]);
        assert!(
            !cat.stdout.contains("TOP SECRET"),
            "COPY read through a link out of the context\n{cat}"
        );
    }
}

/// A tmpfs of a given size mounted (as root) for the test user, unmounted when dropped.
struct TinyTmpfs {
    dir: std::path::PathBuf,
}

impl TinyTmpfs {
    /// `None` (with a printed skip) when this process cannot mount.
    fn mount(dir: std::path::PathBuf, size: &str) -> Option<Self> {
        let user = crate::support::test_user();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!(
                "size={size},mode=0755,uid={},gid={}",
                user.uid, user.gid
            ))
            .arg("tmpfs")
            .arg(&dir)
            .output()
            .expect("running mount");
        if !out.status.success() {
            crate::support::capability::skip(
                "tmpfs",
                &format!(
                    "cannot mount a tmpfs (the tests need root for this): {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            );
            return None;
        }
        Some(TinyTmpfs { dir })
    }

    fn resize(&self, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir)
            .status()
            .expect("running mount");
        assert!(status.success(), "remounting {}", self.dir.display());
    }
}

impl Drop for TinyTmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .status();
    }
}

/// Incompressible bytes (xorshift), so gzip cannot make them fit.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A full disk under the store: import and pull of something bigger than the space fail
/// with a clean error naming the store (no panic, exit 125), the store stays consistent with
/// nothing half-written in it, and the same commands succeed once there is room.
#[test]
fn a_store_on_a_full_disk_fails_cleanly_and_recovers() {
    let mut ctx = TestContext::new();
    require!(ctx, "userns", "newuidmap", "busybox");
    let mount_point = ctx.mkdir("small");
    let Some(tmpfs) = TinyTmpfs::mount(mount_point.clone(), "3m") else {
        return;
    };
    ctx.root = mount_point.join("store");
    let mut tar = tar::Builder::new(Vec::new());
    let data = noise(6 << 20);
    let mut header = tar::Header::new_gnu();
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(1_700_000_000);
    header.set_size(data.len() as u64);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, "big.bin", &data[..]).unwrap();
    let tar_bytes = tar.into_inner().unwrap();
    let tar_path = ctx.path("big.tar");
    std::fs::write(&tar_path, &tar_bytes).unwrap();
    crate::support::give_to_user(&tar_path);
    let image = crate::support::registry::TestImage::new(
        &[tar_bytes],
        crate::support::registry::host_arch(),
    );
    let registry = crate::support::registry::FaultyRegistry::start(
        image,
        crate::support::registry::Fault::None,
    );
    let import = ["import", tar_path.to_str().unwrap(), "big:1"];
    let pull = ["pull", &registry.reference()];
    let expected = format!(
        "Error: no space left on device while writing the store at {}",
        ctx.root.display()
    );
    for args in [&import[..], &pull[..]] {
        let out = ctx.devbox(args);
        out.code_is(125);
        assert!(out.stderr.contains(&expected), "{out}");
        assert!(out.stderr.contains("hint: free space"), "{out}");
        assert!(!out.stderr.contains("panicked"), "{out}");
        let tmp = std::fs::read_dir(ctx.root.join("tmp"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(tmp, 0, "half-written files left in tmp/\n{out}");
        assert_consistent(&ctx, &format!("{args:?} on a full disk"));
    }
    tmpfs.resize("64m");
    for args in [&import[..], &pull[..]] {
        ctx.devbox(args).success();
    }
    assert_consistent(&ctx, "import and pull after freeing space");
    ctx.devbox(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .success()
        .stdout_contains("big:1")
        .stdout_contains(&registry.reference());
}
