#!/bin/sh
# Runs every cargo-fuzz target for a bounded time, one after another, nice'd.
# Not part of CI's default path.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      (default 60 s, every target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On the stable toolchain the
# script sets RUSTC_BOOTSTRAP=1 (cargo-fuzz passes -Z flags); set
# FUZZ_TOOLCHAIN=+nightly to use a nightly instead. FUZZ_SANITIZER picks the
# sanitizer (default `none`: the address sanitizer runtime is optional, and
# safe Rust gains little from it; `address` where it is installed).
# Seeds: ../../shared/conformance (or $CONFORMANCE) copied into corpus/<target>;
# crashes land in artifacts/<target>/ (reproduce: cargo fuzz run T FILE).
set -eu
cd "$(dirname "$0")"
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-dockerfile shell compose reference dockerignore manifest layer}
conformance=${CONFORMANCE:-../../shared/conformance}
[ -d "$conformance" ] || conformance=/work/shared/conformance
toolchain=${FUZZ_TOOLCHAIN:-}
[ -n "$toolchain" ] || export RUSTC_BOOTSTRAP=1
sanitizer=${FUZZ_SANITIZER:-none}

seed() { # seed TARGET FIND-ARGS...: copy matching conformance files in
    target=$1
    shift
    [ -d "$conformance" ] || return 0
    find "$conformance" -type f "$@" | while read -r f; do
        cp "$f" "corpus/$target/seed-$(echo "$f" | cksum | cut -d' ' -f1)"
    done
}

for target in $targets; do
    mkdir -p "corpus/$target" "artifacts/$target"
    case $target in
    dockerfile) seed dockerfile -path '*/dockerfile/*' ;;
    shell)
        # One seed per test line: a flags byte, then the word.
        for f in "$conformance"/dockerfile/shell/envVarTest "$conformance"/dockerfile/shell/wordsTest; do
            [ -f "$f" ] || continue
            n=0
            grep -v '^#' "$f" | while IFS= read -r line; do
                n=$((n + 1))
                word=$(printf '%s' "$line" | sed 's/^[AUW]|//; s/ *|.*$//')
                printf '\000%s' "$word" >"corpus/shell/seed-$(basename "$f")-$n"
            done
        done
        ;;
    compose) seed compose -path '*/compose/*' \( -name '*.yaml' -o -name '*.yml' \) ;;
    dockerignore) seed dockerignore -path '*/dockerignore/*' ;;
    manifest) seed manifest -path '*/oci/*' -name '*.json' ;;
    reference)
        for r in busybox docker.io/library/python:3.12-slim localhost:5000/a/b:c \
            'ghcr.io/o/r@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
            '[::1]:5000/x:y'; do
            printf '%s' "$r" >"corpus/reference/seed-$(printf '%s' "$r" | cksum | cut -d' ' -f1)"
        done
        ;;
    layer)
        # A small layer: a directory, a file, a symlink, a hardlink, a whiteout.
        work=$(mktemp -d)
        mkdir -p "$work/d/sub"
        echo hi >"$work/d/f"
        ln -s ../f "$work/d/sub/link"
        ln "$work/d/f" "$work/d/hard"
        : >"$work/d/.wh.gone"
        tar -C "$work" -cf corpus/layer/seed-small.tar d
        rm -rf "$work"
        ;;
    esac
    echo "== $target: ${seconds}s"
    # shellcheck disable=SC2086 # $toolchain is empty or one word
    # A crash ends that target's run, not the script: the others still run.
    if ! nice -n 10 cargo $toolchain fuzz run --sanitizer "$sanitizer" "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
        -artifact_prefix="artifacts/$target/" -print_final_stats=1; then
        failed="${failed:-}$target "
    fi
done
if [ -n "${failed:-}" ]; then
    echo "== findings in: $failed(see artifacts/)"
    exit 1
fi
