//! loom models of `wchan::Mutex` (`RawMutex`): mutual exclusion, no lost wakeup on unlock,
//! and the fair hand-off of `unlock_fair`. Under loom the lock never spins: a locker that
//! finds it held parks at once, so every model goes through the table and the parker.
//!
//! The protected data is a loom `UnsafeCell` inside the mutex: loom fails a model when two
//! accesses to it are not ordered by happens-before, so "the lock excludes" and "a critical
//! section sees the previous one's writes" are both checked on every access.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use loom_tests::{condvar_key, model_reaching, mutex_key, start, Outcomes};
use wchan::{Condvar, Mutex, MutexGuard};

type Counter = Mutex<UnsafeCell<usize>>;

/// One critical section: increments the counter through the held guard.
fn bump(guard: &MutexGuard<'_, UnsafeCell<usize>>) {
    // SAFETY: the guard holds the lock; loom checks that no other access races with this one.
    guard.with_mut(|n| unsafe { *n += 1 });
}

fn count(m: &Counter) -> usize {
    // SAFETY: as in `bump`.
    m.lock().with(|n| unsafe { *n })
}

/// How a locker lets the lock go.
#[derive(Clone, Copy)]
enum Unlock {
    Normal,
    Fair,
}

fn release(guard: MutexGuard<'_, UnsafeCell<usize>>, how: Unlock) {
    match how {
        Unlock::Normal => drop(guard),
        Unlock::Fair => MutexGuard::unlock_fair(guard),
    }
}

/// Three threads (the main one and two spawned) each take the lock once and bump the
/// counter; loom checks every pair of critical sections is ordered, and that nobody sleeps
/// forever.
fn three_lockers(how: Unlock) {
    wchan::loom::model(move || {
        let m: Arc<Counter> = Arc::new(Mutex::new(UnsafeCell::new(0)));
        let lockers: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || {
                    let g = m.lock();
                    bump(&g);
                    release(g, how);
                })
            })
            .collect();
        let g = m.lock();
        bump(&g);
        release(g, how);
        for t in lockers {
            t.join().unwrap();
        }
        assert_eq!(count(&m), 3);
    });
}

#[test]
fn mutual_exclusion_with_three_threads() {
    three_lockers(Unlock::Normal);
}

/// The same with `unlock_fair`: a parked waiter is handed the lock, which the unlocker takes
/// back after its release, so the woken thread's critical section must see the unlocker's
/// writes through that re-take and the wake.
#[test]
fn mutual_exclusion_with_three_threads_and_fair_unlocks() {
    three_lockers(Unlock::Fair);
}

/// No lost wakeup: the main thread holds the lock while two lockers arrive (and park); one
/// unlock must lead to both getting through in turn. The first woken one's unlock has to see
/// that the second is still parked (`PARKED` kept while waiters remain).
///
/// `relocked`: the main thread takes and releases the lock once first, so its final unlock
/// repeats its last one and takes the subtraction; otherwise it takes the compare-exchange
/// (`RawMutex::unlock`), as the lockers' unlocks do in both models.
fn parked_lockers_woken_in_turn(relocked: bool) {
    wchan::loom::model(move || {
        let m: Arc<Counter> = Arc::new(Mutex::new(UnsafeCell::new(0)));
        if relocked {
            bump(&m.lock());
        }
        let g = m.lock();
        let lockers: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || bump(&m.lock()))
            })
            .collect();
        bump(&g);
        drop(g);
        for t in lockers {
            t.join().unwrap();
        }
        assert_eq!(count(&m), if relocked { 4 } else { 3 });
    });
}

#[test]
fn unlock_wakes_every_parked_locker_in_turn() {
    parked_lockers_woken_in_turn(false);
}

#[test]
fn unlock_after_a_relock_wakes_every_parked_locker_in_turn() {
    parked_lockers_woken_in_turn(true);
}

/// `(waiting, main has been)` under the mutex, and the condvar the waiter waits on.
type Handshake = (Mutex<(bool, bool)>, Condvar);

/// The waiter of the hand-off models: unless the main thread has been (`.1`), it marks itself
/// waiting (`.0`) and waits on the condvar, so it is queued there before the mutex is released;
/// once it returns it sets `finished`.
fn spawn_condvar_waiter(state: &Arc<Handshake>, finished: &Arc<AtomicBool>) -> thread::JoinHandle<()> {
    let (state, finished) = (state.clone(), finished.clone());
    thread::spawn(move || {
        let (m, cv) = &*state;
        let mut g = m.lock();
        if g.1 {
            return; // the main thread has been: nothing to wait for
        }
        g.0 = true;
        cv.wait(&mut g);
        // Relaxed: published to the main thread by this guard's unlock.
        finished.store(true, Ordering::Relaxed);
    })
}

/// Fair hand-off, made certain: the waiter waits on a condvar and is moved onto the held
/// mutex's queue by `notify_one`, so it is parked on the mutex when `unlock_fair` runs. The
/// lock must pass to it with no other thread able to take it: the main thread's `try_lock`
/// right after can succeed only once the waiter has finished its critical section and
/// unlocked.
#[test]
fn unlock_fair_hands_the_lock_to_the_parked_waiter() {
    const OUTCOMES: [&str; 3] = ["held by the waiter", "free after the waiter", "never waited"];
    model_reaching(&OUTCOMES, |outcomes: &Outcomes| {
        let state: Arc<Handshake> = Arc::new((Mutex::new((false, false)), Condvar::new()));
        start(&[mutex_key(&state.0), condvar_key(&state.1)]);
        let finished = Arc::new(AtomicBool::new(false));
        let waiter = spawn_condvar_waiter(&state, &finished);
        let (m, cv) = &*state;
        let mut g = m.lock();
        g.1 = true;
        if g.0 {
            // notify_one moves a waiter onto a held mutex (notify_all would wake it: it wakes
            // as many as there are CPUs, one under loom, before it moves any).
            assert!(cv.notify_one(), "the waiter is moved onto the held mutex");
            MutexGuard::unlock_fair(g);
            if m.try_lock().is_some() {
                assert!(finished.load(Ordering::Relaxed), "unlock_fair let the lock go free");
                outcomes.saw("free after the waiter");
            } else {
                outcomes.saw("held by the waiter");
            }
        } else {
            drop(g);
            outcomes.saw("never waited");
        }
        waiter.join().unwrap();
    });
}

/// Fair hand-off with a third thread that barges. Every wake is fair here
/// (`wchan::loom::fair_wakes`, as when the bucket's fair timer is due), and a plain unlock
/// releases the lock before it takes it back for the woken waiter, so a locker that arrives in
/// between may take it. The hand-off is then owed (`HANDOFF`): nobody else may take the lock,
/// and the barger's unlock makes it. So the waiter still gets the lock before the main
/// thread's next `lock`, whoever else runs first. Both outcomes must be reached, the barging
/// one included.
#[test]
fn a_fair_hand_off_that_a_barger_interrupts_still_serves_the_waiter_next() {
    const OUTCOMES: [&str; 3] = ["barger before the waiter", "barger after the waiter", "never waited"];
    model_reaching(&OUTCOMES, |outcomes: &Outcomes| {
        let state: Arc<Handshake> = Arc::new((Mutex::new((false, false)), Condvar::new()));
        start(&[mutex_key(&state.0), condvar_key(&state.1)]);
        wchan::loom::fair_wakes();
        let finished = Arc::new(AtomicBool::new(false));
        let waiter = spawn_condvar_waiter(&state, &finished);
        let (m, cv) = &*state;
        let mut g = m.lock();
        g.1 = true;
        if !g.0 {
            drop(g);
            outcomes.saw("never waited");
            waiter.join().unwrap();
            return;
        }
        assert!(cv.notify_one(), "the waiter is moved onto the held mutex");
        // The barger starts while the waiter is parked on the held mutex: it is queued behind
        // the waiter, or it takes the lock in the unlock's window.
        let barger = {
            let (state, finished) = (state.clone(), finished.clone());
            thread::spawn(move || {
                let _g = state.0.lock();
                finished.load(Ordering::Relaxed)
            })
        };
        drop(g);
        let g = m.lock();
        assert!(finished.load(Ordering::Relaxed), "a later locker took the lock before the waiter it was handed to");
        drop(g);
        let barger_saw_waiter_finished = barger.join().unwrap();
        outcomes.saw(if barger_saw_waiter_finished { "barger after the waiter" } else { "barger before the waiter" });
        waiter.join().unwrap();
    });
}
