//! The `devbox` binary: everything lives in the library; this only turns the
//! outcome into the process exit code.

fn main() -> std::process::ExitCode {
    devbox::cli::run(std::env::args_os())
}
