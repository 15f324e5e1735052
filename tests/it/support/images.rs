//! Test images, made locally and cached between runs (DESIGN.md, Tests):
//! a busybox root filesystem from Debian's busybox-static, and a Debian bookworm minbase with
//! python3 made by mmdebstrap. Built once per machine under a file lock, once per process
//! under a `OnceLock`; the cache is world-readable so the test user can import from it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::Uid;
use sha2::{Digest, Sha256};

/// The busybox binary of Debian's busybox-static package.
pub const BUSYBOX: &str = "/bin/busybox";

/// Bump when the layout of a generated image changes, so stale caches are not reused.
const FORMAT: &str = "v1";

/// Where the tars live: /var/cache/devbox-test-images as root, ~/.cache/devbox-test-images
/// otherwise (`DEVBOX_TEST_IMAGE_CACHE` overrides both).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DEVBOX_TEST_IMAGE_CACHE") {
        return PathBuf::from(dir);
    }
    if Uid::effective().is_root() {
        PathBuf::from("/var/cache/devbox-test-images")
    } else {
        dirs::cache_dir()
            .unwrap_or_else(|| PathBuf::from("/tmp"))
            .join("devbox-test-images")
    }
}

/// Why the busybox image cannot be built here, if it cannot.
pub fn busybox_missing() -> Option<String> {
    match fs::read(BUSYBOX) {
        Err(e) => Some(format!(
            "{BUSYBOX}: {e} (install Debian's `busybox-static`)"
        )),
        // A dynamically linked busybox (Debian's `busybox` package) would not run in a bare rootfs.
        Ok(bytes) if contains(&bytes, b"/lib64/ld-linux") || contains(&bytes, b"/lib/ld-linux") => {
            Some(format!(
                "{BUSYBOX} is dynamically linked (install `busybox-static` instead of `busybox`)"
            ))
        }
        Ok(_) => None,
    }
}

/// Why the Debian image cannot be built here, if it cannot.
pub fn mmdebstrap_missing() -> Option<String> {
    let found = super::user::CLEAN_PATH
        .split(':')
        .any(|d| Path::new(d).join("mmdebstrap").is_file());
    (!found).then(|| "mmdebstrap is not installed (apt-get install mmdebstrap)".to_string())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The busybox rootfs tar, built on first use.
pub fn busybox_tar() -> Result<&'static Path, String> {
    static TAR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    TAR.get_or_init(|| {
        let binary = fs::read(BUSYBOX).map_err(|e| format!("{BUSYBOX}: {e}"))?;
        let key = hex::encode(&Sha256::digest(&binary)[..6]);
        cached(&format!("busybox-{FORMAT}-{key}.tar"), |out| {
            write_busybox_tar(&binary, out)
        })
    })
    .as_deref()
    .map_err(Clone::clone)
}

/// The Debian bookworm minbase + python3 tar (~200 MB, ~40 s to build), built on first use.
pub fn debian_tar() -> Result<&'static Path, String> {
    static TAR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    TAR.get_or_init(|| {
        cached(&format!("debian-bookworm-python3-{FORMAT}.tar"), |out| {
            run_mmdebstrap(out)
        })
    })
    .as_deref()
    .map_err(Clone::clone)
}

/// Returns `<cache>/<name>`, building it with `build(tmp_path)` under `<cache>/<name>.lock`
/// if absent. The result (a file or a directory) is renamed into place only when complete.
pub(super) fn cached(
    name: &str,
    build: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<PathBuf, String> {
    let dir = cache_dir();
    let path = dir.join(name);
    if path.exists() {
        return Ok(path);
    }
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {}: {e}", dir.display()))?;
    let lock_path = dir.join(format!("{name}.lock"));
    let lock_file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("{}: {e}", lock_path.display()))?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("flock {}: {e}", lock_path.display()))?;
    if path.exists() {
        return Ok(path); // another process built it while we waited
    }
    // Ends with `name`: mmdebstrap picks its output format from the extension.
    let tmp = dir.join(format!(".tmp.{}.{name}", std::process::id()));
    let result = build(&tmp).and_then(|()| {
        let mode = if tmp.is_dir() { 0o755 } else { 0o644 };
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
            .map_err(|e| format!("chmod {}: {e}", tmp.display()))?;
        fs::rename(&tmp, &path).map_err(|e| format!("rename to {}: {e}", path.display()))
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp).or_else(|_| fs::remove_dir_all(&tmp));
    }
    result.map(|()| path)
}

/// Every applet of `busybox --list-full` (e.g. `usr/bin/wget`), without busybox itself.
fn applets() -> Result<Vec<String>, String> {
    let out = Command::new(BUSYBOX)
        .arg("--list-full")
        .output()
        .map_err(|e| format!("{BUSYBOX} --list-full: {e}"))?;
    if !out.status.success() {
        return Err(format!("{BUSYBOX} --list-full failed: {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().trim_start_matches('/').to_string())
        .filter(|l| !l.is_empty() && l != "bin/busybox")
        .collect())
}

pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
app:x:1000:1000:app:/home/app:/bin/sh\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

pub const GROUP: &str = "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n";

/// Writes the busybox rootfs: bin/busybox, a symlink per applet, users root/app/nobody,
/// /tmp 1777, /root, /home/app owned by 1000. Owners are numeric (no names in the headers).
fn write_busybox_tar(busybox: &[u8], out: &Path) -> Result<(), String> {
    let applets = applets()?;
    let file = fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut tar = tar::Builder::new(file);
    let err = |e: std::io::Error| format!("writing {}: {e}", out.display());

    let dirs: &[(&str, u32, u64)] = &[
        ("bin", 0o755, 0),
        ("sbin", 0o755, 0),
        ("usr", 0o755, 0),
        ("usr/bin", 0o755, 0),
        ("usr/sbin", 0o755, 0),
        ("etc", 0o755, 0),
        ("dev", 0o755, 0),
        ("proc", 0o555, 0),
        ("sys", 0o555, 0),
        ("run", 0o755, 0),
        ("var", 0o755, 0),
        ("var/tmp", 0o1777, 0),
        ("tmp", 0o1777, 0),
        ("root", 0o700, 0),
        ("home", 0o755, 0),
        ("home/app", 0o755, 1000),
    ];
    for (path, mode, owner) in dirs {
        let mut h = header(tar::EntryType::Directory, *mode, *owner);
        tar.append_data(&mut h, format!("{path}/"), std::io::empty())
            .map_err(err)?;
    }
    let mut h = header(tar::EntryType::Regular, 0o755, 0);
    h.set_size(busybox.len() as u64);
    tar.append_data(&mut h, "bin/busybox", busybox)
        .map_err(err)?;
    for applet in &applets {
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        tar.append_link(&mut h, applet, "/bin/busybox")
            .map_err(err)?;
    }
    for (path, text) in [("etc/passwd", PASSWD), ("etc/group", GROUP)] {
        let mut h = header(tar::EntryType::Regular, 0o644, 0);
        h.set_size(text.len() as u64);
        tar.append_data(&mut h, path, text.as_bytes())
            .map_err(err)?;
    }
    tar.into_inner().and_then(|f| f.sync_all()).map_err(err)
}

fn header(kind: tar::EntryType, mode: u32, owner: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(owner);
    h.set_gid(owner);
    h.set_mtime(1_700_000_000);
    h.set_size(0);
    h
}

/// `mmdebstrap --variant=minbase --include=python3 bookworm OUT` (rootless: `--mode=unshare`).
/// A root filesystem laid out like Docker Hub's `python:3.11-slim` (which this machine cannot
/// pull): Debian bookworm's python3 with venv, `python` in /usr/local/bin, and no
/// EXTERNALLY-MANAGED marker, so the Dockerfiles `devbox init` writes run unchanged.
pub fn python_slim_tar() -> Result<&'static Path, String> {
    static TAR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    TAR.get_or_init(|| {
        cached(&format!("python-3.11-slim-{FORMAT}-pip.tar"), |out| {
            run_mmdebstrap_with(
                out,
                "python3,python3-venv,python3-pip,passwd",
                &[
                    r#"ln -sf /usr/bin/python3 "$1/usr/local/bin/python""#,
                    r#"ln -sf /usr/bin/python3 "$1/usr/local/bin/python3""#,
                    r#"ln -sf /usr/bin/pip3 "$1/usr/local/bin/pip""#,
                    r#"rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED"#,
                ],
            )
        })
    })
    .as_deref()
    .map_err(Clone::clone)
}

fn run_mmdebstrap(out: &Path) -> Result<(), String> {
    run_mmdebstrap_with(out, "python3", &[])
}

fn run_mmdebstrap_with(out: &Path, include: &str, hooks: &[&str]) -> Result<(), String> {
    let log = out.with_extension("log");
    let log_file = fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = Command::new("mmdebstrap");
    if !Uid::effective().is_root() {
        cmd.arg("--mode=unshare");
    }
    cmd.arg("--variant=minbase")
        .arg(format!("--include={include}"));
    for hook in hooks {
        cmd.arg(format!("--customize-hook={hook}"));
    }
    cmd.arg("bookworm")
        .arg(out)
        .arg("http://deb.debian.org/debian")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
        .stderr(log_file);
    let status = cmd.status().map_err(|e| format!("{cmd:?}: {e}"))?;
    let text = fs::read_to_string(&log).unwrap_or_default();
    let _ = fs::remove_file(&log);
    if status.success() {
        Ok(())
    } else {
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(format!("{cmd:?} failed ({status}):\n{}", tail.join("\n")))
    }
}
