//! A real registry on the loopback for registry tests: Debian's `docker-registry` (the CNCF
//! distribution registry) on a free port with its storage in a temp dir, optionally behind
//! htpasswd basic auth; a raw HTTP client to seed it with crafted images; a throttling proxy
//! so a pull can be killed midway.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
pub const HTPASSWD_BIN: &str = "/usr/bin/htpasswd";
pub const SKOPEO_BIN: &str = "/usr/bin/skopeo";

/// Why registry tests cannot run here, if they cannot.
pub fn registry_missing() -> Option<String> {
    [REGISTRY_BIN, HTPASSWD_BIN]
        .iter()
        .find(|p| !Path::new(p).is_file())
        .map(|p| format!("{p} is not installed (apt-get install docker-registry apache2-utils)"))
}

pub fn skopeo_missing() -> Option<String> {
    (!Path::new(SKOPEO_BIN).is_file())
        .then(|| format!("{SKOPEO_BIN} is not installed (apt-get install skopeo)"))
}

/// A running registry, stopped (and its storage removed) when dropped.
pub struct Registry {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Without authentication.
    pub fn start() -> Self {
        Self::launch(None)
    }

    /// With htpasswd basic auth for one user.
    pub fn start_with_user(user: &str, password: &str) -> Self {
        Self::launch(Some((user, password)))
    }

    fn launch(auth: Option<(&str, &str)>) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("registry-")
            .tempdir()
            .expect("registry temp dir");
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((user, password)) = auth {
            let out = Command::new(HTPASSWD_BIN)
                .args(["-Bbn", user, password])
                .output()
                .expect("running htpasswd");
            assert!(out.status.success(), "htpasswd failed: {out:?}");
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, &out.stdout).expect("writing htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: devbox-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("writing the registry config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("registry log");
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {REGISTRY_BIN}: {e}"));
        let registry = Registry { child, port, dir };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok((status, _, _)) = self.request("GET", "/v2/", &[], &[]) {
                if status == 200 || status == 401 {
                    return;
                }
            }
            thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default();
        panic!("the registry on port {} did not come up:\n{log}", self.port);
    }

    /// `127.0.0.1:<port>`, the registry part of references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Where the registry keeps a blob's bytes (to tamper with it).
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// One HTTP/1.1 request with `Connection: close`: (status, head, body).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<(u16, String, Vec<u8>)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.host(),
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let text_end = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(response.len(), |i| i + 4);
        let head = String::from_utf8_lossy(&response[..text_end]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok((status, head, response[text_end..].to_vec()))
    }

    /// Uploads a blob: `POST` opens a session, `PUT <location>&digest=` sends it whole.
    pub fn upload_blob(&self, repository: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let (status, head, body) = self
            .request(
                "POST",
                &format!("/v2/{repository}/blobs/uploads/"),
                &[],
                &[],
            )
            .expect("starting a blob upload");
        assert_eq!(
            status,
            202,
            "blob upload: {}",
            String::from_utf8_lossy(&body)
        );
        let location = head
            .lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case("location"))
                    .map(|(_, v)| v.trim().to_string())
            })
            .expect("an upload Location");
        let path = location
            .strip_prefix(&format!("http://{}", self.host()))
            .unwrap_or(&location);
        let sep = if path.contains('?') { '&' } else { '?' };
        let (status, _, body) = self
            .request(
                "PUT",
                &format!("{path}{sep}digest={digest}"),
                &[("Content-Type", "application/octet-stream")],
                bytes,
            )
            .expect("uploading a blob");
        assert_eq!(
            status,
            201,
            "blob upload: {}",
            String::from_utf8_lossy(&body)
        );
        digest
    }

    /// Puts a manifest or index; returns its digest.
    pub fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> String {
        let (status, _, body) = self
            .request(
                "PUT",
                &format!("/v2/{repository}/manifests/{reference}"),
                &[("Content-Type", media_type)],
                bytes,
            )
            .expect("putting a manifest");
        assert_eq!(
            status,
            201,
            "manifest put: {}",
            String::from_utf8_lossy(&body)
        );
        sha256(bytes)
    }

    /// Pushes a crafted image (its blobs, then its manifest under `tag`).
    pub fn push_image(&self, repository: &str, tag: &str, image: &TestImage) -> String {
        for blob in &image.blobs {
            self.upload_blob(repository, blob);
        }
        self.put_manifest(repository, tag, OCI_MANIFEST, &image.manifest)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// This machine's architecture in OCI's names.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

/// A tar holding one regular file.
pub fn tar_with_file(path: &str, contents: &str) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_size(contents.len() as u64);
    header.set_mtime(1_700_000_000);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, path, contents.as_bytes())
        .expect("tar");
    tar.into_inner().expect("tar")
}

/// A crafted OCI image: gzip layers, config, manifest.
#[derive(Clone)]
pub struct TestImage {
    pub manifest: Vec<u8>,
    /// Layers then config.
    pub blobs: Vec<Vec<u8>>,
    pub layer_digests: Vec<String>,
}

impl TestImage {
    /// An image of the given uncompressed layer tars for `linux/<arch>`.
    pub fn new(layers: &[Vec<u8>], arch: &str) -> TestImage {
        let diff_ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
        let compressed: Vec<Vec<u8>> = layers.iter().map(|l| gzip(l)).collect();
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }))
        .expect("config json");
        let layer_descriptors: Vec<serde_json::Value> = compressed
            .iter()
            .map(|b| {
                serde_json::json!({
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256(b),
                    "size": b.len(),
                })
            })
            .collect();
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
            "layers": layer_descriptors,
        }))
        .expect("manifest json");
        let layer_digests = compressed.iter().map(|b| sha256(b)).collect();
        let mut blobs = compressed;
        blobs.push(config);
        TestImage {
            manifest,
            blobs,
            layer_digests,
        }
    }

    /// Writes the image as an OCI image layout directory (`oci:DIR:tag` for skopeo).
    pub fn write_oci_layout(&self, dir: &Path, tag: &str) {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).expect("layout dir");
        for blob in self.blobs.iter().chain([&self.manifest]) {
            let digest = sha256(blob);
            std::fs::write(blobs.join(&digest["sha256:".len()..]), blob).expect("layout blob");
        }
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
            .expect("oci-layout");
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": OCI_MANIFEST,
                "digest": sha256(&self.manifest),
                "size": self.manifest.len(),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }],
        });
        std::fs::write(dir.join("index.json"), index.to_string()).expect("index.json");
    }
}

/// A TCP proxy in front of the registry whose answers flow at most `rate` bytes a second
/// (0: unlimited), so a pull can be interrupted midway.
pub struct ThrottledProxy {
    pub port: u16,
    pub rate: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    /// The request lines (`GET /v2/... HTTP/1.1`) that went through.
    requests: Arc<Mutex<Vec<String>>>,
}

impl ThrottledProxy {
    pub fn start(target: u16, rate: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy bind");
        let port = listener.local_addr().expect("proxy addr").port();
        let rate = Arc::new(AtomicU64::new(rate));
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        {
            let rate = rate.clone();
            let stop = stop.clone();
            let requests = requests.clone();
            thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                        continue;
                    };
                    let (c2, s2) = (
                        client.try_clone().expect("clone"),
                        server.try_clone().expect("clone"),
                    );
                    let requests = requests.clone();
                    thread::spawn(move || copy(client, server, None, Some(requests)));
                    let rate = rate.clone();
                    thread::spawn(move || copy(s2, c2, Some(rate), None));
                }
            });
        }
        ThrottledProxy {
            port,
            rate,
            stop,
            requests,
        }
    }

    /// How many GET requests for the blob went through.
    pub fn requests_for(&self, digest: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("GET ") && l.contains(&format!("/blobs/{digest}")))
            .count()
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn copy(
    mut from: TcpStream,
    mut to: TcpStream,
    rate: Option<Arc<AtomicU64>>,
    requests: Option<Arc<Mutex<Vec<String>>>>,
) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(requests) = &requests {
            let text = String::from_utf8_lossy(&buf[..n]);
            let mut seen = requests.lock().unwrap();
            seen.extend(
                text.lines()
                    .filter(|l| l.ends_with("HTTP/1.1"))
                    .map(str::to_string),
            );
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        if let Some(limit) = rate.as_ref().map(|r| r.load(Ordering::SeqCst)) {
            if limit > 0 {
                thread::sleep(Duration::from_secs_f64(n as f64 / limit as f64));
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

impl Drop for ThrottledProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.rate.store(0, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A fake registry that authenticates like Docker Hub: `/v2/` answers 401 with a bearer
/// challenge, `/token` hands out `T:<scope>` tokens (only to `user`:`password`, whose basic
/// credentials it checks), `/v2/_catalog` wants a token for a scope the client cannot guess
/// (so the client must follow a second challenge). Records every request line + auth header.
pub struct FakeTokenRegistry {
    pub port: u16,
    pub log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl FakeTokenRegistry {
    pub fn start(user: &str, password: &str, repositories: &[&str]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let basic = {
            use base64::Engine as _;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )
        };
        let catalog = serde_json::json!({ "repositories": repositories }).to_string();
        let log2 = log.clone();
        accept_until_stopped(listener, stop.clone(), move |stream| {
            let _ = fake_answer(stream, port, &basic, &catalog, &log2);
        });
        FakeTokenRegistry { port, log, stop }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn fake_answer(
    mut stream: TcpStream,
    port: u16,
    basic: &str,
    catalog: &str,
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&request).into_owned();
    let line = text.lines().next().unwrap_or("").to_string();
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let auth = text
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    log.lock().unwrap().push(format!("{line} [{auth}]"));
    let challenge = |scope: &str| {
        let scope = if scope.is_empty() {
            String::new()
        } else {
            format!(",scope=\"{scope}\"")
        };
        format!(
            "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fake\"{scope}\r\n"
        )
    };
    let (status, extra, body) = if path.starts_with("/token") {
        let scope = path
            .split_once("scope=")
            .map(|(_, s)| {
                s.split('&')
                    .next()
                    .unwrap_or("")
                    .replace("%3A", ":")
                    .replace("%2A", "*")
            })
            .unwrap_or_default();
        if auth == basic {
            (
                "200 OK",
                String::new(),
                format!(r#"{{"token":"T:{scope}"}}"#),
            )
        } else {
            (
                "401 Unauthorized",
                String::new(),
                r#"{"details":"bad credentials"}"#.to_string(),
            )
        }
    } else if path == "/v2/" {
        if auth.starts_with("Bearer T:") {
            ("200 OK", String::new(), "{}".to_string())
        } else {
            ("401 Unauthorized", challenge(""), String::new())
        }
    } else if path.starts_with("/v2/_catalog") {
        if auth == "Bearer T:registry:catalog:search" {
            ("200 OK", String::new(), catalog.to_string())
        } else {
            (
                "401 Unauthorized",
                challenge("registry:catalog:search"),
                String::new(),
            )
        }
    } else {
        ("404 Not Found", String::new(), String::new())
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Hands each connection to `handle` on a thread of its own, until `stop` is set (and a
/// connection wakes the accept).
fn accept_until_stopped(
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    mut handle: impl FnMut(TcpStream) + Send + 'static,
) {
    thread::spawn(move || {
        for stream in listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            if let Ok(stream) = stream {
                handle(stream);
            }
        }
    });
}

impl Drop for FakeTokenRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// What a [`FaultyRegistry`] does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Serves everything right.
    None,
    /// The layer blob's bytes are changed (same length): a digest mismatch.
    CorruptBlob,
    /// The first `n` GETs of the layer blob announce its whole length, send half and close.
    Truncate(usize),
    /// The layer blob sends half, then nothing for a minute.
    Stall,
    /// The manifest is 5 MiB (announced by Content-Length).
    HugeManifest,
    /// The manifest is 5 MiB, without a Content-Length (the end is the close).
    HugeManifestUnannounced,
    /// The first `n` requests for the manifest answer 500.
    ServerError(usize),
}

/// A registry stand-in on the loopback (a thread per connection) serving one image as
/// `<host>/faulty:latest`, with one [`Fault`]. Honours `Range` on blobs (206), and records
/// every request line with its `Range` header.
pub struct FaultyRegistry {
    pub port: u16,
    pub log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

struct Served {
    image: TestImage,
    fault: Fault,
    /// GETs of the layer blob and of the manifest so far.
    blob_gets: AtomicU64,
    manifest_gets: AtomicU64,
}

impl FaultyRegistry {
    pub fn start(image: TestImage, fault: Fault) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(Served {
            image,
            fault,
            blob_gets: AtomicU64::new(0),
            manifest_gets: AtomicU64::new(0),
        });
        let (log2, stop2) = (log.clone(), stop.clone());
        accept_until_stopped(listener, stop.clone(), move |stream| {
            let (log, stop, served) = (log2.clone(), stop2.clone(), served.clone());
            thread::spawn(move || {
                let _ = faulty_connection(stream, &served, &log, &stop);
            });
        });
        FaultyRegistry { port, log, stop }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `<host>/faulty:latest`.
    pub fn reference(&self) -> String {
        format!("{}/faulty:latest", self.host())
    }

    /// The logged requests containing `text`.
    pub fn requests_with(&self, text: &str) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.iter().filter(|l| l.contains(text)).cloned().collect()
    }
}

impl Drop for FaultyRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Answers the requests of one (keep-alive) connection until it closes.
fn faulty_connection(
    mut stream: TcpStream,
    served: &Served,
    log: &Mutex<Vec<String>>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let end = loop {
            if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            pending.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&pending[..end]).into_owned();
        pending.drain(..end);
        let line = head.lines().next().unwrap_or("").to_string();
        let range = head.lines().find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("range"))
                .map(|(_, v)| v.trim().to_string())
        });
        log.lock().unwrap().push(format!(
            "{line}{}",
            range
                .as_deref()
                .map(|r| format!(" [{r}]"))
                .unwrap_or_default()
        ));
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        if !faulty_answer(&mut stream, served, &path, range.as_deref(), stop)? {
            return Ok(());
        }
    }
}

/// Writes one answer; `false` when the connection must close (after a fault).
fn faulty_answer(
    stream: &mut TcpStream,
    served: &Served,
    path: &str,
    range: Option<&str>,
    stop: &AtomicBool,
) -> std::io::Result<bool> {
    let image = &served.image;
    let manifest_digest = sha256(&image.manifest);
    let layer = &image.blobs[0];
    let ok = |stream: &mut TcpStream, kind: &str, body: &[u8]| -> std::io::Result<bool> {
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nDocker-Content-Digest: {}\r\n\r\n",
            body.len(),
            sha256(body)
        )?;
        stream.write_all(body)?;
        Ok(true)
    };
    if path == "/v2/" {
        return ok(stream, "application/json", b"{}");
    }
    if path == "/v2/faulty/manifests/latest"
        || path == format!("/v2/faulty/manifests/{manifest_digest}")
    {
        let n = served.manifest_gets.fetch_add(1, Ordering::SeqCst) as usize;
        match served.fault {
            Fault::ServerError(times) if n < times => {
                let body = br#"{"errors":[{"code":"UNKNOWN","message":"try later"}]}"#;
                write!(
                    stream,
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )?;
                stream.write_all(body)?;
                return Ok(true);
            }
            Fault::HugeManifest => {
                let huge = vec![b' '; 5 << 20];
                return ok(stream, OCI_MANIFEST, &huge);
            }
            Fault::HugeManifestUnannounced => {
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: {OCI_MANIFEST}\r\nConnection: close\r\n\r\n"
                )?;
                let chunk = vec![b' '; 64 << 10];
                for _ in 0..(5 << 20) / chunk.len() {
                    stream.write_all(&chunk)?;
                }
                return Ok(false);
            }
            _ => return ok(stream, OCI_MANIFEST, &image.manifest),
        }
    }
    let Some(digest) = path.strip_prefix("/v2/faulty/blobs/") else {
        write!(
            stream,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        )?;
        return Ok(true);
    };
    let Some(blob) = image.blobs.iter().find(|b| sha256(b) == digest) else {
        let body = br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#;
        write!(stream, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len())?;
        stream.write_all(body)?;
        return Ok(true);
    };
    let mut bytes = blob.clone();
    let is_layer = blob == layer;
    let n = if is_layer {
        served.blob_gets.fetch_add(1, Ordering::SeqCst) as usize
    } else {
        0
    };
    if is_layer && served.fault == Fault::CorruptBlob {
        let middle = bytes.len() / 2;
        for b in &mut bytes[middle..middle + 16] {
            *b ^= 0xff;
        }
    }
    let start = range
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|s| *s < bytes.len());
    let status = match start {
        Some(s) => format!(
            "206 Partial Content\r\nContent-Range: bytes {s}-{}/{}",
            bytes.len() - 1,
            bytes.len()
        ),
        None => "200 OK".to_string(),
    };
    let body = &bytes[start.unwrap_or(0)..];
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    match served.fault {
        Fault::Truncate(times) if is_layer && n < times => {
            stream.write_all(&body[..body.len() / 2])?;
            stream.flush()?;
            Ok(false)
        }
        Fault::Stall if is_layer => {
            stream.write_all(&body[..body.len() / 2])?;
            stream.flush()?;
            let until = Instant::now() + Duration::from_secs(60);
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(100));
            }
            Ok(false)
        }
        _ => {
            stream.write_all(body)?;
            Ok(true)
        }
    }
}
