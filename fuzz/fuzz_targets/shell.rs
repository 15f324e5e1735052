#![no_main]
// Shell-word expansion (BuildKit's shell.Lex) on arbitrary words, with
// every option combination and both escape characters: never a panic.
libfuzzer_sys::fuzz_target!(|input: (u8, &str)| {
    use devbox::build::dockerfile::Expander;
    let (flags, word) = input;
    let env = devbox::build::dockerfile::expand::env_from_list([
        "PWD=/home",
        "A=a b  c",
        "EMPTY=",
        "X=${Y}",
    ]);
    let mut expander = Expander::new(if flags & 1 == 0 { '\\' } else { '`' });
    expander.raw_quotes = flags & 2 != 0;
    expander.raw_escapes = flags & 4 != 0;
    expander.skip_process_quotes = flags & 8 != 0;
    expander.skip_unset_env = flags & 16 != 0;
    let _ = expander.process(word, &env);
});
