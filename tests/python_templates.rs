//! Golden tests for `devbox init`'s templates: each example project under examples/ is
//! detected and rendered, and the result must equal tests/golden/init/<example>/ byte for
//! byte (run with `DEVBOX_BLESS=1` to rewrite the golden files after a deliberate change, and
//! review the diff). Every rendered Dockerfile must parse, and every compose.yaml must load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use devbox::build::dockerfile::instruction::parse_dockerfile;
use devbox::compose::{load, LoadInput, SourceFile};
use devbox::python::files::DirFiles;
use devbox::python::render::{render, Choices};

const EXAMPLES: &[&str] = &["flask-app", "fastapi-app", "django-app", "pytest-project"];

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn rendered_files_match_the_golden_files() {
    let bless = std::env::var_os("DEVBOX_BLESS").is_some();
    let mut compared = 0;
    for example in EXAMPLES {
        let dir = repo(&format!("examples/{example}"));
        let project = devbox::python::detect(&DirFiles::new(&dir), example);
        let files = render(&project, &Choices::from_project(&project)).expect("rendering");
        for file in files {
            let golden = repo(&format!("tests/golden/init/{example}/{}", file.path));
            if bless {
                std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
                std::fs::write(&golden, &file.contents).unwrap();
            }
            let expected = std::fs::read_to_string(&golden)
                .unwrap_or_else(|e| panic!("{}: {e} (DEVBOX_BLESS=1 writes it)", golden.display()));
            assert_eq!(
                file.contents,
                expected,
                "{} differs from {} (DEVBOX_BLESS=1 rewrites it)",
                file.path,
                golden.display()
            );
            compared += 1;
        }
    }
    assert_eq!(compared, EXAMPLES.len() * 4);
}

#[test]
fn every_rendered_dockerfile_parses_and_compose_file_loads() {
    for example in EXAMPLES {
        let dir = repo(&format!("examples/{example}"));
        let project = devbox::python::detect(&DirFiles::new(&dir), example);
        let files = render(&project, &Choices::from_project(&project)).expect("rendering");
        let text = |name: &str| {
            files
                .iter()
                .find(|f| f.path == name)
                .map(|f| f.contents.clone())
                .unwrap_or_else(|| panic!("{example}: no {name} rendered"))
        };
        let steps = parse_dockerfile(&text("Dockerfile"))
            .unwrap_or_else(|e| panic!("{example}: the Dockerfile does not parse: {e}"));
        assert!(steps.len() > 10, "{example}: {} instructions", steps.len());
        let loaded = load(&LoadInput {
            files: vec![SourceFile {
                name: "compose.yaml".into(),
                text: text("compose.yaml"),
            }],
            env: BTreeMap::new(),
            working_dir: dir.clone(),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{example}: compose.yaml does not load: {e}"));
        assert!(
            loaded.warnings.is_empty(),
            "{example}: compose.yaml warnings: {:?}",
            loaded.warnings
        );
        let app = loaded
            .project
            .services
            .get("app")
            .unwrap_or_else(|| panic!("{example}: no app service"));
        assert_eq!(app.userns_mode.as_deref(), Some("keep-id"));
    }
}

/// The rendered files do what the issue asks of them, whatever the golden files say.
#[test]
fn dockerfiles_install_dependencies_before_the_source() {
    for example in EXAMPLES {
        let dir = repo(&format!("examples/{example}"));
        let project = devbox::python::detect(&DirFiles::new(&dir), example);
        let files = render(&project, &Choices::from_project(&project)).unwrap();
        let dockerfile = &files
            .iter()
            .find(|f| f.path == "Dockerfile")
            .unwrap()
            .contents;
        assert!(
            dockerfile.contains("PYTHONDONTWRITEBYTECODE=1"),
            "{example}"
        );
        assert!(dockerfile.contains("PYTHONUNBUFFERED=1"), "{example}");
        assert!(dockerfile.contains("--mount=type=cache"), "{example}");
        assert!(
            dockerfile.contains("\nUSER app\n"),
            "{example}: a non-root user"
        );
        let deps_stage = dockerfile
            .split("AS deps")
            .nth(1)
            .unwrap()
            .split("AS dev")
            .next()
            .unwrap();
        assert!(
            !deps_stage.contains("COPY . ."),
            "{example}: the source is copied after the install"
        );
        let compose = &files
            .iter()
            .find(|f| f.path == "compose.yaml")
            .unwrap()
            .contents;
        if let Some(port) = project.app.port {
            assert!(
                compose.contains(&format!("\"127.0.0.1:{port}:{port}\"")),
                "{example}"
            );
        }
    }
}

#[test]
fn inferred_services_get_their_own_containers() {
    use devbox::python::files::MemoryFiles;
    let files = MemoryFiles::new(&[
        ("requirements.txt", "flask\nredis\npsycopg[binary]\n"),
        ("app.py", "from flask import Flask\napp = Flask(__name__)\n"),
    ]);
    let project = devbox::python::detect(&files, "shop");
    let rendered = render(&project, &Choices::from_project(&project)).unwrap();
    let compose = &rendered
        .iter()
        .find(|f| f.path == "compose.yaml")
        .unwrap()
        .contents;
    let loaded = load(&LoadInput {
        files: vec![SourceFile {
            name: "compose.yaml".into(),
            text: compose.clone(),
        }],
        working_dir: PathBuf::from("/src/shop"),
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}\n{compose}"));
    let services: Vec<&str> = loaded.project.services.keys().map(String::as_str).collect();
    assert_eq!(services, ["app", "postgres", "redis"]);
    assert!(compose.contains("REDIS_URL: redis://redis:6379/0"));
    assert!(
        compose.contains("depends_on:\n      - redis\n      - postgres\n"),
        "{compose}"
    );
}
