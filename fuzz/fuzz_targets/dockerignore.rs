#![no_main]
libfuzzer_sys::fuzz_target!(|text: &str| {
    let patterns = devbox::build::ignore::read_patterns(text);
    if let Ok(matcher) = devbox::build::ignore::PatternMatcher::new(&patterns) {
        for path in ["a/b/c.pyc", "keep.pyc", "build", "__pycache__/y"] {
            let _ = matcher.matches(path);
            let _ = matcher.matches_or_parent_matches(path);
        }
    }
});
