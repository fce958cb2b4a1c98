#!/usr/bin/env bash
# Platforms (issue 11) and 32-bit time (issue 9, item 5). Called by .ci/run; runs alone too:
#   bash .ci/platforms.sh            # every step
#   bash .ci/platforms.sh check      # or: i686, aarch64, fallback, miri
# Installs what it needs (rustup targets, nightly with miri and rust-src, Debian's qemu-user,
# the aarch64 cross gcc and the i386 libc), prints the wall time of every step. Each kind of
# build has its own target dir under target/, so none invalidates another or the host build.
# docs/platforms.md says what each step proves and what is left out.
set -euo pipefail
cd "$(dirname "$0")/.."

which=${1:-all}
check_targets=(x86_64-apple-darwin aarch64-apple-darwin x86_64-unknown-freebsd x86_64-pc-windows-msvc
    aarch64-unknown-linux-gnu i686-unknown-linux-gnu wasm32-wasip1)
# Targets the crate refuses at compile time: the check must fail, with wchan's own message.
refused_targets=(wasm32-unknown-unknown)
miri_targets=(x86_64-unknown-freebsd x86_64-apple-darwin x86_64-pc-windows-msvc)

step() {
    local name=$1
    shift
    local start=$SECONDS
    echo "=== platforms: ${name}"
    "$@"
    echo "=== platforms: ${name}: $((SECONDS - start)) s"
}

install() {
    local all=("${check_targets[@]}" "${refused_targets[@]}")
    rustup target add "${all[@]}" >/dev/null 2>&1 || rustup target add "${all[@]}"
    if ! rustup toolchain list | grep -q '^nightly'; then
        rustup toolchain install nightly --profile minimal
    fi
    rustup component add --toolchain nightly miri rust-src
    # gcc-multilib would be the usual i686 toolchain, but Debian's gcc-multilib and
    # gcc-aarch64-linux-gnu conflict; the i386 libc and libgcc are all `gcc -m32` needs.
    local pkgs=(qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross libc6-dev-i386 lib32gcc-12-dev)
    if ! dpkg -s "${pkgs[@]}" >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
    fi
}

# A refused target: `cargo check --lib` fails, and its one error is the crate's
# compile_error! (src/lib.rs), with no unresolved name or other error after it. The line
# cargo adds ("could not compile ... due to 1 previous error") is not counted.
refused() {
    local out errors
    if out=$(cargo check --lib --target "$1" --target-dir target/cross 2>&1); then
        echo "$1 built, but wchan refuses it" >&2
        return 1
    fi
    errors=$(grep -E '^error' <<<"$out" | grep -v '^error: could not compile')
    if [ "$(grep -c . <<<"$errors")" != 1 ] || ! grep -q 'wchan does not support' <<<"$errors"; then
        echo "$1 failed with other errors than wchan's message alone:" >&2
        head -5 <<<"$errors" >&2
        return 1
    fi
    if grep -q '^warning' <<<"$out"; then
        echo "$1 refused, but with warnings too:" >&2
        grep '^warning' <<<"$out" | head -5 >&2
        return 1
    fi
}

# `cargo check --all-targets` (lib, tests, benches, examples) per target. wasm32-wasip1 checks
# the library only: criterion 0.5, a dev-dependency, refuses to compile for wasm32-wasi
# (rayon's compile_error!), and cargo builds every dev-dependency for any test target.
run_check() {
    local t
    for t in "${check_targets[@]}"; do
        case "$t" in
        wasm32-*) step "check $t (--lib)" cargo check --lib --target "$t" --target-dir target/cross ;;
        *) step "check $t" cargo check --all-targets --target "$t" --target-dir target/cross ;;
        esac
    done
    for t in "${refused_targets[@]}"; do
        step "check $t is refused with wchan's message" refused "$t"
    done
    # OpenBSD is a tier-3 target (no prebuilt std): nightly builds std from rust-src.
    step "check x86_64-unknown-openbsd (nightly -Zbuild-std, --lib --tests)" \
        cargo +nightly check -Zbuild-std --lib --tests --target x86_64-unknown-openbsd --target-dir target/openbsd
}

# The whole test suite on i686: 32-bit time_t, where far deadlines once busy-looped. Left out:
# no_alloc.rs's sleep_wakeup_100k_cycles_allocate_nothing, a throughput test (100,000
# sleep/wake round trips against a yielding spinner, under a 120 s watchdog) with nothing
# 32-bit about it: 5 s natively, but 21 s to over 120 s in an i686 debug build on the shared
# 2-core machine (strace shows steady progress: one futex_time64 or futex wait and one wake
# per cycle), so it would make the step flaky. The other no_alloc tests run.
run_i686() {
    step "i686 test suite" cargo test --target i686-unknown-linux-gnu --target-dir target/i686 --tests \
        -- --skip sleep_wakeup_100k_cycles_allocate_nothing
}

# The whole test suite on aarch64 under qemu-user (weak memory ordering is emulated on the
# x86 host's strong one, so this checks the build, the syscalls and the ABI, not orderings;
# the loom models check those).
# Left out under qemu: the three fork_table.rs tests whose forked child starts threads. qemu-user
# itself aborts in such a child ("qemu_plugin_vcpu_init_hook: assertion failed", then "cpu_exec:
# assertion failed: (cpu == current_cpu)", exit 127, seen in this step), an emulator limit, not
# a wchan fault; fork_from_before_sleep_* (no thread in the child) runs, and all four run
# natively in the cargo test step and in the i686 suite.
run_aarch64() {
    step "aarch64 test suite (qemu-user)" env \
        CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
        CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu" \
        cargo test --target aarch64-unknown-linux-gnu --target-dir target/aarch64 --tests \
        -- --skip child_wakeup_reaches_the_childs_own_sleeper --skip fork_while_threads_hammer_the_table \
        --skip an_aborted_sleep_forked_from_before_sleep
}

# The portable parker (the one older macOS releases and unknown targets use) on Linux: the
# suites of the parker's users, plus the tests that assert its documented limits
# (portable_parker_* in abort_signal.rs and thread_sleep.rs).
run_fallback() {
    step "portable parker (--cfg wchan_fallback_parker)" env RUSTFLAGS="--cfg wchan_fallback_parker" \
        cargo test --target-dir target/fallback --test abort_signal --test thread_sleep --test deadline \
        --test bad_input --test mutex --test condvar --test park_api --test sleep_wakeup --test time_error
}

# Miri on the native parkers of FreeBSD (_umtx_op), Apple (os_sync_wait_on_address_with_deadline,
# called directly under Miri) and Windows (WaitOnAddress): deadlines, wake counts,
# park/unpark, mutex and condvar. The same flags and the same exclusions as .ci/sanitizers.sh
# (slow many-thread tests, CPU-time clocks, signals), and a smaller selection: the Linux
# Miri run there covers the rest of the table.
miri_subset() {
    local t=$1
    local env=(env MIRIFLAGS="-Zmiri-disable-isolation -Zmiri-permissive-provenance -Zmiri-ignore-leaks"
        CARGO_TARGET_DIR=target/miri-cross)
    step "miri $t: sysroot" "${env[@]}" cargo +nightly miri setup --target "$t"
    step "miri $t: deadline, park_api, sleep_wakeup, mutex, condvar" "${env[@]}" \
        cargo +nightly miri test --target "$t" --test deadline --test park_api --test sleep_wakeup \
        --test mutex --test condvar -- --test-threads=1 \
        deadline invalid_nsec unknown_clock tokens_pass unpark_ requeue_ wakeup_ try_lock guard_mapping \
        unlock_fair an_unlock_wakes notify_one_ notify_all_with wait_for_times wait_for_returns a_notify_racing \
        --skip validate_runs_under_the_lock --skip on_cancel_reports_whether --skip hand_off_never_loses
}

run_miri() {
    local t
    for t in "${miri_targets[@]}"; do
        miri_subset "$t"
    done
}

start=$SECONDS
step "install targets, nightly miri, qemu-user, cross gcc" install
case "$which" in
check) run_check ;;
i686) run_i686 ;;
aarch64) run_aarch64 ;;
fallback) run_fallback ;;
miri) run_miri ;;
all)
    run_check
    run_i686
    run_aarch64
    run_fallback
    run_miri
    ;;
*)
    echo "usage: $0 [check|i686|aarch64|fallback|miri|all]" >&2
    exit 2
    ;;
esac
echo "=== platforms: all steps passed in $((SECONDS - start)) s; CPU time (user, system) of this shell, then of its children:"
times
