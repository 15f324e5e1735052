//! The integration-test harness (STYLE rule 12): every test runs the real `devbox` binary as an
//! unprivileged user in its own sandbox directory, and starts with `require!` for what it
//! needs from the machine.
//!
//! - [`user`]: the unprivileged user (created and prepared when the tests run as root).
//! - [`command`]: running a process as that user, with a clean env and a timeout; [`Output`].
//! - [`capability`]: `require!` behind `devbox doctor --format json`, skips and strictness.
//! - [`images`]: the busybox and Debian test images, cached between runs.
//! - [`http`]: a host-loopback HTTP server for network tests.
//! - [`pyindex`]: an offline Python package index (wheels cached once, served on loopback).
//! - [`registry`]: a local `docker-registry` server, crafted images, a throttling proxy.

pub mod capability;
pub mod command;
pub mod http;
pub mod images;
pub mod process;
pub mod pyindex;
pub mod registry;
pub mod user;

use std::io::Write;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

pub use command::{Output, UserCommand};
pub use http::HttpServer;
pub use user::{test_user, TestUser};

/// Skips the test (with a printed reason) unless every named capability is present; fails it
/// instead when `DEVBOX_TEST_REQUIRE` lists the missing one. Capabilities: the checks of
/// `devbox doctor` (`userns`, `subuid`, `newuidmap`, `slirp4netns`, `fuse`, `overlay`,
/// `cgroup`) and the harness's own (`busybox`, `mmdebstrap`, `script`, `registry`, `skopeo`, `pyindex`).
macro_rules! require {
    ($ctx:expr $(, $cap:literal)+ $(,)?) => {
        if let Some((name, reason)) = $ctx.missing(&[$($cap),+]) {
            $crate::support::capability::skip(&name, &reason);
            return;
        }
    };
}
pub(crate) use require;

/// The binary under test, checked to be reachable by the test user.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_devbox"));
        if let Err(e) = user::check_reachable(test_user(), &bin) {
            panic!("{e}");
        }
        bin
    })
}

/// `<tmp>/devbox-it-<uid>`: the parent of every sandbox, owned by the test user. Stale shared
/// stores of test processes that are gone are removed on first use.
pub fn sandbox_base() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let user = test_user();
        let base = std::env::temp_dir().join(format!("devbox-it-{}", user.uid));
        std::fs::create_dir_all(&base).unwrap_or_else(|e| panic!("{}: {e}", base.display()));
        give_to_user(&base);
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o700))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", base.display()));
        if let Err(e) = user::check_reachable(user, &base.join("x")) {
            panic!("{e}");
        }
        remove_stale_shared_stores(&base);
        base
    })
}

fn remove_stale_shared_stores(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("shared-")) else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = remove_sandbox(&entry.path());
        }
    }
}

/// Hands a path the harness created (as root) to the test user; a no-op when not root.
pub fn give_to_user(path: &Path) {
    let user = test_user();
    if user.dropped {
        chown(path, Some(user.uid), Some(user.gid))
            .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    }
}

/// A store shared by every test of this process that uses the Debian python image: importing
/// ~200 MB per test would dominate the run. Tests that inspect the store use their own.
fn shared_debian_store() -> Result<&'static (PathBuf, String), String> {
    static STORE: OnceLock<Result<(PathBuf, String), String>> = OnceLock::new();
    STORE
        .get_or_init(|| {
            let tar = images::debian_tar()?;
            let dir = sandbox_base().join(format!("shared-{}", std::process::id()));
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            give_to_user(&dir);
            let root = dir.join("root");
            let name = "debian-py:latest".to_string();
            let out = UserCommand::new(test_user(), binary())
                .arg("--root")
                .arg(&root)
                .arg("import")
                .arg(tar)
                .arg(&name)
                .env("XDG_DATA_HOME", dir.join("data"))
                .env("XDG_CONFIG_HOME", dir.join("config"))
                .timeout(Duration::from_secs(600))
                .run();
            if out.code != 0 {
                return Err(format!("importing the Debian image failed\n{out}"));
            }
            Ok((root, name))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// One test's world: a sandbox dir (kept, with its path printed, if the test fails), a store
/// root inside it, and the test user.
pub struct TestContext {
    dir: Option<tempfile::TempDir>,
    /// The sandbox directory, owned by the test user.
    pub sandbox: PathBuf,
    /// The `--root` given to every devbox command.
    pub root: PathBuf,
    pub user: &'static TestUser,
    busybox: OnceLock<String>,
}

impl TestContext {
    pub fn new() -> Self {
        let user = test_user();
        let test = std::thread::current()
            .name()
            .unwrap_or("test")
            .rsplit("::")
            .next()
            .unwrap_or("test")
            .to_string();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{test}-"))
            .tempdir_in(sandbox_base())
            .expect("creating the sandbox");
        let sandbox = dir.path().to_path_buf();
        std::fs::set_permissions(&sandbox, std::fs::Permissions::from_mode(0o755))
            .expect("chmod sandbox");
        give_to_user(&sandbox);
        for sub in ["data", "config", "xdg-run"] {
            let p = sandbox.join(sub);
            std::fs::create_dir(&p).expect("creating sandbox dirs");
            give_to_user(&p);
        }
        std::fs::set_permissions(
            sandbox.join("xdg-run"),
            std::fs::Permissions::from_mode(0o700),
        )
        .expect("chmod xdg-run");
        Self {
            root: sandbox.join("root"),
            sandbox,
            dir: Some(dir),
            user,
            busybox: OnceLock::new(),
        }
    }

    /// The first capability among `names` this machine lacks, with the reason (see `require!`).
    pub fn missing(&self, names: &[&str]) -> Option<(String, String)> {
        capability::first_missing(names)
    }

    /// `devbox --root <root> ARGS` as the test user, run to completion.
    pub fn devbox(&self, args: &[&str]) -> Output {
        self.devbox_cmd(args).run()
    }

    /// `devbox run --rm --network none ARGS`: the form most run tests use.
    pub fn run_offline(&self, args: &[&str]) -> Output {
        self.run_offline_cmd(args).run()
    }

    /// The same as a builder.
    pub fn run_offline_cmd(&self, args: &[&str]) -> UserCommand {
        self.devbox_cmd(&["run", "--rm", "--network", "none"])
            .args(args)
    }

    /// The same as a builder, for stdin bytes, extra env, a different PATH or timeout.
    /// `DEVBOX_STORAGE_DRIVER` set for the test run is passed on, so a whole suite can run on
    /// another driver (`DEVBOX_STORAGE_DRIVER=fuse-overlayfs cargo test --test it run::`).
    pub fn devbox_cmd(&self, args: &[&str]) -> UserCommand {
        let cmd = self
            .command(binary())
            .arg("--root")
            .arg(&self.root)
            .args(args);
        match std::env::var_os("DEVBOX_STORAGE_DRIVER") {
            Some(driver) => cmd.env("DEVBOX_STORAGE_DRIVER", driver),
            None => cmd,
        }
    }

    /// Any program as the test user, with the same clean env, in the sandbox. Without a
    /// runtime dir of the user's own (a non-root run outside a login session), one in the
    /// sandbox stands in.
    pub fn command(&self, program: impl AsRef<Path>) -> UserCommand {
        let cmd = UserCommand::new(self.user, program)
            .env("XDG_DATA_HOME", self.sandbox.join("data"))
            .env("XDG_CONFIG_HOME", self.sandbox.join("config"))
            .current_dir(&self.sandbox);
        if self.user.runtime_dir.is_none() {
            cmd.env("XDG_RUNTIME_DIR", self.sandbox.join("xdg-run"))
        } else {
            cmd
        }
    }

    /// A path inside the sandbox.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.sandbox.join(rel)
    }

    /// Creates a directory (and parents) in the sandbox, owned by the test user.
    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for p in path
            .ancestors()
            .take_while(|p| p.starts_with(&self.sandbox) && *p != self.sandbox)
        {
            give_to_user(p);
        }
        path
    }

    /// Writes a file in the sandbox, owned by the test user.
    pub fn write_file(&self, rel: &str, contents: &str) -> PathBuf {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            if parent != self.sandbox {
                self.mkdir(
                    parent
                        .strip_prefix(&self.sandbox)
                        .unwrap()
                        .to_str()
                        .unwrap(),
                );
            }
        }
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        give_to_user(&path);
        path
    }

    /// `devbox import [-c CHANGE]... <busybox tar> NAME`, asserting it prints an image id.
    /// Requires the `busybox` capability.
    pub fn import_busybox(&self, name: &str, changes: &[&str]) -> String {
        let tar =
            images::busybox_tar().unwrap_or_else(|e| panic!("building the busybox image: {e}"));
        let mut args = vec!["import".to_string()];
        for c in changes {
            args.push("--change".into());
            args.push((*c).into());
        }
        args.push(tar.to_str().expect("utf-8 cache path").into());
        args.push(name.into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.devbox(&args);
        out.success();
        if !is_image_id(out.out()) {
            out.fail("expected `import` to print the image id `sha256:<64 hex>`");
        }
        name.to_string()
    }

    /// The plain busybox image in this test's store (imported on first use).
    pub fn busybox(&self) -> &str {
        self.busybox
            .get_or_init(|| self.import_busybox("busybox:latest", &[]))
    }

    /// Switches this context to the process-wide store holding the Debian python image, and
    /// returns the image name. Requires the `mmdebstrap` capability.
    pub fn use_debian(&mut self) -> String {
        let (root, name) = shared_debian_store().unwrap_or_else(|e| panic!("{e}"));
        self.root = root.clone();
        name.clone()
    }

    /// Entries of `<root>/containers-v1` (none if it does not exist).
    pub fn container_dirs(&self) -> Vec<String> {
        match std::fs::read_dir(self.root.join("containers-v1")) {
            Ok(entries) => entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl Default for TestContext {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestContext {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        let mut stderr = std::io::stderr();
        if std::thread::panicking() {
            let path = dir.keep();
            let _ = writeln!(
                stderr,
                "note: kept the sandbox of the failed test: {}",
                path.display()
            );
        } else if let Err(e) = [self.remove_run_root(), remove_sandbox(&dir.keep())]
            .into_iter()
            .collect::<Result<(), String>>()
        {
            let _ = writeln!(
                stderr,
                "note: could not remove a sandbox under {}: {e}",
                sandbox_base().display()
            );
        }
    }
}

impl TestContext {
    /// Removes the store's runtime state when it is outside the sandbox (the user's
    /// `XDG_RUNTIME_DIR`, shared by every test): what ended containers and networks left.
    fn remove_run_root(&self) -> Result<(), String> {
        let Some(base) = &self.user.runtime_dir else {
            return Ok(());
        };
        let run_root = devbox::paths::run_root_under(base, &self.root);
        match std::fs::remove_dir_all(&run_root) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(format!("{}: {e}", run_root.display()))
            }
            _ => Ok(()),
        }
    }
}

/// Removes a sandbox. Run as a user, the suite cannot remove what containers made as other
/// users (subordinate ids): `devbox unshare rm -rf` can. As root, removing needs nothing more.
fn remove_sandbox(path: &Path) -> Result<(), String> {
    let Err(e) = std::fs::remove_dir_all(path) else {
        return Ok(());
    };
    if test_user().dropped {
        return Err(format!("{}: {e}", path.display()));
    }
    let out = UserCommand::new(test_user(), binary())
        .arg("unshare")
        .args(["rm", "-rf", "--"])
        .arg(path)
        .run();
    if out.code == 0 {
        Ok(())
    } else {
        Err(format!(
            "{}: {e}; `devbox unshare rm -rf` failed too:\n{out}",
            path.display()
        ))
    }
}

/// `sha256:` followed by 64 lowercase hex digits.
pub fn is_image_id(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A host process started by a test (as root, not the test user), killed when dropped.
pub struct HostProcess(Child);

impl HostProcess {
    pub fn spawn(program: &str, args: &[&str]) -> Self {
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e}"));
        Self(child)
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
