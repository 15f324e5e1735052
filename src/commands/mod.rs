//! One function per verb: resolve, call a subsystem, print (STYLE rule 4).

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::ui::diagnostics::{self, ExitStatus};

mod doctor;
mod images;
mod import;
mod internal;
mod ps;
mod rm;
mod run;

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
    match command {
        Command::Run(args) => run::run(args, ctx),
        Command::Rm(args) => rm::rm(args, ctx),
        Command::Ps(args) => ps::ps(args, ctx),
        Command::Import(args) => import::import(args, ctx),
        Command::Images(args) => images::images(args, ctx),
        Command::Doctor(args) => doctor::doctor(args, ctx),
        Command::Internal(_) => Err(anyhow::anyhow!(
            "internal roles are handled before dispatch"
        )),
    }
}
