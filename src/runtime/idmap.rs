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

    /// The uid map's extents, in host ids (none as root or with a single id).
    pub fn uid_extents(&self) -> Vec<Extent> {
        match self {
            IdMapping::Subordinate {
                uid, uids, keep_id, ..
            } => extents(*uid, *uids, *keep_id),
            IdMapping::Single { uid, .. } => vec![(0, *uid, 1)],
            IdMapping::Root => Vec::new(),
        }
    }

    pub fn gid_extents(&self) -> Vec<Extent> {
        match self {
            IdMapping::Subordinate {
                gid, gids, keep_id, ..
            } => extents(*gid, *gids, *keep_id),
            IdMapping::Single { gid, .. } => vec![(0, *gid, 1)],
            IdMapping::Root => Vec::new(),
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

/// One line of a uid_map or gid_map: `count` ids from `inside` map to `count` ids from
/// `outside` (the parent namespace's ids).
pub type Extent = (u32, u32, u32);

/// `newuidmap` arguments: the triplets flattened.
fn map_args(own: u32, range: (u32, u32), keep_id: bool) -> Vec<String> {
    extents(own, range, keep_id)
        .into_iter()
        .flat_map(|(inside, outside, n)| [inside, outside, n].map(|v| v.to_string()))
        .collect()
}

/// The map's extents (inside, outside, count). By default: 0 → the user, 1.. → the
/// range. Keep-id: 0 → the range's id for `own`, 1..own-1 → the range as by default,
/// `own` → the user, and the rest of the range as by default.
fn extents(own: u32, (start, count): (u32, u32), keep_id: bool) -> Vec<Extent> {
    let triplets: Vec<Extent> = if keep_id {
        vec![
            (0, start + own - 1, 1),
            (1, start, own - 1),
            (own, own, 1),
            (own + 1, start + own, count - own),
        ]
    } else {
        vec![(0, own, 1), (1, start, count)]
    };
    triplets.into_iter().filter(|&(_, _, n)| n > 0).collect()
}

/// Parses the text of /proc/PID/uid_map (or gid_map): one extent a line.
pub fn parse_map(text: &str) -> Vec<Extent> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace().map(|w| w.parse::<u32>().ok());
            Some((f.next()??, f.next()??, f.next()??))
        })
        .collect()
}

/// The map of a user namespace nested in `parent` that gives the same host ids as
/// `wanted` (both in host ids): `parent⁻¹ ∘ wanted`, each of `wanted`'s extents split where
/// it crosses `parent`'s. `None` when `parent` lacks one of the host ids `wanted` maps.
///
/// A keep-id container on a user network runs in a namespace nested in the networks'
/// shared one (the default map): its map, written from the shared namespace, is in that
/// namespace's ids.
pub fn nested_map(parent: &[Extent], wanted: &[Extent]) -> Option<Vec<Extent>> {
    let mut out = Vec::new();
    for &(inside, host, count) in wanted {
        let (mut done, end) = (0u64, u64::from(count));
        while done < end {
            let id = u64::from(host) + done;
            let &(p_inside, p_host, p_count) = parent
                .iter()
                .find(|&&(_, h, n)| (u64::from(h)..u64::from(h) + u64::from(n)).contains(&id))?;
            let offset = id - u64::from(p_host);
            let n = (u64::from(p_count) - offset).min(end - done);
            out.push((
                (u64::from(inside) + done) as u32,
                (u64::from(p_inside) + offset) as u32,
                n as u32,
            ));
            done += n;
        }
    }
    Some(out)
}

/// Extents as the text a uid_map or gid_map file takes in one write.
pub fn map_text(extents: &[Extent]) -> String {
    extents
        .iter()
        .map(|(i, o, n)| format!("{i} {o} {n}\n"))
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
    fn a_nested_keep_id_map_swaps_root_and_the_user_in_the_shared_namespace() {
        let m = IdMapping::Subordinate {
            uid: 1000,
            gid: 1001,
            uids: (100000, 65536),
            gids: (200000, 65536),
            newuidmap: "/x".into(),
            newgidmap: "/x".into(),
            keep_id: false,
        };
        let k = m.keep_id().unwrap();
        // The shared namespace as /proc/PID/uid_map shows it.
        let shared =
            parse_map("         0       1000          1\n         1     100000      65536\n");
        assert_eq!(shared, m.uid_extents());
        let nested = nested_map(&shared, &k.uid_extents()).unwrap();
        // In the shared namespace's ids: root and 1000 trade places, the rest is the same.
        assert_eq!(
            nested,
            [(0, 1000, 1), (1, 1, 999), (1000, 0, 1), (1001, 1001, 64536)]
        );
        // Composed with the shared map, every id lands where the host-level keep-id map
        // puts it.
        for inside in [0, 1, 500, 999, 1000, 1001, 65536] {
            let (i, o, _) = nested
                .iter()
                .copied()
                .find(|&(i, _, n)| (i..i + n).contains(&inside))
                .unwrap();
            let in_shared = o + (inside - i);
            let host = m.host_uid(in_shared);
            assert_eq!(host, k.host_uid(inside), "id {inside}");
        }
        assert_eq!(
            map_text(&nested[..2]),
            "0 1000 1\n1 1 999\n",
            "one write, one extent a line"
        );
        // An extent that crosses two of the parent's is split; a host id the parent lacks
        // makes no map.
        assert_eq!(
            nested_map(&[(0, 10, 5), (5, 50, 5)], &[(0, 13, 2), (2, 50, 1)]),
            Some(vec![(0, 3, 2), (2, 5, 1)])
        );
        assert_eq!(
            nested_map(&[(0, 10, 5), (5, 15, 5)], &[(7, 12, 6)]),
            Some(vec![(7, 2, 3), (10, 5, 3)])
        );
        assert_eq!(nested_map(&[(0, 10, 5)], &[(0, 14, 2)]), None);
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
