//! Which Python a project wants: `.python-version`, `requires-python` (PEP 621 or Poetry's
//! `python = "^3.11"`), `runtime.txt`, or the default.

use super::files::ProjectFiles;

/// The Python used when the project says nothing (the newest with a long support window).
pub const DEFAULT: (u32, u32) = (3, 12);

/// The minor versions devbox will pick from, newest first.
const KNOWN: &[(u32, u32)] = &[(3, 14), (3, 13), (3, 12), (3, 11), (3, 10), (3, 9), (3, 8)];

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PythonVersion {
    /// `3.12`: the tag part of `python:3.12-slim`.
    pub version: String,
    /// Where it came from (`.python-version`, `pyproject.toml`, `runtime.txt`, `default`).
    pub source: String,
}

fn found(version: (u32, u32), source: &str) -> PythonVersion {
    PythonVersion {
        version: format!("{}.{}", version.0, version.1),
        source: source.into(),
    }
}

/// `3.12.1` / `3.12` / `python-3.11.4` / `cpython@3.12` → (3, 12).
fn major_minor(text: &str) -> Option<(u32, u32)> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let mut parts = text[start..].split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// One clause of a version specifier, on major.minor only.
#[derive(Debug, Clone, Copy)]
enum Clause {
    AtLeast((u32, u32)),
    Below((u32, u32)),
    AtMost((u32, u32)),
    Exactly((u32, u32)),
    Not((u32, u32)),
}

impl Clause {
    fn allows(self, v: (u32, u32)) -> bool {
        match self {
            Clause::AtLeast(x) => v >= x,
            Clause::Below(x) => v < x,
            Clause::AtMost(x) => v <= x,
            Clause::Exactly(x) => v == x,
            Clause::Not(x) => v != x,
        }
    }
}

/// PEP 440 specifiers (`>=3.10,<3.13`, `~=3.11`, `==3.12.*`) and Poetry's (`^3.11`, `~3.11`).
/// Patch levels are dropped: `<3.12.4` still allows 3.12 (the image tag is major.minor).
fn clauses(spec: &str) -> Option<Vec<Clause>> {
    let mut out = Vec::new();
    for part in spec.split([',', '|']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let op_end = part
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(part.len());
        let (op, version) = (part[..op_end].trim(), &part[op_end..]);
        let v = major_minor(version).or_else(|| {
            version
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .map(|m| (m, 0))
        })?;
        let patch_given = version.split('.').count() >= 3 && !version.ends_with(".*");
        match op {
            ">=" => out.push(Clause::AtLeast(v)),
            ">" if patch_given => out.push(Clause::AtLeast(v)),
            ">" => out.push(Clause::AtLeast((v.0, v.1 + 1))),
            "<" if patch_given => out.push(Clause::AtMost(v)),
            "<" => out.push(Clause::Below(v)),
            "<=" => out.push(Clause::AtMost(v)),
            "==" | "===" | "" => out.push(Clause::Exactly(v)),
            "!=" => {
                if version.ends_with(".*") || !patch_given {
                    out.push(Clause::Not(v))
                }
            }
            "~=" if patch_given => out.push(Clause::Exactly(v)),
            "~=" => {
                out.push(Clause::AtLeast(v));
                out.push(Clause::Below((v.0 + 1, 0)));
            }
            "~" => out.push(Clause::Exactly(v)),
            "^" => {
                out.push(Clause::AtLeast(v));
                out.push(Clause::Below((v.0 + 1, 0)));
            }
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The version to use for a specifier: the default if it is allowed, else the newest allowed.
pub fn choose(spec: &str) -> Option<(u32, u32)> {
    let clauses = clauses(spec)?;
    let allowed = |v: (u32, u32)| clauses.iter().all(|c| c.allows(v));
    if allowed(DEFAULT) {
        return Some(DEFAULT);
    }
    KNOWN.iter().copied().find(|v| allowed(*v))
}

pub fn detect(files: &dyn ProjectFiles, pyproject: Option<&toml::Table>) -> PythonVersion {
    if let Some(v) = files.read(".python-version").and_then(|t| {
        t.lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .and_then(major_minor)
    }) {
        return found(v, ".python-version");
    }
    let requires = pyproject.and_then(|p| {
        p.get("project")
            .and_then(|p| p.get("requires-python"))
            .or_else(|| {
                p.get("tool")?
                    .get("poetry")?
                    .get("dependencies")?
                    .get("python")
            })
            .and_then(|v| v.as_str())
    });
    if let Some(v) = requires.and_then(choose) {
        return found(v, "pyproject.toml");
    }
    if let Some(v) = files.read("runtime.txt").as_deref().and_then(major_minor) {
        return found(v, "runtime.txt");
    }
    if let Some(v) = files.read("Pipfile").and_then(|t| {
        let table: toml::Table = t.parse().ok()?;
        let requires = table.get("requires")?;
        requires
            .get("python_version")
            .or_else(|| requires.get("python_full_version"))?
            .as_str()
            .and_then(major_minor)
    }) {
        return found(v, "Pipfile");
    }
    found(DEFAULT, "default")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::files::MemoryFiles;

    #[test]
    fn specifiers() {
        assert_eq!(choose(">=3.8"), Some((3, 12)));
        assert_eq!(choose(">=3.13"), Some((3, 14)));
        assert_eq!(choose(">=3.9,<3.12"), Some((3, 11)));
        assert_eq!(choose("~=3.10"), Some((3, 12)));
        assert_eq!(choose("~=3.10.2"), Some((3, 10)));
        assert_eq!(choose("==3.11.*"), Some((3, 11)));
        assert_eq!(choose("^3.11"), Some((3, 12)));
        assert_eq!(choose("~3.10"), Some((3, 10)));
        assert_eq!(choose("<3.12.4"), Some((3, 12)));
        assert_eq!(choose(">3.12"), Some((3, 14)));
        assert_eq!(choose("!=3.12.*,>=3.11"), Some((3, 14)));
        assert_eq!(choose(">=4"), None);
        assert_eq!(choose("banana"), None);
    }

    fn detect_in(files: &[(&str, &str)]) -> PythonVersion {
        let files = MemoryFiles::new(files);
        let pyproject = files.pyproject();
        detect(&files, pyproject.as_ref())
    }

    #[test]
    fn sources_in_order() {
        let v = detect_in(&[
            (".python-version", "3.11.7\n"),
            ("pyproject.toml", "[project]\nrequires-python='>=3.12'\n"),
        ]);
        assert_eq!(
            (v.version.as_str(), v.source.as_str()),
            ("3.11", ".python-version")
        );
        let v = detect_in(&[(
            "pyproject.toml",
            "[project]\nrequires-python='>=3.9,<3.11'\n",
        )]);
        assert_eq!(
            (v.version.as_str(), v.source.as_str()),
            ("3.10", "pyproject.toml")
        );
        let v = detect_in(&[(
            "pyproject.toml",
            "[tool.poetry.dependencies]\npython='~3.11'\n",
        )]);
        assert_eq!(v.version, "3.11");
        let v = detect_in(&[("runtime.txt", "python-3.9.18\n")]);
        assert_eq!(
            (v.version.as_str(), v.source.as_str()),
            ("3.9", "runtime.txt")
        );
        let v = detect_in(&[("Pipfile", "[requires]\npython_version = \"3.10\"\n")]);
        assert_eq!(v.version, "3.10");
        let v = detect_in(&[]);
        assert_eq!((v.version.as_str(), v.source.as_str()), ("3.12", "default"));
    }
}
