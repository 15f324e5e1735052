//! Tests of the harness itself: they need no runtime, so they show the test user, the images
//! and the skip logic work before (and independently of) the container tests.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;

use crate::support::capability::{is_required, skip_outcome};
use crate::support::user::next_free_subid;
use crate::support::{images, require, TestContext};

#[test]
fn harness_prepares_the_test_user() {
    let ctx = TestContext::new();
    let user = ctx.user;
    let out = ctx.command("/usr/bin/id").args(["-u"]).run();
    out.success().stdout_is(&user.uid.to_string());
    if user.dropped {
        // No supplementary groups leak from root: only the primary group.
        let out = ctx.command("/usr/bin/id").args(["-G"]).run();
        out.success().stdout_is(&user.gid.to_string());
        assert_ne!(user.uid, 0);
        for file in ["/etc/subuid", "/etc/subgid"] {
            let text = std::fs::read_to_string(file).unwrap();
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&format!("{}:", user.name))),
                "{file} has no range for {}:\n{text}",
                user.name
            );
        }
        let run = user.runtime_dir.as_ref().expect("runtime dir");
        let meta = std::fs::metadata(run).unwrap();
        assert_eq!((meta.uid(), meta.mode() & 0o777), (user.uid, 0o700));
        for dev in ["/dev/fuse", "/dev/net/tun"] {
            if let Ok(meta) = std::fs::metadata(dev) {
                assert_eq!(meta.mode() & 0o666, 0o666, "{dev}");
            }
        }
    }
    // The sandbox belongs to the user.
    assert_eq!(std::fs::metadata(&ctx.sandbox).unwrap().uid(), user.uid);
}

#[test]
fn harness_runs_commands_with_a_clean_env() {
    let ctx = TestContext::new();
    let out = ctx.command("/usr/bin/env").env("EXTRA", "1").run();
    out.success();
    let env: HashMap<&str, &str> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .collect();
    let mut keys: Vec<&str> = env.keys().copied().collect();
    keys.sort_unstable();
    let mut expected = vec![
        "EXTRA",
        "HOME",
        "LOGNAME",
        "PATH",
        "USER",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
    ];
    expected.push("XDG_RUNTIME_DIR");
    expected.sort_unstable();
    assert_eq!(keys, expected, "{out}");
    assert_eq!(env["USER"], ctx.user.name);
}

#[test]
fn harness_pipes_stdin_and_reports_exit_codes() {
    let ctx = TestContext::new();
    ctx.command("/bin/cat")
        .stdin("piped\n")
        .run()
        .success()
        .stdout_exactly("piped\n");
    ctx.command("/bin/sh")
        .args(["-c", "exit 3"])
        .run()
        .code_is(3);
    ctx.command("/bin/sh")
        .args(["-c", "kill -9 $$"])
        .run()
        .code_is(137);
}

#[test]
fn harness_builds_busybox_tar() {
    let ctx = TestContext::new();
    require!(ctx, "busybox");
    let path = images::busybox_tar().unwrap();
    assert_eq!(std::fs::metadata(path).unwrap().mode() & 0o777, 0o644);
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    let mut seen = HashMap::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        let name = entry
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let link = entry
            .link_name()
            .unwrap()
            .map(|l| l.to_string_lossy().into_owned());
        seen.insert(
            name,
            (h.entry_type(), h.mode().unwrap(), h.uid().unwrap(), link),
        );
    }
    assert_eq!(seen["bin/busybox"].0, tar::EntryType::Regular);
    assert_eq!(seen["bin/busybox"].1, 0o755);
    for applet in [
        "bin/sh",
        "usr/bin/wget",
        "bin/ps",
        "usr/bin/id",
        "usr/bin/tty",
    ] {
        let (kind, _, _, link) = &seen[applet];
        assert_eq!(
            (kind, link.as_deref()),
            (&tar::EntryType::Symlink, Some("/bin/busybox")),
            "{applet}"
        );
    }
    assert_eq!(seen["tmp"].1, 0o1777);
    assert_eq!(seen["home/app"].2, 1000);
    assert!(seen.contains_key("etc/passwd") && seen.contains_key("etc/group"));
    // The test user can read it.
    ctx.command("/usr/bin/test")
        .arg("-r")
        .arg(path)
        .run()
        .success();
}

#[test]
fn harness_builds_debian_tar() {
    let ctx = TestContext::new();
    require!(ctx, "mmdebstrap");
    let path = images::debian_tar().unwrap();
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    let found = archive.entries().unwrap().any(|e| {
        let e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        p.trim_start_matches("./") == "usr/bin/python3"
    });
    assert!(found, "{} has no usr/bin/python3", path.display());
}

#[test]
fn harness_skip_logic() {
    assert!(is_required("userns, slirp4netns", "slirp4netns"));
    assert!(!is_required("userns,slirp4netns", "fuse"));
    assert!(!is_required("", "fuse"));
    assert_eq!(
        skip_outcome("fuse", "no /dev/fuse", "userns", "it::t"),
        Ok("test it::t ... skipped: no /dev/fuse".to_string())
    );
    let err = skip_outcome("fuse", "no /dev/fuse", "userns,fuse", "it::t").unwrap_err();
    assert!(
        err.contains("DEVBOX_TEST_REQUIRE") && err.contains("no /dev/fuse"),
        "{err}"
    );
}

#[test]
fn harness_picks_a_free_subid_range() {
    assert_eq!(next_free_subid(""), 100_000);
    assert_eq!(next_free_subid("a:100000:65536\nb:165536:65536\n"), 231_072);
    assert_eq!(next_free_subid("# comment\nbad line\n"), 100_000);
}
