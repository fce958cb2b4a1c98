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

/// One run of `SLEEPERS` sleepers: how late each returned after its deadline (sorted), and
/// how long after their release the last one was queued.
struct Run {
    late: Vec<Duration>,
    queued_in: Duration,
}

/// Releases the sleepers at once and gives the first deadline `lead` after the release.
fn lateness(order_of_deadlines: Order, lead: Duration) -> Run {
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
                    (Instant::now().saturating_duration_since(deadline), queued_by)
                })
                .expect("spawn sleeper")
        })
        .collect();
    // Every thread exists (they wait at the barrier), so the lead only has to cover queueing.
    let released = Instant::now();
    first.set(released + lead).unwrap();
    start.wait();
    let results: Vec<(Duration, Instant)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(*order.lock(), SLEEPERS);
    let last = results.iter().map(|&(_, queued_by)| queued_by).max().expect("some sleepers");
    let mut late: Vec<Duration> = results.into_iter().map(|(late, _)| late).collect();
    late.sort();
    Run { late, queued_in: last.saturating_duration_since(released) }
}

/// What one set of the three orders found.
enum Set {
    /// The reversed and scrambled medians stayed near the in-order one.
    Level,
    /// One of them lagged (what, with the figures).
    Lagged(String),
    /// Some sleeper was queued after the first deadline had passed, so the timeouts met a
    /// half-built queue and the lateness says nothing about leaving a long one.
    QueuedLate(Duration),
}

fn one_set(lead: Duration) -> Set {
    let median = |l: &[Duration]| l[SLEEPERS / 2];
    let p90 = |l: &[Duration]| l[SLEEPERS * 9 / 10];
    let mut runs = Vec::new();
    for (order, name) in
        [(Order::Queue, "in queue order"), (Order::Reverse, "reversed"), (Order::Scrambled, "scrambled")]
    {
        let run = lateness(order, lead);
        println!(
            "  {name}: lateness median {:?}, 90th {:?}; all queued {:?} after the release (lead {lead:?})",
            median(&run.late),
            p90(&run.late),
            run.queued_in
        );
        runs.push((name, run));
    }
    if cfg!(miri) {
        return Set::Level; // the unlinks ran under Miri's checks; the costs are measured natively
    }
    let slowest = runs.iter().map(|(_, run)| run.queued_in).max().unwrap();
    if slowest >= lead {
        return Set::QueuedLate(slowest);
    }
    let f = median(&runs[0].1.late);
    for (name, run) in &runs[1..] {
        // Measured here: with a walk from the head, the reversed median read 74-160 ms
        // against 0.1-0.35 ms in order; unlinked in place, both read under a millisecond.
        let r = median(&run.late);
        if r >= f * 4 + Duration::from_millis(10) {
            return Set::Lagged(format!("timeouts {name} lag: {r:?} vs {f:?} in order"));
        }
    }
    Set::Level
}

/// Up to three sets. A set whose queue was still being built at the first deadline measured
/// nothing, so the next one gets four times the lead: natively 3,000 threads queue in tens of
/// milliseconds, under ThreadSanitizer or qemu-user in seconds (one TSan run in CI missed the
/// 300 ms lead). A set that lagged is taken again too: a burst of load on a shared machine (one
/// CI run read 158 ms for the scrambled order once, the in-order and reversed sets beside it
/// under 0.3 ms) must not fail the test, while a walk from the head lags in every set.
#[test]
fn sleepers_timing_out_against_their_queue_order_are_as_punctual_as_in_it() {
    watchdog(Duration::from_secs(240), || {
        let mut lead = Duration::from_millis(if cfg!(miri) { 2000 } else { 300 });
        let mut lagged = Vec::new();
        let mut queued_late = Vec::new();
        for set in 1..=3 {
            println!("set {set}: {SLEEPERS} sleepers, deadlines {STEP:?} apart");
            match one_set(lead) {
                Set::Level => return,
                Set::Lagged(what) => lagged.push(what),
                Set::QueuedLate(took) => {
                    queued_late.push(format!("queued in {took:?} against a lead of {lead:?}"));
                    lead *= 4;
                }
            }
        }
        if lagged.is_empty() && !cfg!(target_arch = "x86_64") {
            // Under qemu-user (aarch64 in CI) even the longest lead may not cover queueing;
            // the outcomes (every sleeper timed out, none was lost) were still asserted.
            println!("no set had its queue built before the first deadline: lateness not compared here");
            return;
        }
        panic!("no set kept the orders level; lagged: {lagged:?}; queued late: {queued_late:?}");
    });
}
