//! Fuzz-style tests on stable Rust, bounded so they run in `cargo test`:
//! every parser of untrusted input gets a few thousand inputs mutated from
//! valid seeds (byte flips, insertions, deletions, splices of dictionary
//! tokens, repeated chunks) and must return `Ok` or `Err`, never panic or,
//! for the layer unpacker, write outside its destination.
//!
//! The generator is a fixed-seed xorshift, so a failure names a case that
//! reproduces; `DEVBOX_FUZZ_CASES=N` runs longer (e.g. 100000 by hand).

use std::panic::{catch_unwind, AssertUnwindSafe};

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn cases(default: usize) -> usize {
    std::env::var("DEVBOX_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One to four mutations of `seed`.
fn mutate(rng: &mut Rng, seed: &[u8], dictionary: &[&str]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.insert(at, rng.next() as u8),
            2 if at < data.len() => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                data.drain(at..end);
            }
            3 | 4 => {
                let token = dictionary[rng.below(dictionary.len())].as_bytes();
                data.splice(at..at, token.iter().copied());
            }
            5 if at < data.len() => {
                // Repeat a chunk many times: deep nesting, long lines.
                let end = (at + 1 + rng.below(8)).min(data.len());
                let chunk = data[at..end].to_vec();
                for _ in 0..rng.below(200) {
                    data.splice(at..at, chunk.iter().copied());
                }
            }
            _ => data.truncate(at),
        }
    }
    data
}

/// Runs `target` on `n` mutated inputs; a panic fails with the input.
fn fuzz(name: &str, n: usize, seeds: &[&[u8]], dictionary: &[&str], target: impl Fn(&[u8])) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
    for case in 0..n {
        let seed = seeds[case % seeds.len()];
        let input = if case < seeds.len() {
            seed.to_vec()
        } else {
            mutate(&mut rng, seed, dictionary)
        };
        if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
            panic!(
                "{name}: case {case} panicked on input {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}

fn text(input: &[u8]) -> String {
    String::from_utf8_lossy(input).into_owned()
}

const DOCKERFILE_SEEDS: &[&[u8]] = &[
    b"FROM busybox\nRUN echo hi\n",
    b"# syntax=docker/dockerfile:1\n# escape=`\nFROM alpine AS base\nARG V=1\nENV A=${V:-x} B=\"q\"\nCOPY --chown=1:1 --from=base a* /b/\nRUN <<EOF\nset -e\necho $A\nEOF\nHEALTHCHECK --interval=5s CMD true\nENTRYPOINT [\"sh\", \"-c\"]\n",
    b"FROM scratch\nADD --chmod=755 x /\nWORKDIR /a/../b\nUSER 1000:1000\nLABEL a=b \\\n  c=d\nEXPOSE 80/tcp\nVOLUME [\"/v\"]\nSTOPSIGNAL SIGINT\nONBUILD RUN x\nSHELL [\"/bin/sh\",\"-c\"]\nCMD x\n",
];
const DOCKERFILE_WORDS: &[&str] = &[
    "\\\n",
    "${",
    "}",
    "$",
    "\"",
    "'",
    "<<",
    "EOF",
    "\n",
    "[",
    "]",
    "FROM ",
    "RUN ",
    "COPY ",
    "ARG ",
    "ENV ",
    ":-",
    ":+",
    "#",
    "`",
    "--mount=type=cache,target=/x ",
    "--from=",
    "=",
];

#[test]
fn dockerfile_parser_never_panics() {
    fuzz(
        "dockerfile",
        cases(3000),
        DOCKERFILE_SEEDS,
        DOCKERFILE_WORDS,
        |input| {
            let _ = crate::build::dockerfile::instruction::parse_dockerfile(&text(input));
        },
    );
}

#[test]
fn change_instructions_never_panic() {
    fuzz(
        "change",
        cases(2000),
        &[b"ENV A=1", b"CMD [\"sh\"]", b"EXPOSE 80/udp", b"USER 1:2"],
        DOCKERFILE_WORDS,
        |input| {
            let _ = crate::build::dockerfile::instruction::parse_change(&text(input));
        },
    );
}

/// Shell-word expansion (BuildKit's `shell.Lex`) with every option set and
/// both escape characters; the first input byte picks the options, as in
/// fuzz/fuzz_targets/shell.rs.
fn expand_with_flags(input: &[u8]) {
    use crate::build::dockerfile::expand::{env_from_list, Expander};
    let Some((&flags, word)) = input.split_first() else {
        return;
    };
    let env = env_from_list(["PWD=/home", "A=a b  c", "EMPTY=", "X=${Y}"]);
    let mut expander = Expander::new(if flags & 1 == 0 { '\\' } else { '`' });
    expander.raw_quotes = flags & 2 != 0;
    expander.raw_escapes = flags & 4 != 0;
    expander.skip_process_quotes = flags & 8 != 0;
    expander.skip_unset_env = flags & 16 != 0;
    let _ = expander.process(&text(word), &env);
}

#[test]
fn shell_word_expansion_never_panics() {
    let seeds: &[&[u8]] = &[
        b"\x00he${XXX:-${PWD:-yyy}}xx",
        b"\x01\"he`$PWD\" '${A}' `${}",
        b"\x04${A:+x y}${EMPTY:-z}\\$X\\\\",
        b"\x1f${A%%b*}${A#a}${A/b/c}${#A}",
    ];
    let words = &[
        "$", "${", "}", ":-", ":+", ":?", "-", "+", "?", "\\", "`", "'", "\"", "%", "%%", "#",
        "##", "/", "//", "A", "PWD", " ",
    ];
    fuzz("shell", cases(4000), seeds, words, expand_with_flags);
}

#[test]
fn compose_loader_never_panics() {
    let seeds: &[&[u8]] = &[
        b"services:\n  web:\n    image: busybox\n    ports: [\"8080:80\"]\n    volumes: [\"data:/data\", \"./src:/app:ro\"]\n    depends_on: [db]\n  db:\n    image: postgres:${PG:-16}\n    environment:\n      A: 1\nvolumes:\n  data: {}\n",
        b"name: p\nservices:\n  a:\n    build:\n      context: .\n      args: {X: y}\n    command: [\"sh\", \"-c\", \"echo $$HOME\"]\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 1s\n    x-ext: &anchor\n      k: v\n  b:\n    <<: *anchor\n    image: b\n",
    ];
    let words = &[
        "\n",
        "  ",
        "- ",
        ": ",
        "{",
        "}",
        "[",
        "]",
        "&a ",
        "*a",
        "<<: ",
        "${",
        ":?err}",
        "'",
        "\"",
        "|\n",
        ">-\n",
        "---\n",
        "!!str ",
        "~",
        "services:",
        "image: x\n",
        "extends: a\n",
    ];
    fuzz("compose", cases(1500), seeds, words, |input| {
        let _ = load_compose(&text(input));
    });
}

fn load_compose(text: &str) -> Result<crate::compose::load::Loaded, crate::compose::ComposeError> {
    let load = crate::compose::load::LoadInput {
        files: vec![crate::compose::load::SourceFile {
            name: "compose.yaml".into(),
            text: text.into(),
        }],
        working_dir: "/project".into(),
        default_project_name: Some("project".into()),
        ..Default::default()
    };
    crate::compose::load::load(&load)
}

/// The fuzzer's first find: flow collections nested ~100 deep overflowed
/// the stack (an abort, not an error).
#[test]
fn deeply_nested_compose_is_an_error_not_a_stack_overflow() {
    let nested = format!("services:\n  a:\n    x: {}\n", "[k: ".repeat(5000));
    let error = load_compose(&nested).unwrap_err();
    assert!(error.to_string().contains("nested deeper than"), "{error}");
}

#[test]
fn image_reference_parser_never_panics() {
    let seeds: &[&[u8]] = &[
        b"busybox",
        b"localhost:5000/a/b:tag",
        b"docker.io/library/python:3.12-slim@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        b"[::1]:5000/x",
    ];
    let words = &[
        "/", ":", "@", "sha256:", ".", "-", "_", "__", "[", "]", "A", "%",
    ];
    fuzz("reference", cases(5000), seeds, words, |input| {
        if let Ok(reference) = crate::image::Reference::parse(&text(input)) {
            // What parses prints and parses back the same.
            let again = crate::image::Reference::parse(&reference.to_string());
            assert_eq!(
                again.ok().map(|r| r.to_string()),
                Some(reference.to_string())
            );
        }
    });
}

#[test]
fn dockerignore_matcher_never_panics() {
    let seeds: &[&[u8]] = &[
        b"# comment\n*.pyc\n!keep.pyc\n**/__pycache__\n/build\n",
        b"a/**/b\n[a-z]*\n\\!literal\n?x\n../up\n",
    ];
    let words = &[
        "*", "**", "?", "[", "]", "!", "\\", "/", "../", "\n", "[^a]", "[a-",
    ];
    fuzz("dockerignore", cases(3000), seeds, words, |input| {
        let patterns = crate::build::ignore::read_patterns(&text(input));
        if let Ok(matcher) = crate::build::ignore::PatternMatcher::new(&patterns) {
            for path in ["a/b/c.pyc", "keep.pyc", "build", "x", "__pycache__/y"] {
                let _ = matcher.matches(path);
                let _ = matcher.matches_or_parent_matches(path);
            }
        }
        let _ = crate::build::ignore::clean_path(&text(input));
    });
}

/// cargo-fuzz's find (fuzz/run.sh, dockerignore target, second round): a
/// pattern of many `*` between other characters made the backtracking
/// matcher exponential, a hang in `build` for a hostile .dockerignore (here
/// about 10^8 ways to place 30 stars in 40 characters). The matcher is
/// linear in pattern x path now; this would not finish before.
#[test]
fn many_stars_in_a_dockerignore_pattern_do_not_hang() {
    let patterns = crate::build::ignore::read_patterns(&"*a".repeat(30));
    let matcher = crate::build::ignore::PatternMatcher::new(&patterns).unwrap();
    let many_a = "a".repeat(40);
    assert!(matcher.matches(&many_a).unwrap());
    assert!(!matcher.matches(&format!("{many_a}b")).unwrap());
    assert!(!matcher.matches(&format!("{many_a}b/{many_a}b")).unwrap());
}

#[test]
fn docker_config_json_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let files = crate::image::credentials::AuthFiles {
        devbox: dir.path().join("auth.json"),
        docker: Some(path.clone()),
    };
    let seeds: &[&[u8]] = &[
        b"{\"auths\":{\"localhost:5000\":{\"auth\":\"dXNlcjpwYXNz\"}}}",
        b"{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"\"}},\"credsStore\":\"none\",\"credHelpers\":{}}",
    ];
    let words = &[
        "{",
        "}",
        "\"",
        ":",
        ",",
        "null",
        "[]",
        "\"auth\":",
        "=",
        "\\u0000",
        "%%",
    ];
    fuzz("config.json", cases(2000), seeds, words, |input| {
        std::fs::write(&path, input).unwrap();
        for registry in ["localhost:5000", "docker.io"] {
            let _ = files.lookup(registry);
        }
    });
}

#[test]
fn manifest_and_config_json_never_panic() {
    let seeds: &[&[u8]] = &[
        b"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\",\"size\":2},\"layers\":[]}",
        b"{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"A=1\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
    ];
    let words = &[
        "sha256:",
        "\"",
        "{",
        "}",
        "[",
        "]",
        "-1",
        "1e999",
        "null",
        "\"size\":",
    ];
    fuzz("manifest", cases(3000), seeds, words, |input| {
        let _ = serde_json::from_slice::<crate::image::oci::Manifest>(input);
        let _ = serde_json::from_slice::<crate::image::oci::ImageConfig>(input);
        let _ = text(input).parse::<crate::image::Digest>();
    });
}

/// A tar with the entries a hostile layer would use.
fn hostile_tar() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |path: &str, kind: tar::EntryType, link: Option<&str>, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o4755);
        if let Some(link) = link {
            header.set_link_name(link).unwrap();
        }
        // Write the name raw: `append_data` refuses `..`, a hostile tool does not.
        let name = &mut header.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_cksum();
        builder.append(&header, data).unwrap();
    };
    add("etc/", tar::EntryType::Directory, None, b"");
    add("etc/hello", tar::EntryType::Regular, None, b"hello");
    add("../escape", tar::EntryType::Regular, None, b"pwned");
    add("link", tar::EntryType::Symlink, Some("../../.."), b"");
    add("link/through", tar::EntryType::Regular, None, b"pwned");
    add("hard", tar::EntryType::Link, Some("../outside"), b"");
    add("etc/.wh.hello", tar::EntryType::Regular, None, b"");
    add("dev/null", tar::EntryType::Char, None, b"");
    builder.into_inner().unwrap()
}

#[test]
fn layer_unpacker_never_panics_nor_escapes() {
    let sandbox = tempfile::tempdir().unwrap();
    let outside = sandbox.path().join("outside");
    std::fs::write(&outside, "untouched").unwrap();
    let seed = hostile_tar();
    let words = &[
        "../",
        "/",
        "\0",
        "././@LongLink",
        "ustar",
        "00000000777",
        "\x00\x00",
    ];
    fuzz("layer", cases(400), &[&seed], words, |input| {
        let work = tempfile::tempdir_in(sandbox.path()).unwrap();
        let tar = work.path().join("layer.tar");
        let dest = work.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(&tar, input).unwrap();
        let _ = crate::image::layer::unpack(&tar, &dest, false, false, None);
        let mut names: Vec<_> = std::fs::read_dir(work.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["dest", "layer.tar"],
            "the unpack wrote beside its destination"
        );
        let mut beside: Vec<_> = std::fs::read_dir(sandbox.path())
            .unwrap()
            .flatten()
            .filter(|e| e.path() != work.path())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        beside.sort();
        assert_eq!(beside, ["outside"], "the unpack wrote outside its work dir");
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "untouched");
    });
}
