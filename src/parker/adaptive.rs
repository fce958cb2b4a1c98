//! The adaptive spin before a condvar waiter blocks: a notify that lands within it costs
//! neither side a system call nor a context switch (the waker finds the parker `WAITING`, not
//! `SLEEPING`, and makes no wake call).
//!
//! Only `Condvar` waits spin (`park::park_spinning_on`): a mutex waiter has already spun
//! before it queued, and a channel or thread sleep has no reason to expect its wake soon.
//!
//! Each thread keeps a budget of CPU pause hints. A spin that sees the wake after `k` pauses
//! keeps its budget, or raises it to `2k` (at least [`FLOOR`], at most [`MAX`]); one that
//! spins the whole budget in vain halves it; a wake that came before the spin began changes
//! nothing (a thread preempted after it queued, whose notifier ran meanwhile, learnt nothing
//! about spinning: counting it as a success kept two threads pinned to one CPU spinning).
//! A thread whose notifier needs its CPU (two threads on one CPU, as in `compare`'s pinned
//! `condvar_pingpong`) thus stops spinning after eight parks, and one whose notifier runs on
//! another CPU (producers feeding consumers) keeps spinning. A thread whose budget fell to
//! zero probes with [`FLOOR`] pauses so it notices when its notifies come quickly again:
//! after [`PROBE_FIRST`] parks, and after twice as many each time a probe fails, up to
//! [`PROBE_LAST`] (so a thread whose spins never help pays about 0.2 ns a park for its probes
//! here).
//!
//! [`MAX`] pauses take about 3.3 µs on the development machine, less than the 4.5 µs a block
//! and a wake cost there (`docs/benchmarks.md`): spinning at most as long as blocking costs
//! is the competitive bound for waiting without knowing how long the wait will be (Karlin,
//! Li, Manasse and Owicki, "Empirical Studies of Competitive Spinning for a Shared-Memory
//! Multiprocessor", SOSP 1991). A timed wait may therefore return `TimedOut` up to that long
//! after its deadline (the spin does not read the clock); Linux itself lets a futex wait's
//! timeout fire up to the thread's timer slack late, 50 µs unless changed
//! (PR_SET_TIMERSLACK(2const), Linux man-pages 6.17: the value `init` starts with, inherited
//! across `fork`).
//!
//! No spin under loom (a model would explore every pause), nor in a process that may run on
//! one CPU only (`crate::cpus::runnable`: the notifier cannot run while this thread spins).
//! Miri reports one CPU unless told otherwise (`-Zmiri-num-cpus`), so it does not spin
//! either.

use std::cell::Cell;

/// The most pauses one park spins.
const MAX: u32 = 128;
/// The least budget a successful spin leaves, and the length of a probe.
const FLOOR: u32 = 32;
/// Parks between the first two probes of a thread with no budget.
const PROBE_FIRST: u32 = 64;
/// The longest gap between two probes.
const PROBE_LAST: u32 = 4096;

/// A thread's spin state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    /// Pauses the next park may spin.
    budget: u32,
    /// With no budget: parks since the last probe, and the gap to the next one.
    idle: u32,
    gap: u32,
}

const START: State = State { budget: MAX, idle: 0, gap: PROBE_FIRST };

thread_local! {
    /// Const-initialized, no destructor: a plain TLS access, and nothing allocated.
    static STATE: Cell<State> = const { Cell::new(START) };
}

/// Spins while `woken()` is false, for at most this thread's budget, and adapts the budget.
/// Returns as soon as `woken()` is true; the caller then reads the outcome itself.
#[inline]
pub(super) fn spin(woken: impl Fn() -> bool) {
    if crate::loom::LOOM {
        return;
    }
    // `try_with`: never fails for a const thread-local without a destructor; if it ever did
    // (a wait from a thread-local destructor), the wait would just block without spinning.
    let _ = STATE.try_with(|s| {
        let state = s.get();
        // Only a wait that may spin asks for the CPU count: a thread whose spins stopped
        // paying (two threads pinned to one CPU, say) pays one thread-local counter a wait.
        if will_spin(state) && crate::cpus::runnable() == 1 {
            return;
        }
        s.set(step(state, woken));
    });
}

/// Whether a park from `state` spins (has a budget, or is due to probe).
fn will_spin(state: State) -> bool {
    state.budget > 0 || state.idle + 1 >= state.gap
}

/// One park's spin from `state`: at most its budget's checks of `woken` (a probe's
/// [`FLOOR`] with no budget), a pause between two; returns the next state.
fn step(state: State, woken: impl Fn() -> bool) -> State {
    let probe = state.budget == 0;
    if !will_spin(state) {
        return State { idle: state.idle + 1, ..state };
    }
    // Woken before the spin began (say, the thread was preempted after it queued, and its
    // notifier ran meanwhile): no evidence either way, the state stays as it was.
    if woken() {
        return state;
    }
    let limit = if probe { FLOOR } else { state.budget };
    for k in 1..limit {
        std::hint::spin_loop();
        if woken() {
            let budget = (2 * k).max(state.budget).clamp(FLOOR, MAX);
            return State { budget, idle: 0, gap: PROBE_FIRST };
        }
    }
    if probe {
        State { budget: 0, idle: 0, gap: (2 * state.gap).min(PROBE_LAST) }
    } else {
        State { budget: state.budget / 2, ..state }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A wake that comes after `after` checks; counts the checks made.
    fn wake_after(after: u32, checks: &Cell<u32>) -> impl Fn() -> bool + '_ {
        move || {
            checks.set(checks.get() + 1);
            checks.get() > after
        }
    }

    fn never(checks: &Cell<u32>) -> impl Fn() -> bool + '_ {
        wake_after(u32::MAX, checks)
    }

    const EMPTY: State = State { budget: 0, idle: 0, gap: PROBE_FIRST };

    #[test]
    fn a_spin_that_never_sees_its_wake_halves_the_budget_down_to_nothing_in_eight_parks() {
        let mut state = START;
        let checks = Cell::new(0);
        for _ in 0..8 {
            state = step(state, never(&checks));
        }
        assert_eq!(state, EMPTY);
        // Every check was made: 128 + 64 + ... + 1.
        assert_eq!(checks.get(), 2 * MAX - 1);
    }

    #[test]
    fn a_thread_with_no_budget_probes_after_gaps_that_double_up_to_the_last() {
        let mut state = EMPTY;
        let checks = Cell::new(0);
        let mut gap = PROBE_FIRST;
        for _ in 0..10 {
            for _ in 0..gap - 1 {
                state = step(state, never(&checks));
            }
            assert_eq!(checks.get(), 0, "no spin before the probe is due");
            state = step(state, never(&checks));
            assert_eq!(checks.get(), FLOOR, "the probe spins FLOOR pauses");
            checks.set(0);
            gap = (2 * gap).min(PROBE_LAST);
            assert_eq!(state, State { budget: 0, idle: 0, gap });
        }
        assert_eq!(gap, PROBE_LAST);
    }

    #[test]
    fn a_probe_that_sees_its_wake_restores_a_budget_and_the_first_gap() {
        let checks = Cell::new(0);
        let state = step(State { budget: 0, idle: 511, gap: 512 }, wake_after(5, &checks));
        assert_eq!(checks.get(), 6);
        assert_eq!(state, State { budget: FLOOR, idle: 0, gap: PROBE_FIRST });
    }

    #[test]
    fn a_late_wake_raises_the_budget_to_twice_its_wait_and_an_early_one_keeps_it() {
        let checks = Cell::new(0);
        let with = |budget| State { budget, ..START };
        assert_eq!(step(with(FLOOR), wake_after(FLOOR - 1, &checks)), with(2 * (FLOOR - 1)));
        checks.set(0);
        assert_eq!(step(with(100), wake_after(3, &checks)), with(100));
        checks.set(0);
        assert_eq!(step(with(MAX), wake_after(MAX - 1, &checks)), with(MAX), "capped at MAX");
    }

    #[test]
    fn a_wake_that_came_before_the_spin_changes_nothing() {
        let checks = Cell::new(0);
        for state in [
            START,
            State { budget: 0, idle: PROBE_FIRST - 1, gap: PROBE_FIRST },
            State { budget: 7, idle: 0, gap: 256 },
        ] {
            assert_eq!(step(state, wake_after(0, &checks)), state);
        }
    }

    #[test]
    fn the_spin_returns_at_once_when_woken() {
        let checks = Cell::new(0);
        spin(wake_after(0, &checks));
        // One check, or none where this process may use one CPU only.
        assert_eq!(checks.get(), u32::from(crate::cpus::runnable() > 1));
    }
}
