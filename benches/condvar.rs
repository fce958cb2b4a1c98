//! Condvar benchmarks: wchan::Condvar against std::sync::Condvar and parking_lot::Condvar,
//! each with its own library's mutex.
//!
//! `cargo bench --bench condvar`. Groups:
//! - `condvar_notify_one_empty`, `condvar_notify_all_empty`: a notify with no thread waiting;
//! - `condvar_pingpong`: a round trip main -> partner -> main, each side waiting for its turn
//!   on its own condvar under one mutex;
//! - `condvar_notify_all/<impl>/8`: `notify_all` to 8 waiters, timed until every one of them
//!   has re-acquired the mutex, seen the new generation and gone back to waiting.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// What the cases share under the mutex.
#[derive(Default)]
struct State {
    /// Ping-pong: whose turn it is (0: main, 1: partner).
    turn: u32,
    /// notify_all: the broadcast generation and how many waiters have seen it.
    generation: u64,
    acked: usize,
    stop: bool,
}

/// A mutex and two condvars of one library; each implements the same protocols.
trait Cv: Default + Send + Sync + 'static {
    const NAME: &'static str;
    fn notify_one_empty(&self);
    fn notify_all_empty(&self);
    /// Main side of a round trip: give the turn to the partner, wait to get it back.
    fn ping(&self);
    /// Partner side: wait for the turn, give it back.
    fn pong(&self);
    /// Bumps the generation, notifies all, waits until `waiters` threads have seen it.
    fn broadcast(&self, waiters: usize, stop: bool);
    /// Waiter side: see every generation once, until told to stop.
    fn serve(&self, waiters: usize);
}

#[derive(Default)]
struct WchanCv(wchan::Mutex<State>, [wchan::Condvar; 2]);
#[derive(Default)]
struct StdCv(std::sync::Mutex<State>, [std::sync::Condvar; 2]);
#[derive(Default)]
struct PlCv(parking_lot::Mutex<State>, [parking_lot::Condvar; 2]);

impl Cv for WchanCv {
    const NAME: &'static str = "wchan";
    fn notify_one_empty(&self) {
        black_box(self.1[0].notify_one());
    }
    fn notify_all_empty(&self) {
        black_box(self.1[0].notify_all());
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
    const NAME: &'static str = "std";
    fn notify_one_empty(&self) {
        self.1[0].notify_one();
    }
    fn notify_all_empty(&self) {
        self.1[0].notify_all();
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
    const NAME: &'static str = "parking_lot";
    fn notify_one_empty(&self) {
        black_box(self.1[0].notify_one());
    }
    fn notify_all_empty(&self) {
        black_box(self.1[0].notify_all());
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

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn notify_empty(c: &mut Criterion) {
    fn one<C: Cv>(g: &mut Group<'_>, all: bool) {
        let cv = C::default();
        if all {
            g.bench_function(C::NAME, |b| b.iter(|| black_box(&cv).notify_all_empty()));
        } else {
            g.bench_function(C::NAME, |b| b.iter(|| black_box(&cv).notify_one_empty()));
        }
    }
    for (name, all) in [("condvar_notify_one_empty", false), ("condvar_notify_all_empty", true)] {
        let mut g = c.benchmark_group(name);
        one::<WchanCv>(&mut g, all);
        one::<StdCv>(&mut g, all);
        one::<PlCv>(&mut g, all);
        g.finish();
    }
}

/// `iters` round trips between this thread and a partner started on a barrier.
fn pingpong_time<C: Cv>(iters: u64) -> Duration {
    let cv = Arc::new(C::default());
    let barrier = Arc::new(Barrier::new(2));
    let partner = {
        let (cv, barrier) = (cv.clone(), barrier.clone());
        thread::spawn(move || {
            barrier.wait();
            for _ in 0..iters {
                cv.pong();
            }
        })
    };
    barrier.wait();
    let start = Instant::now();
    for _ in 0..iters {
        cv.ping();
    }
    let took = start.elapsed();
    partner.join().unwrap();
    took
}

fn pingpong(c: &mut Criterion) {
    fn one<C: Cv>(g: &mut Group<'_>) {
        g.bench_function(C::NAME, |b| b.iter_custom(pingpong_time::<C>));
    }
    let mut g = c.benchmark_group("condvar_pingpong");
    one::<WchanCv>(&mut g);
    one::<StdCv>(&mut g);
    one::<PlCv>(&mut g);
    g.finish();
}

/// `iters` broadcasts to `waiters` threads, each timed until all of them re-acquired the
/// mutex. The waiters start on an untimed first broadcast, which returns once all wait.
fn notify_all_time<C: Cv>(waiters: usize, iters: u64) -> Duration {
    let cv = Arc::new(C::default());
    let handles: Vec<_> = (0..waiters)
        .map(|_| {
            let cv = cv.clone();
            thread::spawn(move || cv.serve(waiters))
        })
        .collect();
    cv.broadcast(waiters, false);
    let start = Instant::now();
    for _ in 0..iters {
        cv.broadcast(waiters, false);
    }
    let took = start.elapsed();
    cv.broadcast(waiters, true);
    for h in handles {
        h.join().unwrap();
    }
    took
}

fn notify_all(c: &mut Criterion) {
    fn one<C: Cv>(g: &mut Group<'_>, waiters: usize) {
        g.bench_with_input(BenchmarkId::new(C::NAME, waiters), &waiters, |b, &waiters| {
            b.iter_custom(|iters| notify_all_time::<C>(waiters, iters))
        });
    }
    let mut g = c.benchmark_group("condvar_notify_all");
    one::<WchanCv>(&mut g, 8);
    one::<StdCv>(&mut g, 8);
    one::<PlCv>(&mut g, 8);
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = notify_empty, pingpong, notify_all
}
criterion_main!(benches);
