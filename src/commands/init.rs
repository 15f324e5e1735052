//! `devbox init`: detect the Python project, confirm the choices, write the files.

use std::io::BufRead as _;

use anyhow::Context as _;

use crate::cli::python::InitArgs;
use crate::context::Context;
use crate::python::files::{DirFiles, ProjectFiles as _};
use crate::python::init::{self, Action};
use crate::python::render::{self, Choices};
use crate::store::atomic;
use crate::ui::diagnostics::{ExitStatus, UserError};

pub fn init(args: InitArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let dir = std::path::absolute(&args.dir).unwrap_or(args.dir.clone());
    if !dir.is_dir() {
        return Err(
            UserError::new(format!("{} is not a directory", dir.display()))
                .with_hint(
                    "run `devbox init` in your project, or give its path: `devbox init PATH`",
                )
                .into(),
        );
    }
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "app".into());
    let files = DirFiles::new(&dir);
    let project = crate::python::detect(&files, &folder);
    let p = &ctx.printer;
    let defaults = Choices::from_project(&project);
    let stdin = std::io::stdin();
    let interactive = !args.yes && crate::sys::tty::is_terminal(std::os::fd::AsFd::as_fd(&stdin));
    let summary = format!(
        "Detected {}: Python {} (from {}), dependencies from {}, {}{}",
        project.name,
        project.python.version,
        project.python.source,
        render::style_label(&project),
        render::framework_label(project.app.framework),
        if project.app.entry.is_empty() {
            String::new()
        } else {
            format!(" ({})", project.app.entry)
        },
    );
    // Errors come first on stderr: without questions, the summary waits for a plan that works.
    if interactive {
        p.status(&summary);
    }
    let choices = if interactive {
        let mut lines = stdin.lock();
        init::ask(&defaults, &mut |question| {
            p.prompt(question);
            let mut line = String::new();
            match lines.read_line(&mut line) {
                Ok(0) | Err(_) => None,
                Ok(_) => Some(line),
            }
        })
    } else {
        defaults
    };
    let generated = render::render(&project, &choices)?;
    let actions = init::plan(generated, |path| files.read(path), args.force).map_err(|e| {
        UserError::new(format!("{e} in {}", dir.display()))
            .with_hint("devbox init never overwrites your files: use `--force` to replace them")
    })?;
    if !interactive {
        p.status(&summary);
    }
    for action in &actions {
        let path = dir.join(action.path());
        match action {
            Action::Write { contents, .. } => {
                atomic::write_atomic(&path, contents.as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                p.status(format!("  created  {}", action.path()));
            }
            Action::Append { contents, .. } => {
                use std::io::Write as _;
                fs_err::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .and_then(|mut f| f.write_all(contents.as_bytes()))
                    .with_context(|| format!("cannot append to {}", path.display()))?;
                p.status(format!("  appended {} (a devbox section)", action.path()));
            }
            Action::Keep { reason, .. } => {
                p.status(format!("  kept     {} ({reason})", action.path()));
            }
        }
    }
    p.status("Next: `devbox up` starts the development environment.");
    Ok(ExitStatus::Success)
}
