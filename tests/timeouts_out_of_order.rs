//! Thousands of sleepers on one channel whose deadlines run against their queue order: the
//! last one queued times out first. Each timed-out sleeper takes itself off the queue under
//! the bucket lock; if that walked the FIFO from its head to the node, the `n`-th from the
//! front would cost `n` visits, and timeouts arriving faster than the walks finish would
//! queue up behind the lock. So the sleepers must be as punctual in reverse order as in
//! queue order.
mod common;

use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use common::watchdog;
use wchan::{Deadline, Error, Sleep, SpinLock};

const SLEEPERS: usize = if cfg!(miri) { 8 } else { 3000 };
/// Between two consecutive deadlines.
const STEP: Duration = Duration::from_micros(40);

static CHAN: u8 = 0;

/// The order in which the sleepers' deadlines come, by queue position.
#[derive(Clone, Copy)]
enum Order {
    /// The oldest first: each leaves from the head.
    Queue,
    /// The newest first: each leaves from the tail.
    Reverse,
    /// A fixed permutation, position times 11 modulo the count (11 is prime to both counts):
    /// with 8 sleepers the deadlines come at positions 0, 3, 6, 1, 4, 7, 2, 5, so sleepers
    /// leave from the head, the middle and the tail.
    Scrambled,
}

/// How late each sleeper returned after its deadline, sorted; and whether every sleeper was
/// queued before the first deadline (if not, the timeouts met a half-built queue and the
/// lateness says nothing about leaving a long one).
fn lateness(order_of_deadlines: Order) -> (Vec<Duration>, bool) {
    let order = Arc::new(SpinLock::new(0usize));
    let start = Arc::new(Barrier::new(SLEEPERS + 1));
    let first = Arc::new(OnceLock::new());
    let handles: Vec<_> = (0..SLEEPERS)
        .map(|_| {
            let (order, start, first) = (order.clone(), start.clone(), first.clone());
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    start.wait();
                    let first: Instant = *first.get().expect("set before the barrier opens");
                    // Numbered and queued under one lock, which the sleep releases once the
                    // sleeper is queued: the numbers are the queue order.
                    let mut turn = order.lock();
                    let i = *turn;
                    *turn += 1;
                    let k = match order_of_deadlines {
                        Order::Queue => i,
                        Order::Reverse => SLEEPERS - 1 - i,
                        Order::Scrambled => i * 11 % SLEEPERS,
                    };
                    let deadline = first + STEP * k as u32;
                    let queued_by = Instant::now();
                    let r = Sleep::on(&CHAN).unlocking(turn).until(Deadline::from(deadline)).wait();
                    assert_eq!(r, Err(Error::TimedOut), "nobody wakes the channel");
                    (Instant::now().saturating_duration_since(deadline), queued_by < first)
                })
                .expect("spawn sleeper")
        })
        .collect();
    // Every thread exists (they wait at the barrier), so the lead only has to cover queueing.
    first.set(Instant::now() + Duration::from_millis(if cfg!(miri) { 2000 } else { 300 })).unwrap();
    start.wait();
    let results: Vec<(Duration, bool)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(*order.lock(), SLEEPERS);
    let in_time = results.iter().all(|&(_, in_time)| in_time);
    let mut late: Vec<Duration> = results.into_iter().map(|(late, _)| late).collect();
    late.sort();
    (late, in_time)
}

/// One set of the three orders: `Ok` if the reversed and scrambled medians stay near the
/// in-order one, `Err(what)` otherwise. Prints the figures.
fn one_set() -> Result<(), String> {
    let median = |l: &[Duration]| l[SLEEPERS / 2];
    let p90 = |l: &[Duration]| l[SLEEPERS * 9 / 10];
    let (in_order, mut all_in_time) = lateness(Order::Queue);
    println!(
        "{SLEEPERS} sleepers, deadlines {STEP:?} apart; lateness median (90th) in queue order: {:?} ({:?})",
        median(&in_order),
        p90(&in_order)
    );
    let mut others = Vec::new();
    for (order, name) in [(Order::Reverse, "reversed"), (Order::Scrambled, "scrambled")] {
        let (late, in_time) = lateness(order);
        println!("  {name}: {:?} ({:?})", median(&late), p90(&late));
        all_in_time &= in_time;
        others.push((name, median(&late)));
    }
    if cfg!(miri) {
        return Ok(()); // the unlinks ran under Miri's checks; the costs are measured natively
    }
    if !all_in_time {
        // Under emulation (qemu-user in CI: 3,000 threads queue for seconds) the first
        // deadlines pass while the queue is still being built, so the orders cannot be
        // compared. Natively on x86_64 the queue is built in milliseconds: a miss there
        // means the test measured nothing, so it fails.
        if cfg!(target_arch = "x86_64") {
            panic!("the sleepers were not all queued 300 ms after they were released");
        }
        println!("not every sleeper was queued before the first deadline: lateness not compared here");
        return Ok(());
    }
    let f = median(&in_order);
    for (name, r) in others {
        // Measured here: with a walk from the head, the reversed median read 74-160 ms
        // against 0.1-0.35 ms in order; unlinked in place, both read under a millisecond.
        if r >= f * 4 + Duration::from_millis(10) {
            return Err(format!("timeouts {name} lag: {r:?} vs {f:?} in order"));
        }
    }
    Ok(())
}

/// Up to three sets: a burst of load on a shared machine (one CI run read 158 ms for the
/// scrambled order once, the in-order and reversed sets beside it under 0.3 ms) must not
/// fail the test, while a walk from the head lags in every set.
#[test]
fn sleepers_timing_out_against_their_queue_order_are_as_punctual_as_in_it() {
    watchdog(Duration::from_secs(120), || {
        let mut failures = Vec::new();
        for _ in 0..3 {
            match one_set() {
                Ok(()) => return,
                Err(what) => failures.push(what),
            }
        }
        panic!("every set lagged: {failures:?}");
    });
}
