//! loom backend. loom has no clock, so a deadline in the future means "may expire whenever
//! the thread would otherwise block": the block reports `TimedOut` instead of parking, and
//! because the preceding load of the state word is a loom scheduling point, the model
//! explores a wakeup arriving both before and after that moment.

use super::Blocked;
use crate::loom::{current_thread, AtomicU32, Ordering, Thread};
use crate::time::Deadline;

#[derive(Clone)]
pub(crate) struct Handle(Thread);

impl Handle {
    pub(crate) fn current() -> Handle {
        Handle(current_thread())
    }
}

pub(crate) fn block(word: &AtomicU32, expected: u32, deadline: Option<&Deadline>, _: &Handle) -> Blocked {
    if word.load(Ordering::Acquire) != expected {
        return Blocked::Returned;
    }
    if deadline.is_some() {
        return Blocked::TimedOut;
    }
    loom::thread::park();
    Blocked::Returned
}

pub(crate) fn wake(_: *const AtomicU32, _: u32, handle: &Handle) {
    handle.0.unpark();
}
