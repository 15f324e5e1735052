//! `devbox image bootstrap`: a Debian or Ubuntu base image made by
//! mmdebstrap from a mirror, for people (and tests) without Docker Hub.
//! The command line is planned here (pure); the command runs it and
//! imports the tar through `devbox import`'s path.

use std::ffi::OsString;
use std::path::Path;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapRequest {
    pub suite: String,
    pub mirror: Option<String>,
    /// Package names, already split.
    pub include: Vec<String>,
    pub variant: String,
    pub arch: Option<String>,
}

/// Splits `--include` values the way mmdebstrap does (commas or spaces).
pub fn split_packages(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split([',', ' ']))
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// mmdebstrap's arguments (pure). As a user, `--mode=unshare` builds the
/// tree in a user namespace of the user's subordinate ids, so file owners
/// in the tar are right without root; as root, `--mode=root`.
pub fn mmdebstrap_args(request: &BootstrapRequest, as_root: bool, output: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        format!("--mode={}", if as_root { "root" } else { "unshare" }).into(),
        format!("--variant={}", request.variant).into(),
        "--format=tar".into(),
    ];
    if let Some(arch) = &request.arch {
        args.push(format!("--architectures={arch}").into());
    }
    if !request.include.is_empty() {
        args.push(format!("--include={}", request.include.join(",")).into());
    }
    args.push(request.suite.clone().into());
    args.push(output.as_os_str().to_os_string());
    if let Some(mirror) = &request.mirror {
        args.push(mirror.clone().into());
    }
    args
}

/// The image config changes every bootstrapped image gets (Debian's own
/// images run `bash`).
pub const CHANGES: &[&str] = &[r#"CMD ["bash"]"#];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootless_minbase_with_packages_and_mirror() {
        let request = BootstrapRequest {
            suite: "bookworm".into(),
            mirror: Some("http://deb.debian.org/debian".into()),
            include: split_packages(&["python3,python3-venv".into(), "curl".into()]),
            variant: "minbase".into(),
            arch: None,
        };
        let args = mmdebstrap_args(&request, false, Path::new("/s/tmp/rootfs.tar"));
        assert_eq!(
            args,
            [
                "--mode=unshare",
                "--variant=minbase",
                "--format=tar",
                "--include=python3,python3-venv,curl",
                "bookworm",
                "/s/tmp/rootfs.tar",
                "http://deb.debian.org/debian",
            ]
            .map(OsString::from)
        );
    }

    #[test]
    fn root_mode_and_architecture() {
        let request = BootstrapRequest {
            suite: "noble".into(),
            mirror: None,
            include: vec![],
            variant: "apt".into(),
            arch: Some("arm64".into()),
        };
        let args = mmdebstrap_args(&request, true, Path::new("out.tar"));
        assert_eq!(args[0], "--mode=root");
        assert!(args.contains(&OsString::from("--architectures=arm64")));
        assert_eq!(args.last().unwrap(), "out.tar");
    }
}
