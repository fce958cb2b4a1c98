use std::sync::Arc;
use std::time::{Duration, Instant};
use wchan::*;
#[test]
fn smoke() {
    let lock = Arc::new(SpinLock::new(0u32));
    let mut hs = vec![];
    for _ in 0..4 {
        let lock = lock.clone();
        hs.push(std::thread::spawn(move || { let mut g = lock.lock(); *g += 1; Sleep::on(&*lock).unlocking(g).wait() }));
    }
    let mut woken = 0;
    while woken < 4 { let g = lock.lock(); let sleeping = *g; if sleeping as usize > woken { if let Ok(k) = wakeup(&*lock, 0) { woken += k; } } drop(g); std::thread::yield_now(); }
    for h in hs { assert_eq!(h.join().unwrap(), Ok(())); }
    let t = Instant::now();
    let x = 0u8;
    assert_eq!(Sleep::on(&x).until(Deadline::after(Duration::from_millis(50))).wait(), Err(Error::TimedOut));
    assert!(t.elapsed() >= Duration::from_millis(50));
    let m = Arc::new(Mutex::new(0u64));
    let hs: Vec<_> = (0..8).map(|_| { let m = m.clone(); std::thread::spawn(move || for _ in 0..100000 { *m.lock() += 1; }) }).collect();
    for h in hs { h.join().unwrap(); }
    assert_eq!(*m.lock(), 800000);
}
