//! What the project runs: the framework, its entry point, the commands for development
//! (with reload) and production, and the port.

use super::deps::Dependencies;
use super::files::ProjectFiles;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Framework {
    Django,
    Flask,
    FastApi,
    Starlette,
    /// A package with `__main__.py`: `python -m pkg`.
    Package,
    /// A plain script: `python main.py`.
    Script,
    /// Nothing runnable found: the container gets a shell command to edit.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct App {
    pub framework: Framework,
    /// `module:object` for ASGI/WSGI apps, the settings module for Django, the package or
    /// script otherwise.
    pub entry: String,
    /// The development command: reloads when the source changes.
    pub dev_command: Vec<String>,
    /// The production command (the Dockerfile's CMD).
    pub command: Vec<String>,
    /// The port the app listens on (`None` when it is not a server).
    pub port: Option<u16>,
    /// Extra packages the production command needs that the project does not list
    /// (`gunicorn`), installed by the Dockerfile.
    pub extra_packages: Vec<String>,
}

fn words(ws: &[&str]) -> Vec<String> {
    ws.iter().map(|w| (*w).to_string()).collect()
}

/// `app/main.py` → `app.main`; `src/pkg/app.py` → `pkg.app` (src layout).
fn module_of(path: &str) -> String {
    let path = path.strip_prefix("src/").unwrap_or(path);
    path.trim_end_matches(".py")
        .trim_end_matches("/__init__")
        .replace('/', ".")
}

/// Finds `NAME = CONSTRUCTOR(` at the start of a line.
fn assigned_object(text: &str, constructor: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once('=')?;
        let name = name.trim().split(':').next()?.trim();
        let is_ident =
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let value = value.trim_start();
        (is_ident
            && !line.starts_with([' ', '\t'])
            && (value.starts_with(&format!("{constructor}("))
                || value.contains(&format!(".{constructor}("))))
        .then(|| name.to_string())
    })
}

/// The Python files where an app object usually lives, in the order tried.
fn candidate_files(files: &dyn ProjectFiles) -> Vec<String> {
    let mut out = Vec::new();
    let names = [
        "main.py",
        "app.py",
        "wsgi.py",
        "asgi.py",
        "server.py",
        "api.py",
        "application.py",
        "run.py",
    ];
    for name in names {
        out.push(name.to_string());
    }
    let mut dirs: Vec<String> = vec!["app".into(), "api".into(), "src".into()];
    for pkg in files.list("src") {
        dirs.push(format!("src/{pkg}"));
    }
    for pkg in files.list("") {
        if files.exists(&format!("{pkg}/__init__.py")) && !dirs.contains(&pkg) {
            dirs.push(pkg);
        }
    }
    for dir in dirs {
        for name in names.iter().chain(&["__init__.py"]) {
            out.push(format!("{dir}/{name}"));
        }
    }
    out.retain(|p| files.read(p).is_some());
    out
}

/// An env var from `.flaskenv` or `.env` (`FLASK_APP=app:create_app`).
fn dotenv_value(files: &dyn ProjectFiles, key: &str) -> Option<String> {
    [".flaskenv", ".env"].iter().find_map(|f| {
        files.read(f)?.lines().find_map(|l| {
            let l = l.trim().trim_start_matches("export ");
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches(['"', '\'']).to_string())
        })
    })
}

fn django(files: &dyn ProjectFiles, port: u16) -> Option<App> {
    let manage = files.read("manage.py")?;
    let settings = manage
        .split("DJANGO_SETTINGS_MODULE")
        .nth(1)
        .and_then(|rest| rest.split(['"', '\'']).nth(2))
        .map(str::to_string)
        .unwrap_or_else(|| "config.settings".into());
    let project = settings.rsplit_once('.').map_or("config", |(p, _)| p);
    let bind = format!("0.0.0.0:{port}");
    Some(App {
        framework: Framework::Django,
        entry: settings.clone(),
        dev_command: words(&["python", "manage.py", "runserver", &bind]),
        command: words(&[
            "gunicorn",
            &format!("{project}.wsgi:application"),
            "--bind",
            &bind,
        ]),
        port: Some(port),
        extra_packages: Vec::new(),
    })
}

fn asgi(files: &dyn ProjectFiles, framework: Framework, port: u16) -> Option<App> {
    let constructor = match framework {
        Framework::FastApi => "FastAPI",
        _ => "Starlette",
    };
    let entry = candidate_files(files).into_iter().find_map(|path| {
        let object = assigned_object(&files.read(&path)?, constructor)?;
        Some(format!("{}:{object}", module_of(&path)))
    })?;
    let port_s = port.to_string();
    let serve = words(&["uvicorn", &entry, "--host", "0.0.0.0", "--port", &port_s]);
    let mut dev_command = serve.clone();
    dev_command.push("--reload".into());
    Some(App {
        framework,
        entry,
        dev_command,
        command: serve,
        port: Some(port),
        extra_packages: Vec::new(),
    })
}

fn flask(files: &dyn ProjectFiles, port: u16) -> Option<App> {
    let entry = dotenv_value(files, "FLASK_APP").or_else(|| {
        candidate_files(files).into_iter().find_map(|path| {
            let text = files.read(&path)?;
            let module = module_of(&path);
            if let Some(object) = assigned_object(&text, "Flask") {
                Some(format!("{module}:{object}"))
            } else {
                text.contains("def create_app(")
                    .then(|| format!("{module}:create_app()"))
            }
        })
    })?;
    let port_s = port.to_string();
    let bind = format!("0.0.0.0:{port}");
    Some(App {
        framework: Framework::Flask,
        dev_command: words(&[
            "flask", "--app", &entry, "run", "--host", "0.0.0.0", "--port", &port_s, "--debug",
        ]),
        command: words(&["gunicorn", "--bind", &bind, &entry]),
        entry,
        port: Some(port),
        extra_packages: Vec::new(),
    })
}

fn package(files: &dyn ProjectFiles) -> Option<App> {
    let mut dirs: Vec<(String, String)> = files
        .list("src")
        .into_iter()
        .map(|p| (format!("src/{p}"), p))
        .collect();
    dirs.extend(files.list("").into_iter().map(|p| (p.clone(), p)));
    let (_, name) = dirs
        .into_iter()
        .find(|(dir, _)| files.read(&format!("{dir}/__main__.py")).is_some())?;
    let command = words(&["python", "-m", &name]);
    Some(App {
        framework: Framework::Package,
        entry: name,
        dev_command: command.clone(),
        command,
        port: None,
        extra_packages: Vec::new(),
    })
}

fn script(files: &dyn ProjectFiles) -> Option<App> {
    let name = ["main.py", "app.py", "run.py", "server.py", "__main__.py"]
        .into_iter()
        .find(|n| files.read(n).is_some())?;
    let command = words(&["python", name]);
    Some(App {
        framework: Framework::Script,
        entry: name.into(),
        dev_command: command.clone(),
        command,
        port: None,
        extra_packages: Vec::new(),
    })
}

/// A `PORT=` in `.env` overrides the framework's default port.
fn port(files: &dyn ProjectFiles, default: u16) -> u16 {
    dotenv_value(files, "PORT")
        .and_then(|p| p.parse().ok())
        .filter(|p| *p > 0)
        .unwrap_or(default)
}

pub fn detect(files: &dyn ProjectFiles, deps: &Dependencies) -> App {
    let found = if files.read("manage.py").is_some() {
        django(files, port(files, 8000))
    } else if deps.has("fastapi") {
        asgi(files, Framework::FastApi, port(files, 8000))
    } else if deps.has("starlette") {
        asgi(files, Framework::Starlette, port(files, 8000))
    } else if deps.has("flask") {
        flask(files, port(files, 5000))
    } else {
        None
    };
    let mut app = found
        .or_else(|| package(files))
        .or_else(|| script(files))
        .unwrap_or_else(|| App {
            framework: Framework::Unknown,
            entry: String::new(),
            dev_command: words(&["python"]),
            command: words(&["python"]),
            port: None,
            extra_packages: Vec::new(),
        });
    if app.command.first().map(String::as_str) == Some("gunicorn") && !deps.has("gunicorn") {
        app.extra_packages.push("gunicorn".into());
    }
    if app.command.first().map(String::as_str) == Some("uvicorn") && !deps.has("uvicorn") {
        app.extra_packages.push("uvicorn".into());
    }
    app
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::deps;
    use crate::python::files::MemoryFiles;

    fn detect_in(files: &[(&str, &str)]) -> App {
        let files = MemoryFiles::new(files);
        let pyproject = files.pyproject();
        let deps = deps::detect(&files, pyproject.as_ref());
        detect(&files, &deps)
    }

    #[test]
    fn django_reads_the_settings_module_from_manage_py() {
        let app = detect_in(&[
            ("requirements.txt", "Django>=5\n"),
            (
                "manage.py",
                "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n",
            ),
        ]);
        assert_eq!(app.framework, Framework::Django);
        assert_eq!(app.entry, "mysite.settings");
        assert_eq!(
            app.command,
            [
                "gunicorn",
                "mysite.wsgi:application",
                "--bind",
                "0.0.0.0:8000"
            ]
        );
        assert_eq!(app.dev_command[..3], ["python", "manage.py", "runserver"]);
        assert_eq!(app.extra_packages, ["gunicorn"]);
        assert_eq!(app.port, Some(8000));
    }

    #[test]
    fn flask_object_factory_and_flask_app() {
        let app = detect_in(&[
            ("requirements.txt", "flask\ngunicorn\n"),
            ("app.py", "from flask import Flask\napp = Flask(__name__)\n"),
        ]);
        assert_eq!(
            (app.framework, app.entry.as_str()),
            (Framework::Flask, "app:app")
        );
        assert_eq!(
            app.command,
            ["gunicorn", "--bind", "0.0.0.0:5000", "app:app"]
        );
        assert!(app.dev_command.contains(&"--debug".to_string()));
        assert!(app.extra_packages.is_empty());
        assert_eq!(app.port, Some(5000));

        let app = detect_in(&[
            ("requirements.txt", "flask\n"),
            (
                "myapp/__init__.py",
                "def create_app():\n    return Flask(__name__)\n",
            ),
        ]);
        assert_eq!(app.entry, "myapp:create_app()");

        let app = detect_in(&[
            ("requirements.txt", "flask\n"),
            (".flaskenv", "FLASK_APP=hello:make\nPORT=8080\n"),
        ]);
        assert_eq!(app.entry, "hello:make");
        assert_eq!(app.port, Some(8080));
    }

    #[test]
    fn fastapi_in_a_package_and_src_layout() {
        let app = detect_in(&[
            (
                "pyproject.toml",
                "[project]\nname='x'\ndependencies=['fastapi','uvicorn[standard]']\n",
            ),
            ("app/__init__.py", ""),
            (
                "app/main.py",
                "from fastapi import FastAPI\napi: FastAPI = FastAPI(title='x')\n",
            ),
        ]);
        assert_eq!(
            (app.framework, app.entry.as_str()),
            (Framework::FastApi, "app.main:api")
        );
        assert_eq!(
            app.dev_command,
            [
                "uvicorn",
                "app.main:api",
                "--host",
                "0.0.0.0",
                "--port",
                "8000",
                "--reload"
            ]
        );
        assert!(app.extra_packages.is_empty());

        let app = detect_in(&[
            (
                "pyproject.toml",
                "[project]\nname='x'\ndependencies=['fastapi']\n",
            ),
            ("src/svc/__init__.py", ""),
            (
                "src/svc/api.py",
                "import fastapi\napp = fastapi.FastAPI()\n",
            ),
        ]);
        assert_eq!(app.entry, "svc.api:app");
        assert_eq!(app.extra_packages, ["uvicorn"]);
    }

    #[test]
    fn starlette_package_script_and_nothing() {
        let app = detect_in(&[
            ("requirements.txt", "starlette\nuvicorn\n"),
            (
                "main.py",
                "from starlette.applications import Starlette\napp = Starlette()\n",
            ),
        ]);
        assert_eq!(
            (app.framework, app.entry.as_str()),
            (Framework::Starlette, "main:app")
        );

        let app = detect_in(&[
            ("src/tool/__main__.py", "print(1)"),
            ("src/tool/__init__.py", ""),
        ]);
        assert_eq!(app.framework, Framework::Package);
        assert_eq!(app.command, ["python", "-m", "tool"]);
        assert_eq!(app.port, None);

        let app = detect_in(&[("main.py", "print(1)")]);
        assert_eq!(
            (app.framework, app.command.clone()),
            (Framework::Script, words(&["python", "main.py"]))
        );

        let app = detect_in(&[("README.md", "hi")]);
        assert_eq!(app.framework, Framework::Unknown);
    }

    #[test]
    fn an_indented_assignment_is_not_the_app() {
        assert_eq!(
            assigned_object("def f():\n    app = Flask(x)\n", "Flask"),
            None
        );
        assert_eq!(
            assigned_object("app=Flask(x)", "Flask").as_deref(),
            Some("app")
        );
    }
}
