#![no_main]
libfuzzer_sys::fuzz_target!(|text: &str| {
    let input = devbox::compose::LoadInput {
        files: vec![devbox::compose::SourceFile {
            name: "compose.yaml".into(),
            text: text.into(),
        }],
        working_dir: "/project".into(),
        default_project_name: Some("project".into()),
        ..Default::default()
    };
    let _ = devbox::compose::load(&input);
});
