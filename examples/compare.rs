//! wchan side by side with `std::sync`, `parking_lot` and `parking_lot_core`, in one run.
//!
//! ```text
//! cargo run --release --example compare              # about a minute, a table
//! cargo run --release --example compare -- --quick   # under 20 s, fewer samples
//! cargo run --release --example compare -- --csv     # lines `case,impl,median,unit`
//! ```
//!
//! Every case is timed the same way for every implementation: a calibration run picks an
//! iteration count that fills one sample (`SAMPLE`), then several samples are taken and the
//! median time per operation is reported. Multi-threaded cases start all threads on a
//! barrier and time from its release to the last thread's end, so thread start-up is not
//! counted. Lower is better everywhere; the last column is wchan's median divided by the
//! best other implementation's (below 1: wchan is faster or smaller). What each case
//! measures, and the numbers on the reference machine: `docs/benchmarks.md`.

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use wchan::{wakeup, Sleep, SpinLock};

const USAGE: &str = "usage: compare [--quick] [--csv] [--chart FILE.svg]
  --quick        fewer and shorter samples (under 20 s)
  --csv          print `case,impl,median,unit` lines instead of a table
  --chart FILE   only measure contended mutex throughput at 1, 2, 4 and 8 threads and
                 draw it as an SVG chart in FILE";

const IMPLS: [&str; 4] = ["wchan", "std", "parking_lot", "parking_lot_core"];

/// How long to measure.
struct Plan {
    /// Samples per case and implementation; the median is reported.
    samples: usize,
    /// The time one sample should take.
    sample: Duration,
}

/// One measured value.
struct Row {
    case: &'static str,
    imp: &'static str,
    median: f64,
    unit: &'static str,
}

fn main() -> ExitCode {
    let (mut quick, mut csv, mut chart) = (false, false, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--csv" => csv = true,
            "--chart" => match args.next() {
                Some(file) => chart = Some(file),
                None => {
                    eprintln!("compare: --chart needs a file name\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("compare: unknown argument `{other}`\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let plan = if quick {
        Plan { samples: 5, sample: Duration::from_millis(50) }
    } else {
        Plan { samples: 11, sample: Duration::from_millis(150) }
    };
    if let Some(file) = chart {
        return match draw_chart(&plan, &file) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("compare: drawing {file}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let started = Instant::now();
    let rows = run_all(&plan);
    if csv {
        println!("case,impl,median,unit");
        for r in &rows {
            let value = if r.unit == "bytes" { format!("{}", r.median) } else { format!("{:.1}", r.median) };
            println!("{},{},{},{}", r.case, r.imp, value, r.unit);
        }
    } else {
        print_table(&rows);
        print_targets(&rows);
        println!("\n{} samples per cell, {:.0} s in all", plan.samples, started.elapsed().as_secs_f64());
    }
    ExitCode::SUCCESS
}

/// One implementation's workload: `run(n)` performs about `n` operations and returns the
/// time they took and how many it performed.
type Runner<'a> = (&'static str, Box<dyn FnMut(u64) -> (Duration, u64) + 'a>);

fn runner<'a>(imp: &'static str, run: impl FnMut(u64) -> (Duration, u64) + 'a) -> Runner<'a> {
    (imp, Box::new(run))
}

fn run_all(plan: &Plan) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut case = |case: &'static str, unit: &'static str, runners: Vec<Runner<'_>>| {
        for (imp, median) in measure(plan, runners) {
            eprintln!("  {case:<22} {imp:<17} {median:>10.1} {unit}");
            rows.push(Row { case, imp, median, unit });
        }
    };
    type WMutex = wchan::Mutex<u64>;
    type SMutex = std::sync::Mutex<u64>;
    type PMutex = parking_lot::Mutex<u64>;

    case(
        "mutex_uncontended",
        "ns",
        vec![
            runner("wchan", uncontended::<WMutex>),
            runner("std", uncontended::<SMutex>),
            runner("parking_lot", uncontended::<PMutex>),
        ],
    );
    for (name, threads, locks) in
        [("mutex_contended_2", 2, 1), ("mutex_contended_8", 8, 1), ("mutex_many_locks_4", 4, 64)]
    {
        case(
            name,
            "ns",
            vec![
                runner("wchan", move |n| contended::<WMutex>(threads, locks, n)),
                runner("std", move |n| contended::<SMutex>(threads, locks, n)),
                runner("parking_lot", move |n| contended::<PMutex>(threads, locks, n)),
            ],
        );
    }
    case(
        "condvar_notify_empty",
        "ns",
        vec![
            runner("wchan", notify_empty::<WchanCv>),
            runner("std", notify_empty::<StdCv>),
            runner("parking_lot", notify_empty::<PlCv>),
        ],
    );
    case(
        "condvar_pingpong",
        "ns",
        vec![
            runner("wchan", pingpong::<WchanCv>),
            runner("std", pingpong::<StdCv>),
            runner("parking_lot", pingpong::<PlCv>),
        ],
    );
    case(
        "condvar_notify_all_8",
        "ns",
        vec![
            runner("wchan", |n| notify_all::<WchanCv>(8, n)),
            runner("std", |n| notify_all::<StdCv>(8, n)),
            runner("parking_lot", |n| notify_all::<PlCv>(8, n)),
        ],
    );
    case("wakeup_empty", "ns", vec![runner("wchan", wakeup_empty_wchan), runner("parking_lot_core", wakeup_empty_plc)]);
    case(
        "sleep_wake_roundtrip",
        "ns",
        vec![runner("wchan", roundtrip::<WchanChan>), runner("parking_lot_core", roundtrip::<PlcChan>)],
    );
    case("wake_latency_0", "ns", vec![runner("wchan", roundtrip::<WchanChan>)]);
    let others = Sleepers::start(10_000);
    case("wake_latency_10000", "ns", vec![runner("wchan", roundtrip::<WchanChan>)]);
    others.stop();

    let mut sizes = |case: &'static str, values: [(&'static str, usize); 3]| {
        for (imp, bytes) in values {
            rows.push(Row { case, imp, median: bytes as f64, unit: "bytes" });
        }
    };
    use std::mem::size_of;
    sizes(
        "size_mutex",
        [
            ("wchan", size_of::<wchan::Mutex<()>>()),
            ("std", size_of::<std::sync::Mutex<()>>()),
            ("parking_lot", size_of::<parking_lot::Mutex<()>>()),
        ],
    );
    sizes(
        "size_condvar",
        [
            ("wchan", size_of::<wchan::Condvar>()),
            ("std", size_of::<std::sync::Condvar>()),
            ("parking_lot", size_of::<parking_lot::Condvar>()),
        ],
    );
    rows
}

/// The median time per operation (ns) of each runner. Each one is calibrated first: its
/// operation count grows until a run takes a tenth of a sample, then is scaled to fill one.
/// Then the samples are taken in turns (one of each runner, then again), so a burst of load
/// from other processes on a shared machine hits every implementation alike.
fn measure(plan: &Plan, mut runners: Vec<Runner<'_>>) -> Vec<(&'static str, f64)> {
    let counts: Vec<u64> = runners
        .iter_mut()
        .map(|(_, run)| {
            let mut n = 1;
            loop {
                let (took, done) = run(n);
                if took >= plan.sample / 10 || n >= 1 << 32 {
                    let per_op = took.as_secs_f64() / done as f64;
                    break ((plan.sample.as_secs_f64() / per_op) as u64).max(1);
                }
                n *= 4;
            }
        })
        .collect();
    let mut per_op = vec![Vec::new(); runners.len()];
    for _ in 0..plan.samples {
        for (i, (_, run)) in runners.iter_mut().enumerate() {
            let (took, done) = run(counts[i]);
            per_op[i].push(took.as_nanos() as f64 / done as f64);
        }
    }
    runners
        .iter()
        .zip(per_op)
        .map(|((imp, _), mut v)| {
            v.sort_by(f64::total_cmp);
            (*imp, v[v.len() / 2])
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Mutex cases

/// The three mutexes, seen through one small interface.
trait Lock: Default + Send + Sync + 'static {
    /// Locks, runs the short critical section, unlocks.
    fn bump(&self);
}

/// The critical section: a few dependent arithmetic steps on the protected value.
fn critical(v: &mut u64) {
    *v = v.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *v ^= *v >> 29;
}

impl Lock for wchan::Mutex<u64> {
    fn bump(&self) {
        critical(&mut self.lock());
    }
}

impl Lock for std::sync::Mutex<u64> {
    fn bump(&self) {
        critical(&mut self.lock().unwrap());
    }
}

impl Lock for parking_lot::Mutex<u64> {
    fn bump(&self) {
        critical(&mut self.lock());
    }
}

fn uncontended<L: Lock>(n: u64) -> (Duration, u64) {
    let lock = L::default();
    let start = Instant::now();
    for _ in 0..n {
        black_box(&lock).bump();
    }
    (start.elapsed(), n)
}

/// `threads` threads each take one of `locks` locks (chosen at random when there are more
/// than one) about `n / threads` times. Reports the time for all acquisitions together.
fn contended<L: Lock>(threads: usize, locks: usize, n: u64) -> (Duration, u64) {
    let per_thread = n.div_ceil(threads as u64);
    let locks: Arc<Vec<L>> = Arc::new((0..locks).map(|_| L::default()).collect());
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (locks, barrier) = (locks.clone(), barrier.clone());
            thread::spawn(move || {
                let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
                barrier.wait();
                for _ in 0..per_thread {
                    let i = if locks.len() == 1 { 0 } else { rng.below(locks.len()) };
                    locks[i].bump();
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        h.join().unwrap();
    }
    (start.elapsed(), per_thread * threads as u64)
}

/// A small per-thread random number generator (xorshift64).
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------
// Condvar cases

/// What the condvar cases share under the mutex.
#[derive(Default)]
struct State {
    /// Ping-pong: whose turn it is (0: main, 1: partner).
    turn: u32,
    /// notify_all: the broadcast generation, and how many waiters have seen the current one.
    generation: u64,
    acked: usize,
    stop: bool,
}

/// A mutex and two condvars; each implementation writes the same three protocols.
trait Cv: Default + Send + Sync + 'static {
    fn notify_empty(&self);
    /// Main side of a ping-pong round: give the turn to the partner, wait to get it back.
    fn ping(&self);
    /// Partner side: wait for the turn, give it back. False once told to stop.
    fn pong(&self);
    /// Main side of a broadcast: bump the generation, notify_all, wait until `waiters`
    /// threads have re-acquired the mutex and seen it.
    fn broadcast(&self, waiters: usize, stop: bool);
    /// Waiter side: see each generation once, until told to stop.
    fn serve(&self, waiters: usize);
}

#[derive(Default)]
struct WchanCv(wchan::Mutex<State>, [wchan::Condvar; 2]);
#[derive(Default)]
struct StdCv(std::sync::Mutex<State>, [std::sync::Condvar; 2]);
#[derive(Default)]
struct PlCv(parking_lot::Mutex<State>, [parking_lot::Condvar; 2]);

impl Cv for WchanCv {
    fn notify_empty(&self) {
        black_box(self.1[0].notify_one());
    }
    fn ping(&self) {
        let mut s = self.0.lock();
        s.turn = 1;
        self.1[1].notify_one();
        self.1[0].wait_while(&mut s, |s| s.turn != 0);
    }
    fn pong(&self) {
        let mut s = self.0.lock();
        self.1[1].wait_while(&mut s, |s| s.turn != 1);
        s.turn = 0;
        self.1[0].notify_one();
    }
    fn broadcast(&self, waiters: usize, stop: bool) {
        let mut s = self.0.lock();
        s.generation += 1;
        s.acked = 0;
        s.stop = stop;
        self.1[0].notify_all();
        self.1[1].wait_while(&mut s, |s| s.acked < waiters);
    }
    fn serve(&self, waiters: usize) {
        let mut s = self.0.lock();
        let mut seen = 0;
        loop {
            self.1[0].wait_while(&mut s, |s| s.generation == seen);
            seen = s.generation;
            s.acked += 1;
            if s.acked == waiters {
                self.1[1].notify_one();
            }
            if s.stop {
                return;
            }
        }
    }
}

impl Cv for StdCv {
    fn notify_empty(&self) {
        self.1[0].notify_one();
    }
    fn ping(&self) {
        let mut s = self.0.lock().unwrap();
        s.turn = 1;
        self.1[1].notify_one();
        drop(self.1[0].wait_while(s, |s| s.turn != 0).unwrap());
    }
    fn pong(&self) {
        let s = self.0.lock().unwrap();
        let mut s = self.1[1].wait_while(s, |s| s.turn != 1).unwrap();
        s.turn = 0;
        self.1[0].notify_one();
    }
    fn broadcast(&self, waiters: usize, stop: bool) {
        let mut s = self.0.lock().unwrap();
        s.generation += 1;
        s.acked = 0;
        s.stop = stop;
        self.1[0].notify_all();
        drop(self.1[1].wait_while(s, |s| s.acked < waiters).unwrap());
    }
    fn serve(&self, waiters: usize) {
        let mut s = self.0.lock().unwrap();
        let mut seen = 0;
        loop {
            s = self.1[0].wait_while(s, |s| s.generation == seen).unwrap();
            seen = s.generation;
            s.acked += 1;
            if s.acked == waiters {
                self.1[1].notify_one();
            }
            if s.stop {
                return;
            }
        }
    }
}

impl Cv for PlCv {
    fn notify_empty(&self) {
        black_box(self.1[0].notify_one());
    }
    fn ping(&self) {
        let mut s = self.0.lock();
        s.turn = 1;
        self.1[1].notify_one();
        self.1[0].wait_while(&mut s, |s| s.turn != 0);
    }
    fn pong(&self) {
        let mut s = self.0.lock();
        self.1[1].wait_while(&mut s, |s| s.turn != 1);
        s.turn = 0;
        self.1[0].notify_one();
    }
    fn broadcast(&self, waiters: usize, stop: bool) {
        let mut s = self.0.lock();
        s.generation += 1;
        s.acked = 0;
        s.stop = stop;
        self.1[0].notify_all();
        self.1[1].wait_while(&mut s, |s| s.acked < waiters);
    }
    fn serve(&self, waiters: usize) {
        let mut s = self.0.lock();
        let mut seen = 0;
        loop {
            self.1[0].wait_while(&mut s, |s| s.generation == seen);
            seen = s.generation;
            s.acked += 1;
            if s.acked == waiters {
                self.1[1].notify_one();
            }
            if s.stop {
                return;
            }
        }
    }
}

fn notify_empty<C: Cv>(n: u64) -> (Duration, u64) {
    let cv = C::default();
    let start = Instant::now();
    for _ in 0..n {
        black_box(&cv).notify_empty();
    }
    (start.elapsed(), n)
}

/// Round trips main -> partner -> main through one mutex and two condvars.
fn pingpong<C: Cv>(n: u64) -> (Duration, u64) {
    let cv = Arc::new(C::default());
    let barrier = Arc::new(Barrier::new(2));
    let partner = {
        let (cv, barrier) = (cv.clone(), barrier.clone());
        thread::spawn(move || {
            barrier.wait();
            for _ in 0..n {
                cv.pong();
            }
        })
    };
    barrier.wait();
    let start = Instant::now();
    for _ in 0..n {
        cv.ping();
    }
    let took = start.elapsed();
    partner.join().unwrap();
    (took, n)
}

/// `n` rounds of: notify_all to `waiters` threads, wait until all have re-acquired the mutex.
fn notify_all<C: Cv>(waiters: usize, n: u64) -> (Duration, u64) {
    let cv = Arc::new(C::default());
    let handles: Vec<_> = (0..waiters)
        .map(|_| {
            let cv = cv.clone();
            thread::spawn(move || cv.serve(waiters))
        })
        .collect();
    // A first round, untimed, returns only once every waiter has started and waits again.
    cv.broadcast(waiters, false);
    let start = Instant::now();
    for _ in 0..n {
        cv.broadcast(waiters, false);
    }
    let took = start.elapsed();
    cv.broadcast(waiters, true);
    for h in handles {
        h.join().unwrap();
    }
    (took, n)
}

// ---------------------------------------------------------------------------------------
// Wait-channel cases

fn wakeup_empty_wchan(n: u64) -> (Duration, u64) {
    let id = 0u64;
    let start = Instant::now();
    for _ in 0..n {
        let _ = black_box(wakeup(black_box(&id), 1));
    }
    (start.elapsed(), n)
}

fn wakeup_empty_plc(n: u64) -> (Duration, u64) {
    let id = 0u64;
    let start = Instant::now();
    for _ in 0..n {
        let key = black_box(&id) as *const u64 as usize;
        // SAFETY: no thread parks on `key`, and the callback does not call into
        // parking_lot_core (the two rules of `unpark_one`).
        black_box(unsafe { parking_lot_core::unpark_one(key, |_| parking_lot_core::DEFAULT_UNPARK_TOKEN) });
    }
    (start.elapsed(), n)
}

/// Two threads passing a turn by sleeping on and waking two channels.
trait Chan: Default + Send + Sync + 'static {
    /// Gives the turn to `to` and wakes it.
    fn give(&self, to: u32);
    /// Sleeps until the turn is `me`.
    fn take(&self, me: u32);
}

/// wchan: the turn under a `SpinLock`, whose guard the sleeper hands to `Sleep::unlocking`.
#[derive(Default)]
struct WchanChan {
    turn: SpinLock<u32>,
    ids: [u64; 2],
}

impl Chan for WchanChan {
    fn give(&self, to: u32) {
        *self.turn.lock() = to;
        // After the unlock: a sleeper that saw the old turn was queued before it let go.
        let _ = wakeup(&self.ids[to as usize], 1);
    }
    fn take(&self, me: u32) {
        let mut turn = self.turn.lock();
        while *turn != me {
            Sleep::on(&self.ids[me as usize]).unlocking(turn).wait().unwrap();
            turn = self.turn.lock();
        }
    }
}

/// parking_lot_core: the turn in an atomic that `park`'s validate re-reads under its lock.
#[derive(Default)]
struct PlcChan {
    turn: AtomicU32,
    ids: [u64; 2],
}

impl Chan for PlcChan {
    fn give(&self, to: u32) {
        // Release: the partner's Acquire load sees everything before the hand-over.
        self.turn.store(to, Ordering::Release);
        let key = &self.ids[to as usize] as *const u64 as usize;
        // SAFETY: the callback does not call into parking_lot_core.
        unsafe { parking_lot_core::unpark_one(key, |_| parking_lot_core::DEFAULT_UNPARK_TOKEN) };
    }
    fn take(&self, me: u32) {
        let key = &self.ids[me as usize] as *const u64 as usize;
        // Acquire: pairs with the Release store in `give`.
        while self.turn.load(Ordering::Acquire) != me {
            // SAFETY: validate only reads an atomic; before_sleep and timed_out do nothing;
            // none of them calls into parking_lot_core or panics.
            unsafe {
                parking_lot_core::park(
                    key,
                    || self.turn.load(Ordering::Relaxed) != me,
                    || {},
                    |_, _| {},
                    parking_lot_core::DEFAULT_PARK_TOKEN,
                    None,
                );
            }
        }
    }
}

/// Round trips: main wakes the partner, which wakes main at once; time per round trip.
fn roundtrip<C: Chan>(n: u64) -> (Duration, u64) {
    let chan = Arc::new(C::default());
    let barrier = Arc::new(Barrier::new(2));
    let partner = {
        let (chan, barrier) = (chan.clone(), barrier.clone());
        thread::spawn(move || {
            barrier.wait();
            for _ in 0..n {
                chan.take(1);
                chan.give(0);
            }
        })
    };
    barrier.wait();
    let start = Instant::now();
    for _ in 0..n {
        chan.give(1);
        chan.take(0);
    }
    let took = start.elapsed();
    partner.join().unwrap();
    (took, n)
}

/// Threads asleep on channels of their own, none of which the measured cases use.
struct Sleepers {
    ids: Arc<Vec<u64>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Sleepers {
    /// Starts `n` sleepers (64 KiB stacks) and returns once every one of them is queued.
    fn start(n: usize) -> Sleepers {
        let ids: Arc<Vec<u64>> = Arc::new(vec![0; n]);
        // The number of sleepers that have queued: each raises it and sleeps, handing the
        // guard to `unlocking`, so once it reads `n` under the lock all `n` are queued.
        let queued = Arc::new(SpinLock::new(0usize));
        let threads = (0..n)
            .map(|i| {
                let (ids, queued) = (ids.clone(), queued.clone());
                thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(move || {
                        let mut count = queued.lock();
                        *count += 1;
                        Sleep::on(&ids[i]).unlocking(count).wait().unwrap();
                    })
                    .expect("spawning a sleeper thread")
            })
            .collect();
        while *queued.lock() < n {
            thread::sleep(Duration::from_millis(1));
        }
        Sleepers { ids, threads }
    }

    fn stop(self) {
        for id in self.ids.iter() {
            assert_eq!(wakeup(id, 0), Ok(1), "each sleeper is still asleep on its own id");
        }
        for t in self.threads {
            t.join().unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Output

fn value(rows: &[Row], case: &str, imp: &str) -> Option<f64> {
    rows.iter().find(|r| r.case == case && r.imp == imp).map(|r| r.median)
}

/// wchan's value over the best (lowest) other implementation's, if there is another.
fn ratio(rows: &[Row], case: &str) -> Option<f64> {
    let best = IMPLS[1..].iter().filter_map(|imp| value(rows, case, imp)).min_by(f64::total_cmp)?;
    Some(value(rows, case, "wchan")? / best)
}

fn print_table(rows: &[Row]) {
    let mut cases: Vec<&str> = Vec::new();
    for r in rows {
        if !cases.contains(&r.case) {
            cases.push(r.case);
        }
    }
    println!("{:<22} {:>12} {:>12} {:>12} {:>17} {:>11}", "case", IMPLS[0], IMPLS[1], IMPLS[2], IMPLS[3], "wchan/best");
    for case in cases {
        let unit = rows.iter().find(|r| r.case == case).map_or("", |r| r.unit);
        let cell = |imp| match value(rows, case, imp) {
            Some(v) if unit == "bytes" => format!("{v} B"),
            Some(v) => format!("{v:.1} ns"),
            None => "-".to_string(),
        };
        let ratio = ratio(rows, case).map_or("-".to_string(), |r| format!("{r:.2}x"));
        println!(
            "{case:<22} {:>12} {:>12} {:>12} {:>17} {:>11}",
            cell("wchan"),
            cell("std"),
            cell("parking_lot"),
            cell("parking_lot_core"),
            ratio
        );
    }
}

/// The targets of issue 5, each with the measured ratio.
fn print_targets(rows: &[Row]) {
    let get = |case, imp| value(rows, case, imp).unwrap_or(f64::NAN);
    let best = |case| get(case, "std").min(get(case, "parking_lot"));
    let w = |case| get(case, "wchan");
    println!("\ntargets (ratios from this run):");
    let check = |name: &str, ratio: f64, met: bool, bar: &str| {
        println!("  {:<5} {name:<46} {ratio:>6.2}x  (bar: {bar})", if met { "met" } else { "MISSED" });
    };
    let r = w("mutex_uncontended") / best("mutex_uncontended");
    check("mutex uncontended: wchan / best of std, parking_lot", r, r <= 1.0, "<= 1");
    for case in ["mutex_contended_2", "mutex_contended_8"] {
        let r = w(case) / best(case);
        check(&format!("{case}: wchan / best of std, parking_lot"), r, r <= 1.0, "<= 1");
    }
    let r = get("condvar_notify_empty", "std") / w("condvar_notify_empty");
    check("condvar notify, no waiters: std / wchan", r, r >= 10.0, ">= 10");
    let r = w("condvar_pingpong") / get("condvar_pingpong", "std");
    check("condvar ping-pong: wchan / std", r, r <= 1.0, "<= 1");
    let r = get("wakeup_empty", "parking_lot_core") / w("wakeup_empty");
    check("wakeup, no sleepers: parking_lot_core / wchan", r, r >= 2.0, ">= 2");
    let r = w("sleep_wake_roundtrip") / get("sleep_wake_roundtrip", "parking_lot_core");
    check("sleep/wake round trip: wchan / parking_lot_core", r, r <= 1.1, "<= 1.1");
    let r = w("wake_latency_10000") / w("wake_latency_0");
    check("wake latency: 10,000 sleepers / none", r, r <= 1.5, "<= 1.5");
    let (m, c) = (w("size_mutex"), w("size_condvar"));
    check("size_of wchan::Mutex<()> (bytes)", m, m == 1.0, "== 1");
    check("size_of wchan::Condvar (bytes)", c, c <= 8.0, "<= 8");
}

// ---------------------------------------------------------------------------------------
// Chart

/// Measures contended throughput of the three mutexes at 1, 2, 4 and 8 threads (one lock,
/// the same short critical section as `mutex_contended_*`) and draws it into `file`.
fn draw_chart(plan: &Plan, file: &str) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;

    type WMutex = wchan::Mutex<u64>;
    type SMutex = std::sync::Mutex<u64>;
    type PMutex = parking_lot::Mutex<u64>;
    let names = ["wchan", "std", "parking_lot"];
    let mut series: Vec<Vec<(f64, f64)>> = vec![Vec::new(); names.len()];
    for threads in [1, 2, 4, 8] {
        let medians = measure(
            plan,
            vec![
                runner(names[0], move |n| contended::<WMutex>(threads, 1, n)),
                runner(names[1], move |n| contended::<SMutex>(threads, 1, n)),
                runner(names[2], move |n| contended::<PMutex>(threads, 1, n)),
            ],
        );
        for (i, (imp, ns)) in medians.into_iter().enumerate() {
            eprintln!("  {threads} threads  {imp:<12} {ns:>8.1} ns per acquisition");
            // ns per acquisition -> million acquisitions per second.
            series[i].push((threads as f64, 1e3 / ns));
        }
    }
    let top = series.iter().flatten().map(|p| p.1).fold(0.0, f64::max) * 1.15;

    let root = SVGBackend::new(file, (760, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Contended mutex throughput (one lock, short critical section, 2 cores)", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.5f64..8.5f64, 0f64..top)?;
    chart
        .configure_mesh()
        .x_desc("threads")
        .y_desc("million acquisitions / s (higher is better)")
        .x_labels(8)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()?;
    let colors = [RED, BLUE, GREEN];
    for ((name, points), color) in names.iter().zip(&series).zip(colors) {
        chart
            .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.9)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}
