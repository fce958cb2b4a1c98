//! wchan's debug-level `tracing` events, printed by `tracing-subscriber`'s fmt subscriber.
//!
//! ```sh
//! cargo run --example tracing --features tracing
//! ```
//!
//! One thread sleeps on a channel (releasing a spinlock once queued) and another wakes it;
//! then a sleep times out, a wakeup finds nobody, and `thread::sleep` runs to its end. Each
//! prints one `DEBUG` line with its channel, clock and deadline, outcome, and time slept or
//! number woken.
use std::sync::Arc;
use std::time::Duration;

use wchan::{wakeup, Deadline, Sleep, SpinLock};

fn main() {
    tracing_subscriber::fmt().with_max_level(tracing::Level::DEBUG).with_thread_names(true).init();

    let lock = Arc::new(SpinLock::new(false));
    let sleeper = {
        let lock = lock.clone();
        std::thread::Builder::new()
            .name("sleeper".into())
            .spawn(move || {
                let mut asleep = lock.lock();
                *asleep = true;
                Sleep::on(&*lock).unlocking(asleep).wait()
            })
            .unwrap()
    };
    loop {
        let asleep = lock.lock();
        if *asleep {
            assert_eq!(wakeup(&*lock, 1), Ok(1));
            break;
        }
        drop(asleep);
        std::thread::yield_now();
    }
    assert_eq!(sleeper.join().unwrap(), Ok(()));

    let chan = 0u8;
    let _ = Sleep::on(&chan).until(Deadline::after(Duration::from_millis(3))).wait();
    let _ = wakeup(&chan, 0);
    wchan::thread::sleep(Duration::from_millis(2));
}
