#![no_main]
libfuzzer_sys::fuzz_target!(|text: &str| {
    if let Ok(reference) = devbox::image::Reference::parse(text) {
        let again = devbox::image::Reference::parse(&reference.to_string()).expect("round trip");
        assert_eq!(again.to_string(), reference.to_string());
    }
});
