//! The files `devbox init` writes, rendered from templates/python (embedded in the binary).

use minijinja::{context, Environment};

use super::app::Framework;
use super::deps::Style;
use super::detect::{Project, Service};
use super::testing::Runner;

const DOCKERFILE: &str = include_str!("../../templates/python/Dockerfile.j2");
const DOCKERIGNORE: &str = include_str!("../../templates/python/dockerignore.j2");
const COMPOSE: &str = include_str!("../../templates/python/compose.yaml.j2");
const README: &str = include_str!("../../templates/python/README.md.j2");

/// The environment variables that point pip and uv at another package index (a corporate
/// mirror, an offline index). The generated Dockerfile declares them as ARGs in the stages
/// that install packages (an ARG is in a RUN's environment, where pip and uv read it), the
/// compose file passes them on from the user's environment when set, and `devbox test` and
/// `devbox shell` do the same for their builds. Poetry and Pipenv read neither.
pub const INDEX_VARS: [&str; 6] = [
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_TRUSTED_HOST",
    "UV_DEFAULT_INDEX",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
];

/// The package-index variables set (and not empty) in this process's environment, as build
/// args.
pub fn index_build_args() -> std::collections::BTreeMap<String, String> {
    INDEX_VARS
        .iter()
        .filter_map(|k| {
            let v = std::env::var(k).ok().filter(|v| !v.is_empty())?;
            Some((k.to_string(), v))
        })
        .collect()
}

/// The marker that says a README already has devbox's section.
pub const README_MARKER: &str = "<!-- devbox -->";

/// What the user may change before the files are written (`devbox init` asks for these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choices {
    pub python: String,
    pub port: Option<u16>,
    /// The production command.
    pub command: Vec<String>,
}

impl Choices {
    pub fn from_project(project: &Project) -> Self {
        Choices {
            python: project.python.version.clone(),
            port: project.app.port,
            command: project.app.command.clone(),
        }
    }
}

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// Relative to the project root.
    pub path: &'static str,
    pub contents: String,
}

#[derive(Debug, thiserror::Error)]
#[error("rendering {template}: {source}")]
pub struct RenderError {
    template: &'static str,
    #[source]
    source: minijinja::Error,
}

fn style_name(style: Style) -> &'static str {
    match style {
        Style::Requirements => "requirements",
        Style::Uv => "uv",
        Style::Poetry => "poetry",
        Style::Pipenv => "pipenv",
        Style::Pep621 => "pep621",
        Style::Setuptools => "setuptools",
        Style::None => "none",
    }
}

pub fn style_label(project: &Project) -> String {
    let deps = &project.dependencies;
    match deps.style {
        Style::Requirements => deps
            .requirements
            .clone()
            .unwrap_or_else(|| "requirements.txt".into()),
        Style::Uv => "uv (pyproject.toml, uv.lock)".into(),
        Style::Poetry => "Poetry".into(),
        Style::Pipenv => "Pipenv".into(),
        Style::Pep621 => format!(
            "pyproject.toml ({})",
            deps.backend.as_deref().unwrap_or("PEP 621")
        ),
        Style::Setuptools => "setup.py".into(),
        Style::None => "nothing declared".into(),
    }
}

pub fn framework_label(framework: Framework) -> &'static str {
    match framework {
        Framework::Django => "Django",
        Framework::Flask => "Flask",
        Framework::FastApi => "FastAPI",
        Framework::Starlette => "Starlette",
        Framework::Package => "a package",
        Framework::Script => "a script",
        Framework::Unknown => "no entry point found",
    }
}

fn service_name(service: Service) -> &'static str {
    match service {
        Service::Redis => "redis",
        Service::Postgres => "postgres",
    }
}

/// Where the virtual environment lives: uv's own layout keeps it in the project (`.venv`,
/// then kept in a volume by compose); pip/Poetry/Pipenv use /opt/venv, out of the source
/// mount's way.
fn venv(style: Style) -> &'static str {
    match style {
        Style::Uv => "/app/.venv",
        _ => "/opt/venv",
    }
}

/// Renders every file for `project` with the user's `choices`.
pub fn render(project: &Project, choices: &Choices) -> Result<Vec<Generated>, RenderError> {
    let deps = &project.dependencies;
    let style = deps.style;
    let has_lock = match style {
        Style::Uv => deps.manifest_files.iter().any(|f| f == "uv.lock"),
        Style::Pipenv => deps.manifest_files.iter().any(|f| f == "Pipfile.lock"),
        _ => false,
    };
    let minor: u32 = choices
        .python
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(12);
    let has_tomllib = minor >= 11;
    let install_test_runner =
        (project.tests.runner == Runner::Pytest && !deps.has("pytest")).then_some("pytest");
    // The dev command follows a changed port; a changed production command is the user's.
    let mut dev_command = project.app.dev_command.clone();
    if let (Some(old), Some(new)) = (project.app.port, choices.port) {
        for word in &mut dev_command {
            *word = word.replace(&old.to_string(), &new.to_string());
        }
    }
    let services: Vec<&str> = project.services.iter().map(|s| service_name(*s)).collect();
    let ctx = context! {
        name => project.name,
        python => choices.python,
        style => style_name(style),
        style_label => style_label(project),
        framework_label => framework_label(project.app.framework),
        framework_reloads => matches!(project.app.framework,
            Framework::Django | Framework::Flask | Framework::FastApi | Framework::Starlette),
        venv => venv(style),
        src_layout => project.src_layout,
        manifest_files => deps.manifest_files,
        requirements => deps.requirements,
        dev_requirements => deps.dev_requirements,
        has_lock,
        has_tomllib,
        toml_module => if has_tomllib { "tomllib" } else { "tomli" },
        extra_packages => project.app.extra_packages,
        install_test_runner,
        port => choices.port,
        command => choices.command,
        dev_command,
        services,
        test_command => project.tests.command,
        index_vars => INDEX_VARS,
    };
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    let files: [(&'static str, &'static str, &'static str); 4] = [
        ("Dockerfile", "Dockerfile.j2", DOCKERFILE),
        (".dockerignore", "dockerignore.j2", DOCKERIGNORE),
        ("compose.yaml", "compose.yaml.j2", COMPOSE),
        ("README.md", "README.md.j2", README),
    ];
    files
        .into_iter()
        .map(|(path, template, source)| {
            env.render_str(source, &ctx)
                .map(|contents| Generated { path, contents })
                .map_err(|source| RenderError { template, source })
        })
        .collect()
}
