//! Project detection (pure): everything devbox infers about a Python project from its files.

use super::app::{self, App};
use super::deps::{self, Dependencies};
use super::files::ProjectFiles;
use super::testing::{self, Tests};
use super::version::{self, PythonVersion};

/// A backing service the project's dependencies point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Redis,
    Postgres,
}

/// Client libraries that mean "this app talks to that service".
const SERVICE_CLIENTS: &[(&str, Service)] = &[
    ("redis", Service::Redis),
    ("celery", Service::Redis),
    ("rq", Service::Redis),
    ("django-redis", Service::Redis),
    ("psycopg", Service::Postgres),
    ("psycopg2", Service::Postgres),
    ("psycopg2-binary", Service::Postgres),
    ("asyncpg", Service::Postgres),
];

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Project {
    /// A name for images and the compose project: PEP 621 / Poetry name, else the folder's.
    pub name: String,
    pub python: PythonVersion,
    pub dependencies: Dependencies,
    pub app: App,
    pub tests: Tests,
    pub services: Vec<Service>,
    /// True when the project has a `src/` layout package that must be installed to import.
    pub src_layout: bool,
}

/// A name usable as an image repository and compose project: lowercase `[a-z0-9_-]`.
pub fn sanitise_name(name: &str) -> String {
    let mut out: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    out = out.trim_matches(['-', '_']).to_string();
    if out.is_empty() {
        "app".into()
    } else {
        out
    }
}

/// Detects a project. `folder` names it when its metadata does not.
pub fn detect(files: &dyn ProjectFiles, folder: &str) -> Project {
    let pyproject: Option<toml::Table> = files.read("pyproject.toml").and_then(|t| t.parse().ok());
    let pyproject = pyproject.as_ref();
    let dependencies = deps::detect(files, pyproject);
    let declared_name = pyproject.and_then(|p| {
        p.get("project")
            .and_then(|p| p.get("name"))
            .or_else(|| p.get("tool")?.get("poetry")?.get("name"))
            .and_then(|n| n.as_str())
    });
    let mut services: Vec<Service> = SERVICE_CLIENTS
        .iter()
        .filter(|(pkg, _)| dependencies.has(pkg))
        .map(|(_, s)| *s)
        .collect();
    services.sort_by_key(|s| *s as u8);
    services.dedup();
    let src_layout = files
        .list("src")
        .iter()
        .any(|p| files.read(&format!("src/{p}/__init__.py")).is_some());
    Project {
        name: sanitise_name(declared_name.unwrap_or(folder)),
        python: version::detect(files, pyproject),
        app: app::detect(files, &dependencies),
        tests: testing::detect(files, &dependencies, pyproject),
        services,
        src_layout,
        dependencies,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::app::Framework;
    use crate::python::deps::Style;
    use crate::python::files::MemoryFiles;
    use crate::python::testing::Runner;

    #[test]
    fn names() {
        assert_eq!(sanitise_name("My Project.v2"), "my-project-v2");
        assert_eq!(sanitise_name("..."), "app");
    }

    /// The matrix of layouts: each row is a project and what must be found in it.
    #[test]
    fn layouts() {
        struct Case {
            files: &'static [(&'static str, &'static str)],
            style: Style,
            framework: Framework,
            python: &'static str,
            runner: Runner,
            services: &'static [Service],
        }
        let cases = [
            Case {
                files: &[
                    ("requirements.txt", "flask\nredis\n"),
                    ("requirements-dev.txt", "pytest\n"),
                    ("app.py", "from flask import Flask\napp = Flask(__name__)\n"),
                    (".python-version", "3.11\n"),
                ],
                style: Style::Requirements,
                framework: Framework::Flask,
                python: "3.11",
                runner: Runner::Pytest,
                services: &[Service::Redis],
            },
            Case {
                files: &[
                    (
                        "pyproject.toml",
                        "[project]\nname='svc'\nrequires-python='>=3.12'\n\
                         dependencies=['fastapi','asyncpg','redis']\n",
                    ),
                    ("uv.lock", ""),
                    ("main.py", "from fastapi import FastAPI\napp = FastAPI()\n"),
                    ("tests/test_api.py", "def test(): pass\n"),
                ],
                style: Style::Uv,
                framework: Framework::FastApi,
                python: "3.12",
                runner: Runner::Unittest,
                services: &[Service::Redis, Service::Postgres],
            },
            Case {
                files: &[
                    (
                        "pyproject.toml",
                        "[tool.poetry]\nname='site'\n[tool.poetry.dependencies]\npython='~3.10'\n\
                         django='^5'\npsycopg='*'\n[tool.poetry.group.dev.dependencies]\npytest-django='*'\npytest='*'\n",
                    ),
                    ("poetry.lock", ""),
                    ("manage.py", "os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"site.settings\")\n"),
                ],
                style: Style::Poetry,
                framework: Framework::Django,
                python: "3.10",
                runner: Runner::Pytest,
                services: &[Service::Postgres],
            },
            Case {
                files: &[
                    ("Pipfile", "[packages]\nrequests='*'\n[requires]\npython_version='3.9'\n"),
                    ("src/tool/__init__.py", ""),
                    ("src/tool/__main__.py", "print(1)\n"),
                    ("tox.ini", "[tox]\n"),
                ],
                style: Style::Pipenv,
                framework: Framework::Package,
                python: "3.9",
                runner: Runner::Tox,
                services: &[],
            },
            Case {
                files: &[
                    ("setup.py", "setup(install_requires=['starlette', 'uvicorn'])\n"),
                    ("server.py", "from starlette.applications import Starlette\napp = Starlette()\n"),
                    ("runtime.txt", "python-3.11.2\n"),
                ],
                style: Style::Setuptools,
                framework: Framework::Starlette,
                python: "3.11",
                runner: Runner::None,
                services: &[],
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let p = detect(&MemoryFiles::new(case.files), "Folder");
            assert_eq!(p.dependencies.style, case.style, "case {i}");
            assert_eq!(p.app.framework, case.framework, "case {i}");
            assert_eq!(p.python.version, case.python, "case {i}");
            assert_eq!(p.tests.runner, case.runner, "case {i}");
            assert_eq!(p.services, case.services, "case {i}");
        }
    }

    #[test]
    fn name_from_metadata_or_folder() {
        let p = detect(
            &MemoryFiles::new(&[("pyproject.toml", "[project]\nname='Cool_App'\n")]),
            "x",
        );
        assert_eq!(p.name, "cool_app");
        let p = detect(&MemoryFiles::new(&[("main.py", "")]), "My Repo");
        assert_eq!(p.name, "my-repo");
        let p = detect(&MemoryFiles::new(&[("src/pkg/__init__.py", "")]), "x");
        assert!(p.src_layout);
    }
}
