//! The command line surface that needs no container.

use std::io::Write;

use crate::support::{images, is_image_id, require, TestContext};

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

#[test]
fn import_plain_gzip_and_stdin_and_list_images() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let tar = images::busybox_tar().unwrap();
    let bytes = std::fs::read(tar).unwrap();
    let gz = ctx.path("rootfs.tar.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&bytes).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    crate::support::give_to_user(&gz);

    let mut ids = Vec::new();
    for (source, name, stdin) in [
        (tar.to_str().unwrap(), "plain:1", None),
        (gz.to_str().unwrap(), "gzip:1", None),
        ("-", "stdin:1", Some(bytes.clone())),
    ] {
        let mut cmd = ctx.devbox_cmd(&["import", source, name]);
        if let Some(stdin) = stdin {
            cmd = cmd.stdin(stdin);
        }
        let out = cmd.run();
        out.success();
        if !is_image_id(out.out()) {
            out.fail("expected `import` to print `sha256:<64 hex>`");
        }
        ids.push(out.out().trim_start_matches("sha256:").to_string());
    }
    let out = ctx.devbox(&["images", "-q"]);
    out.success();
    for id in &ids {
        let listed = out
            .stdout
            .lines()
            .map(|l| l.trim().trim_start_matches("sha256:"))
            .any(|l| !l.is_empty() && id.starts_with(l));
        if !listed {
            out.fail(&format!("expected image {id} to be listed"));
        }
    }
}
