//! With the `tracing` feature on but no subscriber enabling DEBUG for wchan, the sleep and
//! wake paths allocate nothing (counted with the allocator of `tests/common/counting_alloc.rs`,
//! as in `tests/no_alloc.rs`): the events cost a level check. Also with a subscriber that enables
//! only INFO. (`cargo test --features tracing --test tracing_no_alloc`)
mod common;
#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use common::watchdog;
use counting_alloc::{allocations_during, Counting};
use tracing::level_filters::LevelFilter;
use tracing::{span, Event, Metadata, Subscriber};
use wchan::{wakeup, Deadline, Error, Sleep, SpinLock};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn counting_allocator_sees_an_allocation() {
    let n = allocations_during(|| drop(std::hint::black_box(Box::new(7u64))));
    assert_eq!(n, 1);
}

/// Every traced path once: a woken sleep (with and without a deadline) and its wakeup, a
/// timeout, an abort, a wakeup of nobody, an invalid sleep, a thread sleep.
fn traced_paths(lock: &Arc<SpinLock<u32>>, rounds: u32) {
    let sleeper = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            let cycle = |i: u32| {
                let mut g = lock.lock();
                *g = i;
                let sleep = Sleep::on(&*lock).unlocking(g);
                let sleep = if i % 2 == 0 { sleep.until(Deadline::after(Duration::from_secs(60))) } else { sleep };
                assert_eq!(sleep.wait(), Ok(()));
            };
            cycle(1); // warm-up: one-time setup (tracing's callsite registration) happens here
            allocations_during(|| (2..=rounds + 1).for_each(cycle))
        })
    };
    let waker = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            let cycle = |i: u32| loop {
                let mut g = lock.lock();
                if *g == i {
                    *g = 0;
                    assert_eq!(wakeup(&*lock, 1), Ok(1));
                    return;
                }
                drop(g);
                std::hint::spin_loop();
            };
            cycle(1);
            allocations_during(|| (2..=rounds + 1).for_each(cycle))
        })
    };
    assert_eq!(sleeper.join().unwrap(), 0, "sleeper allocated");
    assert_eq!(waker.join().unwrap(), 0, "waker allocated");

    let chan = 0u8;
    let flag = AtomicBool::new(true);
    let round = || {
        let soon = Deadline::after(Duration::from_micros(50));
        assert_eq!(Sleep::on(&chan).until(soon).wait(), Err(Error::TimedOut));
        assert_eq!(Sleep::on(&chan).abort_if(&flag).wait(), Err(Error::Interrupted));
        assert_eq!(wakeup(&chan, 0), Err(Error::NoWaiters));
        assert_eq!(Sleep::on(std::ptr::null::<u8>()).wait(), Err(Error::InvalidArgument));
        assert_eq!(wchan::thread::sleep(Duration::from_micros(20)), Duration::ZERO);
    };
    round();
    assert_eq!(allocations_during(|| (0..200).for_each(|_| round())), 0, "timeout/abort/empty paths allocated");
}

/// A subscriber that wants INFO and above: wchan's DEBUG events are disabled.
struct InfoOnly;

impl Subscriber for InfoOnly {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::INFO
    }
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::INFO)
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, _: &Event<'_>) {
        panic!("no event should reach an INFO subscriber from wchan");
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

/// One test, two phases in this order (a global subscriber cannot be removed): first no
/// subscriber at all, then one that enables only INFO.
#[test]
fn traced_paths_allocate_nothing_without_a_subscriber_then_with_debug_disabled() {
    watchdog(Duration::from_secs(120), || {
        traced_paths(&Arc::new(SpinLock::new(0)), 2_000);
        tracing::subscriber::set_global_default(InfoOnly).expect("no subscriber was set before");
        traced_paths(&Arc::new(SpinLock::new(0)), 2_000);
    });
}
