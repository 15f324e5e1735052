//! Volumes: `devbox volume create|ls|inspect|rm|prune`.

use crate::support::TestContext;

#[test]
fn volume_lifecycle_in_docker_shapes() {
    let ctx = TestContext::new();
    ctx.devbox(&["volume", "create", "--label", "app=web", "data"])
        .success()
        .stdout_is("data");
    // Idempotent, like Docker.
    ctx.devbox(&["volume", "create", "data"])
        .success()
        .stdout_is("data");
    let generated = ctx.devbox(&["volume", "create"]);
    generated.success();
    let anon = generated.out().to_string();
    assert_eq!(anon.len(), 64, "a generated name is 64 hex digits: {anon}");

    let ls = ctx.devbox(&["volume", "ls"]);
    ls.success()
        .stdout_contains("DRIVER          VOLUME NAME")
        .stdout_contains("local           data");
    ctx.devbox(&["volume", "ls", "-q", "--filter", "label=app=web"])
        .success()
        .stdout_is("data");
    ctx.devbox(&["volume", "ls", "-q", "--filter", "name=dat"])
        .success()
        .stdout_is("data");
    let json = ctx.devbox(&["volume", "ls", "--format", "json", "--filter", "label=app"]);
    json.success();
    let line: serde_json::Value =
        serde_json::from_str(json.out()).expect("one JSON object per line");
    assert_eq!(line["Name"], "data");
    assert_eq!(line["Driver"], "local");
    assert_eq!(line["Labels"], "app=web");

    let inspect = ctx.devbox(&["volume", "inspect", "data"]);
    inspect.success();
    let v: serde_json::Value = serde_json::from_str(&inspect.stdout).unwrap();
    assert_eq!(v[0]["Name"], "data");
    assert_eq!(v[0]["Labels"]["app"], "web");
    assert_eq!(v[0]["Scope"], "local");
    let mountpoint = v[0]["Mountpoint"].as_str().unwrap();
    assert!(std::path::Path::new(mountpoint).is_dir(), "{mountpoint}");
    assert!(mountpoint.ends_with("/volumes-v1/data/_data"));

    ctx.devbox(&["volume", "rm", "data"])
        .success()
        .stdout_is("data");
    assert!(!std::path::Path::new(mountpoint).exists());
    let missing = ctx.devbox(&["volume", "rm", "data"]);
    missing.devbox_error(125);
    missing.stderr_contains("no such volume: data");

    // prune without --all keeps named volumes; with it, every unused one goes.
    ctx.devbox(&["volume", "prune", "-f"])
        .success()
        .stdout_is("Total reclaimed space: 0B");
    let pruned = ctx.devbox(&["volume", "prune", "-f", "--all"]);
    pruned
        .success()
        .stdout_contains("Deleted Volumes:")
        .stdout_contains(&anon);
    ctx.devbox(&["volume", "ls", "-q"]).success().stdout_is("");
}

#[test]
fn bad_volume_names_and_filters_are_clear_errors() {
    let ctx = TestContext::new();
    let out = ctx.devbox(&["volume", "create", "-x"]);
    assert_ne!(out.code, 0);
    let out = ctx.devbox(&["volume", "create", "a/b"]);
    out.devbox_error(125);
    out.stderr_contains("invalid volume name `a/b`");
    let out = ctx.devbox(&["volume", "ls", "--filter", "colour=red"]);
    out.devbox_error(125);
    out.stderr_contains("invalid filter `colour=red`");
}

#[test]
fn named_volume_persists_across_containers_and_is_refused_while_used() {
    let ctx = TestContext::new();
    crate::support::require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    ctx.run_offline(&[
        "-v",
        "notes:/data",
        img,
        "sh",
        "-c",
        "echo kept > /data/note; chown 1000 /data/note",
    ])
    .success();
    ctx.run_offline(&[
        "-v",
        "notes:/data:ro",
        img,
        "sh",
        "-c",
        "cat /data/note; stat -c %u /data/note; touch /data/x",
    ])
    .failure()
    .stdout_contains("kept\n1000");
    ctx.devbox(&[
        "run",
        "--network",
        "none",
        "--name",
        "holder",
        "--mount",
        "source=notes,target=/n",
        img,
        "true",
    ])
    .success();
    let out = ctx.devbox(&["volume", "rm", "notes"]);
    out.devbox_error(125);
    out.stderr_contains("volume notes is in use");
    ctx.devbox(&["rm", "holder"]).success();
    ctx.devbox(&["volume", "rm", "notes"]).success();
}

#[test]
fn anonymous_volumes_tmpfs_and_mount_errors() {
    let ctx = TestContext::new();
    crate::support::require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    ctx.run_offline(&[
        "-v",
        "/cache",
        "--tmpfs",
        "/scratch:size=1m,mode=700",
        img,
        "sh",
        "-c",
        "echo x > /cache/f && grep ' /scratch ' /proc/mounts && stat -c %a /scratch",
    ])
    .success()
    .stdout_contains("tmpfs")
    .stdout_contains("size=1024k")
    .stdout_contains("700");
    let anonymous = ctx.devbox(&["volume", "ls", "-q"]);
    anonymous.success();
    assert_eq!(
        anonymous.out().len(),
        64,
        "one anonymous volume: {}",
        anonymous.out()
    );

    let out = ctx.run_offline(&[
        "--mount",
        "type=bind,source=/no/such/dir,target=/x",
        img,
        "true",
    ]);
    out.devbox_error(125);
    out.stderr_contains("bind source path does not exist: /no/such/dir");
    let out = ctx.run_offline(&["--mount", "type=bind,src=/tmp", img, "true"]);
    out.devbox_error(125);
    out.stderr_contains("`target` is required");
    let out = ctx.run_offline(&["-v", "/a:/x", "-v", "b1:/x", img, "true"]);
    out.devbox_error(125);
    out.stderr_contains("duplicate mount point: /x");
}

#[test]
fn image_volumes_become_anonymous_volumes() {
    let ctx = TestContext::new();
    crate::support::require!(ctx, "userns", "busybox");
    ctx.import_busybox("withvol", &["VOLUME /state"]);
    ctx.run_offline(&[
        "withvol",
        "sh",
        "-c",
        "grep -q ' /state ' /proc/mounts && touch /state/ok",
    ])
    .success();
    let listed = ctx.devbox(&["volume", "ls", "-q"]);
    listed.success();
    let name = listed.out().to_string();
    assert_eq!(name.len(), 64);
    let inspect = ctx.devbox(&["volume", "inspect", &name]);
    let v: serde_json::Value = serde_json::from_str(&inspect.stdout).unwrap();
    let data = std::path::PathBuf::from(v[0]["Mountpoint"].as_str().unwrap());
    assert!(
        data.join("ok").exists(),
        "the file written inside is in the volume"
    );
}

#[test]
fn volume_and_image_listings_take_go_templates() {
    let ctx = TestContext::new();
    crate::support::require!(ctx, "busybox");
    ctx.busybox();
    ctx.devbox(&["volume", "create", "--label", "tier=db", "pgdata"])
        .success();
    ctx.devbox(&[
        "volume",
        "ls",
        "--format",
        "{{.Name}} {{.Driver}} {{.Labels}}",
    ])
    .success()
    .stdout_is("pgdata local tier=db");
    let table = ctx.devbox(&["volume", "ls", "--format", "table {{.Name}}\t{{.Scope}}"]);
    table.success();
    let lines: Vec<&str> = table.stdout.lines().map(str::trim_end).collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "SCOPE"],
        "{table}"
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["pgdata", "local"],
        "{table}"
    );
    ctx.devbox(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .success()
        .stdout_is("busybox:latest");
    let out = ctx.devbox(&["images", "--format", "{{.Repository"]);
    out.devbox_error(125);
}

#[test]
fn a_new_volume_is_filled_from_the_image_unless_nocopy() {
    let ctx = TestContext::new();
    crate::support::require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    // The busybox image has /home/app, owned by uid 1000.
    let owner = ctx.run_offline(&[img, "stat", "-c", "%u", "/home/app"]);
    owner.success();
    let owner = owner.out().to_string();
    ctx.run_offline(&[
        "-v",
        "homes:/home",
        img,
        "sh",
        "-c",
        "ls /home; stat -c %u /home/app; touch /home/app/new",
    ])
    .success()
    .stdout_is(&format!("app\n{owner}"));
    // Not empty any more: the next container sees what the first left, not a fresh copy.
    ctx.run_offline(&["-v", "homes:/home", img, "ls", "/home/app"])
        .success()
        .stdout_contains("new");
    ctx.run_offline(&["-v", "bare:/home:nocopy", img, "ls", "-A", "/home"])
        .success()
        .stdout_is("");
}

#[test]
fn rm_v_volumes_from_and_the_single_file_warning() {
    let ctx = TestContext::new();
    crate::support::require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    ctx.devbox(&[
        "run",
        "--network",
        "none",
        "--name",
        "data",
        "-v",
        "/shared",
        "-v",
        "keep:/kept",
        img,
        "sh",
        "-c",
        "echo one > /shared/f",
    ])
    .success();
    // --volumes-from sees the other container's volumes; :ro makes them read-only.
    ctx.run_offline(&["--volumes-from", "data", img, "cat", "/shared/f"])
        .success()
        .stdout_is("one");
    ctx.run_offline(&["--volumes-from", "data:ro", img, "touch", "/shared/g"])
        .failure();
    assert_eq!(
        ctx.devbox(&["volume", "ls", "-q"]).stdout.lines().count(),
        2
    );
    // rm -v takes the anonymous volume along, and keeps the named one.
    ctx.devbox(&["rm", "-v", "data"]).success();
    ctx.devbox(&["volume", "ls", "-q"])
        .success()
        .stdout_is("keep");

    let file = ctx.write_file("settings.ini", "x=1\n");
    let volume = format!("{}:/etc/settings.ini:ro", file.display());
    ctx.run_offline(&["-v", &volume, img, "cat", "/etc/settings.ini"])
        .success()
        .stdout_is("x=1")
        .stderr_contains("a single file is bind-mounted");
}

#[test]
fn read_only_root_refuses_writes_but_mounts_stay_writable() {
    let ctx = TestContext::new();
    crate::support::require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let out = ctx.run_offline(&[
        "--read-only", "--tmpfs", "/tmp", "-v", "scratch:/data", img, "sh", "-c",
        "touch /root/x 2>/dev/null && echo root-writable; touch /tmp/x /data/x && echo mounts-writable",
    ]);
    out.success().stdout_is("mounts-writable");
}

#[test]
fn keep_id_keeps_the_users_ids_on_a_bind_mount_and_image_owners_inside() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let ctx = TestContext::new();
    crate::support::require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let (uid, gid) = (ctx.user.uid, ctx.user.gid);
    let src = ctx.mkdir("src");
    let secret = ctx.write_file("src/secret.txt", "only mine\n");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let bind = format!("{}:/src", src.display());
    let out = ctx.run_offline(&[
        "--userns=keep-id",
        "-v",
        &bind,
        img,
        "sh",
        "-c",
        "id -u; id -g; echo $HOME; cat /src/secret.txt; echo new > /src/made; \
         echo more >> /src/secret.txt; \
         stat -c '%u:%g' /bin/busybox /home/app; grep -c \"^$(id -un):\" /etc/passwd",
    ]);
    out.success();
    let home = ctx.user.home.display().to_string();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            uid.to_string().as_str(),
            gid.to_string().as_str(),
            home.as_str(),
            "only mine",
            "0:0",
            "1000:1000",
            "1",
        ],
        "{out}"
    );
    // What the container wrote is the user's on the host; their 0600 file was writable.
    let made = std::fs::metadata(src.join("made")).unwrap();
    assert_eq!((made.uid(), made.gid()), (uid, gid));
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        "only mine\nmore\n"
    );

    // `-u` still wins; as root inside, new files are not the user's on the host.
    ctx.run_offline(&[
        "--userns=keep-id",
        "-u",
        "0",
        "-v",
        &bind,
        img,
        "sh",
        "-c",
        "id -u; touch /src/by-root; stat -c %u /src/secret.txt",
    ])
    .success()
    .stdout_is(&format!("0\n{uid}"));
    assert_ne!(std::fs::metadata(src.join("by-root")).unwrap().uid(), uid);

    // The default: the user is root inside, and root's files are the user's on the host.
    ctx.run_offline(&[
        "-v",
        &bind,
        img,
        "sh",
        "-c",
        "id -u; stat -c %u /src/made; touch /src/by-default",
    ])
    .success()
    .stdout_is("0\n0");
    assert_eq!(
        std::fs::metadata(src.join("by-default")).unwrap().uid(),
        uid
    );
    let out = ctx.run_offline(&["--userns=auto", img, "true"]);
    out.devbox_error(125);
    out.stderr_contains("invalid --userns `auto`");
}

/// A polling-free watcher (inotify through ctypes, as watchdog and uvicorn's reloader use
/// it): prints `watching`, then each event's file name until `NAME` changes (30 s at most).
const INOTIFY_WATCHER: &str = r#"
import ctypes, os, select, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init()
# IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO
assert libc.inotify_add_watch(fd, sys.argv[1].encode(), 0x2 | 0x8 | 0x100 | 0x80) >= 0
print("watching", flush=True)
while True:
    if not select.select([fd], [], [], 30)[0]:
        sys.exit("no event within 30 s")
    buf, off = os.read(fd, 4096), 0
    while off < len(buf):
        _, mask, _, size = struct.unpack_from("iIII", buf, off)
        name = buf[off + 16 : off + 16 + size].rstrip(b"\0").decode()
        off += 16 + size
        print("event", name, flush=True)
        if name == sys.argv[2]:
            sys.exit(0)
"#;

#[test]
fn inotify_events_cross_a_bind_mount_both_ways() {
    use std::io::BufRead;
    let mut ctx = TestContext::new();
    crate::support::require!(ctx, "userns", "mmdebstrap");
    let img = ctx.use_debian();
    let src = ctx.mkdir("src");
    ctx.write_file("src/watch.py", INOTIFY_WATCHER);
    let bind = format!("{}:/src", src.display());

    // A host edit reaches a watcher in the container.
    let id = ctx.devbox(&[
        "run",
        "-d",
        "--network",
        "none",
        "--userns=keep-id",
        "-v",
        &bind,
        &img,
        "python3",
        "/src/watch.py",
        "/src",
        "app.py",
    ]);
    id.success();
    let id = id.out().to_string();
    let started = std::time::Instant::now();
    while !ctx.devbox(&["logs", &id]).stdout.contains("watching") {
        assert!(
            started.elapsed().as_secs() < 20,
            "the watcher never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    ctx.write_file("src/app.py", "print('edited on the host')\n");
    ctx.devbox(&["wait", &id]).success().stdout_is("0");
    ctx.devbox(&["logs", &id])
        .success()
        .stdout_contains("event app.py");
    ctx.devbox(&["rm", &id]).success();

    // An edit in the container reaches a watcher on the host.
    let mut host = std::process::Command::new("python3")
        .args([
            src.join("watch.py").to_str().unwrap(),
            src.to_str().unwrap(),
            "out.txt",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 on the host");
    let mut lines = std::io::BufReader::new(host.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "watching");
    ctx.run_offline(&[
        "-v",
        &bind,
        &img,
        "sh",
        "-c",
        "echo from-container > /src/out.txt",
    ])
    .success();
    let events: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(host.wait().unwrap().success());
    assert!(events.contains(&"event out.txt".to_string()), "{events:?}");
    assert_eq!(
        std::fs::read_to_string(src.join("out.txt")).unwrap(),
        "from-container\n"
    );
}

/// Undoes the test's host mounts, even when it fails.
struct HostMounts(Vec<std::path::PathBuf>);

impl Drop for HostMounts {
    fn drop(&mut self) {
        for path in self.0.iter().rev() {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(path)
                .status();
        }
    }
}

#[test]
fn bind_propagation_rslave_follows_host_mounts_and_rprivate_does_not() {
    let ctx = TestContext::new();
    crate::support::require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let out = ctx.run_offline(&[
        "--mount",
        "type=bind,source=/tmp,target=/x,bind-propagation=sideways",
        img,
        "true",
    ]);
    out.devbox_error(125);
    out.stderr_contains("invalid propagation mode: sideways");
    // What a rootless container can see: mounts made on the host below the source after
    // it started (a host mount needs root, so this part runs when the suite does).
    if !ctx.user.dropped {
        crate::support::capability::skip(
            "bind propagation from the host",
            "needs root to mount on the host (run the suite as root)",
        );
        return;
    }
    let src = ctx.mkdir("src/sub");
    let src = src.parent().unwrap().to_path_buf();
    let sh = |cmd: &str| {
        let ok = std::process::Command::new("sh")
            .args(["-c", cmd])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "{cmd}");
    };
    // The source, a shared mount of its own (the host's root may be private).
    let mut mounts = HostMounts(vec![src.clone()]);
    sh(&format!(
        "mount --bind {0} {0} && mount --make-shared {0}",
        src.display()
    ));
    let watch = "i=0; while [ $i -lt 50 ]; do [ -e /src/sub/marker ] && echo seen && exit; \
                 sleep 0.1; i=$((i+1)); done; echo unseen";
    let start = |propagation: &str| {
        let mount = format!(
            "type=bind,source={},target=/src{propagation}",
            src.display()
        );
        let out = ctx.devbox(&[
            "run",
            "-d",
            "--network",
            "none",
            "--mount",
            &mount,
            img,
            "sh",
            "-c",
            watch,
        ]);
        out.success();
        out.out().to_string()
    };
    let slave = start(",bind-propagation=rslave");
    let private = start("");
    // Both are watching before the host mounts.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    mounts.0.push(src.join("sub"));
    sh(&format!(
        "mount -t tmpfs tmpfs {0}/sub && touch {0}/sub/marker",
        src.display()
    ));
    for (id, want) in [(&slave, "seen"), (&private, "unseen")] {
        ctx.devbox(&["wait", id]).success();
        ctx.devbox(&["logs", id]).success().stdout_is(want);
    }
    drop(mounts);
}

#[test]
fn a_tmpfs_starts_empty_and_its_content_is_gone_after_stop() {
    let ctx = TestContext::new();
    crate::support::require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let script = "ls -A /scratch | wc -l; echo x > /scratch/f; echo y > /kept";
    ctx.devbox(&[
        "run",
        "--network",
        "none",
        "--name",
        "t",
        "--tmpfs",
        "/scratch",
        img,
        "sh",
        "-c",
        script,
    ])
    .success()
    .stdout_is("0");
    // Started again: the root keeps what was written, the tmpfs does not.
    ctx.devbox(&["start", "t"]).success();
    ctx.devbox(&["wait", "t"]).success().stdout_is("0");
    // (The log holds the detached start's output.)
    ctx.devbox(&["logs", "t"]).success().stdout_is("0");
    let diff = ctx.devbox(&["diff", "t"]);
    diff.success().stdout_contains("A /kept");
    assert!(!diff.stdout.contains("scratch/f"), "{diff}");
}

#[test]
fn compose_userns_mode_keep_id_reaches_the_container() {
    use std::os::unix::fs::MetadataExt;
    let ctx = TestContext::new();
    crate::support::require!(ctx, "userns", "busybox", "slirp4netns", "networks");
    ctx.busybox();
    let dir = ctx.mkdir("proj");
    ctx.mkdir("proj/src");
    ctx.write_file(
        "proj/compose.yaml",
        "services:\n\
         \x20 app:\n\
         \x20   image: busybox:latest\n\
         \x20   userns_mode: keep-id\n\
         \x20   volumes: [\"./src:/src\"]\n\
         \x20   command: [\"sh\", \"-c\", \"id -u > /src/uid.tmp && mv /src/uid.tmp /src/uid\"]\n",
    );
    let compose = |args: &[&str]| {
        ctx.devbox_cmd(&["compose"])
            .args(args)
            .current_dir(&dir)
            .run()
    };
    compose(&["up", "-d"]).success();
    let uid_file = dir.join("src/uid");
    let started = std::time::Instant::now();
    while !uid_file.exists() {
        assert!(
            started.elapsed().as_secs() < 20,
            "the service never wrote /src/uid"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        std::fs::read_to_string(&uid_file).unwrap().trim(),
        ctx.user.uid.to_string()
    );
    assert_eq!(std::fs::metadata(&uid_file).unwrap().uid(), ctx.user.uid);
    compose(&["down"]).success();
}

#[test]
fn commit_of_a_keep_id_container_keeps_the_owners_it_saw() {
    let ctx = TestContext::new();
    crate::support::require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    let uid = ctx.user.uid.to_string();
    ctx.devbox(&[
        "run",
        "--network",
        "none",
        "--name",
        "k",
        "--userns=keep-id",
        img,
        "touch",
        "/mine",
    ])
    .success();
    ctx.devbox(&["commit", "k", "kept"]).success();
    // /etc/passwd gained the user's entry as root; /mine was written by the user.
    ctx.run_offline(&["kept", "stat", "-c", "%u", "/mine", "/etc/passwd"])
        .success()
        .stdout_is(&format!("{uid}\n0"));
}
