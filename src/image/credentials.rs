//! Registry credentials: devbox's own auth file (Docker's `config.json`
//! format, written by `devbox login`) and, read only, Docker's
//! `~/.docker/config.json` with its plain `auths` entries and credential
//! helpers (`credsStore`, `credHelpers` → `docker-credential-<name> get`).

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <password>)", self.username)
    }
}

impl Credentials {
    /// The `Authorization: Basic` value.
    pub fn basic_header(&self) -> String {
        format!("Basic {}", encode(self))
    }
}

fn encode(c: &Credentials) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password))
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid auth file: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("credential helper `docker-credential-{helper}` failed: {reason}")]
    Helper { helper: String, reason: String },
}

/// Docker's `config.json`, keeping keys we do not know when rewriting it.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(
        rename = "credsStore",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    creds_store: Option<String>,
    #[serde(
        rename = "credHelpers",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    cred_helpers: BTreeMap<String, String>,
    #[serde(flatten)]
    other: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AuthEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth: Option<String>,
    #[serde(flatten)]
    other: BTreeMap<String, serde_json::Value>,
}

/// The key a registry has in an auth file: `docker.io` for Docker Hub
/// (Docker writes `https://index.docker.io/v1/`), else `host[:port]`.
pub fn registry_key(server: &str) -> String {
    let host = server
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".into()
        }
        other => other.to_string(),
    }
}

/// Where credentials are read from and written to.
#[derive(Debug, Clone)]
pub struct AuthFiles {
    /// devbox's own file (`$XDG_CONFIG_HOME/devbox/auth.json`), read and written.
    pub devbox: PathBuf,
    /// Docker's (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`), read only.
    pub docker: Option<PathBuf>,
}

impl AuthFiles {
    /// The default locations; `config_dir` is devbox's configuration directory.
    pub fn new(config_dir: &Path) -> AuthFiles {
        let docker = std::env::var_os(crate::env_vars::DOCKER_CONFIG)
            .map(PathBuf::from)
            .or_else(|| dirs::home_dir().map(|h| h.join(".docker")))
            .map(|d| d.join("config.json"));
        AuthFiles {
            devbox: config_dir.join("auth.json"),
            docker,
        }
    }

    /// The credentials for `registry`: devbox's file first, then Docker's.
    pub fn lookup(&self, registry: &str) -> Result<Option<Credentials>, CredentialsError> {
        if let Some(found) = find_in(&read(&self.devbox)?, &self.devbox, registry)? {
            return Ok(Some(found));
        }
        match &self.docker {
            Some(path) => find_in(&read(path)?, path, registry),
            None => Ok(None),
        }
    }

    /// Stores credentials in devbox's file (mode 0600, written atomically).
    pub fn save(&self, registry: &str, credentials: &Credentials) -> Result<(), CredentialsError> {
        let mut config = read(&self.devbox)?;
        let entry = config.auths.entry(registry_key(registry)).or_default();
        entry.auth = Some(encode(credentials));
        write(&self.devbox, &config)
    }

    /// Removes the registry from devbox's file; false if it was not there.
    pub fn remove(&self, registry: &str) -> Result<bool, CredentialsError> {
        let mut config = read(&self.devbox)?;
        let key = registry_key(registry);
        let before = config.auths.len();
        config.auths.retain(|k, _| registry_key(k) != key);
        if config.auths.len() == before {
            return Ok(false);
        }
        write(&self.devbox, &config)?;
        Ok(true)
    }
}

fn read(path: &Path) -> Result<ConfigFile, CredentialsError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| CredentialsError::Parse {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(source) => Err(CredentialsError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes the file through a 0600 temp file and a rename, so the secret is
/// never readable by others, not even for a moment.
fn write(path: &Path, config: &ConfigFile) -> Result<(), CredentialsError> {
    let err = |source| CredentialsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(err)?;
    let bytes = serde_json::to_vec_pretty(config).map_err(|e| err(std::io::Error::other(e)))?;
    let tmp = dir.join(format!(
        ".auth.json.tmp-{}",
        crate::store::atomic::unique_suffix()
    ));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

fn find_in(
    config: &ConfigFile,
    path: &Path,
    registry: &str,
) -> Result<Option<Credentials>, CredentialsError> {
    let key = registry_key(registry);
    if let Some((_, helper)) = config
        .cred_helpers
        .iter()
        .find(|(k, _)| registry_key(k) == key)
    {
        return run_helper(helper, registry);
    }
    if let Some((_, entry)) = config.auths.iter().find(|(k, _)| registry_key(k) == key) {
        if let Some(auth) = &entry.auth {
            return decode(auth)
                .map(Some)
                .ok_or_else(|| CredentialsError::Parse {
                    path: path.to_path_buf(),
                    reason: format!("the `auth` of `{key}` is not base64 of `user:password`"),
                });
        }
    }
    match &config.creds_store {
        Some(helper) => run_helper(helper, registry),
        None => Ok(None),
    }
}

fn decode(auth: &str) -> Option<Credentials> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (username, password) = text.split_once(':')?;
    Some(Credentials {
        username: username.into(),
        password: password.into(),
    })
}

/// `docker-credential-<helper> get` with the server URL on stdin; a helper
/// that is not installed, or does not know the server, gives no credentials.
fn run_helper(helper: &str, registry: &str) -> Result<Option<Credentials>, CredentialsError> {
    let server = if registry_key(registry) == "docker.io" {
        "https://index.docker.io/v1/".to_string()
    } else {
        registry_key(registry)
    };
    let program = format!("docker-credential-{helper}");
    let fail = |reason: String| CredentialsError::Helper {
        helper: helper.into(),
        reason,
    };
    let mut child = match std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(e.to_string())),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        // "credentials not found in native keychain"
        return Ok(None);
    }
    #[derive(Deserialize)]
    struct Reply {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let reply: Reply = serde_json::from_slice(&out.stdout).map_err(|e| fail(e.to_string()))?;
    Ok(Some(Credentials {
        username: reply.username,
        password: reply.secret,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_normalise() {
        assert_eq!(registry_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(registry_key("docker.io"), "docker.io");
        assert_eq!(registry_key("http://localhost:5000"), "localhost:5000");
    }

    #[test]
    fn save_lookup_remove() {
        let dir = tempfile::tempdir().unwrap();
        let docker = dir.path().join("docker.json");
        std::fs::write(
            &docker,
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"aHViOnNlY3JldA=="}},"other":1}"#,
        )
        .unwrap();
        let files = AuthFiles {
            devbox: dir.path().join("devbox/auth.json"),
            docker: Some(docker),
        };
        let hub = files.lookup("docker.io").unwrap().unwrap();
        assert_eq!(
            (hub.username.as_str(), hub.password.as_str()),
            ("hub", "secret")
        );
        assert!(files.lookup("localhost:5000").unwrap().is_none());
        let c = Credentials {
            username: "u".into(),
            password: "p:w".into(),
        };
        files.save("localhost:5000", &c).unwrap();
        assert_eq!(files.lookup("localhost:5000").unwrap(), Some(c));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files.devbox)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(files.remove("localhost:5000").unwrap());
        assert!(!files.remove("localhost:5000").unwrap());
        assert!(files.lookup("localhost:5000").unwrap().is_none());
    }
}
