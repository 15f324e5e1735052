//! What a build takes from the host besides its context (pure parsing): `--secret` values
//! for `RUN --mount=type=secret`, and `--ssh` agent sockets for `RUN --mount=type=ssh`.
//! Neither is ever part of a layer or of a cache key: a step's key has the mount's text
//! (the id), not the secret (BuildKit's rule).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where a secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    File(PathBuf),
    Env(String),
}

/// What the build gets from the host: base images pulled, secrets and agent sockets.
#[derive(Debug, Clone, Default)]
pub struct BuildInputs {
    /// `--pull`: pull every FROM image, even when the store has it (missing ones are
    /// always pulled).
    pub pull: bool,
    /// `--secret`, by id.
    pub secrets: BTreeMap<String, SecretSource>,
    /// `--ssh`, by id: the agent's socket on the host.
    pub ssh: BTreeMap<String, PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --{flag} `{text}`: {reason}")]
pub struct InputError {
    flag: &'static str,
    text: String,
    reason: String,
}

/// `--secret id=X[,src=PATH|,env=VAR][,type=file|env]` (Docker's). Without a source
/// the environment variable named like the id is used.
pub fn parse_secret(text: &str) -> Result<(String, SecretSource), InputError> {
    let bad = |reason: &str| InputError {
        flag: "secret",
        text: text.into(),
        reason: reason.into(),
    };
    let (mut id, mut src, mut env, mut kind) = (None, None, None, None);
    for field in text.split(',').filter(|f| !f.is_empty()) {
        let (k, v) = field
            .split_once('=')
            .ok_or_else(|| bad("expected KEY=VALUE fields"))?;
        match k {
            "id" => id = Some(v.to_string()),
            "src" | "source" => src = Some(v.to_string()),
            "env" => env = Some(v.to_string()),
            "type" if v == "file" || v == "env" => kind = Some(v.to_string()),
            "type" => return Err(bad("type must be file or env")),
            _ => return Err(bad(&format!("unknown field `{k}`"))),
        }
    }
    let id = id
        .filter(|i| !i.is_empty())
        .ok_or_else(|| bad("an id is required"))?;
    let source = match (src, env, kind.as_deref()) {
        (Some(_), Some(_), _) => return Err(bad("give src or env, not both")),
        (Some(path), None, None | Some("file")) => SecretSource::File(PathBuf::from(path)),
        (Some(var), None, Some(_)) => SecretSource::Env(var),
        (None, Some(var), _) => SecretSource::Env(var),
        (None, None, _) => SecretSource::Env(id.clone()),
    };
    Ok((id, source))
}

/// `--ssh ID[=SOCKET]` (`default` is the usual id); without a socket, `agent_sock`
/// (`$SSH_AUTH_SOCK`).
pub fn parse_ssh(text: &str, agent_sock: Option<&str>) -> Result<(String, PathBuf), InputError> {
    let bad = |reason: &str| InputError {
        flag: "ssh",
        text: text.into(),
        reason: reason.into(),
    };
    let (id, socket) = match text.split_once('=') {
        Some((id, socket)) => (id, Some(socket)),
        None => (text, None),
    };
    if id.is_empty() {
        return Err(bad("expected ID[=SOCKET], e.g. `default`"));
    }
    let socket = socket
        .or(agent_sock)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            bad("no socket given and SSH_AUTH_SOCK is not set (start ssh-agent, or give ID=SOCKET)")
        })?;
    Ok((id.to_string(), PathBuf::from(socket)))
}

/// Merges parsed `K=V` pairs into a map, the last one for an id winning.
pub fn by_id<T>(items: impl IntoIterator<Item = (String, T)>) -> BTreeMap<String, T> {
    items.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_dockers_forms() {
        assert_eq!(
            parse_secret("id=token,src=/run/t").unwrap(),
            ("token".into(), SecretSource::File("/run/t".into()))
        );
        assert_eq!(
            parse_secret("id=token,env=API_TOKEN").unwrap(),
            ("token".into(), SecretSource::Env("API_TOKEN".into()))
        );
        assert_eq!(
            parse_secret("id=TOKEN").unwrap().1,
            SecretSource::Env("TOKEN".into())
        );
        assert_eq!(
            parse_secret("type=env,id=t,src=VAR").unwrap().1,
            SecretSource::Env("VAR".into())
        );
        assert!(parse_secret("src=/x")
            .unwrap_err()
            .to_string()
            .contains("an id is required"));
        assert!(parse_secret("id=a,colour=red").is_err());
        assert!(parse_secret("id=a,src=/x,env=Y").is_err());
    }

    #[test]
    fn ssh_sockets() {
        assert_eq!(
            parse_ssh("default", Some("/tmp/agent.sock")).unwrap(),
            ("default".into(), PathBuf::from("/tmp/agent.sock"))
        );
        assert_eq!(
            parse_ssh("gh=/run/gh.sock", None).unwrap().1,
            PathBuf::from("/run/gh.sock")
        );
        assert!(parse_ssh("default", None)
            .unwrap_err()
            .to_string()
            .contains("SSH_AUTH_SOCK"));
        assert_eq!(by_id([("a".to_string(), 1), ("a".to_string(), 2)])["a"], 2);
    }
}
