//! Registries (issue 3): pull, push, login and search against a real `docker-registry` on the
//! loopback, seeded by devbox itself, by skopeo, and with crafted images.

use std::path::Path;
use std::time::Duration;

use crate::support::registry::{
    tar_with_file, FakeTokenRegistry, Fault, FaultyRegistry, Registry, TestImage, ThrottledProxy,
    OCI_INDEX, OCI_MANIFEST,
};
use crate::support::{binary, give_to_user, images, require, TestContext};

/// Every manifest digest the store's references point at.
fn ref_digests(root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root.join("refs-v1")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .map(|s| s.trim().to_string())
        .collect()
}

/// Entries of a store directory (none if it does not exist).
fn entries(root: &Path, dir: &str) -> Vec<String> {
    match std::fs::read_dir(root.join(dir)) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The busybox rootfs tar (the test image), read into memory.
/// The `Error: ` line of a failed command (progress lines come before it), after checking the
/// exit code.
fn error_line(out: &crate::support::Output, code: i32) -> String {
    out.code_is(code);
    match out.stderr.lines().find(|l| l.starts_with("Error: ")) {
        Some(line) => line.to_string(),
        None => out.fail("expected an `Error: ` line on stderr"),
    }
}

fn busybox_layer() -> Vec<u8> {
    let tar = images::busybox_tar().unwrap_or_else(|e| panic!("building the busybox image: {e}"));
    std::fs::read(tar).expect("reading the busybox tar")
}

#[test]
fn push_then_pull_round_trip_keeps_the_digest() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "newuidmap", "busybox", "registry");
    let registry = Registry::start();
    let img = ctx.busybox();
    let remote = format!("{}/tools/busybox:1.0", registry.host());
    let pushed = ctx.devbox(&["push", img, &remote]);
    pushed.success().stderr_contains("Pushed");
    let digest = pushed.out().to_string();
    assert!(
        crate::support::is_image_id(&digest),
        "push prints the digest\n{pushed}"
    );

    // A second push finds every blob there already.
    ctx.devbox(&["push", img, &remote])
        .success()
        .stderr_contains("Layer already exists")
        .stdout_is(&digest);

    // Into a fresh store: the same manifest digest, and the image runs.
    let fresh = TestContext::new();
    let pulled = fresh.devbox(&["pull", &remote]);
    pulled
        .success()
        .stdout_is(&format!("{}/tools/busybox:1.0", registry.host()))
        .stderr_contains(&format!("Digest: {digest}"))
        .stderr_contains("Pull complete")
        .stderr_contains("Status: Downloaded newer image");
    assert_eq!(ref_digests(&fresh.root), vec![digest.clone()], "{pulled}");
    fresh
        .run_offline(&[&remote, "echo", "round trip"])
        .success()
        .stdout_is("round trip");
    // Again: nothing to fetch.
    fresh
        .devbox(&["pull", "-q", &remote])
        .success()
        .stdout_is(&remote);
    fresh
        .devbox(&["pull", &remote])
        .success()
        .stderr_contains("Already exists")
        .stderr_contains("Status: Image is up to date");

    // Pull by digest too.
    let by_digest = format!("{}/tools/busybox@{digest}", registry.host());
    TestContext::new().devbox(&["pull", &by_digest]).success();

    // The catalog knows the repository.
    ctx.devbox(&["search", &format!("{}/busy", registry.host())])
        .success()
        .stdout_contains(&format!("{}/tools/busybox", registry.host()));
}

#[test]
fn skopeo_pushed_image_pulls_and_runs() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "newuidmap", "busybox", "registry", "skopeo");
    let registry = Registry::start();
    let image = TestImage::new(
        &[busybox_layer(), tar_with_file("etc/made-by", "skopeo\n")],
        crate::support::registry::host_arch(),
    );
    let layout = tempfile::tempdir().expect("layout dir");
    image.write_oci_layout(layout.path(), "latest");
    let remote = format!("{}/peer/skopeo-img:latest", registry.host());
    // Converted to Docker schema 2 on the way, so the Docker media types are exercised too.
    let out = std::process::Command::new(crate::support::registry::SKOPEO_BIN)
        .args([
            "--insecure-policy",
            "copy",
            "--dest-tls-verify=false",
            "--format",
            "v2s2",
        ])
        .arg(format!("oci:{}:latest", layout.path().display()))
        .arg(format!("docker://{remote}"))
        .output()
        .expect("running skopeo");
    assert!(
        out.status.success(),
        "skopeo copy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ctx.devbox(&["pull", &remote]).success();
    ctx.run_offline(&[&remote, "cat", "/etc/made-by"])
        .success()
        .stdout_is("skopeo");
}

#[test]
fn multi_arch_index_picks_the_platform() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "newuidmap", "busybox", "registry");
    let registry = Registry::start();
    let host_arch = crate::support::registry::host_arch();
    let other_arch = if host_arch == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let base = busybox_layer();
    let mut entries = Vec::new();
    for arch in [host_arch, other_arch] {
        let image = TestImage::new(
            &[
                base.clone(),
                tar_with_file("etc/arch", &format!("{arch}\n")),
            ],
            arch,
        );
        let digest = registry.push_image("multi", &format!("only-{arch}"), &image);
        let mut platform = serde_json::json!({"architecture": arch, "os": "linux"});
        if arch == "arm64" {
            platform["variant"] = "v8".into();
        }
        entries.push(serde_json::json!({
            "mediaType": OCI_MANIFEST, "digest": digest, "size": image.manifest.len(), "platform": platform,
        }));
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries,
    }))
    .unwrap();
    let index_digest = registry.put_manifest("multi", "latest", OCI_INDEX, &index);
    let remote = format!("{}/multi:latest", registry.host());

    ctx.devbox(&["pull", &remote])
        .success()
        .stderr_contains(&format!("Digest: {index_digest}"));
    ctx.run_offline(&[&remote, "cat", "/etc/arch"])
        .success()
        .stdout_is(host_arch);

    let other = TestContext::new();
    other
        .devbox(&[
            "pull",
            "--platform",
            &format!("linux/{other_arch}"),
            &remote,
        ])
        .success();
    other
        .run_offline(&[&remote, "cat", "/etc/arch"])
        .success()
        .stdout_is(other_arch);

    let none = TestContext::new();
    let out = none.devbox(&["pull", "--platform", "linux/s390x", &remote]);
    let line = error_line(&out, 125);
    assert!(
        line.contains("linux/s390x") && line.contains(&format!("linux/{host_arch}")),
        "{out}"
    );
    assert!(ref_digests(&none.root).is_empty(), "{out}");
}

/// A pull failed on `layer`'s digest, and that blob is not in the store.
fn assert_mismatch_kept_nothing(ctx: &TestContext, out: &crate::support::Output, layer: &str) {
    let line = error_line(out, 125);
    assert!(
        line.contains("digest mismatch") && line.contains(layer),
        "{out}"
    );
    let hex = &layer["sha256:".len()..];
    assert!(
        !entries(&ctx.root, "blobs-v1/sha256")
            .iter()
            .any(|b| b == hex),
        "{out}"
    );
}

#[test]
fn tampered_blob_is_rejected_and_nothing_is_kept() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "newuidmap", "busybox", "registry");
    let registry = Registry::start();
    let image = TestImage::new(&[busybox_layer()], crate::support::registry::host_arch());
    registry.push_image("tampered", "latest", &image);
    let layer = &image.layer_digests[0];
    let data = registry.blob_data(layer);
    let mut bytes = std::fs::read(&data).expect("registry blob");
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 16] {
        *b ^= 0xff;
    }
    std::fs::write(&data, &bytes).expect("tampering");

    let remote = format!("{}/tampered:latest", registry.host());
    let out = ctx.devbox(&["pull", &remote]);
    assert_mismatch_kept_nothing(&ctx, &out, layer);
    assert!(entries(&ctx.root, "layers-v1").is_empty(), "{out}");
    assert!(ref_digests(&ctx.root).is_empty(), "{out}");
    assert!(
        entries(&ctx.root, "tmp").is_empty(),
        "leftovers in tmp/\n{out}"
    );
}

#[test]
fn auth_failures_are_clear_and_login_fixes_them() {
    let mut ctx = TestContext::new();
    require!(ctx, "userns", "newuidmap", "busybox", "registry");
    let registry = Registry::start_with_user("tester", "s3cret");
    let img = ctx.busybox().to_string();
    let remote = format!("{}/private/busybox:1", registry.host());

    let out = ctx.devbox(&["push", &img, &remote]);
    let line = error_line(&out, 125);
    assert!(
        line.contains("authentication to") && line.contains(&registry.host()),
        "{out}"
    );
    out.stderr_contains("hint: log in with `devbox login");

    let out = ctx
        .devbox_cmd(&[
            "login",
            "-u",
            "tester",
            "--password-stdin",
            &registry.host(),
        ])
        .stdin("wrong\n")
        .run();
    error_line(&out, 125);
    assert!(!ctx.path("config/devbox/auth.json").exists(), "{out}");

    ctx.devbox_cmd(&[
        "login",
        "-u",
        "tester",
        "--password-stdin",
        &registry.host(),
    ])
    .stdin("s3cret\n")
    .run()
    .success()
    .stdout_is("Login Succeeded");
    let auth = ctx.path("config/devbox/auth.json");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&auth).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let digest = ctx
        .devbox(&["push", &img, &remote])
        .success()
        .out()
        .to_string();

    // Another store of the same user pulls with the stored credentials.
    ctx.root = ctx.path("root2");
    ctx.devbox(&["pull", &remote])
        .success()
        .stderr_contains(&format!("Digest: {digest}"));

    ctx.devbox(&["logout", &registry.host()])
        .success()
        .stderr_contains("Removing login credentials");
    ctx.root = ctx.path("root3");
    let out = ctx.devbox(&["pull", &remote]);
    assert!(error_line(&out, 125).contains("authentication"), "{out}");

    // Docker's config.json (plain `auths` entries) is read too.
    let docker = ctx.mkdir("docker");
    let entry = base64_of("tester:s3cret");
    let config = docker.join("config.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{entry}"}}}}}}"#,
            registry.host()
        ),
    )
    .unwrap();
    give_to_user(&config);
    ctx.devbox_cmd(&["pull", &remote])
        .env("DOCKER_CONFIG", &docker)
        .run()
        .success();

    // And credential helpers: `docker-credential-<name> get`, the server on stdin.
    ctx.root = ctx.path("root4");
    let helper = ctx.write_file(
        "bin/docker-credential-devboxtest",
        "#!/bin/sh\nread -r server\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"tester\",\"Secret\":\"s3cret\"}' \"$server\"\n",
    );
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(
        &config,
        format!(
            r#"{{"credHelpers":{{"{}":"devboxtest"}}}}"#,
            registry.host()
        ),
    )
    .unwrap();
    ctx.devbox_cmd(&["pull", &remote])
        .env("DOCKER_CONFIG", &docker)
        .env(
            "PATH",
            format!(
                "{}:{}",
                ctx.path("bin").display(),
                crate::support::user::CLEAN_PATH
            ),
        )
        .run()
        .success();
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn shared_layers_are_not_fetched_twice() {
    let ctx = TestContext::new();
    require!(ctx, "userns", "newuidmap", "busybox", "registry");
    let registry = Registry::start();
    let arch = crate::support::registry::host_arch();
    let base = busybox_layer();
    let first = TestImage::new(&[base.clone(), tar_with_file("etc/which", "first\n")], arch);
    let second = TestImage::new(&[base, tar_with_file("etc/which", "second\n")], arch);
    registry.push_image("app", "one", &first);
    registry.push_image("app", "two", &second);
    let proxy = ThrottledProxy::start(registry.port, 0);
    ctx.devbox(&["pull", &format!("{}/app:one", proxy.host())])
        .success();
    let before = proxy.requests_for(&first.layer_digests[0]);
    let out = ctx.devbox(&["pull", &format!("{}/app:two", proxy.host())]);
    out.success()
        .stderr_contains(&format!(
            "{}: Already exists",
            &second.layer_digests[0][7..19]
        ))
        .stderr_contains(&format!(
            "{}: Pull complete",
            &second.layer_digests[1][7..19]
        ));
    assert_eq!(
        proxy.requests_for(&first.layer_digests[0]),
        before,
        "the shared layer was fetched again\n{out}"
    );
    ctx.run_offline(&[&format!("{}/app:two", proxy.host()), "cat", "/etc/which"])
        .success()
        .stdout_is("second");
}

#[test]
fn killed_pull_leaves_nothing_visible_and_a_rerun_completes() {
    let mut ctx = TestContext::new();
    require!(ctx, "userns", "newuidmap", "mmdebstrap", "registry");
    let registry = Registry::start();
    let debian = ctx.use_debian();
    let remote = format!("{}/debian-py:latest", registry.host());
    ctx.devbox_cmd(&["push", "-q", &debian, &remote])
        .timeout(Duration::from_secs(300))
        .run()
        .success();

    // Through a slow proxy (20 MB/s), SIGKILL after 3 s: midway through the big layer.
    let proxy = ThrottledProxy::start(registry.port, 20 << 20);
    let slow = format!("{}/debian-py:latest", proxy.host());
    let fresh = TestContext::new();
    let killed = fresh
        .command("/usr/bin/timeout")
        // --foreground: signal devbox alone and reap it (not the whole group, timeout too).
        .args(["--foreground", "-s", "KILL", "3"])
        .arg(binary())
        .arg("--root")
        .arg(&fresh.root)
        .args(["pull", &slow])
        .run();
    killed.code_is(137);
    assert!(ref_digests(&fresh.root).is_empty(), "{killed}");
    assert!(entries(&fresh.root, "layers-v1").is_empty(), "{killed}");
    let partial = entries(&fresh.root, "tmp");
    assert!(
        partial.iter().any(|n| n.starts_with("pull-")),
        "expected a partial download in tmp/: {partial:?}\n{killed}"
    );

    proxy.rate.store(0, std::sync::atomic::Ordering::SeqCst);
    fresh
        .devbox_cmd(&["pull", &slow])
        .timeout(Duration::from_secs(300))
        .run()
        .success();
    assert!(
        entries(&fresh.root, "tmp").is_empty(),
        "the killed pull's leftovers are gone"
    );
    fresh
        .run_offline(&[&slow, "python3", "-c", "print(6 * 7)"])
        .success()
        .stdout_is("42");
}

#[test]
fn bearer_token_flow_like_docker_hub() {
    let ctx = TestContext::new();
    require!(ctx, "userns");
    let fake = FakeTokenRegistry::start("me", "pw", &["team/app", "team/web", "other"]);

    let out = ctx
        .devbox_cmd(&["login", "-u", "me", "--password-stdin", &fake.host()])
        .stdin("nope\n")
        .run();
    assert!(error_line(&out, 125).contains("authentication to"), "{out}");

    ctx.devbox_cmd(&["login", "-u", "me", "--password-stdin", &fake.host()])
        .stdin("pw\n")
        .run()
        .success()
        .stdout_is("Login Succeeded");

    // The catalog wants a token for another scope: the client follows the second challenge.
    let out = ctx.devbox(&["search", &format!("{}/team", fake.host())]);
    out.success()
        .stdout_contains(&format!("{}/team/app", fake.host()))
        .stdout_contains(&format!("{}/team/web", fake.host()));
    assert!(!out.stdout.contains("other"), "{out}");
    let log = fake.log.lock().unwrap().join("\n");
    assert!(
        log.contains("GET /v2/_catalog?n=1000 HTTP/1.1 [Bearer T:registry:catalog:search]"),
        "{log}"
    );
    assert!(log.contains("scope=registry%3Acatalog%3Asearch"), "{log}");
}

// A registry stand-in on the loopback that misbehaves (issue 11): each fault on a fresh store,
// then `system check` must find the store consistent and a good pull into it must work.

/// The busybox image the stand-in serves.
fn stand_in_image() -> TestImage {
    TestImage::new(&[busybox_layer()], crate::support::registry::host_arch())
}

/// Pulls from a stand-in with `fault` into a fresh store (idle timeout 1 s).
fn pull_with_fault(fault: Fault) -> (TestContext, FaultyRegistry, crate::support::Output) {
    let ctx = TestContext::new();
    let registry = FaultyRegistry::start(stand_in_image(), fault);
    let out = ctx
        .devbox_cmd(&["pull", &registry.reference()])
        .env("DEVBOX_REGISTRY_TIMEOUT", "1")
        .timeout(Duration::from_secs(120))
        .run();
    (ctx, registry, out)
}

/// After a failed pull: nothing of the image is visible, tmp/ is empty, `system check` is
/// consistent, and a good pull then completes and runs.
fn assert_clean_then_good_pull(ctx: &TestContext, failed: &crate::support::Output) {
    assert!(ref_digests(&ctx.root).is_empty(), "{failed}");
    assert!(
        entries(&ctx.root, "tmp").is_empty(),
        "leftovers in tmp/: {:?}\n{failed}",
        entries(&ctx.root, "tmp")
    );
    let check = ctx.devbox(&["system", "check"]);
    if check.code != 0 || check.stdout.contains("inconsistent:") {
        check.fail(&format!("the store is inconsistent after\n{failed}"));
    }
    let good = FaultyRegistry::start(stand_in_image(), Fault::None);
    ctx.devbox(&["pull", "-q", &good.reference()]).success();
    ctx.run_offline(&[&good.reference(), "echo", "pulled"])
        .success()
        .stdout_is("pulled");
}

#[test]
fn stand_in_registry_corrupt_truncated_and_stalled_blobs() {
    let probe = TestContext::new();
    require!(probe, "userns", "newuidmap", "busybox");
    let layer = stand_in_image().layer_digests[0].clone();
    let blob_gets = |r: &FaultyRegistry| r.requests_with(&format!("GET /v2/faulty/blobs/{layer}"));

    // A corrupt blob: a digest mismatch, never tried again, nothing kept.
    let (ctx, registry, out) = pull_with_fault(Fault::CorruptBlob);
    assert_mismatch_kept_nothing(&ctx, &out, &layer);
    assert_eq!(blob_gets(&registry).len(), 1, "{out}");
    assert_clean_then_good_pull(&ctx, &out);

    // A body that always ends short: three tries, then an error naming blob and registry.
    let (ctx, registry, out) = pull_with_fault(Fault::Truncate(usize::MAX));
    let line = error_line(&out, 125);
    assert!(
        line.contains(&format!("blob {layer}"))
            && line.contains(&registry.host())
            && line.contains("broke off"),
        "{out}"
    );
    out.stderr_contains("(try 3 of 3)");
    assert_eq!(blob_gets(&registry).len(), 3, "{out}");
    assert_clean_then_good_pull(&ctx, &out);

    // Short once: the second try asks for the rest (Range) and the pull completes.
    let (ctx, registry, out) = pull_with_fault(Fault::Truncate(1));
    out.success().stderr_contains("(try 2 of 3)");
    let gets = blob_gets(&registry);
    assert_eq!(gets.len(), 2, "{gets:?}\n{out}");
    assert!(gets[1].contains("[bytes="), "the retry resumes: {gets:?}");
    ctx.run_offline(&[&registry.reference(), "echo", "resumed"])
        .success()
        .stdout_is("resumed");
    let check = ctx.devbox(&["system", "check"]);
    check.success();
    assert!(!check.stdout.contains("inconsistent:"), "{check}");

    // Half a body, then silence: the idle timeout (1 s here) ends each try.
    let (ctx, registry, out) = pull_with_fault(Fault::Stall);
    let line = error_line(&out, 125);
    assert!(
        line.contains(&format!("blob {layer}"))
            && line.contains(&registry.host())
            && line.contains("no data for 1 s"),
        "{out}"
    );
    assert_clean_then_good_pull(&ctx, &out);
}

#[test]
fn stand_in_registry_huge_manifests_dead_servers_and_5xx() {
    let probe = TestContext::new();
    require!(probe, "userns", "newuidmap", "busybox");

    // A 5 MiB manifest is refused (announced or not), and not fetched again.
    for fault in [Fault::HugeManifest, Fault::HugeManifestUnannounced] {
        let (ctx, registry, out) = pull_with_fault(fault);
        let line = error_line(&out, 125);
        assert!(
            line.contains("larger than 4194304 bytes; refused"),
            "{fault:?}\n{out}"
        );
        assert_eq!(registry.requests_with("/manifests/").len(), 1, "{out}");
        assert_clean_then_good_pull(&ctx, &out);
    }

    // Nothing listens: a clear error after the bounded tries.
    let ctx = TestContext::new();
    let dead = format!(
        "127.0.0.1:{}/faulty:latest",
        crate::support::http::free_port()
    );
    let out = ctx.devbox(&["pull", &dead]);
    let line = error_line(&out, 125);
    assert!(line.contains("cannot reach registry `127.0.0.1:"), "{out}");
    out.stderr_contains("hint: check that");
    assert_clean_then_good_pull(&ctx, &out);

    // A 500, then the manifest: the pull succeeds on the second try.
    let (ctx, registry, out) = pull_with_fault(Fault::ServerError(1));
    out.success()
        .stderr_contains("answered 500")
        .stderr_contains("(try 2 of 3)");
    assert_eq!(
        registry.requests_with("/manifests/latest").len(),
        2,
        "{out}"
    );
    ctx.run_offline(&[&registry.reference(), "echo", "after 500"])
        .success()
        .stdout_is("after 500");

    // 500 every time: three tries, then the registry's own message.
    let (ctx, registry, out) = pull_with_fault(Fault::ServerError(usize::MAX));
    let line = error_line(&out, 125);
    assert!(line.contains("500") && line.contains("try later"), "{out}");
    assert_eq!(
        registry.requests_with("/manifests/latest").len(),
        3,
        "{out}"
    );
    assert_clean_then_good_pull(&ctx, &out);

    // A 404 is final: one request.
    let ctx = TestContext::new();
    let registry = FaultyRegistry::start(stand_in_image(), Fault::None);
    let out = ctx.devbox(&["pull", &format!("{}/faulty:nope", registry.host())]);
    assert!(error_line(&out, 125).contains("not found"), "{out}");
    assert_eq!(registry.requests_with("/manifests/nope").len(), 1, "{out}");
}
