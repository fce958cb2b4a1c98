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
//! about spinning: counting it as a success kept two threads pinned to one CPU spinning). A thread whose notifier needs its CPU (two
//! threads on one CPU, as in `compare`'s pinned `condvar_pingpong`) thus stops spinning
//! after eight parks, and one whose notifier runs on another CPU (producers feeding
//! consumers) keeps spinning. A thread whose budget fell to zero probes with [`FLOOR`] pauses
//! on one park in [`PROBE_EVERY`] (13 ns a park on average here), so it notices when its
//! notifies come quickly again.
//!
//! [`MAX`] pauses take about 3.3 µs on the development machine, less than the 4.5 µs a block
//! and a wake cost there (`docs/benchmarks.md`), the classic bound for spinning without
//! knowing how long the wait will be. A timed wait may therefore return `TimedOut` up to that
//! long after its deadline (the spin does not read the clock); the kernel's own timer slack
//! on Linux is 50 µs by default. No spin under loom (a model would explore every pause), nor
//! in a process that may run on one CPU only (`crate::cpus::runnable`: the notifier cannot
//! run while this thread spins).

use std::cell::Cell;

/// The most pauses one park spins.
const MAX: u32 = 128;
/// The least budget a successful spin leaves, and the length of a probe.
const FLOOR: u32 = 32;
/// A thread with no budget probes on one park in this many.
const PROBE_EVERY: u32 = 64;

thread_local! {
    /// `(budget, parks since the budget fell to zero)`. Const-initialized, no destructor: a
    /// plain TLS access, and nothing allocated.
    static BUDGET: Cell<(u32, u32)> = const { Cell::new((MAX, 0)) };
}

/// Spins while `woken()` is false, for at most this thread's budget, and adapts the budget.
/// Returns as soon as `woken()` is true; the caller then reads the outcome itself.
#[inline]
pub(super) fn spin(woken: impl Fn() -> bool) {
    if crate::loom::LOOM || crate::cpus::runnable() == 1 {
        return;
    }
    // `try_with`: a wait from a thread-local destructor, after this one is gone, just blocks.
    let _ = BUDGET.try_with(|b| b.set(step(b.get(), woken)));
}

/// One park's spin from `(budget, idle)`: at most `limit` checks of `woken` with a pause
/// between two; returns the next state.
fn step((budget, idle): (u32, u32), woken: impl Fn() -> bool) -> (u32, u32) {
    let limit = if budget > 0 {
        budget
    } else if idle + 1 >= PROBE_EVERY {
        FLOOR
    } else {
        return (0, idle + 1);
    };
    // Woken before the spin began (say, the thread was preempted after it queued, and its
    // notifier ran meanwhile): no evidence either way, the state stays as it was.
    if woken() {
        return (budget, idle);
    }
    for k in 1..limit {
        std::hint::spin_loop();
        if woken() {
            return ((2 * k).max(budget).clamp(FLOOR, MAX), 0);
        }
    }
    (budget / 2, 0)
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

    #[test]
    fn a_spin_that_never_sees_its_wake_halves_the_budget_down_to_nothing_in_eight_parks() {
        let mut state = (MAX, 0);
        let checks = Cell::new(0);
        for _ in 0..8 {
            state = step(state, wake_after(u32::MAX, &checks));
        }
        assert_eq!(state, (0, 0));
        // Every check was made: 128 + 64 + ... + 1.
        assert_eq!(checks.get(), 2 * MAX - 1);
    }

    #[test]
    fn a_thread_with_no_budget_spins_only_on_one_park_in_probe_every() {
        let mut state = (0, 0);
        let checks = Cell::new(0);
        for _ in 0..PROBE_EVERY - 1 {
            state = step(state, wake_after(u32::MAX, &checks));
        }
        assert_eq!(checks.get(), 0, "no spin before the probe is due");
        assert_eq!(state, (0, PROBE_EVERY - 1));
        state = step(state, wake_after(u32::MAX, &checks));
        assert_eq!(checks.get(), FLOOR, "the probe spins FLOOR pauses");
        assert_eq!(state, (0, 0), "a failed probe leaves no budget, and the count starts again");
    }

    #[test]
    fn a_probe_that_sees_its_wake_restores_a_budget() {
        let checks = Cell::new(0);
        let state = step((0, PROBE_EVERY - 1), wake_after(5, &checks));
        assert_eq!(checks.get(), 6);
        assert_eq!(state, (FLOOR, 0));
    }

    #[test]
    fn a_late_wake_raises_the_budget_to_twice_its_wait_and_an_early_one_keeps_it() {
        let checks = Cell::new(0);
        assert_eq!(step((FLOOR, 0), wake_after(FLOOR - 1, &checks)), (2 * (FLOOR - 1), 0));
        checks.set(0);
        assert_eq!(step((100, 0), wake_after(3, &checks)), (100, 0));
        checks.set(0);
        assert_eq!(step((MAX, 0), wake_after(MAX - 1, &checks)), (MAX, 0), "capped at MAX");
    }

    #[test]
    fn a_wake_that_came_before_the_spin_changes_nothing() {
        let checks = Cell::new(0);
        assert_eq!(step((FLOOR, 0), wake_after(0, &checks)), (FLOOR, 0));
        assert_eq!(step((0, PROBE_EVERY - 1), wake_after(0, &checks)), (0, PROBE_EVERY - 1));
        assert_eq!(step((7, 0), wake_after(0, &checks)), (7, 0));
    }

    #[test]
    fn the_spin_returns_at_once_when_woken() {
        let checks = Cell::new(0);
        spin(wake_after(0, &checks));
        // One check, or none where this process may use one CPU only.
        assert_eq!(checks.get(), u32::from(crate::cpus::runnable() > 1));
    }
}
