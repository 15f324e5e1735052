//! How a project declares its dependencies, and which packages it names.

use std::collections::BTreeSet;

use super::files::ProjectFiles;

/// The tool that owns the dependency list, which decides how the Dockerfile installs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Style {
    /// `requirements*.txt` and pip.
    Requirements,
    /// `uv.lock` (or `[tool.uv]`): uv sync.
    Uv,
    /// `[tool.poetry]` / `poetry.lock`.
    Poetry,
    /// `Pipfile` / `Pipfile.lock`.
    Pipenv,
    /// `[project]` in pyproject.toml, built by setuptools, PDM, Hatch or another backend.
    Pep621,
    /// `setup.py` / `setup.cfg` only.
    Setuptools,
    /// Nothing declared.
    None,
}

/// What a project depends on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dependencies {
    pub style: Style,
    /// The build backend's tool when `style` is PEP 621 (`pdm`, `hatch`, `setuptools`, ...).
    pub backend: Option<String>,
    /// Files the Dockerfile copies before the source, so editing code does not re-install.
    pub manifest_files: Vec<String>,
    /// The runtime requirements file (`Requirements` style).
    pub requirements: Option<String>,
    /// A development requirements file (`requirements-dev.txt`, `dev-requirements.txt`, ...).
    pub dev_requirements: Option<String>,
    /// Normalised names of every package the project names (runtime and development).
    pub packages: BTreeSet<String>,
}

impl Dependencies {
    pub fn has(&self, package: &str) -> bool {
        self.packages.contains(package)
    }
}

/// PEP 503 normalisation: lowercase, runs of `-_.` become `-`.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            dash = true;
        } else {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The package name at the start of a PEP 508 requirement (`Django[argon2]>=5; python<4`).
pub fn requirement_name(line: &str) -> Option<String> {
    let line = line.split('#').next()?.trim();
    if line.is_empty() || line.starts_with('-') || line.contains("://") {
        return None;
    }
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(line.len());
    let name = normalise(&line[..end]);
    (!name.is_empty()).then_some(name)
}

fn requirement_names(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines().filter_map(requirement_name)
}

fn is_dev_requirements(name: &str) -> bool {
    let stem = name.trim_end_matches(".txt");
    ["dev", "test", "tests", "testing", "lint"]
        .iter()
        .any(|w| stem.split(['-', '_', '.']).any(|part| part == *w))
}

/// Detects the dependency style and collects the package names.
pub fn detect(files: &dyn ProjectFiles, pyproject: Option<&toml::Table>) -> Dependencies {
    let root = files.list("");
    let mut packages = BTreeSet::new();
    let requirement_files: Vec<&String> = root
        .iter()
        .filter(|n| n.starts_with("requirements") && n.ends_with(".txt") || is_req_variant(n))
        .collect();
    for name in &requirement_files {
        if let Some(text) = files.read(name) {
            packages.extend(requirement_names(&text));
        }
    }
    let requirements = root
        .iter()
        .find(|n| *n == "requirements.txt")
        .or_else(|| {
            requirement_files
                .iter()
                .copied()
                .find(|n| !is_dev_requirements(n))
        })
        .cloned();
    let dev_requirements = requirement_files
        .iter()
        .copied()
        .find(|n| is_dev_requirements(n))
        .cloned();

    let tool = pyproject
        .and_then(|p| p.get("tool"))
        .and_then(|t| t.as_table());
    let project = pyproject
        .and_then(|p| p.get("project"))
        .and_then(|t| t.as_table());
    if let Some(project) = project {
        collect_pep621(project, &mut packages);
    }
    if let Some(groups) = pyproject
        .and_then(|p| p.get("dependency-groups"))
        .and_then(|t| t.as_table())
    {
        for list in groups.values() {
            collect_strings(list, &mut packages);
        }
    }
    let poetry = tool
        .and_then(|t| t.get("poetry"))
        .and_then(|t| t.as_table());
    if let Some(poetry) = poetry {
        collect_poetry(poetry, &mut packages);
    }
    let pipfile = files
        .read("Pipfile")
        .and_then(|t| t.parse::<toml::Table>().ok());
    if let Some(pipfile) = &pipfile {
        for section in ["packages", "dev-packages"] {
            if let Some(table) = pipfile.get(section).and_then(|t| t.as_table()) {
                packages.extend(table.keys().map(|k| normalise(k)));
            }
        }
    }
    for name in ["setup.cfg", "setup.py"] {
        if let Some(text) = files.read(name) {
            packages.extend(setup_requirements(&text));
        }
    }

    let has = |n: &str| root.iter().any(|r| r == n);
    let backend = pyproject
        .and_then(|p| p.get("build-system"))
        .and_then(|b| b.get("build-backend"))
        .and_then(|b| b.as_str())
        .map(backend_tool);
    let (style, manifest_files): (Style, Vec<&str>) =
        if has("uv.lock") || tool.is_some_and(|t| t.contains_key("uv")) && project.is_some() {
            (Style::Uv, vec!["pyproject.toml", "uv.lock"])
        } else if poetry.is_some() || has("poetry.lock") {
            (Style::Poetry, vec!["pyproject.toml", "poetry.lock"])
        } else if pipfile.is_some() {
            (Style::Pipenv, vec!["Pipfile", "Pipfile.lock"])
        } else if requirements.is_some() {
            (Style::Requirements, vec![])
        } else if project.is_some() {
            (Style::Pep621, vec!["pyproject.toml"])
        } else if has("setup.py") || has("setup.cfg") {
            (
                Style::Setuptools,
                vec!["setup.py", "setup.cfg", "pyproject.toml"],
            )
        } else {
            (Style::None, vec![])
        };
    let mut manifest_files: Vec<String> = manifest_files
        .into_iter()
        .filter(|f| has(f))
        .map(str::to_string)
        .collect();
    if style == Style::Requirements {
        manifest_files.extend(requirement_files.iter().map(|s| s.to_string()));
    }
    Dependencies {
        style,
        backend: (style == Style::Pep621).then_some(backend).flatten(),
        manifest_files,
        requirements,
        dev_requirements,
        packages,
    }
}

/// `requirements/base.txt`-style folders are not looked into; `dev-requirements.txt` is a
/// common variant at the root.
fn is_req_variant(name: &str) -> bool {
    name.ends_with("-requirements.txt") || name.ends_with("_requirements.txt")
}

fn backend_tool(backend: &str) -> String {
    let first = backend.split(['.', ':']).next().unwrap_or(backend);
    match first {
        "pdm" => "pdm",
        "hatchling" => "hatch",
        "flit_core" => "flit",
        "poetry" => "poetry",
        "setuptools" => "setuptools",
        "maturin" => "maturin",
        other => other,
    }
    .to_string()
}

fn collect_strings(value: &toml::Value, into: &mut BTreeSet<String>) {
    if let Some(list) = value.as_array() {
        into.extend(
            list.iter()
                .filter_map(|v| v.as_str())
                .filter_map(requirement_name),
        );
    }
}

fn collect_pep621(project: &toml::Table, into: &mut BTreeSet<String>) {
    if let Some(deps) = project.get("dependencies") {
        collect_strings(deps, into);
    }
    if let Some(optional) = project
        .get("optional-dependencies")
        .and_then(|o| o.as_table())
    {
        for list in optional.values() {
            collect_strings(list, into);
        }
    }
}

fn collect_poetry(poetry: &toml::Table, into: &mut BTreeSet<String>) {
    let mut tables: Vec<&toml::Table> = Vec::new();
    for key in ["dependencies", "dev-dependencies"] {
        if let Some(t) = poetry.get(key).and_then(|t| t.as_table()) {
            tables.push(t);
        }
    }
    if let Some(groups) = poetry.get("group").and_then(|g| g.as_table()) {
        for group in groups.values() {
            if let Some(t) = group.get("dependencies").and_then(|t| t.as_table()) {
                tables.push(t);
            }
        }
    }
    for table in tables {
        into.extend(
            table
                .keys()
                .filter(|k| k.as_str() != "python")
                .map(|k| normalise(k)),
        );
    }
}

/// Quoted requirement strings in `install_requires=[...]` (setup.py) and the indented lines
/// after `install_requires =` (setup.cfg). A heuristic: setup.py is code.
fn setup_requirements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["install_requires", "tests_require", "extras_require"] {
        let Some(start) = text.find(key) else {
            continue;
        };
        let rest = &text[start + key.len()..];
        let rest = rest.trim_start_matches([' ', '=', ':']);
        if rest.starts_with(['[', '(', '{']) {
            let end = rest.find([']', ')', '}']).unwrap_or(rest.len());
            for quoted in rest[..end].split(['"', '\'']).skip(1).step_by(2) {
                out.extend(requirement_name(quoted));
            }
        } else {
            // setup.cfg: the value continues on indented lines.
            for line in rest.lines().skip(1) {
                if !line.starts_with([' ', '\t']) {
                    break;
                }
                out.extend(requirement_name(line));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::files::MemoryFiles;

    fn detect_in(files: &[(&str, &str)]) -> Dependencies {
        let files = MemoryFiles::new(files);
        let pyproject = files.pyproject();
        detect(&files, pyproject.as_ref())
    }

    #[test]
    fn names_are_normalised() {
        assert_eq!(normalise("Flask_SQLAlchemy"), "flask-sqlalchemy");
        assert_eq!(normalise("zope.interface"), "zope-interface");
        assert_eq!(
            requirement_name("Django[argon2]>=5.0 ; python_version>'3'").as_deref(),
            Some("django")
        );
        assert_eq!(requirement_name("-r base.txt"), None);
        assert_eq!(requirement_name("  # comment"), None);
        assert_eq!(
            requirement_name("uvicorn[standard]==0.30 # server").as_deref(),
            Some("uvicorn")
        );
    }

    #[test]
    fn requirements_files_main_and_dev() {
        let d = detect_in(&[
            ("requirements.txt", "flask==3.0\ngunicorn\n"),
            ("requirements-dev.txt", "-r requirements.txt\npytest\n"),
        ]);
        assert_eq!(d.style, Style::Requirements);
        assert_eq!(d.requirements.as_deref(), Some("requirements.txt"));
        assert_eq!(d.dev_requirements.as_deref(), Some("requirements-dev.txt"));
        assert_eq!(
            d.manifest_files,
            ["requirements-dev.txt", "requirements.txt"]
        );
        assert!(d.has("flask") && d.has("gunicorn") && d.has("pytest"));
    }

    #[test]
    fn uv_project() {
        let d = detect_in(&[
            (
                "pyproject.toml",
                "[project]\nname='x'\ndependencies=['fastapi>=0.110']\n[dependency-groups]\ndev=['pytest']\n",
            ),
            ("uv.lock", "version = 1\n"),
        ]);
        assert_eq!(d.style, Style::Uv);
        assert_eq!(d.manifest_files, ["pyproject.toml", "uv.lock"]);
        assert!(d.has("fastapi") && d.has("pytest"));
    }

    #[test]
    fn poetry_project() {
        let d = detect_in(&[(
            "pyproject.toml",
            "[tool.poetry]\nname='x'\n[tool.poetry.dependencies]\npython='^3.11'\nDjango='^5'\n\
             [tool.poetry.group.dev.dependencies]\npytest='*'\n",
        )]);
        assert_eq!(d.style, Style::Poetry);
        assert_eq!(d.manifest_files, ["pyproject.toml"]);
        assert!(d.has("django") && d.has("pytest") && !d.has("python"));
    }

    #[test]
    fn pep621_backends() {
        for (backend, tool) in [
            ("pdm.backend", "pdm"),
            ("hatchling.build", "hatch"),
            ("setuptools.build_meta", "setuptools"),
        ] {
            let d = detect_in(&[(
                "pyproject.toml",
                &format!(
                    "[project]\nname='x'\ndependencies=['flask']\n\
                     [project.optional-dependencies]\ntest=['pytest']\n\
                     [build-system]\nbuild-backend='{backend}'\n"
                ),
            )]);
            assert_eq!(d.style, Style::Pep621);
            assert_eq!(d.backend.as_deref(), Some(tool));
            assert!(d.has("flask") && d.has("pytest"));
        }
    }

    #[test]
    fn pipenv_project() {
        let d = detect_in(&[
            (
                "Pipfile",
                "[packages]\nrequests='*'\n[dev-packages]\npytest='*'\n",
            ),
            ("Pipfile.lock", "{}"),
        ]);
        assert_eq!(d.style, Style::Pipenv);
        assert_eq!(d.manifest_files, ["Pipfile", "Pipfile.lock"]);
        assert!(d.has("requests") && d.has("pytest"));
    }

    #[test]
    fn setup_py_and_cfg() {
        let d = detect_in(&[(
            "setup.py",
            "from setuptools import setup\nsetup(name='x', install_requires=['Flask>=2', \"redis\"])\n",
        )]);
        assert_eq!(d.style, Style::Setuptools);
        assert!(d.has("flask") && d.has("redis"));
        let d = detect_in(&[(
            "setup.cfg",
            "[options]\ninstall_requires =\n    fastapi\n    uvicorn>=0.2\npackages = find:\n",
        )]);
        assert_eq!(d.style, Style::Setuptools);
        assert!(d.has("fastapi") && d.has("uvicorn"));
    }

    #[test]
    fn nothing_declared() {
        let d = detect_in(&[("main.py", "print('hi')")]);
        assert_eq!(d.style, Style::None);
        assert!(d.packages.is_empty());
    }
}
