//! `devbox run`.

use anyhow::Context as _;

use crate::cli::container::{NetworkMode, RunArgs};
use crate::context::Context;
use crate::runtime::{create, launch, remove, rootfs, userns, RuntimeError};
use crate::spec::container::{parse_entrypoint, Network};
use crate::spec::{env, mount, user::UserSpec};
use crate::ui::diagnostics::{ExitStatus, UserError};

/// Turns the flags into a parsed request (errors here are usage errors).
fn request(args: &RunArgs) -> anyhow::Result<create::Request> {
    let lookup = |k: &str| std::env::var(k).ok();
    let mut vars = Vec::new();
    for file in &args.env_file {
        let text = fs_err::read_to_string(file)?;
        vars.extend(env::parse_env_file(
            &file.display().to_string(),
            &text,
            lookup,
        )?);
    }
    for item in &args.env {
        vars.extend(env::parse_env(item, lookup)?);
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let binds = args
        .volumes
        .iter()
        .map(|v| mount::parse_volume(v, &cwd))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(create::Request {
        image_name: args.image.clone(),
        name: args.name.clone(),
        hostname: args.hostname.clone(),
        env: vars,
        workdir: args.workdir.clone(),
        user: args.user.as_deref().map(UserSpec::parse).transpose()?,
        binds,
        network: match args.network {
            NetworkMode::Slirp4netns => Network::Slirp4netns,
            NetworkMode::None => Network::None,
            NetworkMode::Host => Network::Host,
        },
        entrypoint: args
            .entrypoint
            .as_deref()
            .map(parse_entrypoint)
            .transpose()?,
        args: args.command.clone(),
        tty: args.tty,
        interactive: args.interactive,
        auto_remove: args.rm,
    })
}

pub fn run(args: RunArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let request = request(&args)?;
    for bind in &request.binds {
        // Docker creates a missing host directory for `-v`.
        if !bind.source.exists() {
            fs_err::create_dir_all(&bind.source)?;
        }
    }
    let store = ctx.store()?;
    let image = store
        .resolve_image(&args.image)
        .with_context(|| format!("cannot run `{}`", args.image))?;
    let (mapping, warning) = userns::detect_mapping(&ctx.paths.host)?;
    if let Some(warning) = warning {
        ctx.printer.warn(warning);
    }
    let (driver, note) = rootfs::choose(&store, ctx.requested_driver(), &mapping)?;
    if let Some(note) = note {
        ctx.printer.warn(note);
    }
    let (record, dirs) = create::create(&store, &image, &request)?;
    let result = launch::run_foreground(
        &store,
        &mapping,
        &ctx.paths.host,
        &image,
        &record,
        &dirs,
        driver,
    );
    if args.rm {
        if let Err(cleanup) = remove::remove_container(&store, &mapping, &record.id, true) {
            // Report the cleanup error after the original one (STYLE rule 7).
            return match result {
                Err(e) => Err(anyhow::Error::new(e)
                    .context(format!("also failed to remove the container: {cleanup}"))),
                Ok(_) => Err(cleanup.into()),
            };
        }
    }
    match result {
        Ok(code) => Ok(ExitStatus::Container(code)),
        Err(e @ RuntimeError::Exec { .. }) => {
            let code = e.exit_code();
            Err(UserError::new(e.to_string()).with_code(code).into())
        }
        Err(e) => Err(e.into()),
    }
}
