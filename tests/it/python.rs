//! The Python workflow: `devbox init` on the example projects.

use std::path::{Path, PathBuf};

use crate::support::TestContext;

/// Copies examples/<name> into the sandbox (owned by the test user) and returns its path.
fn copy_example(ctx: &TestContext, name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    fn walk(ctx: &TestContext, src: &Path, rel: &str) {
        for entry in std::fs::read_dir(src).unwrap().flatten() {
            let name = entry.file_name().into_string().unwrap();
            let rel = format!("{rel}/{name}");
            if entry.file_type().unwrap().is_dir() {
                ctx.mkdir(&rel);
                walk(ctx, &entry.path(), &rel);
            } else {
                ctx.write_file(&rel, &std::fs::read_to_string(entry.path()).unwrap());
            }
        }
    }
    ctx.mkdir(name);
    walk(ctx, &src, name);
    ctx.path(name)
}

#[test]
fn init_writes_the_files_once_and_never_overwrites_without_force() {
    let ctx = TestContext::new();
    let dir = copy_example(&ctx, "flask-app");
    let dir_s = dir.to_str().unwrap();
    let out = ctx.devbox(&["init", "--yes", dir_s]);
    out.success()
        .stderr_contains("Detected flask-app: Python 3.11 (from .python-version)")
        .stderr_contains("created  Dockerfile")
        .stderr_contains("created  compose.yaml");
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("FROM python:${PYTHON_VERSION}-slim AS base"));
    assert!(dockerfile.contains("CMD [\"gunicorn\",\"--bind\",\"0.0.0.0:5000\",\"app:app\"]"));
    assert!(dir.join(".dockerignore").is_file());
    assert!(std::fs::read_to_string(dir.join("README.md"))
        .unwrap()
        .contains("devbox up"));

    // A changed Dockerfile is the user's: a second init refuses and writes nothing.
    std::fs::write(dir.join("Dockerfile"), "FROM mine\n").unwrap();
    std::fs::remove_file(dir.join("compose.yaml")).unwrap();
    let out = ctx.devbox(&["init", "--yes", dir_s]);
    out.devbox_error(125);
    out.stderr_contains("Dockerfile already exists")
        .stderr_contains("--force");
    assert_eq!(
        std::fs::read_to_string(dir.join("Dockerfile")).unwrap(),
        "FROM mine\n"
    );
    assert!(
        !dir.join("compose.yaml").exists(),
        "nothing is written when one file conflicts"
    );

    ctx.devbox(&["init", "--yes", "--force", dir_s])
        .success()
        .stderr_contains("kept     README.md (it already has a devbox section)");
    assert_eq!(
        std::fs::read_to_string(dir.join("Dockerfile")).unwrap(),
        dockerfile
    );
}

#[test]
fn init_in_a_missing_directory_is_a_clear_error() {
    let ctx = TestContext::new();
    let out = ctx.devbox(&["init", "--yes", "no-such-dir"]);
    out.devbox_error(125);
    out.stderr_contains("is not a directory");
}

#[test]
fn init_asks_on_a_terminal_and_uses_the_answers() {
    let ctx = TestContext::new();
    crate::support::require!(ctx, "script");
    let dir = copy_example(&ctx, "flask-app");
    let inner = format!(
        "{} init {}",
        crate::support::binary().display(),
        dir.display()
    );
    // `script` gives devbox a terminal and types our answers into it.
    let out = ctx
        .command("/usr/bin/script")
        .args(["-q", "-e", "-c", &inner, "/dev/null"])
        .stdin("3.12\n9000\n\n")
        .run();
    out.success()
        .stdout_contains("? Python version [3.11]: ")
        .stdout_contains("? Port the app listens on [5000]: ");
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("ARG PYTHON_VERSION=3.12"),
        "{dockerfile}"
    );
    assert!(dockerfile.contains("EXPOSE 9000"), "{dockerfile}");
    let compose = std::fs::read_to_string(dir.join("compose.yaml")).unwrap();
    assert!(compose.contains("\"127.0.0.1:9000:9000\""), "{compose}");
    assert!(
        compose.contains("\"--port\",\"9000\""),
        "the dev command follows the port: {compose}"
    );
}

/// A project with no dependencies: a script app and a unittest suite.
fn plain_project(ctx: &TestContext) -> PathBuf {
    ctx.write_file(".python-version", "3.11\n");
    let dir = ctx.mkdir("pyapp");
    ctx.write_file("pyapp/.python-version", "3.11\n");
    ctx.write_file(
        "pyapp/main.py",
        "import time\nprint('hello from main', flush=True)\nwhile True:\n    time.sleep(1)\n",
    );
    ctx.write_file("pyapp/calc.py", "def add(a, b):\n    return a + b\n");
    ctx.write_file("pyapp/tests/__init__.py", "");
    ctx.write_file(
        "pyapp/tests/test_calc.py",
        "import unittest\nfrom calc import add\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n",
    );
    dir
}

/// Imports the local stand-in for Docker Hub's python:3.11-slim.
fn import_python_slim(ctx: &TestContext) {
    let tar =
        crate::support::images::python_slim_tar().expect("building the python:3.11-slim stand-in");
    ctx.devbox_cmd(&[
        "import",
        "-c",
        "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8",
        "-c",
        "CMD [\"python3\"]",
        tar.to_str().unwrap(),
        "python:3.11-slim",
    ])
    // ~250 MB: slow when the machine is busy with other tests.
    .timeout(std::time::Duration::from_secs(600))
    .run()
    .success();
}

fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        out.push(path.display().to_string());
        if path.is_dir() {
            out.extend(tree(&path));
        }
    }
    out.sort();
    out
}

#[test]
fn devbox_test_runs_the_suite_in_a_throwaway_container_and_up_runs_the_app() {
    let ctx = TestContext::new();
    crate::support::require!(ctx, "userns", "mmdebstrap");
    import_python_slim(&ctx);
    let dir = plain_project(&ctx);
    let before = tree(&dir);
    let out = ctx
        .devbox_cmd(&["test"])
        .current_dir(&dir)
        .timeout(std::time::Duration::from_secs(300))
        .run();
    out.success()
        .stderr_contains("Ran 1 test")
        .stderr_contains("OK");
    assert_eq!(
        tree(&dir),
        before,
        "the host tree is untouched (no __pycache__)"
    );

    // A failing test: the runner's exit code comes back.
    ctx.write_file(
        "pyapp/tests/test_more.py",
        "import unittest\n\nclass T(unittest.TestCase):\n    def test_fails(self):\n        self.assertEqual(1, 2)\n",
    );
    let out = ctx
        .devbox_cmd(&["test"])
        .current_dir(&dir)
        .timeout(std::time::Duration::from_secs(300))
        .run();
    out.code_is(1);
    out.stderr_contains("FAILED (failures=1)");
    // An explicit command after `--`.
    ctx.devbox_cmd(&[
        "test",
        "--",
        "python",
        "-c",
        "import calc; print(calc.add(1, 1))",
    ])
    .current_dir(&dir)
    .run()
    .success()
    .stdout_is("2");

    // `devbox shell`: the source is mounted, so what it writes is the user's, on the host.
    ctx.devbox_cmd(&[
        "shell",
        "--network",
        "none",
        "--",
        "sh",
        "-c",
        "pwd; echo made > /app/from-shell",
    ])
    .current_dir(&dir)
    .run()
    .success()
    .stdout_is("/app");
    let made = std::fs::metadata(dir.join("from-shell")).expect("the file the shell wrote");
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&made), ctx.user.uid);
    std::fs::remove_file(dir.join("from-shell")).unwrap();

    // `devbox up` with no compose file runs the generated configuration.
    ctx.devbox_cmd(&["up", "-d"])
        .current_dir(&dir)
        .timeout(std::time::Duration::from_secs(300))
        .run()
        .success()
        .stderr_contains("Container pyapp-app-1  Started");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let logs = ctx.devbox(&["logs", "pyapp-app-1"]);
        if logs.stdout.contains("hello from main") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no output from the app:\n{logs}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(
        !dir.join("Dockerfile").exists() && !dir.join("compose.yaml").exists(),
        "up writes nothing into the project"
    );
    ctx.devbox_cmd(&["down"]).current_dir(&dir).run().success();
    ctx.devbox(&["ps", "-aq"]).success().stdout_is("");
}

/// One example through the whole workflow on the offline index.
struct Example {
    name: &'static str,
    /// The page `/` serves at first.
    page: &'static str,
    /// The source file an edit changes: the file, the text replaced, and its replacement.
    edit: (&'static str, &'static str, &'static str),
    /// Whether the example has a pytest suite for `devbox test`.
    tests: bool,
}

/// Polls `GET /` on the app's port until the body contains `needle`; on the deadline, fails
/// with the app's log.
fn wait_for_page(ctx: &TestContext, port: u16, needle: &str, container: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        if let Some(page) = crate::support::http::get(port, "/") {
            if page.contains(needle) {
                return page;
            }
        }
        if std::time::Instant::now() > deadline {
            let logs = ctx.devbox(&["logs", container]);
            panic!("`{needle}` was not served on port {port} in time; the app's log:\n{logs}");
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// `init --yes` → `build` (the production image) → `up -d` → the page from the host → an
/// edit on the host served after the framework reloads → `devbox test` → `down`, with every
/// package from the local index (the machine has no PyPI the containers trust).
fn example_end_to_end(example: Example) {
    let ctx = TestContext::new();
    crate::support::require!(
        ctx,
        "userns",
        "slirp4netns",
        "networks",
        "mmdebstrap",
        "pyindex"
    );
    import_python_slim(&ctx);
    let index = crate::support::pyindex::PyIndex::start();
    let name = example.name;
    let dir = copy_example(&ctx, name);
    if let Ok(lock) = std::fs::read_to_string(dir.join("uv.lock")) {
        ctx.write_file(&format!("{name}/uv.lock"), &index.relock(&lock));
    }
    // A port of our own: tests run side by side, and compose services share the host's network.
    let port = crate::support::http::free_port();
    ctx.write_file(&format!("{name}/.env"), &format!("PORT={port}\n"));
    let devbox = |args: &[&str]| {
        let mut cmd = ctx
            .devbox_cmd(args)
            .current_dir(&dir)
            .timeout(std::time::Duration::from_secs(600));
        for (key, value) in index.env() {
            cmd = cmd.env(key, value);
        }
        cmd.run()
    };

    devbox(&["init", "--yes"]).success();
    let compose = std::fs::read_to_string(dir.join("compose.yaml")).unwrap();
    assert!(
        compose.contains(&format!("127.0.0.1:{port}:{port}")),
        "{compose}"
    );
    // The production image: the runtime stage, with gunicorn or uvicorn.
    devbox(&[
        "build",
        "-t",
        &format!("{name}:prod"),
        "--build-arg",
        "PIP_INDEX_URL",
        "--build-arg",
        "PIP_TRUSTED_HOST",
        "--build-arg",
        "UV_INDEX_URL",
        ".",
    ])
    .success();

    devbox(&["up", "-d"]).success();
    let container = format!("{name}-app-1");
    wait_for_page(&ctx, port, example.page, &container);
    let (file, from, to) = example.edit;
    let path = dir.join(file);
    let source = std::fs::read_to_string(&path).unwrap();
    assert!(source.contains(from), "{file} says `{from}`");
    ctx.write_file(&format!("{name}/{file}"), &source.replace(from, to));
    wait_for_page(&ctx, port, to, &container);

    if example.tests {
        let before = tree(&dir);
        let out = devbox(&["test"]);
        out.success().stdout_contains(" passed");
        assert_eq!(
            tree(&dir),
            before,
            "`devbox test` writes nothing into the tree"
        );
    }
    devbox(&["down"]).success();
    ctx.devbox(&["ps", "-aq"]).success().stdout_is("");
}

#[test]
fn flask_example_serves_reloads_and_tests_offline() {
    example_end_to_end(Example {
        name: "flask-app",
        page: "Hello from Flask in devbox!",
        edit: ("app.py", "in devbox!", "in devbox, edited!"),
        tests: true,
    });
}

#[test]
fn fastapi_uv_example_serves_reloads_and_tests_offline() {
    example_end_to_end(Example {
        name: "fastapi-app",
        page: "Hello from FastAPI in devbox!",
        edit: ("app/main.py", "in devbox!", "in devbox, edited!"),
        tests: true,
    });
}

#[test]
fn django_example_serves_and_reloads_offline() {
    example_end_to_end(Example {
        name: "django-app",
        page: "Hello from Django in devbox!",
        edit: ("mysite/urls.py", "in devbox!", "in devbox, edited!"),
        tests: false,
    });
}

#[test]
fn devbox_test_of_the_pytest_example_returns_the_runner_code_and_writes_nothing() {
    let ctx = TestContext::new();
    crate::support::require!(
        ctx,
        "userns",
        "slirp4netns",
        "networks",
        "mmdebstrap",
        "pyindex"
    );
    import_python_slim(&ctx);
    let index = crate::support::pyindex::PyIndex::start();
    let dir = copy_example(&ctx, "pytest-project");
    let before = tree(&dir);
    let devbox_test = || {
        let mut cmd = ctx
            .devbox_cmd(&["test"])
            .current_dir(&dir)
            .timeout(std::time::Duration::from_secs(600));
        for (key, value) in index.env() {
            cmd = cmd.env(key, value);
        }
        cmd.run()
    };
    devbox_test().success().stdout_contains(" passed");
    assert_eq!(tree(&dir), before, "no .pytest_cache, no __pycache__");

    // Runs side by side in one repository do not interfere: each has its own throw-away
    // container and overlay over the source.
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..2).map(|_| s.spawn(devbox_test)).collect();
        for run in runs {
            let out = run.join().expect("a devbox test thread panicked");
            out.success().stdout_contains(" passed");
        }
    });
    assert_eq!(tree(&dir), before, "parallel runs leave the tree as it was");

    ctx.write_file(
        "pytest-project/tests/test_broken.py",
        "def test_broken():\n    assert 1 + 1 == 3\n",
    );
    let out = devbox_test();
    out.code_is(1);
    out.stdout_contains("1 failed");
}
