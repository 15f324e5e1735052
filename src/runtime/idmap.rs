//! The user namespace's uid/gid mapping: /etc/subuid parsing (pure) and the
//! newuidmap/newgidmap invocation.

use std::path::{Path, PathBuf};

/// One line of /etc/subuid or /etc/subgid that applies to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubRange {
    pub start: u32,
    pub count: u32,
}

/// Finds the first range for `user` (by name or numeric id) in the text of
/// /etc/subuid or /etc/subgid.
pub fn parse_subid(text: &str, name: Option<&str>, id: u32) -> Option<SubRange> {
    text.lines().find_map(|line| {
        let mut f = line.trim().split(':');
        let owner = f.next()?;
        let start = f.next()?.trim().parse().ok()?;
        let count = f.next()?.trim().parse().ok()?;
        let mine = Some(owner) == name || owner.parse::<u32>().ok() == Some(id);
        (mine && count > 0).then_some(SubRange { start, count })
    })
}

/// How the container's ids map to the host's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum IdMapping {
    /// Running as root: no user namespace.
    Root,
    /// 0 → the user, 1..=count → the subordinate range (stable across runs).
    Subordinate {
        uid: u32,
        gid: u32,
        uids: (u32, u32),
        gids: (u32, u32),
        newuidmap: PathBuf,
        newgidmap: PathBuf,
    },
    /// Only the user, mapped to root; files of other owners cannot exist.
    Single { uid: u32, gid: u32 },
}

impl IdMapping {
    /// The arguments of `newuidmap PID ...` (after the pid).
    pub fn uid_args(&self) -> Vec<String> {
        match self {
            IdMapping::Subordinate { uid, uids, .. } => map_args(*uid, *uids),
            _ => Vec::new(),
        }
    }

    pub fn gid_args(&self) -> Vec<String> {
        match self {
            IdMapping::Subordinate { gid, gids, .. } => map_args(*gid, *gids),
            _ => Vec::new(),
        }
    }

    /// Whether setgroups(2) is allowed in the namespace (not with a
    /// single-id map, where the kernel requires setgroups to be denied).
    pub fn can_setgroups(&self) -> bool {
        !matches!(self, IdMapping::Single { .. })
    }

    /// The host uid that container uid `inside` appears as.
    pub fn host_uid(&self, inside: u32) -> Option<u32> {
        match self {
            IdMapping::Root => Some(inside),
            IdMapping::Subordinate { uid, uids, .. } => match inside {
                0 => Some(*uid),
                n if n <= uids.1 => Some(uids.0 + n - 1),
                _ => None,
            },
            IdMapping::Single { uid, .. } => (inside == 0).then_some(*uid),
        }
    }
}

fn map_args(own: u32, (start, count): (u32, u32)) -> Vec<String> {
    vec![
        "0".into(),
        own.to_string(),
        "1".into(),
        "1".into(),
        start.to_string(),
        count.to_string(),
    ]
}

/// Looks a program up in PATH (so tests can hide newuidmap).
pub fn find_in_path(program: &str, path_var: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let path_var = path_var?;
    std::env::split_paths(path_var)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBUID: &str = "alice:100000:65536\nbob:165536:65536\n1002:231072:1000\n";

    #[test]
    fn finds_ranges_by_name_or_id() {
        assert_eq!(
            parse_subid(SUBUID, Some("bob"), 1001),
            Some(SubRange {
                start: 165536,
                count: 65536
            })
        );
        assert_eq!(
            parse_subid(SUBUID, Some("carol"), 1002),
            Some(SubRange {
                start: 231072,
                count: 1000
            })
        );
        assert_eq!(parse_subid(SUBUID, Some("dave"), 1003), None);
        assert_eq!(parse_subid("x:1:0\n", Some("x"), 5), None);
    }

    #[test]
    fn mapping_arguments_and_host_ids() {
        let m = IdMapping::Subordinate {
            uid: 1000,
            gid: 1000,
            uids: (100000, 65536),
            gids: (100000, 65536),
            newuidmap: "/usr/bin/newuidmap".into(),
            newgidmap: "/usr/bin/newgidmap".into(),
        };
        assert_eq!(m.uid_args(), vec!["0", "1000", "1", "1", "100000", "65536"]);
        assert_eq!(m.host_uid(0), Some(1000));
        assert_eq!(m.host_uid(1), Some(100000));
        assert_eq!(m.host_uid(1000), Some(100999));
        assert_eq!(m.host_uid(65537), None);
        assert!(!IdMapping::Single { uid: 1, gid: 1 }.can_setgroups());
    }
}
