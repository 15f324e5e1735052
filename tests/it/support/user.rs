//! The unprivileged user that runs devbox in every integration test.
//!
//! As root (CI), the harness creates or reuses `devbox-test` with subuid/subgid ranges, opens
//! /dev/fuse and /dev/net/tun to it the way a laptop does (0666), and gives it a
//! `/run/user/<uid>`. As a non-root user, that user runs devbox itself.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{Uid, User};

/// Name of the user the harness creates when the tests run as root.
pub const TEST_USER: &str = "devbox-test";

/// PATH given to every process the harness starts as the test user.
pub const CLEAN_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A second user the harness creates (as root) with no subordinate ids, for the single-id
/// fallback.
pub const NOSUB_USER: &str = "devbox-nosub";

/// Size of the subordinate id range the harness adds when `useradd` did not.
const SUBID_COUNT: u64 = 65536;

#[derive(Debug)]
pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// `XDG_RUNTIME_DIR` for the user, if the machine has one (as root we always make it).
    pub runtime_dir: Option<PathBuf>,
    /// True when the test process is root and drops to this user for every command.
    pub dropped: bool,
}

/// The test user, prepared once per test process.
pub fn test_user() -> &'static TestUser {
    static USER: OnceLock<TestUser> = OnceLock::new();
    USER.get_or_init(|| {
        if Uid::effective().is_root() {
            prepare_root_user().unwrap_or_else(|e| panic!("preparing the `{TEST_USER}` user: {e}"))
        } else {
            current_user()
        }
    })
}

fn current_user() -> TestUser {
    let uid = Uid::effective();
    let user = User::from_uid(uid)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("uid {uid} has no passwd entry"));
    let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir());
    TestUser {
        name: user.name,
        uid: uid.as_raw(),
        gid: user.gid.as_raw(),
        home: user.dir,
        runtime_dir,
        dropped: false,
    }
}

/// The user without subordinate ids, prepared once per test process; `None` unless the tests
/// run as root (only root can create one).
pub fn user_without_subids() -> Option<&'static TestUser> {
    static USER: OnceLock<Option<TestUser>> = OnceLock::new();
    USER.get_or_init(|| {
        Uid::effective().is_root().then(|| {
            prepare_user(NOSUB_USER, false)
                .unwrap_or_else(|e| panic!("preparing the `{NOSUB_USER}` user: {e}"))
        })
    })
    .as_ref()
}

fn prepare_root_user() -> Result<TestUser, String> {
    prepare_user(TEST_USER, true)
}

/// Creates (or reuses) `name` with, or without, subordinate id ranges, and the machine setup
/// a laptop's login session would give it.
fn prepare_user(name: &str, subids: bool) -> Result<TestUser, String> {
    // Two test processes (or a bench script) may prepare the user at once.
    let lock_file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/run/devbox-test-user.lock")
        .map_err(|e| format!("/run/devbox-test-user.lock: {e}"))?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("flock /run/devbox-test-user.lock: {e}"))?;

    let user = match lookup(name)? {
        Some(user) => user,
        None => {
            run_root(Command::new("useradd").args(["-m", "-s", "/bin/sh", name]))?;
            lookup(name)?.ok_or_else(|| format!("useradd did not create `{name}`"))?
        }
    };
    for file in [Path::new("/etc/subuid"), Path::new("/etc/subgid")] {
        if subids {
            ensure_subid_range(file, &user.name)?;
        } else {
            remove_subid_range(file, &user.name)?;
        }
    }

    // Laptops have these 0666; slirp4netns needs /dev/net/tun, FUSE needs /dev/fuse.
    for dev in ["/dev/fuse", "/dev/net/tun"] {
        match fs::set_permissions(dev, fs::Permissions::from_mode(0o666)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("chmod 0666 {dev}: {e}")),
        }
    }

    // No systemd-logind here: make the runtime dir it would make.
    let runtime_dir = PathBuf::from(format!("/run/user/{}", user.uid));
    fs::create_dir_all(&runtime_dir).map_err(|e| format!("{}: {e}", runtime_dir.display()))?;
    chown(
        &runtime_dir,
        Some(user.uid.as_raw()),
        Some(user.gid.as_raw()),
    )
    .map_err(|e| format!("chown {}: {e}", runtime_dir.display()))?;
    fs::set_permissions(&runtime_dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("chmod {}: {e}", runtime_dir.display()))?;

    Ok(TestUser {
        name: user.name,
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        home: user.dir,
        runtime_dir: Some(runtime_dir),
        dropped: true,
    })
}

fn lookup(name: &str) -> Result<Option<User>, String> {
    User::from_name(name).map_err(|e| format!("looking up user `{name}`: {e}"))
}

fn run_root(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Adds `name:<start>:65536` to a subuid/subgid file unless the user has a range already.
/// Debian's `useradd` allocates one itself; other systems may not.
fn ensure_subid_range(file: &Path, name: &str) -> Result<(), String> {
    let text = match fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("{}: {e}", file.display())),
    };
    if text.lines().any(|l| l.split(':').next() == Some(name)) {
        return Ok(());
    }
    let start = next_free_subid(&text);
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let sep = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    writeln!(f, "{sep}{name}:{start}:{SUBID_COUNT}").map_err(|e| format!("{}: {e}", file.display()))
}

/// Removes `name`'s lines from a subuid/subgid file (Debian's `useradd` adds a range).
fn remove_subid_range(file: &Path, name: &str) -> Result<(), String> {
    let text = match fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("{}: {e}", file.display())),
    };
    let kept: String = text
        .lines()
        .filter(|l| l.split(':').next() != Some(name))
        .map(|l| format!("{l}\n"))
        .collect();
    if kept != text {
        // Renamed into place: newuidmap of tests running meanwhile must never read it half-written.
        let tmp = file.with_extension("devbox-test.tmp");
        fs::write(&tmp, kept).map_err(|e| format!("{}: {e}", tmp.display()))?;
        fs::rename(&tmp, file).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok(())
}

/// The first id after every range in a subuid/subgid file, at least 100000.
pub fn next_free_subid(text: &str) -> u64 {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':').skip(1);
            let start: u64 = f.next()?.trim().parse().ok()?;
            let count: u64 = f.next()?.trim().parse().ok()?;
            Some(start + count)
        })
        .fold(100_000, u64::max)
}

/// Fails with a clear message unless every ancestor of `path` can be traversed by the test
/// user (and the file itself read/executed), so a binary under /root is caught early.
pub fn check_reachable(user: &TestUser, path: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    if !user.dropped {
        return Ok(());
    }
    let mut dirs: Vec<&Path> = path.ancestors().skip(1).collect();
    dirs.reverse();
    for dir in dirs {
        let meta = fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mode = meta.mode();
        let ok = if meta.uid() == user.uid {
            mode & 0o100 != 0
        } else if meta.gid() == user.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !ok {
            return Err(format!(
                "the test user `{}` (uid {}) cannot reach {}: directory {} has mode {:o}; \
                 run `chmod o+x {}` or build with CARGO_TARGET_DIR in a traversable place \
                 (.ci/run does this)",
                user.name,
                user.uid,
                path.display(),
                dir.display(),
                mode & 0o7777,
                dir.display()
            ));
        }
    }
    Ok(())
}

/// A sandbox and store of the user without subordinate ids (its own: the test user's
/// sandbox is closed to others), with busybox imported as `bb`.
pub struct NosubSandbox {
    pub user: &'static TestUser,
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl NosubSandbox {
    /// `None` (with the skip printed) unless the tests run as root.
    pub fn new() -> Option<NosubSandbox> {
        let Some(user) = user_without_subids() else {
            super::capability::skip(
                "second-user",
                "creating a user without subordinate ids needs the tests to run as root",
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("nosub-")
            .tempdir()
            .expect("creating a sandbox");
        let sandbox = NosubSandbox {
            user,
            root: dir.path().join("root"),
            dir,
        };
        sandbox.own(sandbox.dir.path());
        let tar = super::images::busybox_tar().expect("building the busybox image");
        sandbox
            .devbox(&["import", tar.to_str().expect("utf-8 cache path"), "bb"])
            .run()
            .success();
        Some(sandbox)
    }

    /// Hands a path made as root to the user.
    pub fn own(&self, path: &Path) {
        chown(path, Some(self.user.uid), Some(self.user.gid))
            .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    }

    /// `devbox --root <root> ARGS` as the user, in the sandbox.
    pub fn devbox(&self, args: &[&str]) -> super::UserCommand {
        super::UserCommand::new(self.user, super::binary())
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .current_dir(self.dir.path())
    }
}
