//! One registry, one repository scope: the `/v2/` ping, authentication
//! (bearer tokens from the `WWW-Authenticate` challenge, or basic), and the
//! requests pull and push need.
//!
//! Transport security: `https` with certificate verification by default.
//! `--tls-verify=false`, and registries on the loopback (`localhost`,
//! `127.0.0.0/8`, `::1`, which Docker and Podman treat as insecure
//! registries too), accept any certificate and fall back to plain `http`
//! when the registry does not speak TLS.

use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use ureq::http::Response;
use ureq::Body;

use super::challenge::{self, Challenge};
use super::{RegistryError, Result};
use crate::image::credentials::Credentials;
use crate::image::oci;
use crate::image::Digest;

/// The largest manifest or index devbox reads (containerd's bound).
pub const MANIFEST_LIMIT: u64 = 4 << 20;

/// How many times a request that failed for a passing reason (a dropped
/// connection, a stall, a truncated body, 5xx, 429) is tried in all.
pub const TRIES: u32 = 3;

/// How long a registry may send nothing (headers or body) before the
/// transfer is given up as stalled, unless `DEVBOX_REGISTRY_TIMEOUT`
/// (seconds) says otherwise.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The idle timeout: `DEVBOX_REGISTRY_TIMEOUT` (seconds, fractions allowed)
/// when set to a positive number, else 60 s.
pub fn idle_timeout() -> Duration {
    parse_timeout(std::env::var("DEVBOX_REGISTRY_TIMEOUT").ok().as_deref())
}

fn parse_timeout(value: Option<&str>) -> Duration {
    value
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e6)
        .map_or(DEFAULT_IDLE_TIMEOUT, Duration::from_secs_f64)
}

/// The pause before try `next` (2, 3, ...): 0.5 s, then twice as long.
pub fn backoff(next: u32) -> Duration {
    Duration::from_millis(500 << next.saturating_sub(2).min(6))
}

/// The manifest types devbox reads, most wanted first.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// `--tls-verify` (true unless the user said `=false`).
    pub tls_verify: bool,
    pub credentials: Option<Credentials>,
    /// Where "retrying" notices go (the command's printer); none: silence.
    pub warn: Option<fn(&str)>,
}

/// What the registry may do on a repository: `pull` or `pull,push`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Pull,
    Push,
}

pub struct Client {
    /// As the user wrote it (`docker.io`, `localhost:5000`).
    pub registry: String,
    /// `https://registry-1.docker.io` or `http://localhost:5000`.
    base: String,
    agent: ureq::Agent,
    credentials: Option<Credentials>,
    /// What `/v2/` answered without credentials.
    challenge: Option<Challenge>,
    /// The `Authorization` value requests carry.
    authorization: Mutex<Option<String>>,
    warn: Option<fn(&str)>,
}

/// A registry whose traffic stays on this machine: plain http is allowed.
pub fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => registry.split(':').next().unwrap_or(registry),
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where a registry name is served (Docker Hub's API has its own host).
fn api_host(registry: &str) -> &str {
    if registry == crate::image::reference::DEFAULT_REGISTRY {
        "registry-1.docker.io"
    } else {
        registry
    }
}

impl Client {
    /// Pings `/v2/`, learns how the registry authenticates, and authorizes
    /// for `scope` (e.g. `repository:library/python:pull`) if it asks.
    pub fn connect(registry: &str, options: &ClientOptions, scope: Option<&str>) -> Result<Client> {
        let insecure = !options.tls_verify || is_loopback(registry);
        let tls = ureq::tls::TlsConfig::builder()
            .disable_verification(insecure)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .user_agent(concat!("devbox/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            // A body that stops flowing fails after this, whatever its size.
            .timeout_per_read(Some(idle_timeout()))
            .max_idle_connections_per_host(8)
            .build()
            .into();
        let host = api_host(registry);
        let mut last_error = None;
        let schemes: &[&str] = if insecure {
            &["https", "http"]
        } else {
            &["https"]
        };
        for attempt in 1..=TRIES {
            if attempt > 1 {
                std::thread::sleep(backoff(attempt));
            }
            for scheme in schemes {
                let base = format!("{scheme}://{host}");
                let url = format!("{base}/v2/");
                match agent.get(&url).call() {
                    Ok(response) => {
                        let mut client = Client {
                            registry: registry.into(),
                            base,
                            agent,
                            credentials: options.credentials.clone(),
                            challenge: None,
                            authorization: Mutex::new(None),
                            warn: options.warn,
                        };
                        client.after_ping(response, &url)?;
                        client.authorize(scope)?;
                        return Ok(client);
                    }
                    Err(e) => last_error = Some((url, e)),
                }
            }
            if !last_error.as_ref().is_some_and(|(_, e)| is_transient(e)) {
                break;
            }
        }
        let (url, source) = last_error.expect("at least one scheme was tried");
        Err(RegistryError::Unreachable {
            registry: registry.into(),
            url,
            source: Box::new(source),
        })
    }

    fn after_ping(&mut self, mut response: Response<Body>, url: &str) -> Result<()> {
        match response.status().as_u16() {
            200..=299 => Ok(()),
            401 => {
                self.challenge = challenge_of(&response);
                if self.challenge.is_none() {
                    return Err(self.protocol(
                        "`/v2/` answered 401 without a usable WWW-Authenticate challenge",
                    ));
                }
                Ok(())
            }
            status => Err(self.status_error("GET", url, status, &mut response)),
        }
    }

    /// Sets the `Authorization` for `scope`: a bearer token from the realm,
    /// or basic credentials. Without a challenge there is nothing to do.
    fn authorize(&self, scope: Option<&str>) -> Result<()> {
        let value = match &self.challenge {
            None => return Ok(()),
            Some(Challenge::Basic) => self.credentials.as_ref().map(Credentials::basic_header),
            Some(Challenge::Bearer { realm, service, .. }) => Some(format!(
                "Bearer {}",
                self.token(realm, service.as_deref(), scope)?
            )),
        };
        *self.authorization.lock().unwrap_or_else(|e| e.into_inner()) = value;
        Ok(())
    }

    /// Asks the token server for a token (anonymous, or with basic credentials).
    fn token(&self, realm: &str, service: Option<&str>, scope: Option<&str>) -> Result<String> {
        let mut url = realm.to_string();
        let mut sep = if realm.contains('?') { '&' } else { '?' };
        for (key, value) in [("service", service), ("scope", scope)] {
            if let Some(value) = value {
                url.push(sep);
                url.push_str(key);
                url.push('=');
                url.push_str(&percent_encode(value));
                sep = '&';
            }
        }
        if let Some(c) = &self.credentials {
            url.push(sep);
            url.push_str("account=");
            url.push_str(&percent_encode(&c.username));
        }
        let mut request = self.agent.get(&url);
        if let Some(c) = &self.credentials {
            request = request.header("Authorization", c.basic_header());
        }
        let mut response = request.call().map_err(|e| self.unreachable(&url, e))?;
        let status = response.status().as_u16();
        if status == 401 || status == 403 {
            return Err(RegistryError::Unauthorized {
                registry: self.registry.clone(),
                message: error_message(&mut response),
            });
        }
        if !(200..300).contains(&status) {
            return Err(self.status_error("GET", &url, status, &mut response));
        }
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let body = response
            .body_mut()
            .read_to_vec()
            .map_err(|e| self.unreachable(&url, e))?;
        let token: Token = serde_json::from_slice(&body)
            .map_err(|e| self.protocol(&format!("token server answer: {e}")))?;
        token
            .token
            .or(token.access_token)
            .ok_or_else(|| self.protocol("the token server answered without a token"))
    }

    /// Checks that the credentials are accepted (for `login`): a token for
    /// no particular scope, or `/v2/` with basic auth.
    pub fn verify_login(&self) -> Result<()> {
        let url = format!("{}/v2/", self.base);
        let response = self.send("GET", &url, |auth| {
            with_auth(self.agent.get(&url), auth).call()
        })?;
        self.check("GET", &url, response, || "`/v2/`".into())?;
        Ok(())
    }

    /// Runs a request with the current authorization. A 401 carrying a new
    /// bearer challenge (another scope) gets one fresh token and a retry; a
    /// 401 after that is an authentication failure.
    fn send(
        &self,
        method: &'static str,
        url: &str,
        run: impl Fn(Option<&str>) -> std::result::Result<Response<Body>, ureq::Error>,
    ) -> Result<Response<Body>> {
        let auth = self
            .authorization
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut response = run(auth.as_deref()).map_err(|e| self.unreachable(url, e))?;
        if response.status().as_u16() == 401 {
            if let Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) = challenge_of(&response)
            {
                let token = format!(
                    "Bearer {}",
                    self.token(&realm, service.as_deref(), scope.as_deref())?
                );
                *self.authorization.lock().unwrap_or_else(|e| e.into_inner()) = Some(token.clone());
                response = run(Some(&token)).map_err(|e| self.unreachable(url, e))?;
            }
        }
        let status = response.status().as_u16();
        if status == 401 || status == 403 {
            let message = error_message(&mut response);
            let message = if self.credentials.is_none() && message.is_empty() {
                "authentication required".to_string()
            } else if message.is_empty() {
                format!("{method} {url} answered {status}")
            } else {
                message
            };
            return Err(RegistryError::Unauthorized {
                registry: self.registry.clone(),
                message,
            });
        }
        Ok(response)
    }

    fn url(&self, repository: &str, rest: &str) -> String {
        format!("{}/v2/{repository}/{rest}", self.base)
    }

    /// Fetches a manifest or index by tag or digest: its bytes and media type.
    /// Bounded to [`MANIFEST_LIMIT`]; tried again on passing failures.
    pub fn manifest(&self, repository: &str, reference: &str) -> Result<(Vec<u8>, String)> {
        let url = self.url(repository, &format!("manifests/{reference}"));
        let what = format!("manifest `{repository}:{reference}`");
        self.retrying(&what, || {
            let response = self.send("GET", &url, |auth| {
                with_auth(self.agent.get(&url), auth)
                    .header("Accept", MANIFEST_ACCEPT)
                    .call()
            })?;
            let mut response = self.check("GET", &url, response, || what.clone())?;
            let media_type = header(&response, "content-type").unwrap_or_default();
            let bytes = self.read_bounded(&mut response, &what, MANIFEST_LIMIT)?;
            Ok((bytes, media_type))
        })
    }

    /// A whole body of at most `limit` bytes (a larger one is refused,
    /// unread, by its Content-Length when it has one).
    pub fn read_bounded(
        &self,
        response: &mut Response<Body>,
        what: &str,
        limit: u64,
    ) -> Result<Vec<u8>> {
        let too_large = || self.protocol(&format!("{what} is larger than {limit} bytes; refused"));
        let length = header(response, "content-length").and_then(|v| v.parse::<u64>().ok());
        if length.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        let body = response.body_mut().with_config().limit(u64::MAX).reader();
        let mut reader = std::io::Read::take(body, limit + 1);
        if let Err(e) = std::io::Read::read_to_end(&mut reader, &mut bytes) {
            return Err(self.body_error(what, bytes.len() as u64, &e));
        }
        if bytes.len() as u64 > limit {
            return Err(too_large());
        }
        Ok(bytes)
    }

    /// Starts downloading a blob (redirects to a CDN are followed, without
    /// our credentials); the body is for the caller to stream and verify.
    /// From byte `offset` on when it is not 0 (a `Range` request: the
    /// registry may answer 206 with the rest, or 200 with the whole blob).
    pub fn blob(&self, repository: &str, digest: &Digest, offset: u64) -> Result<Response<Body>> {
        let url = self.url(repository, &format!("blobs/{digest}"));
        let response = self.send("GET", &url, |auth| {
            let request = with_auth(self.agent.get(&url), auth);
            if offset > 0 {
                request.header("Range", format!("bytes={offset}-")).call()
            } else {
                request.call()
            }
        })?;
        self.check("GET", &url, response, || {
            format!("blob {digest} of `{repository}`")
        })
    }

    /// Runs `attempt` up to [`TRIES`] times while it fails for a passing
    /// reason, pausing longer each time and saying so on stderr.
    pub fn retrying<T>(&self, what: &str, mut attempt: impl FnMut() -> Result<T>) -> Result<T> {
        let mut tries = 1;
        loop {
            match attempt() {
                Err(e) if tries < TRIES && e.is_transient() => {
                    tries += 1;
                    self.pause_before(tries, what, &e);
                }
                other => return other,
            }
        }
    }

    /// Says why a transfer is tried again, and waits.
    fn pause_before(&self, next: u32, what: &str, cause: &RegistryError) {
        let delay = backoff(next);
        if let Some(warn) = self.warn {
            warn(&format!(
                "{what} from `{}`: {cause}; retrying in {:.1} s (try {next} of {TRIES})",
                self.registry,
                delay.as_secs_f64()
            ));
        }
        std::thread::sleep(delay);
    }

    /// What a failed body read means: a stall (the idle timeout), or a
    /// connection that broke off.
    pub fn body_error(&self, what: &str, received: u64, e: &std::io::Error) -> RegistryError {
        let timed_out = e.kind() == std::io::ErrorKind::TimedOut
            || e.get_ref()
                .and_then(|inner| inner.downcast_ref::<ureq::Error>())
                .is_some_and(|u| matches!(u, ureq::Error::Timeout(_)));
        let reason = if timed_out {
            format!(
                "no data for {} s (the idle timeout; DEVBOX_REGISTRY_TIMEOUT=SECONDS changes it)",
                idle_timeout().as_secs_f64()
            )
        } else {
            e.to_string()
        };
        RegistryError::Interrupted {
            registry: self.registry.clone(),
            what: what.into(),
            received,
            reason,
        }
    }

    /// Passes a 2xx response; a 404 becomes "`what` not found", anything
    /// else a status error with the registry's message.
    fn check(
        &self,
        method: &'static str,
        url: &str,
        mut response: Response<Body>,
        what: impl FnOnce() -> String,
    ) -> Result<Response<Body>> {
        match response.status().as_u16() {
            200..=299 => Ok(response),
            404 => Err(RegistryError::NotFound {
                registry: self.registry.clone(),
                what: what(),
                message: error_message(&mut response),
            }),
            status => Err(self.status_error(method, url, status, &mut response)),
        }
    }

    /// Whether the repository already has the blob (`HEAD`).
    pub fn has_blob(&self, repository: &str, digest: &Digest) -> Result<bool> {
        let url = self.url(repository, &format!("blobs/{digest}"));
        let mut response = self.send("HEAD", &url, |auth| {
            with_auth(self.agent.head(&url), auth).call()
        })?;
        match response.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            status => Err(self.status_error("HEAD", &url, status, &mut response)),
        }
    }

    /// Uploads a blob from a file: `POST` opens an upload session, one `PUT
    /// ?digest=` sends the whole body and closes it (the registry verifies
    /// the digest).
    pub fn upload_blob(
        &self,
        repository: &str,
        digest: &Digest,
        path: &std::path::Path,
    ) -> Result<()> {
        let url = self.url(repository, "blobs/uploads/");
        let mut response = self.send("POST", &url, |auth| {
            with_auth(self.agent.post(&url), auth)
                .header("Content-Length", "0")
                .send_empty()
        })?;
        let status = response.status().as_u16();
        if status != 202 {
            return Err(self.status_error("POST", &url, status, &mut response));
        }
        let location = header(&response, "location")
            .ok_or_else(|| self.protocol("an upload session without a Location"))?;
        let location = self.absolute(&location);
        let sep = if location.contains('?') { '&' } else { '?' };
        let put_url = format!("{location}{sep}digest={digest}");
        let mut response = self.send("PUT", &put_url, |auth| {
            let file = std::fs::File::open(path).map_err(ureq::Error::Io)?;
            with_auth(self.agent.put(&put_url), auth)
                .header("Content-Type", "application/octet-stream")
                .send(file)
        })?;
        let status = response.status().as_u16();
        if status != 201 && status != 204 {
            return Err(self.status_error("PUT", &put_url, status, &mut response));
        }
        Ok(())
    }

    /// Puts a manifest (or index) under a tag or digest.
    pub fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<()> {
        let url = self.url(repository, &format!("manifests/{reference}"));
        let response = self.send("PUT", &url, |auth| {
            with_auth(self.agent.put(&url), auth)
                .header("Content-Type", media_type)
                .send(bytes)
        })?;
        self.check("PUT", &url, response, || {
            format!("repository `{repository}`")
        })?;
        Ok(())
    }

    /// The repositories of the registry (`/v2/_catalog`), up to `limit`.
    pub fn catalog(&self, limit: usize) -> Result<Vec<String>> {
        let url = format!("{}/v2/_catalog?n={limit}", self.base);
        let response = self.send("GET", &url, |auth| {
            with_auth(self.agent.get(&url), auth).call()
        })?;
        let mut response = self.check("GET", &url, response, || "`_catalog`".into())?;
        #[derive(Deserialize)]
        struct Catalog {
            #[serde(default)]
            repositories: Vec<String>,
        }
        let body = response
            .body_mut()
            .read_to_vec()
            .map_err(|e| self.unreachable(&url, e))?;
        let catalog: Catalog = serde_json::from_slice(&body)
            .map_err(|e| self.protocol(&format!("`_catalog` answer: {e}")))?;
        Ok(catalog.repositories)
    }

    /// A plain GET of any URL with this client's TLS settings (Docker Hub's
    /// search API lives outside `/v2/`).
    pub fn get_json<T: serde::de::DeserializeOwned>(
        agent_options: &ClientOptions,
        url: &str,
    ) -> Result<T> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .disable_verification(!agent_options.tls_verify)
                    .build(),
            )
            .build()
            .into();
        let registry = url.to_string();
        let unreachable = |e| RegistryError::Unreachable {
            registry: registry.clone(),
            url: url.into(),
            source: Box::new(e),
        };
        let mut response = agent.get(url).call().map_err(unreachable)?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(RegistryError::Status {
                registry: registry.clone(),
                method: "GET",
                url: url.into(),
                status,
                message: error_message(&mut response),
            });
        }
        let body = response.body_mut().read_to_vec().map_err(unreachable)?;
        serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol {
            registry,
            reason: e.to_string(),
        })
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.into()
        } else {
            format!("{}{location}", self.base)
        }
    }

    fn unreachable(&self, url: &str, e: ureq::Error) -> RegistryError {
        RegistryError::Unreachable {
            registry: self.registry.clone(),
            url: url.into(),
            source: Box::new(e),
        }
    }

    fn protocol(&self, reason: &str) -> RegistryError {
        RegistryError::Protocol {
            registry: self.registry.clone(),
            reason: reason.into(),
        }
    }

    fn status_error(
        &self,
        method: &'static str,
        url: &str,
        status: u16,
        response: &mut Response<Body>,
    ) -> RegistryError {
        RegistryError::Status {
            registry: self.registry.clone(),
            method,
            url: url.into(),
            status,
            message: error_message(response),
        }
    }
}

/// Whether a transport failure may pass if tried again: a refused or reset
/// connection, a timeout, a body cut short. Not a name that does not
/// resolve, a TLS or protocol failure.
pub fn is_transient(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::Io(_) | ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed
    )
}

fn with_auth<B>(request: ureq::RequestBuilder<B>, auth: Option<&str>) -> ureq::RequestBuilder<B> {
    match auth {
        Some(value) => request.header("Authorization", value),
        None => request,
    }
}

fn header(response: &Response<Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn challenge_of(response: &Response<Body>) -> Option<Challenge> {
    response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(challenge::parse)
        .next()
}

/// The registry's own words: `{"errors":[{"code":..,"message":..}]}`, else
/// the start of the body.
fn error_message(response: &mut Response<Body>) -> String {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(Deserialize)]
    struct ErrorEntry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let body = response
        .body_mut()
        .with_config()
        .limit(64 << 10)
        .read_to_vec()
        .unwrap_or_default();
    if let Ok(errors) = serde_json::from_slice::<Errors>(&body) {
        return errors
            .errors
            .iter()
            .map(|e| match (e.code.as_str(), e.message.as_str()) {
                ("", m) => m.to_string(),
                (c, "") => c.to_lowercase(),
                (c, m) => format!("{}: {m}", c.to_lowercase()),
            })
            .collect::<Vec<_>>()
            .join("; ");
    }
    let text = String::from_utf8_lossy(&body);
    text.trim().chars().take(200).collect()
}

/// RFC 3986 unreserved characters stay, everything else is `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The token scope for a repository.
pub fn repository_scope(repository: &str, access: Access) -> String {
    match access {
        Access::Pull => format!("repository:{repository}:pull"),
        Access::Push => format!("repository:{repository}:pull,push"),
    }
}

/// Whether a media type is an image index / manifest list.
pub fn is_index(media_type: &str) -> bool {
    media_type == oci::MEDIA_TYPE_INDEX || media_type == oci::MEDIA_TYPE_DOCKER_MANIFEST_LIST
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries() {
        for r in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
        ] {
            assert!(is_loopback(r), "{r}");
        }
        for r in [
            "docker.io",
            "10.0.0.1:5000",
            "localhost.example.com",
            "ghcr.io",
        ] {
            assert!(!is_loopback(r), "{r}");
        }
    }

    #[test]
    fn idle_timeout_from_the_environment() {
        assert_eq!(parse_timeout(None), DEFAULT_IDLE_TIMEOUT);
        assert_eq!(parse_timeout(Some("2")), Duration::from_secs(2));
        assert_eq!(parse_timeout(Some("0.5")), Duration::from_millis(500));
        for bad in ["", "0", "-1", "x", "inf", "NaN"] {
            assert_eq!(parse_timeout(Some(bad)), DEFAULT_IDLE_TIMEOUT, "{bad}");
        }
        assert_eq!(backoff(2), Duration::from_millis(500));
        assert_eq!(backoff(3), Duration::from_secs(1));
    }

    #[test]
    fn encodes_query_values() {
        assert_eq!(
            percent_encode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
    }
}
