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
    ///
    /// With `keep_id` (`--userns=keep-id`) the user's own ids and container id 0 trade
    /// places: the user is `uid`:`gid` inside too, container root is the subordinate id
    /// that container `uid` has in the default map, and every other id maps as by default.
    /// Only the owners 0 and `uid` of image files then need shifting
    /// ([`IdMapping::keep_id_swap`]).
    Subordinate {
        uid: u32,
        gid: u32,
        uids: (u32, u32),
        gids: (u32, u32),
        newuidmap: PathBuf,
        newgidmap: PathBuf,
        #[serde(default)]
        keep_id: bool,
    },
    /// Only the user, mapped to root; files of other owners cannot exist.
    Single { uid: u32, gid: u32 },
}

impl IdMapping {
    /// The arguments of `newuidmap PID ...` (after the pid).
    pub fn uid_args(&self) -> Vec<String> {
        match self {
            IdMapping::Subordinate {
                uid, uids, keep_id, ..
            } => map_args(*uid, *uids, *keep_id),
            _ => Vec::new(),
        }
    }

    pub fn gid_args(&self) -> Vec<String> {
        match self {
            IdMapping::Subordinate {
                gid, gids, keep_id, ..
            } => map_args(*gid, *gids, *keep_id),
            _ => Vec::new(),
        }
    }

    /// The `--userns=keep-id` variant of this (default) mapping. It needs a subordinate
    /// range that covers the user's own ids (container ids `uid` and `gid` exist in the
    /// default map), as Podman's keep-id does.
    pub fn keep_id(&self) -> Result<IdMapping, KeepIdError> {
        match self {
            IdMapping::Root => Err(KeepIdError::Root),
            IdMapping::Single { .. } => Err(KeepIdError::NoSubordinateIds),
            IdMapping::Subordinate {
                uid,
                gid,
                uids,
                gids,
                ..
            } => {
                if *uid > uids.1 || *gid > gids.1 {
                    return Err(KeepIdError::RangeTooSmall {
                        uid: *uid,
                        gid: *gid,
                        count: uids.1.min(gids.1),
                    });
                }
                let mut keep = self.clone();
                if let IdMapping::Subordinate { keep_id, .. } = &mut keep {
                    *keep_id = true;
                }
                Ok(keep)
            }
        }
    }

    /// With keep-id: the user's uid and gid, the two ids (besides 0) whose owners trade
    /// places between the default map and the keep-id map.
    pub fn keep_id_swap(&self) -> Option<(u32, u32)> {
        match self {
            IdMapping::Subordinate {
                uid,
                gid,
                keep_id: true,
                ..
            } => Some((*uid, *gid)),
            _ => None,
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
            IdMapping::Subordinate {
                uid, uids, keep_id, ..
            } => {
                let default = |n: u32| match n {
                    0 => Some(*uid),
                    n if n <= uids.1 => Some(uids.0 + n - 1),
                    _ => None,
                };
                match inside {
                    n if *keep_id && n == *uid => Some(*uid),
                    0 if *keep_id => default(*uid),
                    n => default(n),
                }
            }
            IdMapping::Single { uid, .. } => (inside == 0).then_some(*uid),
        }
    }
}

/// `newuidmap` triplets (inside, outside, count). By default: 0 → the user, 1.. → the
/// range. Keep-id: 0 → the range's id for `own`, 1..own-1 → the range as by default,
/// `own` → the user, and the rest of the range as by default.
fn map_args(own: u32, (start, count): (u32, u32), keep_id: bool) -> Vec<String> {
    let triplets: Vec<(u32, u32, u32)> = if keep_id {
        vec![
            (0, start + own - 1, 1),
            (1, start, own - 1),
            (own, own, 1),
            (own + 1, start + own, count - own),
        ]
    } else {
        vec![(0, own, 1), (1, start, count)]
    };
    triplets
        .into_iter()
        .filter(|&(_, _, n)| n > 0)
        .flat_map(|(inside, outside, n)| [inside, outside, n].map(|v| v.to_string()))
        .collect()
}

/// `--userns`: whose ids the container's user namespace maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsernsMode {
    /// Empty: rootless, the user is root inside and the subordinate range the other ids
    /// (Podman's rootless default); as root, no user namespace.
    Default,
    /// `host`: no user namespace of its own (only as root).
    Host,
    /// `keep-id`: the user keeps their uid and gid inside.
    KeepId,
}

impl UsernsMode {
    pub fn parse(text: &str) -> Result<UsernsMode, String> {
        match text {
            "" => Ok(UsernsMode::Default),
            "host" => Ok(UsernsMode::Host),
            "keep-id" => Ok(UsernsMode::KeepId),
            other => Err(format!(
                "invalid --userns `{other}`: expected `keep-id`, `host` or empty"
            )),
        }
    }
}

/// Why `--userns=keep-id` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeepIdError {
    #[error("--userns=keep-id is only supported rootless: as root, ids are the host's already")]
    Root,
    #[error("--userns=keep-id needs a subordinate id range in /etc/subuid and /etc/subgid (`devbox doctor` explains the fix)")]
    NoSubordinateIds,
    #[error("--userns=keep-id needs a subordinate range of at least {uid} uids and {gid} gids to keep your ids; yours has {count}")]
    RangeTooSmall { uid: u32, gid: u32, count: u32 },
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
            keep_id: false,
        };
        assert_eq!(m.uid_args(), vec!["0", "1000", "1", "1", "100000", "65536"]);
        assert_eq!(m.host_uid(0), Some(1000));
        assert_eq!(m.host_uid(1), Some(100000));
        assert_eq!(m.host_uid(1000), Some(100999));
        assert_eq!(m.host_uid(65537), None);
        assert!(!IdMapping::Single { uid: 1, gid: 1 }.can_setgroups());
        assert_eq!(m.keep_id_swap(), None);
    }

    #[test]
    fn keep_id_swaps_the_user_and_root_only() {
        let m = IdMapping::Subordinate {
            uid: 1000,
            gid: 1001,
            uids: (100000, 65536),
            gids: (200000, 65536),
            newuidmap: "/usr/bin/newuidmap".into(),
            newgidmap: "/usr/bin/newgidmap".into(),
            keep_id: false,
        };
        let k = m.keep_id().unwrap();
        assert_eq!(
            k.uid_args(),
            vec![
                "0", "100999", "1", "1", "100000", "999", "1000", "1000", "1", "1001", "101000",
                "64536"
            ]
        );
        assert_eq!(k.gid_args()[..3], ["0", "201000", "1"]);
        assert_eq!(k.keep_id_swap(), Some((1000, 1001)));
        // The user keeps their id; root and the user trade places; the rest is unchanged.
        assert_eq!(k.host_uid(1000), Some(1000));
        assert_eq!(k.host_uid(0), m.host_uid(1000));
        for n in [1, 999, 1001, 65536] {
            assert_eq!(k.host_uid(n), m.host_uid(n));
        }
        assert_eq!(k.host_uid(65537), None);
        // Every id of the range is used exactly once.
        let total: u32 = k
            .uid_args()
            .chunks(3)
            .map(|t| t[2].parse::<u32>().unwrap())
            .sum();
        assert_eq!(total, 65537);
    }

    #[test]
    fn userns_modes() {
        assert_eq!(UsernsMode::parse(""), Ok(UsernsMode::Default));
        assert_eq!(UsernsMode::parse("keep-id"), Ok(UsernsMode::KeepId));
        assert_eq!(UsernsMode::parse("host"), Ok(UsernsMode::Host));
        assert!(UsernsMode::parse("auto").unwrap_err().contains("keep-id"));
    }

    #[test]
    fn keep_id_needs_a_range_that_covers_the_user() {
        let small = IdMapping::Subordinate {
            uid: 70000,
            gid: 70000,
            uids: (100000, 65536),
            gids: (100000, 65536),
            newuidmap: "/x".into(),
            newgidmap: "/x".into(),
            keep_id: false,
        };
        assert!(matches!(
            small.keep_id(),
            Err(KeepIdError::RangeTooSmall { .. })
        ));
        assert_eq!(IdMapping::Root.keep_id(), Err(KeepIdError::Root));
        assert_eq!(
            IdMapping::Single { uid: 1, gid: 1 }.keep_id(),
            Err(KeepIdError::NoSubordinateIds)
        );
    }
}
