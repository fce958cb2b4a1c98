#!/usr/bin/env bash
# wchan under Miri and ThreadSanitizer (issue 6). Called by .ci/run; runs alone as well:
#   bash .ci/sanitizers.sh          # both
#   bash .ci/sanitizers.sh miri     # Miri only
#   bash .ci/sanitizers.sh tsan     # ThreadSanitizer only
# Installs what it needs (nightly, miri, rust-src) and prints the wall time of every step.
# What each run leaves out, and why, is listed next to the selections below and in
# docs/reliability.md ("Sanitizers"). Budget: about 12 minutes from a clean target dir on a
# 2-core machine, half of it building std with the sanitizer (-Zbuild-std).
set -euo pipefail
cd "$(dirname "$0")/.."

which=${1:-all}
target=x86_64-unknown-linux-gnu
miri_dir=${WCHAN_MIRI_TARGET_DIR:-target/miri}
tsan_dir=${WCHAN_TSAN_TARGET_DIR:-target/tsan}

step() {
    local name=$1
    shift
    local start=$SECONDS
    echo "=== sanitizers: ${name}"
    "$@"
    echo "=== sanitizers: ${name}: $((SECONDS - start)) s"
}

install() {
    if ! rustup toolchain list | grep -q '^nightly'; then
        rustup toolchain install nightly --profile minimal
    fi
    rustup component add --toolchain nightly miri rust-src
}

# `run_if_present NAME CMD...`: the test file may belong to a helper whose work has not landed.
run_if_present() {
    local name=$1
    shift
    if [ -f "tests/${name}.rs" ]; then
        step "$name" "$@"
    else
        echo "=== sanitizers: tests/${name}.rs not present, skipped"
    fi
}

# ---------------------------------------------------------------------------------------------
# Miri: undefined behaviour, data races (Miri's own race detector, with weak-memory emulation)
# and leaks, on the tests that exercise the table, the parker (Miri emulates the futex
# syscall) and the primitives. Selected per file by name (a test added later to those files
# is not run under Miri until someone checks it fits) or by --skip (the files checked whole).
#   -Zmiri-disable-isolation     real clocks: deadlines on CLOCK_REALTIME and real timeouts.
#   -Zmiri-permissive-provenance Condvar keeps its mutex's address in an AtomicUsize and casts
#                                it back (src/sync/condvar.rs); that is exposed provenance.
#   --test-threads=1             Miri interprets all threads on one core, so tests run side by
#                                side would each take the whole file's time and trip the 20 s
#                                watchdog; one at a time, each gets the interpreter to itself.
# Left out:
#   - signals (sigaction, pthread_kill: soak.rs, the signal tests of thread_sleep.rs and
#     abort_signal.rs) and fork (fork.rs): Miri does not support them;
#   - no_alloc.rs, alloc_on_mutex.rs (a 64 MiB static arena), soak.rs, stress.rs and the
#     many-thread or 10^3..10^5-iteration tests (mutual_exclusion_*, mutex_holds_a_non_copy_value,
#     producer_consumer_100k, fairness_*, raw_thread_parks_*, hand_off_never_loses_a_wakeup,
#     abort_flag_set_then_wakeup_is_never_missed, validate_runs_under_the_lock_*,
#     many_colliding_ids_*): far too slow interpreted (they trip the 20 s watchdog), and they
#     repeat paths the small tests already cover;
#   - on_cancel_reports_whether_the_timed_out_waiter_was_last (park_api.rs): its 300 ms deadline
#     is computed before the thread that parks with it is spawned; interpreted, the spawn takes
#     longer than that, so park returns TimedOut before queueing and no on_cancel runs (the
#     test's timing assumption, not a wchan fault);
#   - tests that read a thread's CPU clock (CLOCK_THREAD_CPUTIME_ID, which Miri does not
#     emulate): far_future_deadline_* in bad_input.rs, sleep_blocks_instead_of_spinning;
#   - doctests (each one a separate interpreted binary; the cargo test step runs them natively).
# ---------------------------------------------------------------------------------------------
miri_test() {
    local name=$1
    shift
    MIRIFLAGS="-Zmiri-disable-isolation -Zmiri-permissive-provenance ${miri_extra:-}" CARGO_TARGET_DIR="$miri_dir" \
        cargo +nightly miri test --test "$name" -- --test-threads=1 "$@"
}

run_miri() {
    step "miri: sysroot" env CARGO_TARGET_DIR="$miri_dir" cargo +nightly miri setup
    # The hostile soundness tests (issue 9, item 1): safe code forging keys against a Mutex,
    # a Condvar and a thread sleep; a broken exclusion shows up as a data race here.
    run_if_present soundness miri_test soundness
    run_if_present panic_safety miri_test panic_safety
    run_if_present bad_input miri_test bad_input --skip far_future_deadline
    run_if_present lifecycle miri_test lifecycle sleep_and_lock_work_in_a_thread_local_destructor \
        sleep_and_lock_work_on_a_thread_not_spawned_by_std
    run_if_present mutex miri_test mutex try_lock guard_mapping panic_while_locked unlock_fair an_unlock_wakes
    run_if_present condvar miri_test condvar notify_one_ notify_all_with notify_all_under notify_with_no \
        wait_for_times wait_until_a_system wait_until_a_passed requeued_waiter using_one_condvar \
        wait_for_returns wait_while_until a_notify_racing
    # 12 waiters under Miri: the counts of a notify_one drain, not its costs.
    run_if_present condvar_long_queue miri_test condvar_long_queue
    # 8 sleepers timing out in queue, reverse and scrambled order: unlinking from the head,
    # the tail and the middle of a FIFO (the costs are measured natively only).
    run_if_present timeouts_out_of_order miri_test timeouts_out_of_order
    run_if_present thread_sleep miri_test thread_sleep zero_duration full_sleep
    run_if_present time_error miri_test time_error
    run_if_present deadline miri_test deadline
    # park_api.rs makes unique keys with `Box::leak(..) as usize`: leaked on purpose.
    miri_extra=-Zmiri-ignore-leaks run_if_present park_api miri_test park_api --skip validate_runs_under_the_lock \
        --skip on_cancel_reports_whether
    run_if_present collision miri_test collision --skip many_colliding_ids
    run_if_present sleep_wakeup miri_test sleep_wakeup --skip hand_off_never_loses
    run_if_present abort_signal miri_test abort_signal abort_flag_set_before_the_sleep
}

# ---------------------------------------------------------------------------------------------
# ThreadSanitizer: the test suite (every tests/*.rs, fork.rs and the soak included), std
# rebuilt with the sanitizer (-Zbuild-std) so its locks and atomics are instrumented too;
# halt_on_error makes any report fail the step.
# Left out:
#   - the three signal tests of abort_signal.rs whose handler has SA_RESTART and must act on an
#     *untimed* sleep (sigusr1_with_sa_restart_*, handler_that_sets_abort_*_with_sa_restart,
#     signal_at_random_points_*). TSan's sigaction interceptor keeps the program's sa_flags
#     (SA_RESTART included) but installs its own handler, which, outside a blocking call TSan
#     intercepts, only records the signal; the program's handler runs when the thread next
#     leaves an intercepted function (compiler-rt tsan_interceptors_posix.cpp: sigaction_impl,
#     sighandler). wchan's futex wait is a raw syscall TSan does not intercept, so with
#     SA_RESTART the kernel restarts the wait after TSan's handler returns, and neither the
#     program's handler nor `wchan::interrupt` runs while the thread sleeps. Without SA_RESTART
#     the wait returns EINTR after TSan's handler, so sigusr1_without_sa_restart_* and
#     handler_that_sets_abort_*_without_sa_restart run; timed sleeps return EINTR after any
#     handler, so thread_sleep.rs's signal tests run too. Natively all of them pass.
#   - the three tests of fork_table.rs whose forked child starts threads of its own
#     (child_wakeup_reaches_*, fork_while_threads_hammer_*, an_aborted_sleep_forked_*): TSan
#     kills such a child, printing
#     "starting new threads after multi-threaded fork is not supported. Dying (set
#     die_after_fork=0 to override)" (exit 66, seen in this script's run); overriding it would
#     check a mode TSan itself calls unsupported. fork_from_before_sleep_* (no thread in the child)
#     runs; natively all four run in the cargo test step.
#   - doctests and benches (--tests): rustdoc would need the sanitizer flags and the rebuilt
#     std too; the cargo test step runs the doctests natively.
# Shortened:
#   - soak.rs runs WCHAN_SOAK_SECS=5 with a 5 s overshoot bound: TSan slows every memory access
#     and defers signal handlers to the thread's next intercepted call (so the soak's SIGUSR1,
#     whose handler has SA_RESTART, no longer ends an untimed futex wait); the 20 s run is the
#     cargo test step's.
# ---------------------------------------------------------------------------------------------
run_tsan() {
    local cargo=(env CARGO_TARGET_DIR="$tsan_dir" RUSTFLAGS="-Zsanitizer=thread"
        TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
        cargo +nightly test -Zbuild-std --target "$target")
    step "tsan: build" "${cargo[@]}" --tests --no-run
    step "tsan: unit and integration tests" env WCHAN_SOAK_SECS=5 WCHAN_SOAK_OVERSHOOT_MS=5000 "${cargo[@]}" --tests \
        -- --skip sigusr1_with_sa_restart --skip handler_that_sets_abort_and_calls_interrupt_ends_the_sleep_with_sa_restart \
        --skip signal_at_random_points --skip child_wakeup_reaches_the_childs_own_sleeper \
        --skip fork_while_threads_hammer_the_table --skip an_aborted_sleep_forked_from_before_sleep
}

start=$SECONDS
step "install nightly, miri, rust-src" install
case "$which" in
miri) run_miri ;;
tsan) run_tsan ;;
all)
    run_miri
    run_tsan
    ;;
*)
    echo "usage: $0 [miri|tsan|all]" >&2
    exit 2
    ;;
esac
echo "=== sanitizers: all passed in $((SECONDS - start)) s"
