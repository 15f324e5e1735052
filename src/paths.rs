//! Where things live: the store, runtime state, config, and the host paths
//! devbox reads (all injectable, STYLE rule 9).

use std::path::{Path, PathBuf};

use sha2::Digest as _;

/// Host files and directories devbox reads; parameters so tests can point
/// them at a temporary directory.
#[derive(Debug, Clone)]
pub struct HostPaths {
    pub proc: PathBuf,
    pub etc_subuid: PathBuf,
    pub etc_subgid: PathBuf,
    pub etc_resolv_conf: PathBuf,
    pub sys_fs_cgroup: PathBuf,
}

impl Default for HostPaths {
    fn default() -> Self {
        HostPaths {
            proc: "/proc".into(),
            etc_subuid: "/etc/subuid".into(),
            etc_subgid: "/etc/subgid".into(),
            etc_resolv_conf: "/etc/resolv.conf".into(),
            sys_fs_cgroup: "/sys/fs/cgroup".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Paths {
    /// The store: images, layers, containers (`$XDG_DATA_HOME/devbox`).
    pub root: PathBuf,
    /// Runtime state of live containers (`$XDG_RUNTIME_DIR/devbox/<root hash>`).
    pub run_root: PathBuf,
    /// `~/.config/devbox/config.toml`.
    pub config_file: PathBuf,
    pub host: HostPaths,
}

impl Paths {
    /// Resolves the paths from the global flags and the XDG environment.
    pub fn resolve(root: Option<PathBuf>, run_root: Option<PathBuf>, uid: u32) -> Paths {
        let root = root.unwrap_or_else(|| {
            dirs::data_dir()
                .unwrap_or_else(|| PathBuf::from("/tmp").join(format!("devbox-{uid}")))
                .join("devbox")
        });
        let root = absolute(&root);
        let run_root = run_root
            .map(|p| absolute(&p))
            .unwrap_or_else(|| default_run_root(&root, uid));
        let config_file = dirs::config_dir()
            .unwrap_or_else(|| PathBuf::from("/nonexistent"))
            .join("devbox/config.toml");
        Paths {
            root,
            run_root,
            config_file,
            host: HostPaths::default(),
        }
    }
}

/// Runtime state is keyed by the store's path so two stores never share it.
pub fn default_run_root(root: &Path, uid: u32) -> PathBuf {
    let base = std::env::var_os(crate::env_vars::XDG_RUNTIME_DIR)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/devbox-run-{uid}")));
    run_root_under(&base, root)
}

/// The run root of the store at `root` in the runtime directory `base` (`$XDG_RUNTIME_DIR`).
pub fn run_root_under(base: &Path, root: &Path) -> PathBuf {
    let hash = sha2::Sha256::digest(root.as_os_str().as_encoded_bytes());
    base.join("devbox").join(&hex::encode(hash)[..12])
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_roots_never_share_runtime_state() {
        let a = default_run_root(Path::new("/a"), 1000);
        let b = default_run_root(Path::new("/b"), 1000);
        assert_ne!(a, b);
        assert_eq!(a, default_run_root(Path::new("/a"), 1000));
    }
}
