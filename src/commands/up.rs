//! `devbox up` / `devbox down`: the compose file here, or — with none — the Python project
//! here with the configuration `devbox init` would write, kept in memory (nothing is written
//! into the project).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::Digest as _;

use crate::cli::compose::{ComposeCommand, DownArgs, UpArgs};
use crate::commands::compose::{self, LoadedProject};
use crate::compose::SourceFile;
use crate::context::Context;
use crate::python::files::DirFiles;
use crate::python::render::{self, Choices};
use crate::store::atomic;
use crate::ui::diagnostics::{ExitStatus, UserError};

pub fn up(args: UpArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let project = project_here(ctx)?;
    compose::run(project, ComposeCommand::Up(args), ctx)
}

pub fn down(args: DownArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let project = project_here(ctx)?;
    compose::run(project, ComposeCommand::Down(args), ctx)
}

fn project_here(ctx: &Context) -> anyhow::Result<LoadedProject> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    if let Some(file) = compose::default_file(&cwd) {
        return compose::load_files(&[file], None, ctx);
    }
    python_project(&cwd, ctx)
}

/// A Python project's generated configuration.
pub struct Generated {
    pub project: crate::python::Project,
    /// Under the store, keyed by the project's path, with its `Dockerfile.dockerignore`.
    pub dockerfile: PathBuf,
    /// The compose file, in memory, building `dockerfile`.
    pub compose: String,
}

/// The generated configuration of the Python project in `dir`: the Dockerfile (and its
/// ignore file) are written under the store, keyed by the project's path; the compose file
/// stays in memory.
fn python_project(dir: &Path, ctx: &Context) -> anyhow::Result<LoadedProject> {
    let generated = generate(dir, ctx)?;
    ctx.printer.status(format!(
        "No compose file: running {} as a {} project (`devbox init` writes these files for you to edit)",
        generated.project.name,
        render::framework_label(generated.project.app.framework)
    ));
    compose::load_sources(
        vec![SourceFile {
            name: "compose.yaml (generated)".into(),
            text: generated.compose,
        }],
        dir,
        None,
        ctx,
    )
}

/// Detects the Python project in `dir` and writes its generated Dockerfile under the store.
pub fn generate(dir: &Path, ctx: &Context) -> anyhow::Result<Generated> {
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "app".into());
    let project = crate::python::detect(&DirFiles::new(dir), &folder);
    if project.app.framework == crate::python::app::Framework::Unknown
        && project.dependencies.style == crate::python::deps::Style::None
    {
        return Err(UserError::new(format!(
            "nothing to run in {}: no compose file and no Python project",
            dir.display()
        ))
        .with_hint("`devbox up` runs compose.yaml, or a Python app (app.py, main.py, manage.py, a package with __main__.py) with its requirements")
        .into());
    }
    let files = render::render(&project, &Choices::from_project(&project))?;
    let text = |name: &str| {
        files
            .iter()
            .find(|f| f.path == name)
            .map(|f| f.contents.clone())
            .unwrap_or_default()
    };
    let key = hex::encode(sha2::Sha256::digest(dir.as_os_str().as_encoded_bytes()));
    let generated =
        ctx.paths
            .root
            .join("python-v1")
            .join(format!("{}-{}", project.name, &key[..12]));
    fs_err::create_dir_all(&generated)?;
    let dockerfile: PathBuf = generated.join("Dockerfile");
    atomic::write_atomic(&dockerfile, text("Dockerfile").as_bytes())?;
    // The builder reads `<Dockerfile>.dockerignore` next to a Dockerfile given with -f.
    atomic::write_atomic(
        &generated.join("Dockerfile.dockerignore"),
        text(".dockerignore").as_bytes(),
    )?;
    let compose_text = text("compose.yaml").replacen(
        "      target: dev\n",
        &format!(
            "      dockerfile: {}\n      target: dev\n",
            dockerfile.display()
        ),
        1,
    );
    Ok(Generated {
        project,
        dockerfile,
        compose: compose_text,
    })
}
