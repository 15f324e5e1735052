//! `devbox build` and `devbox commit` (issue 6): real builds as the unprivileged user, on
//! busybox (fast) and on the Debian python image; the built images are run and inspected.

use crate::support::{is_image_id, require, HttpServer, Output, TestContext};

/// `devbox build --network none ARGS` (RUN steps need no network here).
fn build(ctx: &TestContext, args: &[&str]) -> Output {
    ctx.devbox_cmd(&["build", "--network", "none"])
        .args(args)
        .run()
}

/// The instructions whose step printed `--> CACHED`, in order.
fn cached_steps(out: &Output) -> Vec<String> {
    let mut current = String::new();
    let mut cached = Vec::new();
    for line in out.stderr.lines() {
        if let Some(i) = line.find("STEP ") {
            current = line[i..]
                .split_once(": ")
                .map(|(_, t)| t.to_string())
                .unwrap_or_default();
        } else if line == "--> CACHED" {
            cached.push(current.clone());
        }
    }
    cached
}

/// The config JSON of image `name` (read from the store: manifest → config blob).
fn image_config(ctx: &TestContext, name: &str) -> serde_json::Value {
    let mut full = if name.contains('/') {
        name.to_string()
    } else {
        format!("docker.io/library/{name}")
    };
    if !full.rsplit('/').next().unwrap_or("").contains(':') {
        full.push_str(":latest");
    }
    let escaped = full
        .replace('%', "%25")
        .replace('/', "%2F")
        .replace(':', "%3A");
    let blob = |digest: &str| {
        let hex = digest.trim().trim_start_matches("sha256:");
        let path = ctx.root.join("blobs-v1/sha256").join(hex);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_slice::<serde_json::Value>(&bytes).expect("a JSON blob")
    };
    let reference = ctx.root.join("refs-v1").join(escaped);
    let digest = std::fs::read_to_string(&reference)
        .unwrap_or_else(|e| panic!("{}: {e}", reference.display()));
    let manifest = blob(&digest);
    blob(
        manifest["config"]["digest"]
            .as_str()
            .expect("config digest"),
    )
}

/// The `Error: ...` line of a failed build (its step lines come first), exit code 125.
fn error_line(out: &Output) -> String {
    out.code_is(125);
    match out.stderr.lines().find(|l| l.starts_with("Error: ")) {
        Some(line) => line.to_string(),
        None => out.fail("expected an `Error: ` line on stderr"),
    }
}

// ---- the build, the cache, the output ---------------------------------------------------------

#[test]
fn build_runs_and_rebuilds_from_the_cache() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    ctx.busybox();
    ctx.write_file(
        "app/Dockerfile",
        "FROM busybox\n\
         ENV GREETING=hello\n\
         WORKDIR /app\n\
         COPY deps.txt .\n\
         RUN cat deps.txt > /installed.txt && echo installed\n\
         COPY . .\n\
         CMD [\"sh\", \"/app/main.sh\"]\n",
    );
    ctx.write_file("app/deps.txt", "dep-one\n");
    ctx.write_file(
        "app/main.sh",
        "echo \"$GREETING from main\"; cat /installed.txt\n",
    );
    let out = build(&ctx, &["-t", "app:1", "app"]);
    out.success();
    assert!(is_image_id(out.out()), "stdout is the image id\n{out}");
    assert!(out.stderr.contains("STEP 5/7: RUN cat deps.txt"), "{out}");
    assert!(
        out.stderr.contains("installed\n"),
        "RUN output is streamed\n{out}"
    );
    assert!(out.stderr.contains("Successfully tagged"), "{out}");
    assert!(cached_steps(&out).is_empty(), "{out}");
    ctx.run_offline(&["app:1"])
        .success()
        .stdout_exactly("hello from main\ndep-one\n");

    // Nothing changed: every layer step comes from the cache, same image id.
    let again = build(&ctx, &["-t", "app:1", "app"]);
    again.success();
    assert_eq!(
        cached_steps(&again),
        [
            "WORKDIR /app",
            "COPY deps.txt .",
            "RUN cat deps.txt > /installed.txt && echo installed",
            "COPY . ."
        ],
        "{again}"
    );
    assert_eq!(
        again.out(),
        out.out(),
        "a cached rebuild gives the same image id"
    );

    // Editing one source file re-runs only the last COPY.
    ctx.write_file("app/main.sh", "echo edited\n");
    let edited = build(&ctx, &["-t", "app:2", "app"]);
    edited.success();
    assert_eq!(
        cached_steps(&edited),
        [
            "WORKDIR /app",
            "COPY deps.txt .",
            "RUN cat deps.txt > /installed.txt && echo installed"
        ],
        "{edited}"
    );
    ctx.run_offline(&["app:2"])
        .success()
        .stdout_exactly("edited\n");

    // --no-cache runs everything again.
    let fresh = build(&ctx, &["--no-cache", "-t", "app:3", "app"]);
    fresh.success();
    assert!(cached_steps(&fresh).is_empty(), "{fresh}");
    // RUN containers are gone once the build is over.
    assert!(
        ctx.container_dirs().is_empty(),
        "{:?}",
        ctx.container_dirs()
    );
}

#[test]
fn quiet_iidfile_labels_build_args_and_several_tags() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    ctx.busybox();
    ctx.write_file(
        "ctx/Dockerfile",
        "ARG BASE=busybox\nFROM $BASE\nARG WHO=nobody\nRUN echo \"hi $WHO\" > /who\nCMD [\"cat\", \"/who\"]\n",
    );
    let iid = ctx.path("iid");
    let out = build(
        &ctx,
        &[
            "-q",
            "--iidfile",
            iid.to_str().unwrap(),
            "--label",
            "org.example.team=dev",
            "--build-arg",
            "WHO=devbox",
            "--build-arg",
            "UNUSED=1",
            "-t",
            "one",
            "-t",
            "two:tag",
            "ctx",
        ],
    );
    out.success();
    assert!(is_image_id(out.out()), "-q prints only the id\n{out}");
    assert!(
        !out.stdout.contains("hi"),
        "RUN output is not on stdout\n{out}"
    );
    let written = std::fs::read_to_string(&iid).expect("the iidfile");
    assert_eq!(written.trim(), out.out());
    ctx.run_offline(&["one"])
        .success()
        .stdout_exactly("hi devbox\n");
    ctx.run_offline(&["two:tag"])
        .success()
        .stdout_exactly("hi devbox\n");
    let config = image_config(&ctx, "two:tag");
    assert_eq!(config["config"]["Labels"]["org.example.team"], "dev");
    // A different build arg value is a different RUN.
    let other = build(&ctx, &["--build-arg", "WHO=other", "-t", "three", "ctx"]);
    other.success();
    assert!(cached_steps(&other).is_empty(), "{other}");
    ctx.run_offline(&["three"])
        .success()
        .stdout_exactly("hi other\n");
    assert!(other.stderr.contains("[UNUSED]") || !other.stderr.contains("UNUSED"));
}

#[test]
fn multi_stage_final_image_lacks_the_build_tools() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    ctx.busybox();
    ctx.write_file(
        "ms/Dockerfile",
        "FROM busybox AS build\n\
         RUN mkdir -p /out /opt/toolchain && echo compiler > /opt/toolchain/cc && echo artifact > /out/app.bin\n\
         FROM busybox AS unused\n\
         RUN echo never-runs\n\
         FROM busybox\n\
         COPY --from=build /out/ /srv/\n\
         CMD [\"cat\", \"/srv/app.bin\"]\n",
    );
    let out = build(&ctx, &["-t", "final", "ms"]);
    out.success();
    assert!(
        out.stderr.contains("[1/2] STEP 1/2: FROM busybox AS build"),
        "{out}"
    );
    assert!(
        !out.stderr.contains("never-runs"),
        "unneeded stages are skipped\n{out}"
    );
    ctx.run_offline(&["final"])
        .success()
        .stdout_exactly("artifact\n");
    ctx.run_offline(&[
        "final",
        "sh",
        "-c",
        "test -e /opt/toolchain && echo leaked || echo clean",
    ])
    .success()
    .stdout_exactly("clean\n");
    let target = build(&ctx, &["--target", "build", "-t", "builder", "ms"]);
    target.success();
    ctx.run_offline(&["builder", "cat", "/opt/toolchain/cc"])
        .success()
        .stdout_exactly("compiler\n");
}

// ---- errors name the line -----------------------------------------------------------------------

#[test]
fn failing_run_names_its_line_and_exit_code() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    ctx.busybox();
    ctx.write_file(
        "bad/Dockerfile",
        "FROM busybox\nENV A=1\nRUN echo output-before-failing && exit 7\n",
    );
    let out = build(&ctx, &["bad"]);
    let line = error_line(&out);
    assert!(line.contains("line 3"), "{out}");
    assert!(line.contains("exit code: 7"), "{out}");
    assert!(
        line.contains("output-before-failing"),
        "the command is named\n{out}"
    );
    assert!(
        out.stderr.contains("output-before-failing\n"),
        "output streamed\n{out}"
    );
    assert!(
        ctx.container_dirs().is_empty(),
        "{:?}",
        ctx.container_dirs()
    );
}

#[test]
fn unknown_instruction_and_missing_copy_source_name_the_line() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    ctx.busybox();
    ctx.write_file("u/Dockerfile", "FROM busybox\nRUNN echo\n");
    let out = build(&ctx, &["u"]);
    let line = error_line(&out);
    assert!(
        line.contains("line 2: unknown instruction: RUNN (did you mean RUN?)"),
        "{out}"
    );

    ctx.write_file("m/Dockerfile", "FROM busybox\n\nCOPY missing.txt /app/\n");
    let out = build(&ctx, &["m"]);
    let line = error_line(&out);
    assert!(line.contains("line 3"), "{out}");
    assert!(line.contains("missing.txt"), "{out}");

    ctx.write_file("n/Dockerfile", "FROM no-such-base:1\n");
    let out = build(&ctx, &["n"]);
    let line = error_line(&out);
    assert!(
        line.contains("line 1") && line.contains("no-such-base:1"),
        "{out}"
    );
}

// ---- instructions ---------------------------------------------------------------------------------

#[test]
fn every_instruction() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    ctx.busybox();
    // A local tar for ADD to extract.
    ctx.mkdir("all/payload/sub");
    ctx.write_file("all/payload/sub/inner.txt", "from-tar\n");
    let tar = ctx
        .command("/bin/tar")
        .args(["-C", "all/payload", "-czf", "all/payload.tar.gz", "sub"])
        .run();
    tar.success();
    ctx.write_file("all/script.sh", "echo script\n");
    ctx.write_file(
        "all/Dockerfile",
        r#"# syntax=docker/dockerfile:1
ARG VERSION=1.0
FROM busybox
ARG VERSION
MAINTAINER dev@example.com
LABEL org.example.version=$VERSION
ENV APP_HOME=/srv/app MODE=prod
WORKDIR $APP_HOME
RUN echo 'appuser:x:1234:1234::/home/appuser:/bin/sh' >> /etc/passwd && echo 'appuser:x:1234:' >> /etc/group
COPY --chown=appuser:appuser --chmod=750 script.sh bin/
ADD payload.tar.gz /opt/
COPY <<EOF /etc/motd
welcome $MODE
EOF
SHELL ["/bin/sh", "-c"]
RUN echo "version $VERSION" > /version.txt
EXPOSE 8000 53/udp
VOLUME /data
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=2s --retries=3 CMD true
ONBUILD RUN echo triggered > /tmp/onbuild.txt
USER appuser
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["id -u; cat /version.txt; cat /opt/sub/inner.txt; cat /etc/motd; ls -ln bin/script.sh; pwd; echo $MODE"]
"#,
    );
    let out = build(&ctx, &["-t", "everything", "all"]);
    out.success();
    let run = ctx.run_offline(&["everything"]);
    run.success();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "1234", "{run}");
    assert_eq!(lines[1], "version 1.0", "{run}");
    assert_eq!(lines[2], "from-tar", "{run}");
    assert_eq!(lines[3], "welcome prod", "{run}");
    assert!(
        lines[4].starts_with("-rwxr-x---") && lines[4].contains(" 1234 "),
        "{run}"
    );
    assert_eq!(lines[5], "/srv/app", "{run}");
    assert_eq!(lines[6], "prod", "{run}");
    let config = image_config(&ctx, "everything");
    let c = &config["config"];
    assert_eq!(config["author"], "dev@example.com");
    assert_eq!(c["Labels"]["org.example.version"], "1.0");
    assert_eq!(c["User"], "appuser");
    assert!(c["ExposedPorts"]["8000/tcp"].is_object(), "{c}");
    assert!(c["ExposedPorts"]["53/udp"].is_object(), "{c}");
    assert!(c["Volumes"]["/data"].is_object(), "{c}");
    assert_eq!(c["StopSignal"], "SIGINT");
    assert_eq!(c["Healthcheck"]["Test"][0], "CMD-SHELL");
    assert_eq!(c["Healthcheck"]["Interval"], 5_000_000_000u64);
    assert_eq!(c["Healthcheck"]["Retries"], 3);
    assert_eq!(c["OnBuild"][0], "RUN echo triggered > /tmp/onbuild.txt");
    assert_eq!(c["Shell"][0], "/bin/sh");
    assert_eq!(c["WorkingDir"], "/srv/app");
    assert!(config["history"].as_array().unwrap().len() > 10, "{config}");

    // ONBUILD triggers run in a child build, and are not inherited further.
    ctx.write_file(
        "child/Dockerfile",
        "FROM everything\nUSER root\nCMD [\"cat /tmp/onbuild.txt\"]\n",
    );
    let child = build(&ctx, &["-t", "child", "child"]);
    child.success();
    ctx.run_offline(&["child"])
        .success()
        .stdout_exactly("triggered\n");
    assert!(image_config(&ctx, "child")["config"]["OnBuild"].is_null());
}

#[test]
fn run_deletions_become_whiteouts() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    ctx.busybox();
    ctx.write_file(
        "wh/Dockerfile",
        "FROM busybox\nRUN mkdir -p /d/keep && echo x > /d/gone && echo y > /d/keep/f\nRUN rm /d/gone && rm -r /d/keep && mkdir /d/keep && rm /bin/vi\n",
    );
    build(&ctx, &["-t", "wh", "wh"]).success();
    ctx.run_offline(&[
        "wh",
        "sh",
        "-c",
        "ls -A /d; ls -A /d/keep; test -e /bin/vi || echo vi-gone",
    ])
    .success()
    .stdout_exactly("keep\nvi-gone\n");
}

#[test]
fn run_mount_cache_persists_between_builds() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    ctx.busybox();
    ctx.write_file(
        "c/Dockerfile",
        "FROM busybox\nRUN --mount=type=cache,target=/root/.cache/pip,sharing=locked echo run >> /root/.cache/pip/log && wc -l < /root/.cache/pip/log > /count\n",
    );
    build(&ctx, &["-t", "c1", "c"]).success();
    build(&ctx, &["--no-cache", "-t", "c2", "c"]).success();
    ctx.run_offline(&["c1", "cat", "/count"])
        .success()
        .stdout_exactly("1\n");
    ctx.run_offline(&["c2", "cat", "/count"])
        .success()
        .stdout_exactly("2\n");
    // The cache is not image content.
    ctx.run_offline(&[
        "c2",
        "sh",
        "-c",
        "test -e /root/.cache/pip/log && echo in-image || echo absent",
    ])
    .success()
    .stdout_exactly("absent\n");
}

#[test]
fn dockerfile_flag_uses_its_own_dockerignore() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    ctx.busybox();
    ctx.write_file("d/docker/app.Dockerfile", "FROM busybox\nCOPY . /ctx/\n");
    ctx.write_file(
        "d/docker/app.Dockerfile.dockerignore",
        "secret.txt\ndocker\n",
    );
    ctx.write_file("d/.dockerignore", "public.txt\n");
    ctx.write_file("d/secret.txt", "s");
    ctx.write_file("d/public.txt", "p");
    let file = ctx.path("d/docker/app.Dockerfile");
    build(&ctx, &["-f", file.to_str().unwrap(), "-t", "f", "d"]).success();
    ctx.run_offline(&["f", "ls", "-A", "/ctx"])
        .success()
        .stdout_exactly(".dockerignore\npublic.txt\n");
}

// ---- commit -------------------------------------------------------------------------------------

#[test]
fn commit_with_changes() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let img = ctx.busybox();
    ctx.devbox(&[
        "run",
        "--network",
        "none",
        "--name",
        "work",
        img,
        "sh",
        "-c",
        "echo saved > /saved.txt && rm /bin/vi",
    ])
    .success();
    let out = ctx.devbox(&[
        "commit",
        "--change",
        "ENV COMMITTED=yes",
        "--change",
        r#"CMD ["cat", "/saved.txt"]"#,
        "-m",
        "my change",
        "-a",
        "Dev <dev@example.com>",
        "work",
        "snap:v1",
    ]);
    out.success();
    assert!(is_image_id(out.out()), "{out}");
    ctx.run_offline(&["snap:v1"])
        .success()
        .stdout_exactly("saved\n");
    ctx.run_offline(&[
        "snap:v1",
        "sh",
        "-c",
        "echo $COMMITTED; test -e /bin/vi || echo vi-gone",
    ])
    .success()
    .stdout_exactly("yes\nvi-gone\n");
    let config = image_config(&ctx, "snap:v1");
    assert_eq!(config["author"], "Dev <dev@example.com>");
    let history = config["history"].as_array().unwrap();
    assert_eq!(history.last().unwrap()["comment"], "my change");
}

// ---- the Python workflow on Debian ----------------------------------------------------------------

#[test]
fn python_app_builds_runs_and_rebuilds_only_the_source_copy() {
    let mut ctx = TestContext::new();
    require!(ctx, "userns", "mmdebstrap");
    let base = ctx.use_debian();
    // Unique per test process: the Debian store (and its cache) is shared.
    let unique = format!("{}-{}", std::process::id(), line!());
    ctx.write_file(
        "py/Dockerfile",
        &format!(
            "FROM {base}\n\
             ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1\n\
             WORKDIR /app\n\
             COPY requirements.txt .\n\
             RUN python3 -c \"import sysconfig,pathlib; d=pathlib.Path('/usr/local/lib/python3/dist-packages'); d.mkdir(parents=True, exist_ok=True); (d/'greeting.py').write_text('WORD = ' + repr(open('requirements.txt').read().split()[0]))\"\n\
             COPY . .\n\
             ENV PYTHONPATH=/usr/local/lib/python3/dist-packages\n\
             COPY --chmod=755 tool.sh /bin/\n\
             CMD [\"python3\", \"app.py\"]\n"
        ),
    );
    ctx.write_file("py/requirements.txt", &format!("hello-{unique}\n"));
    ctx.write_file(
        "py/app.py",
        "import greeting\nprint('app says', greeting.WORD)\n",
    );
    ctx.write_file("py/.dockerignore", ".git\n.env\n**/__pycache__\n*.pyc\n");
    ctx.write_file("py/.env", "SECRET=1\n");
    ctx.write_file("py/.git/HEAD", "ref: refs/heads/main\n");
    ctx.write_file("py/pkg/__pycache__/mod.cpython-311.pyc", "x");
    ctx.write_file("py/pkg/mod.py", "");
    ctx.write_file("py/tool.sh", "echo tool-ok\n");
    let tag = format!("pyapp-{unique}");
    let out = build(&ctx, &["-t", &tag, "py"]);
    out.success();
    ctx.run_offline(&[&tag])
        .success()
        .stdout_exactly(&format!("app says hello-{unique}\n"));
    ctx.run_offline(&[&tag, "sh", "-c", "ls -A /app /app/pkg"])
        .success()
        .stdout_exactly("/app:\n.dockerignore\nDockerfile\napp.py\npkg\nrequirements.txt\ntool.sh\n\n/app/pkg:\nmod.py\n");
    // /bin is a symlink to usr/bin in Debian: COPY follows it instead of hiding /usr/bin.
    ctx.run_offline(&[
        &tag,
        "sh",
        "-c",
        "tool.sh; test -L /bin && /usr/bin/tool.sh",
    ])
    .success()
    .stdout_exactly("tool-ok\ntool-ok\n");

    ctx.write_file(
        "py/app.py",
        "import greeting\nprint('edited', greeting.WORD)\n",
    );
    let edited = build(&ctx, &["-t", &tag, "py"]);
    edited.success();
    let cached = cached_steps(&edited);
    assert_eq!(cached.len(), 3, "{edited}");
    assert_eq!(cached[0], "WORKDIR /app");
    assert_eq!(cached[1], "COPY requirements.txt .");
    assert!(cached[2].starts_with("RUN python3"), "{edited}");
    ctx.run_offline(&[&tag])
        .success()
        .stdout_exactly(&format!("edited hello-{unique}\n"));
}

#[test]
fn add_downloads_a_url() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    ctx.busybox();
    let server = HttpServer::start("downloaded body\n");
    ctx.write_file(
        "url/Dockerfile",
        &format!(
            "FROM busybox\nADD http://127.0.0.1:{}/files/notes.txt /downloads/\n",
            server.port
        ),
    );
    build(&ctx, &["-t", "fetched", "url"]).success();
    ctx.run_offline(&[
        "fetched",
        "sh",
        "-c",
        "cat /downloads/notes.txt; stat -c %a /downloads/notes.txt",
    ])
    .success()
    .stdout_exactly("downloaded body\n600\n");
}

#[test]
fn scratch_stages_copy_from_images_and_bind_mounts() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    ctx.busybox();
    ctx.write_file("s/notes/todo.txt", "from-context\n");
    ctx.write_file(
        "s/Dockerfile",
        "FROM scratch AS files\n\
         COPY notes/ /notes/\n\
         FROM scratch AS tools\n\
         COPY --from=busybox /bin/busybox /bin/sh\n\
         FROM busybox\n\
         COPY --from=files /notes/todo.txt /copied.txt\n\
         RUN --mount=type=bind,source=notes,target=/ctx-notes --mount=type=bind,from=files,source=notes,target=/stage-notes cat /ctx-notes/todo.txt /stage-notes/todo.txt > /both.txt\n\
         COPY --from=tools /bin/sh /opt/sh-from-scratch-stage\n",
    );
    build(&ctx, &["-t", "mixed", "s"]).success();
    ctx.run_offline(&["mixed", "sh", "-c", "cat /copied.txt /both.txt; test -x /opt/sh-from-scratch-stage && echo exe; test -e /ctx-notes || echo no-mount-left"])
        .success()
        .stdout_exactly("from-context\nfrom-context\nfrom-context\nexe\nno-mount-left\n");
}

#[test]
fn run_steps_reach_the_network_through_slirp4netns() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox", "slirp4netns");
    ctx.busybox();
    ctx.write_file(
        "net/Dockerfile",
        "FROM busybox\nRUN ip addr show tap0 | grep -q 10.0.2.100 && echo slirp-up > /net.txt\nRUN --network=none sh -c 'ip link show tap0 || echo no-tap' > /none.txt\n",
    );
    ctx.devbox(&["build", "-t", "netimg", "net"]).success();
    ctx.run_offline(&["netimg", "cat", "/net.txt", "/none.txt"])
        .success()
        .stdout_contains("slirp-up")
        .stdout_contains("no-tap");
}

#[test]
fn workdir_is_created_and_owned_by_the_user() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    ctx.busybox();
    ctx.write_file(
        "w/Dockerfile",
        "FROM busybox\nWORKDIR /srv\nUSER 1234:1234\nWORKDIR data/cache\nCMD [\"pwd\"]\n",
    );
    build(&ctx, &["-t", "wd", "w"]).success();
    ctx.run_offline(&["wd"])
        .success()
        .stdout_exactly("/srv/data/cache\n");
    ctx.run_offline(&["wd", "stat", "-c", "%u %a", "/srv", "/srv/data/cache"])
        .success()
        .stdout_exactly("0 755\n1234 755\n");
}

#[test]
fn builds_without_subordinate_ids() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    let Some(nosub) = crate::support::user::NosubSandbox::new() else {
        return;
    };
    let context = nosub.dir.path().join("ctx");
    std::fs::create_dir(&context).expect("mkdir ctx");
    std::fs::write(
        context.join("Dockerfile"),
        "FROM bb\nCOPY a.txt /a.txt\nRUN rm /bin/vi && cat /a.txt > /b.txt\n",
    )
    .expect("Dockerfile");
    std::fs::write(context.join("a.txt"), "fallback\n").expect("a.txt");
    for p in [
        &context,
        &context.join("Dockerfile"),
        &context.join("a.txt"),
    ] {
        nosub.own(p);
    }
    let devbox = |args: &[&str]| nosub.devbox(args).run();
    let out = devbox(&["build", "--network", "none", "-t", "nosub", "ctx"]);
    out.success().stderr_contains("no subordinate ids");
    devbox(&[
        "run",
        "--rm",
        "--network",
        "none",
        "nosub",
        "sh",
        "-c",
        "cat /b.txt; test -e /bin/vi || echo vi-gone",
    ])
    .success()
    .stdout_is("fallback\nvi-gone");
}

// ---- pulls, secrets and agents ------------------------------------------------------------------

#[test]
fn from_pulls_a_missing_image_from_its_registry() {
    use crate::support::registry::Registry;
    let ctx = TestContext::new();
    require!(ctx, "userns", "newuidmap", "busybox", "registry");
    let registry = Registry::start();
    let remote = format!("{}/tools/busybox:1.0", registry.host());
    ctx.devbox(&["push", ctx.busybox(), &remote]).success();

    // A store without the base image: the build pulls it, as `docker build` does.
    let fresh = TestContext::new();
    fresh.write_file(
        "p/Dockerfile",
        &format!("FROM {remote}\nRUN echo built > /b\n"),
    );
    let first = build(&fresh, &["-t", "pulled", "p"]);
    first
        .success()
        .stderr_contains(&format!("Pulling {remote}"));
    fresh
        .run_offline(&["pulled", "cat", "/b"])
        .success()
        .stdout_is("built");
    fresh
        .devbox(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .success()
        .stdout_contains(&remote);
    // Present now: no pull without --pull; with it, pulled again and (same digest) cached.
    let again = build(&fresh, &["-t", "pulled", "p"]);
    again.success();
    assert!(!again.stderr.contains("Pulling"), "{again}");
    let forced = build(&fresh, &["--pull", "-t", "pulled", "p"]);
    forced
        .success()
        .stderr_contains(&format!("Pulling {remote}"));
    assert_eq!(cached_steps(&forced), ["RUN echo built > /b"], "{forced}");

    // A name no registry has: the FROM line and the pull's reason.
    fresh.write_file(
        "q/Dockerfile",
        &format!("FROM {}/no/such:1\n", registry.host()),
    );
    let out = build(&fresh, &["q"]);
    let line = error_line(&out);
    assert!(line.contains("line 1: FROM"), "{line}");
    assert!(line.contains("cannot pull the image"), "{line}");
}

/// Every byte of every blob in the store (gzip layers decompressed).
fn store_bytes(ctx: &TestContext) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(ctx.root.join("blobs-v1/sha256")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let mut plain = Vec::new();
        if std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut plain)
            .is_ok()
        {
            all.extend(plain);
        }
        all.extend(bytes);
    }
    all
}

#[test]
fn run_secret_is_readable_in_the_step_but_never_stored_or_keyed() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    ctx.busybox();
    ctx.write_file(
        "s/Dockerfile",
        "FROM busybox\n\
         RUN --mount=type=secret,id=token,required=true wc -c < /run/secrets/token > /token-length && stat -c %a /run/secrets/token > /token-mode\n\
         RUN --mount=type=secret,id=api,env=unused,target=/etc/api.key,mode=0444 cat /etc/api.key | tr a-z A-Z > /api-upper\n",
    );
    let secret = ctx.write_file("token.txt", "hunter2-one");
    let token = format!("id=token,src={}", secret.display());
    let with_secrets = |api_key: &str| {
        ctx.devbox_cmd(&[
            "build",
            "--network",
            "none",
            "--secret",
            &token,
            "--secret",
            "id=api,env=API_KEY",
            "-t",
            "s",
            "s",
        ])
        .env("API_KEY", api_key)
        .run()
    };
    let out = with_secrets("from-env");
    out.success();
    ctx.run_offline(&[
        "s",
        "sh",
        "-c",
        "cat /token-length /token-mode /api-upper; echo; ls /run/secrets /etc/api.key 2>&1; true",
    ])
    .success()
    .stdout_contains("11\n400\nFROM-ENV\n")
    .stdout_contains("No such file or directory");
    let stored = store_bytes(&ctx);
    for value in ["hunter2-one", "from-env"] {
        assert!(
            !stored.windows(value.len()).any(|w| w == value.as_bytes()),
            "`{value}` is in a blob of the store"
        );
    }
    // A new secret value keeps the cache (the key has the id, not the value).
    std::fs::write(&secret, "hunter2-two-changed").unwrap();
    let out = with_secrets("other");
    out.success();
    assert_eq!(cached_steps(&out).len(), 2, "{out}");

    // Required and missing: an error naming the line; optional and missing: not mounted.
    let out = build(&ctx, &["--no-cache", "s"]);
    let line = error_line(&out);
    assert!(
        line.contains("line 2: secret `token` is required"),
        "{line}"
    );
    ctx.write_file(
        "o/Dockerfile",
        "FROM busybox\nRUN --mount=type=secret,id=maybe test ! -e /run/secrets/maybe\n",
    );
    build(&ctx, &["o"]).success();
}

#[test]
fn run_ssh_mount_forwards_the_agent_socket() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "busybox");
    ctx.busybox();
    let socket = ctx.path("agent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    crate::support::give_to_user(&socket);
    ctx.write_file(
        "a/Dockerfile",
        "FROM busybox\nRUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK\" > /agent\n",
    );
    let out = ctx
        .devbox_cmd(&[
            "build",
            "--network",
            "none",
            "--ssh",
            "default",
            "-t",
            "a",
            "a",
        ])
        .env("SSH_AUTH_SOCK", &socket)
        .run();
    out.success();
    ctx.run_offline(&[
        "a",
        "sh",
        "-c",
        "cat /agent; test -e /run/buildkit/ssh_agent.0 || echo gone",
    ])
    .success()
    .stdout_is("/run/buildkit/ssh_agent.0\ngone");
    let out = build(&ctx, &["--ssh", "default", "a"]);
    out.devbox_error(125);
    out.stderr_contains("SSH_AUTH_SOCK is not set");
    ctx.write_file(
        "r/Dockerfile",
        "FROM busybox\nRUN --mount=type=ssh,required=true true\n",
    );
    let out = build(&ctx, &["r"]);
    assert!(error_line(&out).contains("ssh agent `default` is required"));
}
