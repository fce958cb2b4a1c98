#!/usr/bin/env bash
# The C face and the tracing feature (issue 12): builds libwchan_capi.a and .so, runs the C
# programs and the C/Rust mixing tests (cargo test -p wchan-capi), clippy for that crate, and
# the tests, clippy and example of wchan's optional `tracing` feature. Prints each part's time.
set -euo pipefail
cd "$(dirname "$0")/.."

timed() {
    local start=$SECONDS
    "$@"
    echo "--- $*: $((SECONDS - start)) s"
}

# The C tests compile C (and the header as C++) with the system compilers; build.rs uses cc.
if ! command -v cc >/dev/null 2>&1 || ! command -v c++ >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq gcc g++ libc6-dev >/dev/null
fi

timed cargo build --release -p wchan-capi
for lib in "${CARGO_TARGET_DIR:-target}"/release/libwchan_capi.{a,so}; do
    if [ ! -f "$lib" ]; then
        echo "missing $lib after cargo build --release -p wchan-capi" >&2
        exit 1
    fi
done
timed cargo test -p wchan-capi
timed cargo clippy -p wchan-capi --all-targets -- -D warnings
timed cargo test --features tracing --test tracing_events --test tracing_no_alloc
timed cargo clippy --features tracing --lib --example tracing --test tracing_events --test tracing_no_alloc -- -D warnings
timed cargo run --example tracing --features tracing
