//! Overlay semantics (issue 5): one suite, the same assertions, run against the kernel overlay
//! (`overlay`) and devbox's FUSE overlay (`fuse-overlayfs`). Each test changes the container's
//! root from inside a container kept after it exits, then checks what its upper dir
//! (`<root>/containers-v1/<id>/upper`, owned by subordinate ids: read as root) holds: the
//! kernel overlay's format, so an upper dir is an OCI-style layer as is.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::support::{capability, Output, TestContext};

/// One test against one driver: a fresh store with the busybox image.
struct Case {
    ctx: TestContext,
    driver: &'static str,
    image: String,
}

/// What a finished container left.
struct Layers {
    upper: PathBuf,
    lower: PathBuf,
    out: Output,
}

impl Case {
    /// The busybox image in a fresh store; None (after printing the skip) when the machine
    /// lacks what the driver needs.
    fn new(driver: &'static str) -> Option<Case> {
        Case::with(driver, "busybox", |ctx| ctx.busybox().to_string())
    }

    /// The Debian python image (shared store) instead of busybox.
    fn debian(driver: &'static str) -> Option<Case> {
        Case::with(driver, "mmdebstrap", TestContext::use_debian)
    }

    fn with(
        driver: &'static str,
        image_cap: &str,
        image: impl FnOnce(&mut TestContext) -> String,
    ) -> Option<Case> {
        let mut ctx = TestContext::new();
        let cap = if driver == "overlay" {
            "overlay"
        } else {
            "fuse"
        };
        if let Some((name, reason)) = ctx.missing(&["userns", image_cap, cap]) {
            capability::skip(&name, &reason);
            return None;
        }
        let image = image(&mut ctx);
        Some(Case { ctx, driver, image })
    }

    /// Runs `sh -c script` in a new container that stays after it exits.
    fn run(&self, script: &str) -> Layers {
        // Unique within the process: the Debian tests share one store.
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("{}-{n}", self.driver);
        let out = self.ctx.devbox(&[
            "--storage-driver",
            self.driver,
            "run",
            "--network",
            "none",
            "--name",
            &name,
            &self.image,
            "sh",
            "-c",
            script,
        ]);
        out.success();
        // By name: other tests may add containers to a shared store meanwhile.
        let id = std::fs::read_link(self.ctx.root.join("names-v1").join(&name))
            .unwrap_or_else(|e| out.fail(&format!("no container named {name}: {e}")));
        let layers = self.ctx.root.join("layers-v1");
        let lower = std::fs::read_dir(&layers)
            .unwrap_or_else(|e| panic!("{}: {e}", layers.display()))
            .flatten()
            .map(|e| e.path().join("diff"))
            .find(|d| d.join("etc/passwd").exists())
            .expect("the image's layer");
        Layers {
            upper: self.ctx.root.join("containers-v1").join(id).join("upper"),
            lower,
            out,
        }
    }
}

fn meta(path: &Path) -> std::fs::Metadata {
    std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn is_whiteout(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == 0)
}

/// An xattr of `path` itself, read on the host (std has no xattr calls; python3 is one of
/// the harness's packages).
fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import os,sys\ntry: sys.stdout.buffer.write(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False))\nexcept OSError: sys.exit(1)",
        ])
        .arg(path)
        .arg(name)
        .output()
        .expect("python3");
    out.status.success().then_some(out.stdout)
}

macro_rules! on_each_driver {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn overlay() {
                super::$name("overlay");
            }
            #[test]
            fn fuse_overlayfs() {
                super::$name("fuse-overlayfs");
            }
        }
    )*};
}

on_each_driver!(
    reads_fall_through_without_copy_up,
    write_copies_up_with_owner_and_mode,
    truncate_copies_up_without_data,
    chmod_chown_and_utimens_copy_up,
    unlink_of_a_lower_file_leaves_a_whiteout,
    rmdir_then_mkdir_makes_an_opaque_dir,
    rename_across_layers,
    hard_links_symlinks_and_fifos,
    readdir_merges_without_duplicates_or_whiteouts,
    sparse_and_large_files,
    python_mmap_xattrs_compileall_and_install,
    cp_into_and_out_of_a_running_container,
    open_files_outlive_their_names,
    writes_drop_setuid_as_the_kernel_does,
    a_listing_read_in_batches_sees_a_change_made_between_passes,
);

fn cp_into_and_out_of_a_running_container(driver: &'static str) {
    // A FUSE root is served only to the container's user namespace: `cp` must go through it.
    let Some(case) = Case::new(driver) else {
        return;
    };
    let ctx = &case.ctx;
    let detached = ctx.devbox(&[
        "--storage-driver",
        driver,
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "box",
        &case.image,
        "sleep",
        "1000",
    ]);
    detached.success();
    ctx.write_file("in/dir/file", "from the host\n");
    let host_dir = ctx.path("in/dir");
    ctx.devbox(&["cp", host_dir.to_str().unwrap(), "box:/tmp"])
        .success();
    ctx.devbox(&[
        "exec",
        "box",
        "sh",
        "-c",
        "cat /tmp/dir/file; stat -c %u /tmp/dir/file",
    ])
    .success()
    .stdout_is("from the host\n0");
    let out = ctx.path("passwd");
    ctx.devbox(&["cp", "box:/etc/passwd", out.to_str().unwrap()])
        .success();
    let copied = std::fs::read_to_string(&out).unwrap();
    ctx.devbox(&["rm", "-f", "box"]).success();
    assert!(copied.starts_with("root:"), "{copied}");
}

fn open_files_outlive_their_names(driver: &'static str) {
    // Opened, then unlinked or replaced, before any read: the data is still there through
    // the open descriptor, for an upper file and for a lower one.
    let Some(case) = Case::new(driver) else {
        return;
    };
    let l = case.run(
        "echo upper > /tmp/f && exec 3</tmp/f 4</etc/group 5<>/tmp/g && rm /tmp/f /etc/group \
         && echo new > /tmp/f && echo written >&5 && rm /tmp/g \
         && cat <&3 && head -n1 <&4 && cat /tmp/f",
    );
    l.out.stdout_is("upper\nroot:x:0:\nnew");
    assert!(is_whiteout(&l.upper.join("etc/group")));
    assert!(!l.upper.join("tmp/g").exists());
}

fn reads_fall_through_without_copy_up(driver: &'static str) {
    let Some(case) = Case::new(driver) else {
        return;
    };
    let l = case.run("cat /etc/passwd && ls /usr/bin/find");
    l.out
        .stdout_contains("root:x:0:0")
        .stdout_contains("/usr/bin/find");
    assert!(
        !l.upper.join("etc/passwd").exists(),
        "a read copied the file up"
    );
}

fn write_copies_up_with_owner_and_mode(driver: &'static str) {
    let Some(case) = Case::new(driver) else {
        return;
    };
    let l = case.run("echo extra >> /etc/passwd && mkdir -p /a/b && echo new > /a/b/c");
    let lower = std::fs::read_to_string(l.lower.join("etc/passwd")).unwrap();
    let upper = std::fs::read_to_string(l.upper.join("etc/passwd")).unwrap();
    assert_eq!(upper, format!("{lower}extra\n"));
    let (lm, um) = (
        meta(&l.lower.join("etc/passwd")),
        meta(&l.upper.join("etc/passwd")),
    );
    assert_eq!(
        (um.uid(), um.gid(), um.mode()),
        (lm.uid(), lm.gid(), lm.mode())
    );
    // The parent was copied up with its metadata.
    let (ld, ud) = (meta(&l.lower.join("etc")), meta(&l.upper.join("etc")));
    assert_eq!((ud.uid(), ud.mode()), (ld.uid(), ld.mode()));
    assert_eq!(
        std::fs::read_to_string(l.upper.join("a/b/c")).unwrap(),
        "new\n"
    );
    // Untouched siblings stay below.
    assert!(!l.upper.join("etc/group").exists());
}

fn truncate_copies_up_without_data(driver: &'static str) {
    let Some(case) = Case::new(driver) else {
        return;
    };
    let l = case.run("truncate -s 0 /etc/group && : > /etc/passwd");
    for f in ["etc/group", "etc/passwd"] {
        assert_eq!(meta(&l.upper.join(f)).len(), 0, "{f}");
        assert!(
            meta(&l.lower.join(f)).len() > 0,
            "the lower {f} is untouched"
        );
    }
}

fn chmod_chown_and_utimens_copy_up(driver: &'static str) {
    let Some(case) = Case::new(driver) else {
        return;
    };
    let l = case.run(
        "chmod 600 /etc/group && chown 1000:1000 /etc/passwd && touch -t 200102030405 /usr/bin",
    );
    let group = meta(&l.upper.join("etc/group"));
    assert_eq!(group.permissions().mode() & 0o7777, 0o600);
    assert_eq!(
        std::fs::read(l.upper.join("etc/group")).unwrap(),
        std::fs::read(l.lower.join("etc/group")).unwrap()
    );
    // uid 1000 inside is the host id that owns the image's /home/app.
    let app = meta(&l.lower.join("home/app"));
    let passwd = meta(&l.upper.join("etc/passwd"));
    assert_eq!((passwd.uid(), passwd.gid()), (app.uid(), app.gid()));
    let usr_bin = meta(&l.upper.join("usr/bin"));
    assert!(usr_bin.is_dir());
    assert_eq!(usr_bin.mtime(), 981173100, "2001-02-03 04:05 UTC");
}

fn unlink_of_a_lower_file_leaves_a_whiteout(driver: &'static str) {
    let Some(case) = Case::new(driver) else {
        return;
    };
    let l = case.run("rm /etc/group && touch /tmp/t && rm /tmp/t && test ! -e /etc/group");
    assert!(is_whiteout(&l.upper.join("etc/group")));
    // A file that only ever lived in the upper dir leaves nothing.
    assert!(std::fs::symlink_metadata(l.upper.join("tmp/t")).is_err());
}

fn rmdir_then_mkdir_makes_an_opaque_dir(driver: &'static str) {
    let Some(case) = Case::new(driver) else {
        return;
    };
    let l = case.run(
        "rmdir /home/app && mkdir /home/app && touch /home/app/x && rmdir /root && ls -a /home/app",
    );
    let app = l.upper.join("home/app");
    assert!(meta(&app).is_dir());
    assert_eq!(
        xattr(&app, "user.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(l.upper.join("home/app/x").exists());
    assert!(is_whiteout(&l.upper.join("root")));
}

fn rename_across_layers(driver: &'static str) {
    let Some(case) = Case::new(driver) else {
        return;
    };
    let l = case.run(
        "mv /etc/passwd /etc/passwd.old && mv /home /home2 && cat /etc/passwd.old >/dev/null \
         && test ! -e /etc/passwd && test -d /home2/app && test ! -e /home",
    );
    let lower = std::fs::read(l.lower.join("etc/passwd")).unwrap();
    assert_eq!(
        std::fs::read(l.upper.join("etc/passwd.old")).unwrap(),
        lower
    );
    assert!(is_whiteout(&l.upper.join("etc/passwd")));
    // A directory from a lower layer moves by copy (EXDEV, then `mv` copies).
    assert!(meta(&l.upper.join("home2/app")).is_dir());
    assert!(is_whiteout(&l.upper.join("home")));
}

fn hard_links_symlinks_and_fifos(driver: &'static str) {
    let Some(case) = Case::new(driver) else {
        return;
    };
    let l = case.run(
        "ln /etc/passwd /tmp/pw && ln -s /etc/passwd /tmp/link && mkfifo /tmp/fifo \
         && test \"$(stat -c %h /tmp/pw)\" = 2 && cat /tmp/link >/dev/null",
    );
    let (pw, passwd) = (
        meta(&l.upper.join("tmp/pw")),
        meta(&l.upper.join("etc/passwd")),
    );
    assert_eq!(
        pw.ino(),
        passwd.ino(),
        "the link shares the copied-up inode"
    );
    assert_eq!(pw.nlink(), 2);
    assert_eq!(
        std::fs::read_link(l.upper.join("tmp/link")).unwrap(),
        PathBuf::from("/etc/passwd")
    );
    assert!(meta(&l.upper.join("tmp/fifo")).file_type().is_fifo());
}

fn readdir_merges_without_duplicates_or_whiteouts(driver: &'static str) {
    let Some(case) = Case::new(driver) else {
        return;
    };
    let l = case.run("touch /etc/new /etc/passwd && rm /etc/group && ls -a /etc");
    let names: Vec<&str> = l.out.stdout.split_whitespace().collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(names.len(), unique.len(), "duplicates in {names:?}");
    for want in [".", "..", "new", "passwd"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(!names.contains(&"group"), "a whiteout shows in {names:?}");
    assert!(names.iter().all(|n| !n.starts_with(".wh.")), "{names:?}");
}

fn sparse_and_large_files(driver: &'static str) {
    let Some(case) = Case::new(driver) else {
        return;
    };
    let l = case.run(
        "dd if=/dev/zero of=/tmp/sparse bs=1 count=1 seek=104857600 2>/dev/null \
         && yes 0123456789abcdef | head -c 67108864 > /tmp/big \
         && md5sum /tmp/big",
    );
    let sparse = meta(&l.upper.join("tmp/sparse"));
    assert_eq!(sparse.len(), 104857601);
    assert!(
        sparse.blocks() * 512 < 1 << 20,
        "holes were filled: {} blocks",
        sparse.blocks()
    );
    let big = std::fs::read(l.upper.join("tmp/big")).unwrap();
    assert_eq!(big.len(), 64 << 20);
    assert!(big
        .chunks(17)
        .take(1000)
        .all(|c| c == b"0123456789abcdef\n"));
}

fn python_mmap_xattrs_compileall_and_install(driver: &'static str) {
    let Some(case) = Case::debian(driver) else {
        return;
    };
    let script = r#"set -e
python3 -m compileall -f -q /usr/lib/python3.11/json
ls /usr/lib/python3.11/json/__pycache__/ | grep -c '\.pyc$'
mkdir -p /tmp/src/devboxpkg
printf 'VALUE = 42\n' > /tmp/src/devboxpkg/__init__.py
cp -r /tmp/src/devboxpkg /usr/local/lib/python3.11/dist-packages/
python3 -c 'import devboxpkg; print("import", devboxpkg.VALUE)'
python3 - <<'EOF'
import mmap, os
with open("/tmp/m", "wb") as f:
    f.write(b"a" * 8192)
with open("/tmp/m", "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
    m[0:5] = b"hello"
    m.flush()
    m.close()
os.setxattr("/etc/debian_version", "user.devbox", b"1")
print("xattr", os.getxattr("/etc/debian_version", "user.devbox"))
print("listed", [n for n in os.listxattr("/etc/debian_version")])
EOF
"#;
    let l = case.run(script);
    l.out
        .stdout_contains("import 42")
        .stdout_contains("xattr b'1'")
        .stdout_contains("listed ['user.devbox']");
    let pyc = l.upper.join("usr/lib/python3.11/json/__pycache__");
    assert!(
        std::fs::read_dir(&pyc).unwrap().count() > 3,
        "{}",
        pyc.display()
    );
    assert!(l
        .upper
        .join("usr/local/lib/python3.11/dist-packages/devboxpkg/__init__.py")
        .exists());
    assert_eq!(
        &std::fs::read(l.upper.join("tmp/m")).unwrap()[..6],
        b"helloa"
    );
    let version = l.upper.join("etc/debian_version");
    assert_eq!(xattr(&version, "user.devbox").as_deref(), Some(&b"1"[..]));
    assert_eq!(
        std::fs::read(&version).unwrap(),
        std::fs::read(l.lower.join("etc/debian_version")).unwrap()
    );
}

fn writes_drop_setuid_as_the_kernel_does(driver: &'static str) {
    let Some(case) = Case::debian(driver) else {
        return;
    };
    // A write drops set-user-id, and set-group-id only where the group may execute. The
    // kernel overlay drops them even for the container's root (its write to the upper file is
    // checked as well, and loses them there); the FUSE overlay drops them itself (the kernel
    // leaves it to the server, see src/fs/fuse) and must agree.
    let script = r#"python3 - <<'EOF'
import os
for path, mode in [("/tmp/root", 0o6755), ("/tmp/user", 0o6777), ("/tmp/nogx", 0o2767)]:
    with open(path, "w") as f:
        f.write("a")
    os.chmod(path, mode)
with open("/tmp/root", "a") as f:
    f.write("b")
os.setgid(1000)
os.setuid(1000)
for path in ["/tmp/user", "/tmp/nogx"]:
    with open(path, "a") as f:
        f.write("b")
for path in ["/tmp/root", "/tmp/user", "/tmp/nogx"]:
    print(path, oct(os.stat(path).st_mode & 0o7777))
EOF
"#;
    let l = case.run(script);
    l.out
        .stdout_contains("/tmp/root 0o755")
        .stdout_contains("/tmp/user 0o777")
        .stdout_contains("/tmp/nogx 0o2767");
    for (file, mode) in [
        ("tmp/root", 0o755),
        ("tmp/user", 0o777),
        ("tmp/nogx", 0o2767),
    ] {
        let m = meta(&l.upper.join(file));
        assert_eq!(
            m.permissions().mode() & 0o7777,
            mode,
            "{file} in the upper dir"
        );
        assert_eq!(m.len(), 2, "{file}");
    }
}

fn a_listing_read_in_batches_sees_a_change_made_between_passes(driver: &'static str) {
    let Some(case) = Case::new(driver) else {
        return;
    };
    // Directories are listed without opendir on the FUSE overlay (the kernel caches listings):
    // a big directory read in several batches lists every name once, and a second pass sees
    // what was created and removed since the first.
    let l = case.run(
        "mkdir /d && cd /d && i=0; while [ $i -lt 600 ]; do : > file-with-a-long-name-$i; \
         i=$((i+1)); done; ls | wc -l; ls | sort | uniq -d | wc -l; \
         rm file-with-a-long-name-7; : > added; ls | wc -l; ls | grep -c added; \
         ls | grep -c 'name-7$'; true",
    );
    let lines: Vec<&str> = l.out.stdout.lines().map(str::trim).collect();
    assert_eq!(lines, ["600", "0", "600", "1", "0"], "{}", l.out.stdout);
    assert_eq!(std::fs::read_dir(l.upper.join("d")).unwrap().count(), 600);
}

// ---- drivers ----------------------------------------------------------------------------------

#[test]
fn vfs_root_is_a_copy_of_the_layers() {
    let Some(case) = Case::new("vfs") else { return };
    let l = case.run("echo changed > /etc/passwd && rm /etc/group && cat /etc/passwd");
    l.out.stdout_exactly("changed\n");
    // The upper dir holds the whole tree, with the changes applied in place.
    assert!(meta(&l.upper.join("bin/busybox")).is_file());
    assert_eq!(
        std::fs::read_to_string(l.upper.join("etc/passwd")).unwrap(),
        "changed\n"
    );
    assert!(std::fs::symlink_metadata(l.upper.join("etc/group")).is_err());
}

#[test]
fn the_driver_is_chosen_once_per_store() {
    let Some(case) = Case::new("fuse-overlayfs") else {
        return;
    };
    let record = case.ctx.root.join("storage.json");
    // The environment variable chooses, and the first driver used is recorded.
    case.ctx
        .devbox_cmd(&["run", "--rm", "--network", "none", &case.image, "true"])
        .env("DEVBOX_STORAGE_DRIVER", "fuse-overlayfs")
        .run()
        .success();
    let recorded = std::fs::read_to_string(&record).unwrap();
    assert!(recorded.contains("\"fuse-overlayfs\""), "{recorded}");
    // A flag overrides it for one command without rewriting it...
    case.ctx
        .devbox(&[
            "--storage-driver",
            "vfs",
            "run",
            "--rm",
            "--network",
            "none",
            &case.image,
            "true",
        ])
        .success();
    assert_eq!(std::fs::read_to_string(&record).unwrap(), recorded);
    // ...and without either, the recorded driver is used and shown by doctor.
    let out = case
        .ctx
        .devbox_cmd(&["run", "--rm", "--network", "none", &case.image, "mount"])
        .run();
    if std::env::var_os("DEVBOX_STORAGE_DRIVER").is_none() {
        out.success().stdout_contains("fuse.devbox-overlay");
        case.ctx
            .devbox(&["doctor"])
            .stdout_contains("`fuse-overlayfs` (recorded for this store)");
    }
}

#[test]
fn a_fuse_upper_dir_is_a_kernel_overlay_layer() {
    // What the FUSE overlay leaves, mounted by the kernel overlay over the same lower layer,
    // shows the tree the container saw.
    let Some(case) = Case::new("fuse-overlayfs") else {
        return;
    };
    if let Some((name, reason)) = case.ctx.missing(&["overlay"]) {
        capability::skip(&name, &reason);
        return;
    }
    let l = case.run(
        "rm /etc/group && rmdir /home/app && mkdir /home/app && echo x > /home/app/f \
         && echo more >> /etc/passwd && mkdir -p /new/dir && ln -s /etc/passwd /new/link \
         && mv /usr/bin /usr/bin2 && cd / && find . -xdev | sort",
    );
    let dir = case.ctx.path("kernel");
    let (work, merged) = (dir.join("work"), dir.join("merged"));
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&merged).unwrap();
    let options = format!(
        "lowerdir={},upperdir={},workdir={},userxattr",
        l.lower.display(),
        l.upper.display(),
        work.display()
    );
    let mount = std::process::Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o", &options])
        .arg(&merged)
        .output()
        .expect("mount");
    if !mount.status.success() {
        // The harness is not root: nothing to mount with.
        capability::skip("overlay", &String::from_utf8_lossy(&mount.stderr));
        return;
    }
    let find = std::process::Command::new("sh")
        .arg("-c")
        .arg("cd \"$1\" && find . -xdev | sort")
        .arg("sh")
        .arg(&merged)
        .output()
        .expect("find");
    let passwd = std::fs::read_to_string(merged.join("etc/passwd"));
    let _ = std::process::Command::new("umount").arg(&merged).status();
    assert_eq!(String::from_utf8_lossy(&find.stdout), l.out.stdout);
    assert!(passwd.unwrap().ends_with("more\n"));
}
