//! The command line surface that needs no container.

use crate::support::TestContext;

#[test]
fn help_lists_the_main_verbs() {
    let ctx = TestContext::new();
    let out = ctx.devbox(&["--help"]);
    out.success();
    for verb in ["run", "import", "doctor"] {
        out.stdout_contains(verb);
    }
}

#[test]
fn run_help_shows_docker_flags() {
    let ctx = TestContext::new();
    let out = ctx.devbox(&["run", "--help"]);
    out.success();
    for flag in ["--rm", "--env-file", "--entrypoint", "--network"] {
        out.stdout_contains(flag);
    }
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let ctx = TestContext::new();
    let out = ctx.devbox(&["frobnicate"]);
    out.code_is(2).stderr_contains("frobnicate");
}
