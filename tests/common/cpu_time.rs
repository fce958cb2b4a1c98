//! The calling thread's CPU time, for tests that assert a wait blocks instead of spinning.
//! Included by path (`#[path = "common/cpu_time.rs"] mod cpu_time;`) by the files that use
//! it, not through `common`: `tests/soundness.rs` forbids `unsafe` code.

use std::time::Duration;

/// CPU time the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`: Linux, the BSDs, Apple;
/// Miri does not emulate it).
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a fixed one that every Unix
    // target wchan supports has.
    assert_eq!(unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) }, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
