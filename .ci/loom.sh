#!/usr/bin/env bash
# loom models of wchan (docs/model-checking.md), called by .ci/run from the repository root.
#
# 1. Runs every model in release mode at LOOM_MAX_PREEMPTIONS (default 3) and prints the
#    wall time.
# 2. For each deliberate bug (wchan built with `--cfg wchan_bug="NAME"`), runs the model that
#    must catch it and fails unless that model FAILS, printing loom's verdict. The bug cfg is
#    added by a per-bug RUSTC_WORKSPACE_WRAPPER, which cargo applies to the workspace crates
#    only: the dependencies (loom and its tree) built in step 1 are reused, so a bug costs a
#    rebuild of wchan and one test file, not of everything as a RUSTFLAGS change would. The
#    wrapper's path is part of cargo's fingerprint, so each bug gets its own artifacts.
#
# Environment: LOOM_MAX_PREEMPTIONS (default 3), LOOM_TARGET_DIR (default target/loom),
# LOOM_BUGS=0 to skip step 2.
set -euo pipefail
cd "$(dirname "$0")/.."

export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
target="${LOOM_TARGET_DIR:-target/loom}"
export CARGO_TERM_COLOR=never

echo "--- loom models, LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS}, release"
start=$SECONDS
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="$target" cargo test -p loom-tests --release --no-run
built=$SECONDS
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="$target" cargo test -p loom-tests --release
echo "--- loom models passed: build $((built - start)) s, run $((SECONDS - built)) s"

if [[ "${LOOM_BUGS:-1}" == 0 ]]; then
    exit 0
fi

# bug name -> test file and the model that must catch it
bugs=(
    "unlock_before_queue chan wakeup_after_the_guard_is_released_always_finds_the_sleeper"
    "skip_abort_check chan sleeper_never_blocks_with_the_abort_flag_set"
    "weak_dekker_fence chan abort_flag_set_before_wakeup_is_never_missed"
    "timeout_ignores_dequeue chan woken_or_timed_out_never_both"
    "unlock_clears_parked mutex unlock_wakes_every_parked_locker_in_turn"
    "handoff_not_owed mutex a_fair_hand_off_that_a_barger_interrupts_still_serves_the_waiter_next"
    "notify_all_checks_then_marks condvar notify_all_outside_the_lock_racing_an_unlock_loses_no_waiter"
    "requeue_counts_after_check requeue requeue_onto_a_lock_released_without_its_bucket_lock_loses_no_waiter"
    "block_unannounced chan wakeup_after_the_guard_is_released_always_finds_the_sleeper"
    "cas_unlock_drops_waiters mutex unlock_wakes_every_parked_locker_in_turn"
)
bugs_dir="$(realpath -m "$target")/wchan-bug"
mkdir -p "$bugs_dir"
failed=0
for entry in "${bugs[@]}"; do
    read -r bug file model <<<"$entry"
    bug_start=$SECONDS
    wrapper="$bugs_dir/$bug.sh"
    log="$bugs_dir/$bug.log"
    printf '#!/bin/sh\nexec "$@" --cfg '"'"'wchan_bug="%s"'"'"'\n' "$bug" >"$wrapper"
    chmod +x "$wrapper"
    bug_test() {
        RUSTC_WORKSPACE_WRAPPER="$wrapper" RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="$target" \
            cargo test -p loom-tests --release --test "$file" "$@"
    }
    # The build must succeed: only the model may fail.
    bug_test --no-run --quiet
    if bug_test -- --exact "$model" --nocapture >"$log" 2>&1; then
        echo "--- bug $bug: NOT caught: $file::$model passed (log: $log)"
        failed=1
    elif ! grep -q "panicked at" "$log"; then
        echo "--- bug $bug: $file::$model failed without a panic, not a model verdict (log: $log)"
        failed=1
    else
        # loom's verdict: the first panic and its message.
        verdict=$(awk '/panicked at/ { on = 1 } on && (/^$/ || /^note:|^stack backtrace/ || n == 4) { exit }
            on { print; n++ }' "$log" | sed -E 's#[^ ]*/registry/src/[^/]+/##' | tr '\n' ' ' | sed 's/  */ /g')
        echo "--- bug $bug: caught by $file::$model in $((SECONDS - bug_start)) s: $verdict"
    fi
done
if ((failed)); then
    echo "--- a deliberate bug was not caught"
    exit 1
fi
echo "--- loom step: $((SECONDS - start)) s in all"
