//! `--pids-limit`, `--memory` and `--cpus` through a cgroup v2 hierarchy
//! delegated to the user (systemd's `Delegate=yes`), the way crun's and
//! runc's cgroupfs managers do it without systemd: a child cgroup of the
//! user's own cgroup (from /proc/self/cgroup), the limits written into it,
//! the container's init moved in before it execs the command, the cgroup
//! removed when the container ends.
//!
//! cgroup v2's "no internal processes" rule: controllers can be enabled
//! for the children of a cgroup only while it holds no process itself. A
//! delegated scope holds devbox, so devbox first moves itself into a leaf
//! (`devbox`) beside the containers' cgroups, as Docker-in-Docker does.
//!
//! Where this cannot work (cgroup v1, a controller not delegated, a cgroup
//! that is not the user's), [`find`] says why, and `run` refuses the flags
//! with that reason rather than running without the limits.

use std::path::{Path, PathBuf};

use crate::spec::security::Limits;
use crate::sys;

/// cpu.max's period, Docker's default CFS period (100 ms).
const CPU_PERIOD: u64 = 100_000;

/// The leaf devbox moves itself into so its cgroup may have controllers
/// enabled for children.
const SUPERVISOR_LEAF: &str = "devbox";

/// The cgroup files and values for `limits`: pids.max, memory.max, cpu.max
/// (`--memory 512m` -> `536870912`, `--cpus 1.5` -> `150000 100000`). A
/// pids limit of 0 or less is Docker's "unlimited": no file.
pub fn limit_files(limits: &Limits) -> Vec<(&'static str, String)> {
    let mut files = Vec::new();
    if let Some(pids) = limits.pids.filter(|p| *p > 0) {
        files.push(("pids.max", pids.to_string()));
    }
    if let Some(bytes) = limits.memory {
        files.push(("memory.max", bytes.to_string()));
    }
    if let Some(nano) = limits.nano_cpus {
        // At least 1 ms a period, the kernel's minimum quota.
        let quota = (u128::from(nano) * u128::from(CPU_PERIOD) / 1_000_000_000).max(1000);
        files.push(("cpu.max", format!("{quota} {CPU_PERIOD}")));
    }
    files
}

/// The controllers `limits` need, in the order cgroup.subtree_control takes them.
pub fn controllers(limits: &Limits) -> Vec<&'static str> {
    limit_files(limits)
        .iter()
        .map(|(file, _)| file.split('.').next().unwrap_or(file))
        .collect()
}

/// The process's cgroup v2 path (`0::/user.slice/...` in /proc/self/cgroup).
pub fn own_path(self_cgroup: &str) -> Option<&str> {
    self_cgroup.lines().find_map(|l| l.strip_prefix("0::"))
}

/// The user's delegated cgroup, under which containers' cgroups are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegated {
    pub dir: PathBuf,
}

/// Finds the delegated cgroup for `limits` under `root` (/sys/fs/cgroup),
/// or says why there is none: no cgroup v2 there, a controller that is not
/// delegated, a cgroup that is not this user's.
pub fn find(root: &Path, self_cgroup: &str, limits: &Limits) -> Result<Delegated, String> {
    if !root.join("cgroup.controllers").is_file() {
        return Err(format!(
            "{} is not a cgroup v2 hierarchy (this machine uses cgroup v1, whose controllers cannot be delegated to an unprivileged user)",
            root.display()
        ));
    }
    let own = own_path(self_cgroup).unwrap_or("/");
    let mut dir = root.join(own.trim_start_matches('/'));
    // A devbox already moved into its leaf works from the leaf's parent.
    if dir.file_name().is_some_and(|n| n == SUPERVISOR_LEAF) {
        if let Some(parent) = dir.parent() {
            dir = parent.to_path_buf();
        }
    }
    let available = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    for controller in controllers(limits) {
        if !available.split_whitespace().any(|c| c == controller) {
            return Err(format!(
                "the {controller} controller is not delegated to your cgroup {}",
                dir.display()
            ));
        }
    }
    let owned = |path: &Path| {
        std::fs::metadata(path)
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == sys::ids::current_uid())
            .unwrap_or(false)
    };
    if !owned(&dir) || !owned(&dir.join("cgroup.procs")) {
        return Err(format!(
            "your cgroup {} is not yours to write",
            dir.display()
        ));
    }
    Ok(Delegated { dir })
}

/// A container's cgroup; removed when dropped (the container has ended).
#[derive(Debug)]
pub struct Cgroup {
    pub dir: PathBuf,
}

impl Delegated {
    /// Makes `devbox-<name>` with `limits` in force (enabling the
    /// controllers for children first, moving devbox into its leaf if its
    /// cgroup holds it).
    pub fn create(&self, name: &str, limits: &Limits) -> Result<Cgroup, String> {
        self.enable(&controllers(limits))?;
        let dir = self.dir.join(format!("devbox-{name}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            // Left by a container that ended without cleaning up (SIGKILL).
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot create cgroup {}: {e}", dir.display())),
        }
        let cgroup = Cgroup { dir };
        for (file, value) in limit_files(limits) {
            let path = cgroup.dir.join(file);
            std::fs::write(&path, &value)
                .map_err(|e| format!("cannot write {value} to {}: {e}", path.display()))?;
        }
        Ok(cgroup)
    }

    /// `+controller` in cgroup.subtree_control for each one not yet there.
    fn enable(&self, wanted: &[&str]) -> Result<(), String> {
        let control = self.dir.join("cgroup.subtree_control");
        let enabled = std::fs::read_to_string(&control).unwrap_or_default();
        let missing: Vec<String> = wanted
            .iter()
            .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
            .map(|c| format!("+{c}"))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let line = missing.join(" ");
        match std::fs::write(&control, &line) {
            Ok(()) => Ok(()),
            // EBUSY: processes in the cgroup itself. Move devbox out of
            // the way, then try again; other processes there are the user's.
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                self.move_self_to_leaf()?;
                std::fs::write(&control, &line).map_err(|e| {
                    format!(
                        "cannot enable {line} in {}: {e} (other processes live in that cgroup; run devbox in a scope of its own: `systemd-run --user --scope -p Delegate=yes devbox ...`)",
                        control.display()
                    )
                })
            }
            Err(e) => Err(format!(
                "cannot enable {line} in {}: {e}",
                control.display()
            )),
        }
    }

    fn move_self_to_leaf(&self) -> Result<(), String> {
        let leaf = self.dir.join(SUPERVISOR_LEAF);
        if let Err(e) = std::fs::create_dir(&leaf) {
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(format!("cannot create cgroup {}: {e}", leaf.display()));
            }
        }
        add_process(&leaf, std::process::id() as i32)
    }
}

/// Moves process `pid` (all its threads) into the cgroup at `dir`.
pub fn add_process(dir: &Path, pid: i32) -> Result<(), String> {
    let procs = dir.join("cgroup.procs");
    std::fs::write(&procs, pid.to_string())
        .map_err(|e| format!("cannot move process {pid} into {}: {e}", dir.display()))
}

impl Cgroup {
    /// Moves the container's init into this cgroup (before it execs).
    pub fn add(&self, pid: i32) -> Result<(), String> {
        add_process(&self.dir, pid)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // The last processes may take a moment to leave after being reaped.
        for _ in 0..50 {
            match std::fs::remove_dir(&self.dir) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                _ => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(pids: Option<i64>, memory: Option<u64>, nano_cpus: Option<u64>) -> Limits {
        Limits {
            pids,
            memory,
            nano_cpus,
        }
    }

    #[test]
    fn files_and_values_like_docker() {
        let l = limits(Some(100), Some(512 << 20), Some(1_500_000_000));
        assert_eq!(
            limit_files(&l),
            vec![
                ("pids.max", "100".to_string()),
                ("memory.max", "536870912".to_string()),
                ("cpu.max", "150000 100000".to_string()),
            ]
        );
        assert_eq!(controllers(&l), vec!["pids", "memory", "cpu"]);
        assert!(limit_files(&limits(Some(-1), None, None)).is_empty());
        assert!(limit_files(&limits(Some(0), None, None)).is_empty());
        assert_eq!(
            limit_files(&limits(None, None, Some(250_000_000))),
            vec![("cpu.max", "25000 100000".to_string())]
        );
        // Tiny shares get the kernel's minimum quota.
        assert_eq!(
            limit_files(&limits(None, None, Some(1))),
            vec![("cpu.max", "1000 100000".to_string())]
        );
    }

    #[test]
    fn own_cgroup_from_proc_self_cgroup() {
        assert_eq!(
            own_path("0::/user.slice/a.scope\n"),
            Some("/user.slice/a.scope")
        );
        assert_eq!(own_path("4:memory:/x\n1:name=systemd:/\n0::/\n"), Some("/"));
        assert_eq!(own_path("4:memory:/x\n"), None);
    }

    #[test]
    fn reasons_name_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let memory = limits(None, Some(1 << 30), None);
        let reason = find(dir.path(), "0::/\n", &memory).unwrap_err();
        assert!(reason.contains("not a cgroup v2 hierarchy"), "{reason}");
        std::fs::write(dir.path().join("cgroup.controllers"), "cpu memory pids").unwrap();
        let user = dir.path().join("user.slice");
        std::fs::create_dir(&user).unwrap();
        std::fs::write(user.join("cgroup.controllers"), "cpu pids").unwrap();
        let reason = find(dir.path(), "0::/user.slice\n", &memory).unwrap_err();
        assert!(
            reason.contains("memory controller is not delegated"),
            "{reason}"
        );
    }

    /// On a stand-in hierarchy of plain files: the child is made, the limits
    /// and the pid written, the controllers enabled, and the child removed
    /// on drop.
    #[test]
    fn creates_fills_and_removes_a_child_cgroup() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("cgroup.controllers"), "cpu memory pids").unwrap();
        let scope = root.path().join("user.slice/me.scope");
        std::fs::create_dir_all(&scope).unwrap();
        std::fs::write(scope.join("cgroup.controllers"), "cpu io memory pids").unwrap();
        std::fs::write(scope.join("cgroup.subtree_control"), "").unwrap();
        std::fs::write(scope.join("cgroup.procs"), "").unwrap();
        let l = limits(Some(64), Some(512 << 20), Some(1_500_000_000));
        let delegated = find(root.path(), "0::/user.slice/me.scope/devbox\n", &l).unwrap();
        assert_eq!(delegated.dir, scope);
        let cgroup = delegated.create("abc123", &l).unwrap();
        assert_eq!(cgroup.dir, scope.join("devbox-abc123"));
        let read = |f: &str| std::fs::read_to_string(cgroup.dir.join(f)).unwrap();
        assert_eq!(read("pids.max"), "64");
        assert_eq!(read("memory.max"), "536870912");
        assert_eq!(read("cpu.max"), "150000 100000");
        assert_eq!(
            std::fs::read_to_string(scope.join("cgroup.subtree_control")).unwrap(),
            "+pids +memory +cpu"
        );
        cgroup.add(4242).unwrap();
        assert_eq!(read("cgroup.procs"), "4242");
        // A real cgroup directory holds only kernel files; here, plain ones.
        for f in ["pids.max", "memory.max", "cpu.max", "cgroup.procs"] {
            std::fs::remove_file(cgroup.dir.join(f)).unwrap();
        }
        let dir = cgroup.dir.clone();
        drop(cgroup);
        assert!(!dir.exists());
    }
}
