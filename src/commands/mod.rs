//! One function per verb: resolve, call a subsystem, print (STYLE rule 4).

use crate::cli::{Cli, Command, StorageDriver};
use crate::context::Context;
use crate::ui::diagnostics::{self, ExitStatus, UserError};

mod doctor;
mod images;
mod import;
mod internal;
mod login;
mod logout;
mod ps;
mod pull;
mod push;
mod rm;
mod run;
mod search;

/// Runs the parsed command line and turns the outcome into an exit code.
pub fn main(cli: Cli) -> std::process::ExitCode {
    // Child roles talk to their parent, not to the user.
    if let Command::Internal(role) = cli.command {
        return std::process::ExitCode::from(internal::run(role));
    }
    let ctx = Context::new(&cli.global);
    match dispatch(cli.command, &ctx) {
        Ok(status) => std::process::ExitCode::from(status.code()),
        Err(error) => {
            let (text, code) = diagnostics::render(&error);
            ctx.printer.error(&text);
            std::process::ExitCode::from(code)
        }
    }
}

fn dispatch(command: Command, ctx: &Context) -> anyhow::Result<ExitStatus> {
    // Accepted for Podman compatibility; refusing beats silently using another driver.
    if let Some(driver) = ctx.storage_driver.filter(|d| *d != StorageDriver::Overlay) {
        let name = clap::ValueEnum::to_possible_value(&driver)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default();
        return Err(
            UserError::new(format!("storage driver `{name}` is not implemented yet"))
                .with_hint("use `--storage-driver overlay` (the kernel overlay, the default)")
                .into(),
        );
    }
    match command {
        Command::Run(args) => run::run(args, ctx),
        Command::Rm(args) => rm::rm(args, ctx),
        Command::Ps(args) => ps::ps(args, ctx),
        Command::Import(args) => import::import(args, ctx),
        Command::Images(args) => images::images(args, ctx),
        Command::Pull(args) => pull::pull(args, ctx),
        Command::Push(args) => push::push(args, ctx),
        Command::Login(args) => login::login(args, ctx),
        Command::Logout(args) => logout::logout(args, ctx),
        Command::Search(args) => search::search(args, ctx),
        Command::Doctor(args) => doctor::doctor(args, ctx),
        Command::Internal(_) => Err(anyhow::anyhow!(
            "internal roles are handled before dispatch"
        )),
    }
}
