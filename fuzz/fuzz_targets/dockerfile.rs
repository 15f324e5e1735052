#![no_main]
libfuzzer_sys::fuzz_target!(|text: &str| {
    let _ = devbox::build::dockerfile::instruction::parse_dockerfile(text);
    let _ = devbox::build::dockerfile::instruction::parse_change(text);
});
