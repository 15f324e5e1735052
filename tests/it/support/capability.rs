//! `require!` and what it asks: devbox's own probes (`devbox doctor --format json`, run once per
//! test process as the test user) plus a few the harness itself needs (busybox, mmdebstrap,
//! script, registry, skopeo, pyindex, pasta). A missing capability is a visible skip with its reason, or a failure when
//! `DEVBOX_TEST_REQUIRE` names it (CI lists what it has just installed).

use std::io::Write;
use std::sync::OnceLock;

use serde::Deserialize;

use super::command::UserCommand;
use super::user::test_user;
use super::{binary, sandbox_base};

/// Env var: comma-separated capabilities whose absence fails a test instead of skipping it.
pub const REQUIRE_ENV: &str = "DEVBOX_TEST_REQUIRE";

/// The capabilities `devbox doctor --format json` reports.
pub const DOCTOR_CHECKS: &[&str] = &[
    "userns",
    "subuid",
    "newuidmap",
    "slirp4netns",
    "networks",
    "fuse",
    "overlay",
    "cgroup",
];

/// One entry of `devbox doctor --format json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub fix: Option<String>,
}

/// The doctor's checks, probed once per process. Panics (a harness failure, not a skip)
/// when the doctor cannot be run or does not print the JSON array it promises.
pub fn doctor_checks() -> &'static [Check] {
    static CHECKS: OnceLock<Result<Vec<Check>, String>> = OnceLock::new();
    match CHECKS.get_or_init(run_doctor) {
        Ok(checks) => checks,
        Err(e) => panic!("{e}"),
    }
}

fn run_doctor() -> Result<Vec<Check>, String> {
    let user = test_user();
    let dir = tempfile::Builder::new()
        .prefix("doctor-")
        .tempdir_in(sandbox_base())
        .map_err(|e| format!("creating a doctor sandbox: {e}"))?;
    super::give_to_user(dir.path());
    let out = UserCommand::new(user, binary())
        .arg("--root")
        .arg(dir.path().join("root"))
        .args(["doctor", "--format", "json"])
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .run();
    if out.code != 0 && out.code != 1 {
        return Err(format!(
            "`devbox doctor --format json` must exit 0 or 1\n{out}"
        ));
    }
    serde_json::from_str::<Vec<Check>>(&out.stdout).map_err(|e| {
        format!("`devbox doctor --format json` did not print a JSON array of checks: {e}\n{out}")
    })
}

/// The first missing capability among `names`, as `(name, reason)`.
pub fn first_missing(names: &[&str]) -> Option<(String, String)> {
    names
        .iter()
        .find_map(|&name| missing(name).map(|r| (name.to_string(), r)))
}

/// Why `name` is missing on this machine, or `None` if it is there.
pub fn missing(name: &str) -> Option<String> {
    match name {
        "busybox" => super::images::busybox_missing(),
        "mmdebstrap" => super::images::mmdebstrap_missing(),
        "registry" => super::registry::registry_missing(),
        "skopeo" => super::registry::skopeo_missing(),
        "pyindex" => super::pyindex::wheelhouse_missing(),
        "pasta" => which("pasta").is_none().then(|| {
            "`pasta` (package passt) is not installed, needed for `--network pasta`".to_string()
        }),
        "cgroup-delegated" => cgroup_delegation_missing(),
        "script" => which("script").is_none().then(|| {
            "`script` (util-linux) is not installed, needed to give devbox a terminal".to_string()
        }),
        _ if DOCTOR_CHECKS.contains(&name) => {
            let checks = doctor_checks();
            let Some(check) = checks.iter().find(|c| c.name == name) else {
                panic!("`devbox doctor --format json` has no check named `{name}`: {checks:?}");
            };
            (!check.ok).then(|| match &check.fix {
                Some(fix) => format!("{name}: {} (fix: {fix})", check.detail),
                None => format!("{name}: {}", check.detail),
            })
        }
        _ => panic!("require!: unknown capability `{name}`"),
    }
}

/// Why the test user has no cgroup v2 with pids, memory and cpu delegated to it (what
/// `--pids-limit`, `--memory`, `--cpus` need), if it has not. Not in CI's required list:
/// the CI machine (cgroup v1) cannot have it.
fn cgroup_delegation_missing() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let root = std::path::Path::new("/sys/fs/cgroup");
    if !root.join("cgroup.controllers").is_file() {
        return Some("/sys/fs/cgroup is not a cgroup v2 hierarchy (cgroup v1 here)".into());
    }
    let out = UserCommand::new(test_user(), "/bin/cat")
        .arg("/proc/self/cgroup")
        .run();
    let own = out.stdout.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = root.join(own.trim_start_matches('/'));
    let controllers = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    if let Some(c) = ["pids", "memory", "cpu"]
        .iter()
        .find(|c| !controllers.split_whitespace().any(|have| have == **c))
    {
        return Some(format!(
            "the {c} controller is not delegated to the test user's cgroup {}",
            dir.display()
        ));
    }
    let owner = std::fs::metadata(&dir).map(|m| m.uid()).ok();
    (owner != Some(test_user().uid)).then(|| {
        format!(
            "the test user's cgroup {} is not delegated to it (owner {owner:?})",
            dir.display()
        )
    })
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    super::user::CLEAN_PATH
        .split(':')
        .map(|d| std::path::Path::new(d).join(program))
        .find(|p| p.is_file())
}

/// Whether the comma-separated `list` (the value of `DEVBOX_TEST_REQUIRE`) names `name`.
pub fn is_required(list: &str, name: &str) -> bool {
    list.split(',').any(|n| n.trim() == name)
}

/// What a skip of `name` turns into under the `required` list: `Ok(line to print)` or
/// `Err(failure message)`.
pub fn skip_outcome(
    name: &str,
    reason: &str,
    required: &str,
    test: &str,
) -> Result<String, String> {
    if is_required(required, name) {
        Err(format!(
            "`{name}` is listed in {REQUIRE_ENV} but missing: {reason}"
        ))
    } else {
        Ok(format!("test {test} ... skipped: {reason}"))
    }
}

/// Reports a skip (or fails, if the capability is required). The line goes straight to the
/// process's stderr, past libtest's capture, so skips show up in every `cargo test` run.
#[track_caller]
pub fn skip(name: &str, reason: &str) {
    let required = std::env::var(REQUIRE_ENV).unwrap_or_default();
    let thread = std::thread::current();
    match skip_outcome(name, reason, &required, thread.name().unwrap_or("?")) {
        Ok(line) => {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
        Err(msg) => panic!("{msg}"),
    }
}
