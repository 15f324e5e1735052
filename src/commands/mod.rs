//! One function per verb: resolve, call a subsystem, print (STYLE rule 4).

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::ui::diagnostics::{self, ExitStatus};

mod attach;
mod bootstrap;
mod build;
mod commit;
mod compose;
mod container;
mod doctor;
mod each;
mod exec;
mod history;
mod image;
mod images;
mod import;
mod init;
mod inspect;
mod internal;
mod kill;
mod login;
mod logout;
mod logs;
mod network;
mod ps;
mod pull;
mod push;
mod rm;
mod rmi;
mod run;
mod save;
mod search;
mod start;
mod stop;
mod system;
mod tag;
mod test;
mod unshare;
mod up;
mod update;
mod volume;
mod wait;

/// Runs the parsed command line and turns the outcome into an exit code.
pub fn main(cli: Cli) -> std::process::ExitCode {
    // Child roles talk to their parent, not to the user.
    if let Command::Internal(role) = cli.command {
        return std::process::ExitCode::from(internal::run(role, &cli.global));
    }
    let ctx = Context::new(&cli.global);
    match dispatch(cli.command, &ctx) {
        Ok(status) => std::process::ExitCode::from(status.code()),
        Err(error) => {
            let error = if diagnostics::is_out_of_space(&error) {
                error.context(format!(
                    "no space left on device while writing the store at {}",
                    ctx.paths.root.display()
                ))
            } else {
                error
            };
            let (text, code) = diagnostics::render(&error);
            ctx.printer.error(&text);
            std::process::ExitCode::from(code)
        }
    }
}

fn dispatch(command: Command, ctx: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Run(args) => run::run(*args, ctx),
        Command::Rm(args) => rm::rm(args, ctx),
        Command::Ps(args) => ps::ps(args, ctx),
        Command::Start(args) => start::start(args, ctx),
        Command::Stop(args) => stop::stop(args, ctx),
        Command::Restart(args) => stop::restart(args, ctx),
        Command::Kill(args) => kill::kill(args, ctx),
        Command::Logs(args) => logs::logs(args, ctx),
        Command::Attach(args) => attach::attach(args, ctx),
        Command::Pause(args) => container::pause(args, ctx, true),
        Command::Unpause(args) => container::pause(args, ctx, false),
        Command::Top(args) => container::top(args, ctx),
        Command::Rename(args) => container::rename(args, ctx),
        Command::Port(args) => container::port(args, ctx),
        Command::Diff(args) => container::diff(args, ctx),
        Command::Cp(args) => container::cp(args, ctx),
        Command::Stats(args) => container::stats(args, ctx),
        Command::Container(command) => container::container(command, ctx),
        Command::Wait(args) => wait::wait(args, ctx),
        Command::Exec(args) => exec::exec(args, ctx),
        Command::Inspect(args) => inspect::inspect(args, ctx),
        Command::Update(args) => update::update(args, ctx),
        Command::System(command) => system::system(command, ctx),
        Command::Import(args) => import::import(args, ctx),
        Command::Images(args) => images::images(args, ctx),
        Command::Image(command) => image::image(command, ctx),
        Command::Rmi(args) => rmi::rmi(args, ctx),
        Command::Tag(args) => tag::tag(args, ctx),
        Command::History(args) => history::history(args, ctx),
        Command::Save(args) => save::save(args, ctx),
        Command::Load(args) => save::load(args, ctx),
        Command::Build(args) => build::build(args, ctx),
        Command::Commit(args) => commit::commit(args, ctx),
        Command::Pull(args) => pull::pull(args, ctx),
        Command::Push(args) => push::push(args, ctx),
        Command::Login(args) => login::login(args, ctx),
        Command::Logout(args) => logout::logout(args, ctx),
        Command::Search(args) => search::search(args, ctx),
        Command::Doctor(args) => doctor::doctor(args, ctx),
        Command::Info(args) => system::info(args, ctx),
        Command::Init(args) => init::init(args, ctx),
        Command::Volume(args) => volume::volume(args, ctx),
        Command::Network(args) => network::network(args, ctx),
        Command::Compose(args) => compose::compose(args, ctx),
        Command::Up(args) => up::up(args, ctx),
        Command::Test(args) => test::test(args, ctx),
        Command::Shell(args) => test::shell(args, ctx),
        Command::Down(args) => up::down(args, ctx),
        Command::Unshare(args) => unshare::unshare(args, ctx),
        Command::Internal(_) => Err(anyhow::anyhow!(
            "internal roles are handled before dispatch"
        )),
    }
}
