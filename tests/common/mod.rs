//! Helpers shared by the integration tests. Each test file that uses them has
//! `mod common;` at the top.
#![allow(dead_code)]

use std::sync::mpsc;
use std::time::Duration;

/// How long a test that should finish in milliseconds may run before it is failed as hung.
/// Under Miri, which interprets some thousand times slower, nine times that: several tests
/// take 4-8 s there on an idle machine (42 s for the longest), and a loaded CI machine takes
/// three times longer (a 20 s watchdog failed a Miri run that way).
pub const HANG: Duration = Duration::from_secs(if cfg!(miri) { 180 } else { 20 });

/// Runs `f` on its own thread and returns its result; panics with a clear message if it does
/// not finish within `limit` (the stuck thread is left behind; the test fails cleanly instead
/// of hanging the suite). A panic inside `f` is re-raised here.
pub fn watchdog<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("watched".into())
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        })
        .expect("spawn watched thread");
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => v,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("watchdog: test did not finish within {limit:?} (hung?)"),
    }
}

/// Spins (yielding) until `cond` holds, failing after `limit`. For handshakes on state that
/// another thread publishes, e.g. "the sleeper is queued": no fixed sleeps.
pub fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for: {what}");
        std::thread::yield_now();
    }
}
