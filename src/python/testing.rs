//! How a project runs its tests.

use super::deps::Dependencies;
use super::files::ProjectFiles;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Runner {
    Pytest,
    Unittest,
    Tox,
    Nox,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tests {
    pub runner: Runner,
    /// The command `devbox test` runs when given none.
    pub command: Vec<String>,
}

fn has_section(files: &dyn ProjectFiles, file: &str, section: &str) -> bool {
    files
        .read(file)
        .is_some_and(|t| t.lines().any(|l| l.trim() == section))
}

fn has_test_files(files: &dyn ProjectFiles) -> bool {
    let is_test =
        |n: &String| n.starts_with("test_") && n.ends_with(".py") || n.ends_with("_test.py");
    files.list("").iter().any(is_test)
        || ["tests", "test"]
            .iter()
            .any(|d| files.list(d).iter().any(is_test))
}

/// pytest when anything says so (it also runs unittest suites); then tox/nox configs; then
/// plain unittest when there are test files.
pub fn detect(
    files: &dyn ProjectFiles,
    deps: &Dependencies,
    pyproject: Option<&toml::Table>,
) -> Tests {
    let pytest_config = files.exists("pytest.ini")
        || files.exists("conftest.py")
        || files.exists("tests/conftest.py")
        || has_section(files, "setup.cfg", "[tool:pytest]")
        || has_section(files, "tox.ini", "[pytest]")
        || pyproject
            .and_then(|p| p.get("tool"))
            .and_then(|t| t.get("pytest"))
            .is_some();
    let (runner, command): (Runner, &[&str]) = if deps.has("pytest") || pytest_config {
        (Runner::Pytest, &["python", "-m", "pytest"])
    } else if files.exists("tox.ini") {
        (Runner::Tox, &["tox"])
    } else if files.exists("noxfile.py") {
        (Runner::Nox, &["nox"])
    } else if has_test_files(files) {
        (Runner::Unittest, &["python", "-m", "unittest", "discover"])
    } else {
        (Runner::None, &[])
    };
    Tests {
        runner,
        command: command.iter().map(|w| (*w).to_string()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::deps;
    use crate::python::files::MemoryFiles;

    fn runner(files: &[(&str, &str)]) -> Runner {
        let files = MemoryFiles::new(files);
        let pyproject = files.pyproject();
        let deps = deps::detect(&files, pyproject.as_ref());
        detect(&files, &deps, pyproject.as_ref()).runner
    }

    #[test]
    fn runners() {
        assert_eq!(
            runner(&[("requirements-dev.txt", "pytest\n")]),
            Runner::Pytest
        );
        assert_eq!(
            runner(&[(
                "pyproject.toml",
                "[tool.pytest.ini_options]\naddopts='-q'\n"
            )]),
            Runner::Pytest
        );
        assert_eq!(runner(&[("setup.cfg", "[tool:pytest]\n")]), Runner::Pytest);
        assert_eq!(runner(&[("tests/conftest.py", "")]), Runner::Pytest);
        assert_eq!(
            runner(&[("tox.ini", "[tox]\nenvlist=py312\n")]),
            Runner::Tox
        );
        assert_eq!(runner(&[("noxfile.py", "")]), Runner::Nox);
        assert_eq!(
            runner(&[("tests/test_app.py", "import unittest")]),
            Runner::Unittest
        );
        assert_eq!(runner(&[("main.py", "")]), Runner::None);
    }
}
