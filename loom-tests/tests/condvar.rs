//! loom models of `wchan::Condvar` with wchan's `Mutex`: no lost notify, `notify_all`'s
//! requeue onto the mutex (keys in two buckets and in one), `notify_all` outside the lock
//! racing an unlock, and `wait_for` timing out. Under loom no signal ends a sleep, so a
//! waiter returns only when notified (or, with a deadline, timed out): the models assert
//! exact counts.
#![cfg(loom)]

use std::time::Duration;

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use loom_tests::{condvar_key, model_reaching, mutex_key, start, Outcomes, SPARE};
use wchan::{Condvar, Mutex};

/// What the waiters and the notifier share under the mutex.
#[derive(Default)]
struct State {
    /// The condition the waiters wait for.
    ready: bool,
    /// How many waiters have begun a `wait` (each waits at most once: no spurious wakeups).
    waiting: usize,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

/// A fresh mutex + condvar, their keys registered in one bucket or in two.
fn shared(same_bucket: bool) -> Shared {
    let shared: Shared = Arc::new((Mutex::new(State::default()), Condvar::new()));
    let (m, cv) = (mutex_key(&shared.0), condvar_key(&shared.1));
    if same_bucket {
        start(&[m, SPARE, cv]);
    } else {
        start(&[m, cv]);
    }
    shared
}

/// A waiter: under the mutex, waits until `ready`, counting its wait in `waiting` first.
fn spawn_waiter(shared: &Shared) -> thread::JoinHandle<()> {
    let shared = shared.clone();
    thread::spawn(move || {
        let (m, cv) = &*shared;
        let mut state = m.lock();
        while !state.ready {
            state.waiting += 1;
            cv.wait(&mut state);
        }
    })
}

/// The notifier sets `ready` under the mutex and reads how many wait; `notify_one` must then
/// find exactly that waiter (a waiter that checked `ready` too early is queued on the condvar
/// before it released the mutex), or report nobody.
fn no_lost_notify(notify_under_lock: bool) {
    loom::model(move || {
        let shared = shared(false);
        let waiter = spawn_waiter(&shared);
        let (m, cv) = &*shared;
        let mut state = m.lock();
        state.ready = true;
        let waiting = state.waiting;
        if !notify_under_lock {
            drop(state);
            assert_eq!(cv.notify_one(), waiting == 1);
        } else {
            assert_eq!(cv.notify_one(), waiting == 1);
            drop(state);
        }
        waiter.join().unwrap();
    });
}

#[test]
fn notify_one_after_unlocking_reaches_a_waiter_that_saw_the_condition_unset() {
    no_lost_notify(false);
}

#[test]
fn notify_one_under_the_lock_reaches_a_waiter_that_saw_the_condition_unset() {
    no_lost_notify(true);
}

/// Two waiters and a notifier that sets `ready` and calls `notify_all` while holding the
/// mutex: the first is woken (the herd is one thread under loom) and competes for the held
/// mutex, the second is moved onto the mutex's queue (or woken early by the first), and both
/// return. `notify_all` reports exactly the waiters that waited.
fn notify_all_requeues(same_bucket: bool) {
    model_reaching(&["both waited"], move |outcomes: &Outcomes| {
        let shared = shared(same_bucket);
        let waiters = [spawn_waiter(&shared), spawn_waiter(&shared)];
        let (m, cv) = &*shared;
        let mut state = m.lock();
        state.ready = true;
        assert_eq!(cv.notify_all(), state.waiting);
        if state.waiting == 2 {
            outcomes.saw("both waited");
        }
        drop(state);
        for t in waiters {
            t.join().unwrap();
        }
    });
}

#[test]
fn notify_all_moves_both_waiters_to_the_mutex_in_another_bucket_and_both_return() {
    notify_all_requeues(false);
}

#[test]
fn notify_all_moves_both_waiters_to_the_mutex_in_the_same_bucket_and_both_return() {
    notify_all_requeues(true);
}

/// `notify_all` without the mutex, while another thread holds it and unlocks it. The requeue
/// must mark the mutex `PARKED` before it looks at whether it is locked: checking first lets
/// the unlock slip in between, on the fast path that wakes nobody, and the waiter moved onto
/// the now free mutex sleeps forever (a lost wakeup once present in wchan, see the
/// `notify_all_checks_then_marks` bug in docs/model-checking.md).
#[test]
fn notify_all_outside_the_lock_racing_an_unlock_loses_no_waiter() {
    model_reaching(&["waiter notified"], |outcomes: &Outcomes| {
        let shared = shared(false);
        let waiter = spawn_waiter(&shared);
        let (m, cv) = &*shared;
        let mut state = m.lock();
        state.ready = true;
        let waiting = state.waiting;
        drop(state);
        let holder = {
            let shared = shared.clone();
            thread::spawn(move || drop(shared.0.lock()))
        };
        assert_eq!(cv.notify_all(), waiting);
        if waiting == 1 {
            outcomes.saw("waiter notified");
        }
        waiter.join().unwrap();
        holder.join().unwrap();
    });
}

/// `wait_for` under loom: its deadline may expire whenever the waiter would block. The waiter
/// either is notified (and `notify_one` says it found it) or times out (and `notify_one`
/// found nobody), never both; either way it holds the mutex again when `wait_for` returns,
/// which loom checks through a cell only touched under the mutex.
#[test]
fn wait_for_times_out_or_is_notified_never_both() {
    const OUTCOMES: [&str; 3] = ["notified", "timed out", "never waited"];
    model_reaching(&OUTCOMES, |outcomes: &Outcomes| {
        let shared = Arc::new((Mutex::new((State::default(), UnsafeCell::new(0usize))), Condvar::new()));
        start(&[mutex_key(&shared.0), condvar_key(&shared.1)]);
        let waiter = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (m, cv) = &*shared;
                let mut g = m.lock();
                if g.0.ready {
                    return None;
                }
                g.0.waiting += 1;
                let timed_out = cv.wait_for(&mut g, Duration::from_secs(3600)).timed_out();
                // SAFETY: the guard holds the mutex again (what this access checks).
                g.1.with_mut(|n| unsafe { *n += 1 });
                Some(timed_out)
            })
        };
        let (m, cv) = &*shared;
        let mut g = m.lock();
        g.0.ready = true;
        let waiting = g.0.waiting == 1;
        drop(g);
        let notified = cv.notify_one();
        let timed_out = waiter.join().unwrap();
        // SAFETY: the waiter has finished; the guard holds the mutex.
        let touched = m.lock().1.with(|n| unsafe { *n });
        match timed_out {
            None => {
                assert!(!waiting && !notified && touched == 0);
                outcomes.saw("never waited");
            }
            Some(timed_out) => {
                assert!(waiting && touched == 1);
                assert_eq!(timed_out, !notified, "notify_one's answer disagrees with the waiter's");
                outcomes.saw(if timed_out { "timed out" } else { "notified" });
            }
        }
    });
}
