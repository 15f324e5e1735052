//! `-u UID[:GID]|NAME[:GROUP]`, resolved against the image's /etc/passwd
//! and /etc/group the way Docker does.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Id {
    Num(u32),
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSpec {
    pub user: Id,
    pub group: Option<Id>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("invalid user `{0}`: expected UID[:GID] or NAME[:GROUP]")]
    Syntax(String),
    #[error("unable to find user {0}: no matching entries in passwd file")]
    UnknownUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    UnknownGroup(String),
}

fn parse_id(text: &str) -> Id {
    text.parse()
        .map(Id::Num)
        .unwrap_or_else(|_| Id::Name(text.to_string()))
}

impl UserSpec {
    pub fn parse(text: &str) -> Result<UserSpec, UserError> {
        let (user, group) = match text.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (text, None),
        };
        let bad = |s: &str| s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == ':');
        if bad(user) || group.is_some_and(bad) {
            return Err(UserError::Syntax(text.to_string()));
        }
        Ok(UserSpec {
            user: parse_id(user),
            group: group.map(parse_id),
        })
    }

    pub fn root() -> UserSpec {
        UserSpec {
            user: Id::Num(0),
            group: None,
        }
    }
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 4 {
            return None;
        }
        Some(GroupEntry {
            name: f[0],
            gid: f[2].parse().ok()?,
            members: f[3].split(',').filter(|m| !m.is_empty()).collect(),
        })
    })
}

/// Resolves a user spec against the text of the image's passwd and group
/// files (empty strings when the image has none).
pub fn resolve(spec: &UserSpec, passwd: &str, group: &str) -> Result<ResolvedUser, UserError> {
    let entry = match &spec.user {
        Id::Num(uid) => passwd_entries(passwd).find(|e| e.uid == *uid),
        Id::Name(name) => Some(
            passwd_entries(passwd)
                .find(|e| e.name == name)
                .ok_or_else(|| UserError::UnknownUser(name.clone()))?,
        ),
    };
    let (uid, mut gid, home, name) = match (&spec.user, entry) {
        (_, Some(e)) => (e.uid, e.gid, e.home.to_string(), Some(e.name.to_string())),
        (Id::Num(uid), None) => (*uid, 0, "/".to_string(), None),
        (Id::Name(name), None) => return Err(UserError::UnknownUser(name.clone())),
    };
    let mut additional_gids = Vec::new();
    match &spec.group {
        Some(Id::Num(g)) => gid = *g,
        Some(Id::Name(g)) => {
            gid = group_entries(group)
                .find(|e| e.name == g)
                .map(|e| e.gid)
                .ok_or_else(|| UserError::UnknownGroup(g.clone()))?;
        }
        None => {
            if let Some(name) = &name {
                additional_gids = group_entries(group)
                    .filter(|e| e.members.contains(&name.as_str()) && e.gid != gid)
                    .map(|e| e.gid)
                    .collect();
            }
        }
    }
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

/// `--userns=keep-id`: the invoking user, who keeps their ids inside the container and
/// is its default user (Podman's keep-id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepIdUser {
    pub uid: u32,
    pub gid: u32,
    pub name: String,
    pub home: String,
}

impl KeepIdUser {
    /// The user as the host's passwd knows them (`name` and `home` fall back to the uid
    /// and `/home/<name>` without an entry).
    pub fn from_host(uid: u32, gid: u32, host_passwd: &str) -> KeepIdUser {
        let entry = passwd_entries(host_passwd).find(|e| e.uid == uid);
        let name = entry
            .as_ref()
            .map_or_else(|| uid.to_string(), |e| e.name.to_string());
        let home = entry
            .as_ref()
            .map(|e| e.home.to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| format!("/home/{name}"));
        KeepIdUser {
            uid,
            gid,
            name,
            home,
        }
    }

    /// The container runs as the user unless `-u` says otherwise.
    pub fn default_spec(&self) -> UserSpec {
        UserSpec {
            user: Id::Num(self.uid),
            group: Some(Id::Num(self.gid)),
        }
    }

    /// The line to append to the image's /etc/passwd, when it has no entry for the uid.
    pub fn passwd_line(&self, passwd: &str) -> Option<String> {
        (!passwd_entries(passwd).any(|e| e.uid == self.uid)).then(|| {
            format!(
                "{}:*:{}:{}:{}:{}:/bin/sh\n",
                self.name, self.uid, self.gid, self.name, self.home
            )
        })
    }

    /// The line to append to the image's /etc/group, when it has no group with the gid.
    pub fn group_line(&self, group: &str) -> Option<String> {
        (!group_entries(group).any(|e| e.gid == self.gid))
            .then(|| format!("{}:x:{}:{}\n", self.name, self.gid, self.name))
    }
}

/// `text` with `line` appended, on a line of its own.
pub fn append_line(text: &str, line: &str) -> String {
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(line);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\napp:x:1000:\nwheel:x:10:app\n";

    #[test]
    fn parses_specs() {
        assert_eq!(UserSpec::parse("1000").unwrap().user, Id::Num(1000));
        assert_eq!(
            UserSpec::parse("app:wheel").unwrap().group,
            Some(Id::Name("wheel".into()))
        );
        assert!(UserSpec::parse("").is_err());
        assert!(UserSpec::parse("a:").is_err());
        assert!(UserSpec::parse("a:b:c").is_err());
    }

    #[test]
    fn keep_id_user_gets_entries_only_when_missing() {
        let host = "devbox-test:x:1001:1001::/home/devbox-test:/bin/bash\n";
        let me = KeepIdUser::from_host(1001, 1001, host);
        assert_eq!(
            (me.name.as_str(), me.home.as_str()),
            ("devbox-test", "/home/devbox-test")
        );
        assert_eq!(
            me.passwd_line(PASSWD).as_deref(),
            Some("devbox-test:*:1001:1001:devbox-test:/home/devbox-test:/bin/sh\n")
        );
        assert_eq!(
            me.group_line(GROUP).as_deref(),
            Some("devbox-test:x:1001:devbox-test\n")
        );
        let app = KeepIdUser::from_host(1000, 1000, "");
        assert_eq!(
            (app.name.as_str(), app.home.as_str()),
            ("1000", "/home/1000")
        );
        assert_eq!(app.passwd_line(PASSWD), None);
        assert_eq!(app.group_line(GROUP), None);
        // With the image's entry, its name and home are the user's inside.
        let r = resolve(&app.default_spec(), PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid, r.home.as_str()), (1000, 1000, "/home/app"));
        assert_eq!(append_line("a", "b\n"), "a\nb\n");
        assert_eq!(append_line("", "b\n"), "b\n");
    }

    #[test]
    fn resolves_like_docker() {
        let r = resolve(&UserSpec::parse("app").unwrap(), PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid, r.home.as_str()), (1000, 1000, "/home/app"));
        assert_eq!(r.additional_gids, vec![10]);
        let r = resolve(&UserSpec::parse("1234").unwrap(), PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid, r.home.as_str()), (1234, 0, "/"));
        let r = resolve(&UserSpec::parse("1000:10").unwrap(), PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid), (1000, 10));
        assert!(matches!(
            resolve(&UserSpec::parse("nobody").unwrap(), PASSWD, GROUP),
            Err(UserError::UnknownUser(_))
        ));
        assert!(matches!(
            resolve(&UserSpec::parse("app:nogroup").unwrap(), PASSWD, GROUP),
            Err(UserError::UnknownGroup(_))
        ));
    }
}
