#!/bin/sh
# Runs every cargo-fuzz target for a bounded time (default 60 s each).
# Not part of CI's default path. Needs nightly and cargo-fuzz:
#   rustup toolchain install nightly && cargo install cargo-fuzz
# Seeds: ../../shared/conformance if present (copied into corpus/<target>).
set -eu
cd "$(dirname "$0")"
seconds=${1:-60}
for target in dockerfile compose reference dockerignore manifest layer; do
    mkdir -p "corpus/$target"
    cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds"
done
