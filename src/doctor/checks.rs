//! The checks. Each returns an Outcome; none prints.

use std::ffi::OsString;
use std::path::Path;

use serde::Serialize;

use crate::fs::driver::Driver;
use crate::paths::HostPaths;
use crate::runtime::idmap::{self, IdMapping};
use crate::runtime::userns;
use crate::sys;

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub name: &'static str,
    pub ok: bool,
    /// Needed for `devbox run` (others only degrade features).
    pub required: bool,
    pub detail: String,
    pub fix: Option<String>,
}

fn ok(name: &'static str, required: bool, detail: impl Into<String>) -> Outcome {
    Outcome {
        name,
        ok: true,
        required,
        detail: detail.into(),
        fix: None,
    }
}

fn missing(
    name: &'static str,
    required: bool,
    detail: impl Into<String>,
    fix: impl Into<String>,
) -> Outcome {
    Outcome {
        name,
        ok: false,
        required,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

/// The AppArmor profile that lets devbox create user namespaces on Ubuntu
/// 23.10+ (shipped in templates/apparmor/devbox).
pub const APPARMOR_PROFILE: &str = include_str!("../../templates/apparmor/devbox");

/// Runs every check, in the order a user would fix them. `driver` is the
/// store's recorded storage driver, if one was chosen.
pub fn run_all(host: &HostPaths, scratch: &Path, driver: Option<Driver>) -> Vec<Outcome> {
    let root = sys::ids::current_euid() == 0;
    let mut out = vec![apparmor(host), subuid(host, root)];
    let (newuidmap, mapping) = newuidmap(host, root);
    out.push(newuidmap);
    out.push(user_namespace(mapping.as_ref()));
    out.push(overlay(mapping.as_ref(), scratch));
    out.push(slirp4netns());
    out.push(networks(host));
    out.push(device(
        "fuse",
        "/dev/fuse",
        false,
        "FUSE overlay storage driver",
        "sudo apt-get install fuse3 && sudo chmod 0666 /dev/fuse",
    ));
    out.push(cgroup(host));
    out.push(storage(driver, &out));
    out
}

/// The store's storage driver, or the one the checks above would choose.
fn storage(recorded: Option<Driver>, checks: &[Outcome]) -> Outcome {
    let passed = |name: &str| checks.iter().any(|o| o.name == name && o.ok);
    let (driver, how) = match recorded {
        Some(d) => (d, "recorded for this store"),
        None if passed("overlay") => (Driver::Overlay, "will be chosen on first run"),
        None if passed("fuse") => (Driver::FuseOverlayfs, "will be chosen on first run"),
        None => (Driver::Vfs, "will be chosen on first run"),
    };
    let detail = format!("`{driver}` ({how})");
    match driver {
        Driver::Overlay => ok("storage", false, detail),
        Driver::FuseOverlayfs => missing(
            "storage",
            false,
            format!("{detail}: devbox's FUSE overlay, slower than the kernel's"),
            if passed("overlay") {
                "the kernel overlay works here: `--storage-driver overlay` uses it, and a new store (`--root`) records it"
            } else {
                "the kernel overlay needs Linux >= 5.11 in a user namespace; once it works, a new store (`--root`) picks it"
            },
        ),
        Driver::Vfs => missing(
            "storage",
            false,
            format!("{detail}: every container copies its image"),
            "make /dev/fuse usable (see `fuse`) or use a kernel with overlayfs in user namespaces",
        ),
    }
}

fn apparmor(host: &HostPaths) -> Outcome {
    let knob = host
        .proc
        .join("sys/kernel/apparmor_restrict_unprivileged_userns");
    match std::fs::read_to_string(&knob).map(|s| s.trim().to_string()) {
        Ok(v) if v == "1" => missing(
            "apparmor",
            true,
            "kernel.apparmor_restrict_unprivileged_userns=1 blocks user namespaces for unconfined programs",
            "install devbox's AppArmor profile once: `devbox doctor --apparmor-profile | sudo tee /etc/apparmor.d/devbox && sudo apparmor_parser -r /etc/apparmor.d/devbox`",
        ),
        Ok(_) => ok("apparmor", true, "user namespaces are not restricted by AppArmor"),
        Err(_) => ok("apparmor", true, "no AppArmor user-namespace restriction on this kernel"),
    }
}

fn subuid(host: &HostPaths, root: bool) -> Outcome {
    if root {
        return ok("subuid", true, "running as root: no subordinate ids needed");
    }
    let uid = sys::ids::current_euid();
    let name = sys::ids::user_name(uid);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let uids = idmap::parse_subid(&read(&host.etc_subuid), name.as_deref(), uid);
    let gids = idmap::parse_subid(&read(&host.etc_subgid), name.as_deref(), uid);
    let who = name.unwrap_or_else(|| uid.to_string());
    match (uids, gids) {
        (Some(u), Some(g)) => ok("subuid", true, format!("{who}: uids {}+{}, gids {}+{}", u.start, u.count, g.start, g.count)),
        _ => missing(
            "subuid",
            true,
            format!("no range for `{who}` in /etc/subuid and /etc/subgid (only your own uid can be mapped)"),
            format!("sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {who}"),
        ),
    }
}

fn newuidmap(host: &HostPaths, root: bool) -> (Outcome, Option<IdMapping>) {
    if root {
        return (
            ok("newuidmap", true, "running as root: not needed"),
            Some(IdMapping::Root),
        );
    }
    match userns::detect_mapping(host) {
        Ok((mapping, _)) => {
            let detail = match &mapping {
                IdMapping::Subordinate { newuidmap, .. } => newuidmap.display().to_string(),
                _ => idmap::find_in_path("newuidmap", std::env::var_os("PATH").as_deref()).map_or(
                    "not installed (and no subordinate range to use it with)".to_string(),
                    |p| p.display().to_string(),
                ),
            };
            (ok("newuidmap", true, detail), Some(mapping))
        }
        Err(e) => (
            missing(
                "newuidmap",
                true,
                e.to_string(),
                "sudo apt-get install uidmap",
            ),
            None,
        ),
    }
}

fn user_namespace(mapping: Option<&IdMapping>) -> Outcome {
    let Some(mapping) = mapping else {
        return missing(
            "userns",
            true,
            "cannot test without newuidmap",
            "sudo apt-get install uidmap",
        );
    };
    // An empty __rmtree run: clone(CLONE_NEWUSER), map ids, exec, exit.
    match userns::run_helper(mapping, &[OsString::from("__rmtree")]) {
        Ok(()) => ok("userns", true, "user namespaces work with the id mapping"),
        Err(e) => missing(
            "userns",
            true,
            e.to_string(),
            "enable unprivileged user namespaces: `sudo sysctl -w kernel.unprivileged_userns_clone=1` (Debian < 11) or `user.max_user_namespaces` > 0",
        ),
    }
}

fn overlay(mapping: Option<&IdMapping>, scratch: &Path) -> Outcome {
    let Some(mapping) = mapping else {
        return missing(
            "overlay",
            false,
            "cannot test without a user namespace",
            "see `userns`",
        );
    };
    let result = crate::runtime::rootfs::probe_kernel_overlay(mapping, scratch);
    match result {
        Ok(()) => ok("overlay", false, "the kernel overlay mounts inside a user namespace (storage driver `overlay`)"),
        Err(e) => missing("overlay", false, e, "a kernel >= 5.11 mounts overlayfs in a user namespace; otherwise devbox needs the FUSE driver"),
    }
}

fn slirp4netns() -> Outcome {
    match idmap::find_in_path("slirp4netns", std::env::var_os("PATH").as_deref()) {
        None => missing(
            "slirp4netns",
            true,
            "not installed: containers get no network by default",
            "sudo apt-get install slirp4netns (or run with `--network none`)",
        ),
        Some(path) => match access_rw("/dev/net/tun") {
            Ok(()) => ok(
                "slirp4netns",
                true,
                format!("{} with /dev/net/tun", path.display()),
            ),
            Err(e) => missing(
                "slirp4netns",
                true,
                format!("/dev/net/tun: {e}"),
                "sudo chmod 0666 /dev/net/tun (the default on desktop distributions)",
            ),
        },
    }
}

/// User-defined networks: their holders run `ip` (iproute2) and `nsenter` (util-linux); show
/// the host's routes new subnets must avoid.
fn networks(host: &HostPaths) -> Outcome {
    use crate::net::holder::find_tool;
    let routes = std::fs::read_to_string(host.proc.join("net/route")).unwrap_or_default();
    let routes: Vec<String> = crate::net::subnet::host_routes(&routes)
        .into_iter()
        .map(|(iface, subnet)| format!("{subnet} on {iface}"))
        .collect();
    match (find_tool("ip"), find_tool("nsenter")) {
        (Ok(ip), Ok(nsenter)) => ok(
            "networks",
            false,
            format!(
                "user-defined networks: {} and {}; new subnets avoid 10.0.2.0/24 (slirp4netns) and the host's routes ({})",
                ip.display(),
                nsenter.display(),
                if routes.is_empty() { "none".to_string() } else { routes.join(", ") }
            ),
        ),
        (Err(e), _) | (_, Err(e)) => missing(
            "networks",
            false,
            e.to_string(),
            "sudo apt-get install iproute2 util-linux",
        ),
    }
}

fn device(name: &'static str, path: &str, required: bool, what: &str, fix: &str) -> Outcome {
    match access_rw(path) {
        Ok(()) => ok(name, required, format!("{path} is usable ({what})")),
        Err(e) => missing(name, required, format!("{path}: {e} ({what})"), fix),
    }
}

fn access_rw(path: &str) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn cgroup(host: &HostPaths) -> Outcome {
    let controllers = host.sys_fs_cgroup.join("cgroup.controllers");
    if !controllers.exists() {
        return missing(
            "cgroup",
            false,
            "no cgroup v2 unified hierarchy: --memory, --cpus and --pids-limit are unavailable",
            "boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2) and a systemd user session that delegates controllers",
        );
    }
    ok(
        "cgroup",
        false,
        "cgroup v2 present (delegation is checked when limits are used)",
    )
}
