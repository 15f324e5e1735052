//! An offline Python package index for the Python workflow's tests. This machine reaches
//! PyPI only through a proxy whose certificate authority containers do not trust, so the
//! wheels the examples need are downloaded once with the host's pip (into a wheelhouse cached
//! beside the test images) and served as a PEP 503 simple index on the host loopback.
//! Containers reach it at 10.0.2.2 (slirp4netns's address for the host), and the generated
//! Dockerfiles install from it through `PIP_INDEX_URL` / `UV_INDEX_URL`, the same way a user
//! behind a corporate mirror does.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use super::HttpServer;

/// What the examples install besides fastapi-app's lock: their requirements, the production
/// servers the templates add, the test runner, and uv itself (installed with pip).
const REQUIREMENTS: &[&str] = &["flask>=3,<4", "django>=5,<6", "gunicorn", "pytest>=8", "uv"];

/// The lock whose exact versions the wheelhouse must hold (`uv sync --locked`).
fn fastapi_lock() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fastapi-app/uv.lock")
}

/// `name==version` of every registry package in a uv.lock, Windows-only ones included (uv
/// resolves for every platform, so it asks the index for them too).
fn locked_packages(lock: &str) -> Vec<String> {
    let mut out = Vec::new();
    for package in lock.split("[[package]]").skip(1) {
        let field = |key: &str| {
            package.lines().find_map(|l| {
                l.strip_prefix(key)
                    .map(|v| v.trim().trim_matches('"').to_string())
            })
        };
        let is_registry = package.contains("source = { registry = ");
        if let (true, Some(name), Some(version)) =
            (is_registry, field("name = "), field("version = "))
        {
            out.push(format!("{name}=={version}"));
        }
    }
    out
}

/// PEP 503's normalized project name.
pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The project a wheel file belongs to (`Flask-3.1.0-py3-none-any.whl` → `flask`).
fn project_of(file: &str) -> String {
    normalize(file.split('-').next().unwrap_or(file))
}

/// Why the wheelhouse cannot be had here, if it cannot.
pub fn wheelhouse_missing() -> Option<String> {
    wheelhouse().err()
}

/// The wheelhouse, downloaded on first use (~35 MB, half a minute).
pub fn wheelhouse() -> Result<&'static Path, String> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        let lock = fs::read_to_string(fastapi_lock()).map_err(|e| e.to_string())?;
        let pinned = locked_packages(&lock);
        let mut hasher = Sha256::new();
        for line in REQUIREMENTS
            .iter()
            .map(|s| s.to_string())
            .chain(pinned.clone())
        {
            hasher.update(line.as_bytes());
            hasher.update(b"\n");
        }
        let key = hex::encode(&hasher.finalize()[..6]);
        super::images::cached(&format!("python-wheelhouse-{key}"), |out| {
            fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
            pip_download(out, REQUIREMENTS.iter().map(|s| s.to_string()), true)?;
            pip_download(out, pinned, false)?;
            for entry in fs::read_dir(out).map_err(|e| e.to_string())?.flatten() {
                use std::os::unix::fs::PermissionsExt;
                let _ = fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o644));
            }
            Ok(())
        })
    })
    .as_deref()
    .map_err(Clone::clone)
}

/// `pip download` of wheels for the stand-in image's CPython 3.11 on x86-64 glibc.
fn pip_download(
    out: &Path,
    requirements: impl IntoIterator<Item = String>,
    with_deps: bool,
) -> Result<(), String> {
    let mut cmd = Command::new("python3");
    cmd.args([
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
    ])
    .arg("--dest")
    .arg(out)
    .args(["--only-binary=:all:", "--python-version", "3.11"])
    .args(["--implementation", "cp", "--abi", "cp311", "--abi", "abi3"])
    .args(["--abi", "none", "--platform", "any"])
    .args([
        "--platform",
        "manylinux2014_x86_64",
        "--platform",
        "linux_x86_64",
    ]);
    for glibc in 5..=36 {
        cmd.arg("--platform")
            .arg(format!("manylinux_2_{glibc}_x86_64"));
    }
    if !with_deps {
        cmd.arg("--no-deps");
    }
    cmd.args(requirements).stdin(Stdio::null());
    let output = cmd
        .output()
        .map_err(|e| format!("python3 -m pip (the host's pip downloads the test wheels): {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`pip download` of the test wheels failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The wheelhouse served as a PEP 503 simple index on 127.0.0.1; stops when dropped.
pub struct PyIndex {
    server: HttpServer,
}

impl PyIndex {
    pub fn start() -> Self {
        let dir = wheelhouse().expect("the test wheelhouse").to_path_buf();
        let server = HttpServer::serve(move |path| page(&dir, path));
        PyIndex { server }
    }

    /// The index as containers see it (through slirp4netns's host address).
    pub fn url(&self) -> String {
        format!("http://10.0.2.2:{}/simple", self.server.port)
    }

    /// The environment that points pip and uv at this index (pip wants a plain-HTTP host
    /// marked trusted).
    pub fn env(&self) -> [(&'static str, String); 3] {
        [
            ("PIP_INDEX_URL", self.url()),
            ("PIP_TRUSTED_HOST", "10.0.2.2".to_string()),
            ("UV_INDEX_URL", self.url()),
        ]
    }

    /// A uv.lock made against this index instead of PyPI: uv records the index in the lock
    /// (and `uv sync --locked` refuses a lock made against another one), so a project that
    /// builds behind a mirror locks against it.
    pub fn relock(&self, lock: &str) -> String {
        let index = self.url();
        let lock = lock.replace("https://pypi.org/simple", &index);
        let prefix = "\"https://files.pythonhosted.org/";
        let mut out = String::new();
        let mut rest = lock.as_str();
        while let Some(start) = rest.find(prefix) {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let end = after.find('"').unwrap_or(after.len());
            let file = after[..end].rsplit('/').next().unwrap_or_default();
            out.push_str(&format!("\"{index}/{}/{file}", project_of(file)));
            rest = &after[end..];
        }
        out.push_str(rest);
        out
    }
}

/// The index's answer for `path`: the project list, a project's file links, or a file.
fn page(dir: &Path, path: &str) -> super::http::Reply {
    let rel = path.strip_prefix("/simple/")?;
    let files: Vec<String> = fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    let html = |links: Vec<String>| {
        let body: String = links
            .iter()
            .map(|l| format!("<a href=\"{l}\">{l}</a><br>\n"))
            .collect();
        Some((
            "text/html",
            format!("<!DOCTYPE html>\n<html><body>\n{body}</body></html>\n").into_bytes(),
        ))
    };
    match rel.split_once('/') {
        None if rel.is_empty() => {
            let mut projects: Vec<String> = files
                .iter()
                .map(|f| format!("{}/", project_of(f)))
                .collect();
            projects.sort();
            projects.dedup();
            html(projects)
        }
        Some((project, "")) => {
            let project = normalize(project);
            let mine: Vec<String> = files
                .into_iter()
                .filter(|f| project_of(f) == project)
                .collect();
            if mine.is_empty() {
                return None;
            }
            html(mine)
        }
        Some((_, file)) if files.iter().any(|f| f == file) => {
            Some(("application/octet-stream", fs::read(dir.join(file)).ok()?))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_lock_entries() {
        assert_eq!(normalize("Typing_Extensions"), "typing-extensions");
        assert_eq!(
            project_of("pydantic_core-2.0-cp311-cp311-manylinux.whl"),
            "pydantic-core"
        );
        let lock = "version = 1\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = { virtual = \".\" }\n\n[[package]]\nname = \"idna\"\nversion = \"3.7\"\nsource = { registry = \"https://pypi.org/simple\" }\n";
        assert_eq!(locked_packages(lock), ["idna==3.7"]);
    }
}
