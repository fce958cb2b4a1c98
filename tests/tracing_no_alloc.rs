//! With the `tracing` feature on but no subscriber enabling DEBUG for wchan, the sleep and
//! wake paths allocate nothing (counted with the allocator of `tests/common/counting_alloc.rs`,
//! as in `tests/no_alloc.rs`): the events cost a level check. Also with a subscriber that enables
//! only INFO. (`cargo test --features tracing --test tracing_no_alloc`)
mod common;
#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::watchdog;
use counting_alloc::{allocations_during, sleep_wakeup_cycles, Counting};
use tracing::level_filters::LevelFilter;
use tracing::{span, Event, Metadata, Subscriber};
use wchan::{wakeup, Deadline, Error, Sleep};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn counting_allocator_sees_an_allocation() {
    let n = allocations_during(|| drop(std::hint::black_box(Box::new(7u64))));
    assert_eq!(n, 1);
}

/// Every traced path once: a woken sleep (with and without a deadline) and its wakeup, a
/// timeout, an abort, a wakeup of nobody, an invalid sleep, a thread sleep.
fn traced_paths(rounds: u32) {
    let (sleeper, waker) = sleep_wakeup_cycles(rounds);
    assert_eq!(sleeper, 0, "sleeper allocated");
    assert_eq!(waker, 0, "waker allocated");

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
        traced_paths(2_000);
        tracing::subscriber::set_global_default(InfoOnly).expect("no subscriber was set before");
        traced_paths(2_000);
    });
}
