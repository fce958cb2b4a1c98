//! With the `tracing` feature and a subscriber that enables DEBUG for wchan, `Sleep::wait`,
//! `wakeup` and `thread::sleep` each emit one debug event with the documented fields.
//! (`cargo test --features tracing --test tracing_events`)
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{span, Event, Level, Metadata, Subscriber};
use wchan::{wakeup, Clock, Deadline, Error, Sleep, SpinLock, Timespec};

#[derive(Clone, Debug)]
struct Captured {
    target: String,
    level: Level,
    fields: BTreeMap<String, String>,
}

impl Captured {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
    fn num(&self, name: &str) -> u64 {
        self.get(name).unwrap_or_else(|| panic!("no field {name} in {self:?}")).parse().unwrap()
    }
}

/// Records every enabled event's target, level and fields (as strings).
struct Capture {
    events: Mutex<Vec<Captured>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
}

impl Subscriber for &'static Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("wchan") && *metadata.level() <= Level::DEBUG
    }
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::DEBUG)
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let meta = event.metadata();
        let c = Captured { target: meta.target().into(), level: *meta.level(), fields };
        self.events.lock().unwrap().push(c);
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

/// The process-wide capturing subscriber (tests run on several threads).
fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let c: &'static Capture = Box::leak(Box::new(Capture { events: Mutex::new(Vec::new()) }));
        tracing::subscriber::set_global_default(c).expect("first subscriber");
        c
    })
}

/// The captured events of `target` whose `chan` is `chan`.
fn events_on(target: &str, chan: *const u8) -> Vec<Captured> {
    let chan = format!("{:?}", chan.cast::<()>());
    let events = capture().events.lock().unwrap();
    events.iter().filter(|e| e.target == target && e.get("chan") == Some(chan.as_str())).cloned().collect()
}

#[test]
fn a_woken_sleep_and_its_wakeup_are_recorded() {
    static CHAN: SpinLock<bool> = SpinLock::new(false);
    capture();
    let far = Deadline::new(Clock::Realtime, Timespec::new(4_000_000_000, 123_456_789)).unwrap();
    let sleeper = std::thread::spawn(move || {
        let mut asleep = CHAN.lock();
        *asleep = true;
        Sleep::on(&CHAN).unlocking(asleep).until(far).wait()
    });
    loop {
        let asleep = CHAN.lock();
        if *asleep {
            assert_eq!(wakeup(&CHAN, 1), Ok(1));
            break;
        }
        drop(asleep);
        std::thread::yield_now();
    }
    assert_eq!(sleeper.join().unwrap(), Ok(()));
    let chan = (&CHAN as *const SpinLock<bool>).cast::<u8>();

    let sleeps = events_on("wchan::sleep", chan);
    assert_eq!(sleeps.len(), 1, "{sleeps:?}");
    let s = &sleeps[0];
    assert_eq!(s.level, Level::DEBUG);
    assert_eq!(s.get("outcome"), Some("woken"));
    assert_eq!(s.get("clock"), Some("realtime"));
    assert_eq!(s.num("deadline_sec"), 4_000_000_000);
    assert_eq!(s.num("deadline_nsec"), 123_456_789);
    assert_eq!(s.get("unlocking"), Some("true"));
    assert_eq!(s.get("abort"), Some("false"));
    assert!(s.num("slept_ns") > 0);

    let wakes = events_on("wchan::wakeup", chan);
    assert_eq!(wakes.len(), 1, "{wakes:?}");
    let w = &wakes[0];
    assert_eq!(w.level, Level::DEBUG);
    assert_eq!((w.num("requested"), w.num("woken"), w.get("outcome")), (1, 1, Some("woken")));
}

#[test]
fn a_timed_out_sleep_records_its_clock_deadline_and_time_slept() {
    static CHAN: u8 = 0;
    capture();
    let deadline = Deadline::after(Duration::from_millis(5));
    assert_eq!(Sleep::on(&CHAN).until(deadline).wait(), Err(Error::TimedOut));
    let sleeps = events_on("wchan::sleep", &CHAN);
    assert_eq!(sleeps.len(), 1, "{sleeps:?}");
    let s = &sleeps[0];
    assert_eq!(s.get("outcome"), Some("timed_out"));
    assert_eq!(s.get("clock"), Some("monotonic"));
    assert_eq!(s.num("deadline_sec") as i64, deadline.at().sec);
    assert_eq!(s.num("deadline_nsec") as i64, deadline.at().nsec);
    assert_eq!(s.get("unlocking"), Some("false"));
    // The deadline was 5 ms after a moment just before the sleep started.
    assert!(s.num("slept_ns") >= 4_000_000, "{s:?}");
}

#[test]
fn an_interrupted_sleep_without_deadline_has_no_clock_fields() {
    static CHAN: u8 = 0;
    capture();
    let flag = AtomicBool::new(true);
    assert_eq!(Sleep::on(&CHAN).abort_if(&flag).wait(), Err(Error::Interrupted));
    let sleeps = events_on("wchan::sleep", &CHAN);
    assert_eq!(sleeps.len(), 1, "{sleeps:?}");
    let s = &sleeps[0];
    assert_eq!(s.get("outcome"), Some("interrupted"));
    assert_eq!(s.get("abort"), Some("true"));
    assert_eq!((s.get("clock"), s.get("deadline_sec"), s.get("deadline_nsec")), (None, None, None));
}

#[test]
fn a_wakeup_of_nobody_and_an_invalid_one_are_recorded() {
    static CHAN: u8 = 0;
    capture();
    assert_eq!(wakeup(&CHAN, 0), Err(Error::NoWaiters));
    let wakes = events_on("wchan::wakeup", &CHAN);
    assert_eq!(wakes.len(), 1, "{wakes:?}");
    assert_eq!((wakes[0].num("requested"), wakes[0].num("woken"), wakes[0].get("outcome")), (0, 0, Some("no_waiters")));

    assert_eq!(wakeup(std::ptr::null::<u8>(), 3), Err(Error::InvalidArgument));
    let invalid: Vec<_> =
        events_on("wchan::wakeup", std::ptr::null()).into_iter().filter(|e| e.get("requested") == Some("3")).collect();
    assert_eq!(invalid.len(), 1, "{invalid:?}");
    assert_eq!(invalid[0].get("outcome"), Some("invalid_argument"));
}

#[test]
fn thread_sleep_records_requested_slept_and_left() {
    capture();
    let requested = Duration::from_nanos(7_000_001); // unique among the tests
    assert_eq!(wchan::thread::sleep(requested), Duration::ZERO);
    let events = capture().events.lock().unwrap().clone();
    let mine: Vec<_> =
        events.iter().filter(|e| e.target == "wchan::thread" && e.get("requested_ns") == Some("7000001")).collect();
    assert_eq!(mine.len(), 1, "{events:?}");
    let t = mine[0];
    assert_eq!(t.level, Level::DEBUG);
    assert_eq!((t.num("left_ns"), t.get("outcome")), (0, Some("elapsed")));
    assert!(t.num("slept_ns") >= 7_000_001, "{t:?}");
}
