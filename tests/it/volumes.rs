//! Volumes: `devbox volume create|ls|inspect|rm|prune`.

use crate::support::TestContext;

#[test]
fn volume_lifecycle_in_docker_shapes() {
    let ctx = TestContext::new();
    ctx.devbox(&["volume", "create", "--label", "app=web", "data"])
        .success()
        .stdout_is("data");
    // Idempotent, like Docker.
    ctx.devbox(&["volume", "create", "data"])
        .success()
        .stdout_is("data");
    let generated = ctx.devbox(&["volume", "create"]);
    generated.success();
    let anon = generated.out().to_string();
    assert_eq!(anon.len(), 64, "a generated name is 64 hex digits: {anon}");

    let ls = ctx.devbox(&["volume", "ls"]);
    ls.success()
        .stdout_contains("DRIVER          VOLUME NAME")
        .stdout_contains("local           data");
    ctx.devbox(&["volume", "ls", "-q", "--filter", "label=app=web"])
        .success()
        .stdout_is("data");
    ctx.devbox(&["volume", "ls", "-q", "--filter", "name=dat"])
        .success()
        .stdout_is("data");
    let json = ctx.devbox(&["volume", "ls", "--format", "json", "--filter", "label=app"]);
    json.success();
    let line: serde_json::Value =
        serde_json::from_str(json.out()).expect("one JSON object per line");
    assert_eq!(line["Name"], "data");
    assert_eq!(line["Driver"], "local");
    assert_eq!(line["Labels"], "app=web");

    let inspect = ctx.devbox(&["volume", "inspect", "data"]);
    inspect.success();
    let v: serde_json::Value = serde_json::from_str(&inspect.stdout).unwrap();
    assert_eq!(v[0]["Name"], "data");
    assert_eq!(v[0]["Labels"]["app"], "web");
    assert_eq!(v[0]["Scope"], "local");
    let mountpoint = v[0]["Mountpoint"].as_str().unwrap();
    assert!(std::path::Path::new(mountpoint).is_dir(), "{mountpoint}");
    assert!(mountpoint.ends_with("/volumes-v1/data/_data"));

    ctx.devbox(&["volume", "rm", "data"])
        .success()
        .stdout_is("data");
    assert!(!std::path::Path::new(mountpoint).exists());
    let missing = ctx.devbox(&["volume", "rm", "data"]);
    missing.devbox_error(125);
    missing.stderr_contains("no such volume: data");

    // prune without --all keeps named volumes; with it, every unused one goes.
    ctx.devbox(&["volume", "prune", "-f"])
        .success()
        .stdout_is("Total reclaimed space: 0B");
    let pruned = ctx.devbox(&["volume", "prune", "-f", "--all"]);
    pruned
        .success()
        .stdout_contains("Deleted Volumes:")
        .stdout_contains(&anon);
    ctx.devbox(&["volume", "ls", "-q"]).success().stdout_is("");
}

#[test]
fn bad_volume_names_and_filters_are_clear_errors() {
    let ctx = TestContext::new();
    let out = ctx.devbox(&["volume", "create", "-x"]);
    assert_ne!(out.code, 0);
    let out = ctx.devbox(&["volume", "create", "a/b"]);
    out.devbox_error(125);
    out.stderr_contains("invalid volume name `a/b`");
    let out = ctx.devbox(&["volume", "ls", "--filter", "colour=red"]);
    out.devbox_error(125);
    out.stderr_contains("invalid filter `colour=red`");
}
