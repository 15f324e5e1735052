//! What a container runs: the image config merged with the command line,
//! following Docker's ENTRYPOINT/CMD/ENV/WORKDIR/USER rules (pure).

use serde::{Deserialize, Serialize};

use super::env::Environment;

/// PATH when neither the image nor the command line sets one (Docker's).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("no command specified: the image has no ENTRYPOINT or CMD")]
    NoCommand,
    #[error("invalid --entrypoint `{0}`: not a JSON array of strings")]
    BadEntrypoint(String),
}

/// `--entrypoint`: a plain string is one executable (Docker); a JSON array
/// is taken as is (Podman); the empty string clears the image's.
pub fn parse_entrypoint(value: &str) -> Result<Vec<String>, CommandError> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    if value.trim_start().starts_with('[') {
        return serde_json::from_str(value).map_err(|_| CommandError::BadEntrypoint(value.into()));
    }
    Ok(vec![value.to_string()])
}

/// Docker's rule: argv = entrypoint + cmd, where the command line's args
/// replace the image's CMD, and `--entrypoint` replaces the image's
/// ENTRYPOINT and also drops the image's CMD.
pub fn command(
    image_entrypoint: Option<&[String]>,
    image_cmd: Option<&[String]>,
    cli_entrypoint: Option<Vec<String>>,
    cli_args: &[String],
) -> Result<Vec<String>, CommandError> {
    let (entrypoint, default_cmd) = match cli_entrypoint {
        Some(ep) => (ep, Vec::new()),
        None => (
            image_entrypoint.map(<[String]>::to_vec).unwrap_or_default(),
            image_cmd.map(<[String]>::to_vec).unwrap_or_default(),
        ),
    };
    let cmd = if cli_args.is_empty() {
        default_cmd
    } else {
        cli_args.to_vec()
    };
    let argv: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if argv.is_empty() {
        return Err(CommandError::NoCommand);
    }
    Ok(argv)
}

/// The environment of the container's process: image ENV, then `-e`
/// settings, then the defaults Docker adds. `home` is `None` when it is only
/// known inside the container (from the image's passwd).
pub fn environment(
    image_env: &[String],
    cli_env: &[(String, String)],
    hostname: &str,
    home: Option<&str>,
    tty: bool,
) -> Environment {
    let mut env = Environment::from_list(image_env);
    for (k, v) in cli_env {
        env.set(k, v);
    }
    env.set_default("PATH", DEFAULT_PATH);
    env.set_default("HOSTNAME", hostname);
    if let Some(home) = home {
        env.set_default("HOME", home);
    }
    if tty {
        env.set_default("TERM", "xterm");
    }
    env
}

/// Where the process starts: `-w`, else the image's WORKDIR, else `/`.
pub fn workdir(cli: Option<&str>, image: Option<&str>) -> String {
    cli.or(image)
        .filter(|w| !w.is_empty())
        .unwrap_or("/")
        .to_string()
}

/// The network a container gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    Slirp4netns,
    /// Like slirp4netns, with pasta (from passt) instead: the host's addresses inside.
    Pasta,
    None,
    Host,
    /// User-defined networks ([`NetworkOptions::networks`]), in the shared user namespace
    /// of their holders (`net::holder`).
    User,
    /// Another container's network namespace (`--network container:NAME`).
    Container,
}

/// One user-defined network a container is on: `--network NAME --network-alias A --ip IP`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAttachment {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<std::net::Ipv4Addr>,
}

/// The network settings beyond the mode.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkOptions {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkAttachment>,
    /// `--network container:NAME`: the container whose network namespace is shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// `--dns`, `--dns-search`, `--dns-option`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_options: Vec<String>,
    /// `--mac-address`: of the interface on the first user-defined network (lowercase).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn entrypoint_and_cmd_combine_like_docker() {
        let ep = v(&["/bin/echo", "hello"]);
        let cmd = v(&["world"]);
        // Image entrypoint + image cmd.
        assert_eq!(
            command(Some(&ep), Some(&cmd), None, &[]).unwrap(),
            v(&["/bin/echo", "hello", "world"])
        );
        // Args replace CMD, keep ENTRYPOINT.
        assert_eq!(
            command(Some(&ep), Some(&cmd), None, &v(&["there"])).unwrap(),
            v(&["/bin/echo", "hello", "there"])
        );
        // --entrypoint drops the image CMD.
        assert_eq!(
            command(Some(&ep), Some(&cmd), Some(v(&["/bin/date"])), &[]).unwrap(),
            v(&["/bin/date"])
        );
        // --entrypoint with args.
        assert_eq!(
            command(Some(&ep), Some(&cmd), Some(v(&["ls"])), &v(&["-l"])).unwrap(),
            v(&["ls", "-l"])
        );
        // Only CMD.
        assert_eq!(command(None, Some(&cmd), None, &[]).unwrap(), v(&["world"]));
        // Empty --entrypoint with args: args alone.
        assert_eq!(
            command(Some(&ep), None, Some(vec![]), &v(&["sh"])).unwrap(),
            v(&["sh"])
        );
        // Nothing at all.
        assert_eq!(command(None, None, None, &[]), Err(CommandError::NoCommand));
    }

    #[test]
    fn entrypoint_flag_forms() {
        assert_eq!(parse_entrypoint("sh").unwrap(), v(&["sh"]));
        assert_eq!(
            parse_entrypoint(r#"["sh","-c"]"#).unwrap(),
            v(&["sh", "-c"])
        );
        assert_eq!(parse_entrypoint("").unwrap(), Vec::<String>::new());
        assert!(parse_entrypoint("[oops").is_err());
    }

    #[test]
    fn environment_defaults() {
        let env = environment(
            &v(&["A=1", "PATH=/x"]),
            &[("A".into(), "2".into())],
            "abc",
            Some("/root"),
            true,
        );
        assert_eq!(
            env.to_list(),
            v(&["A=2", "PATH=/x", "HOSTNAME=abc", "HOME=/root", "TERM=xterm"])
        );
        let env = environment(&[], &[], "h", None, false);
        assert_eq!(env.get("HOME"), None);
        assert_eq!(env.get("PATH"), Some(DEFAULT_PATH));
        assert_eq!(env.get("TERM"), None);
    }

    #[test]
    fn workdir_rules() {
        assert_eq!(workdir(Some("/w"), Some("/img")), "/w");
        assert_eq!(workdir(None, Some("/img")), "/img");
        assert_eq!(workdir(None, Some("")), "/");
        assert_eq!(workdir(None, None), "/");
    }
}
