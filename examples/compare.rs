//! wchan side by side with `std::sync`, `parking_lot` and `parking_lot_core`, in one run.
//!
//! ```text
//! cargo run --release --example compare                     # about a minute, a table
//! cargo run --release --example compare -- --quick          # under 20 s, fewer samples
//! cargo run --release --example compare -- --csv            # lines `case,impl,median,unit`
//! cargo run --release --example compare -- --only pool_jobs # the cases matching a text
//! ```
//!
//! The workloads are `benches/workloads/mod.rs`, shared with the criterion benches. Every
//! case is timed the same way for every implementation: a calibration run picks an operation
//! count that fills one sample, then several samples are taken, in turns (one of each
//! implementation, each round starting with the next one), and the median time per operation
//! is reported. Multi-threaded cases start all threads on a barrier and time from the
//! barrier's release to the last thread's end, so thread start-up is not counted. The
//! round-trip cases pin their two threads to one CPU (`_2cpu`: to two), see
//! `docs/benchmarks.md` for why. Lower is better everywhere; the last column is wchan's
//! median divided by the best other implementation's (below 1: wchan is faster or smaller),
//! and the issue's targets are printed as met or missed for this run. Last come the machine
//! (CPU model, from `/proc/cpuinfo` on Linux) and how many CPUs were free to run at once,
//! before and after (a warning when other load took some).

use std::process::ExitCode;
use std::time::{Duration, Instant};

#[path = "../benches/workloads/mod.rs"]
mod workloads;

use workloads::{
    roundtrip, wakeup_empty_plc, wakeup_empty_wchan, Pin, PlM, PlcLocked, PlcPark, Sleepers, StdM, WchanFlag, WchanM,
    WchanSleep,
};

const USAGE: &str = "usage: compare [--quick] [--csv] [--switches] [--only TEXT] [--chart FILE.svg]
  --quick        fewer and shorter samples (under 20 s)
  --switches     also print the voluntary context switches per operation of every cell
                 (getrusage; Unix only)
  --only TEXT    only what `CASE/IMPL` (e.g. `pool_jobs_8/wchan`) contains TEXT
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
    /// Median voluntary context switches of the whole process per operation (`getrusage`).
    switches: f64,
}

fn main() -> ExitCode {
    let (mut quick, mut csv, mut switches, mut chart, mut only) = (false, false, false, None, String::new());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--csv" => csv = true,
            "--switches" => switches = true,
            "--only" => match args.next() {
                Some(text) => only = text,
                None => {
                    eprintln!("compare: --only needs a text\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
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
    let free_before = free_cpus();
    let rows = run_all(&plan, &only);
    let free_after = free_cpus();
    if csv {
        println!("case,impl,median,unit");
        for r in &rows {
            let value = if r.unit == "bytes" { format!("{}", r.median) } else { format!("{:.1}", r.median) };
            println!("{},{},{},{}", r.case, r.imp, value, r.unit);
        }
        eprintln!("{}", machine()); // not a CSV line
        for line in free_cpus_report(free_before, free_after) {
            eprintln!("{line}"); // not a CSV line
        }
    } else {
        print_table(&rows);
        if switches {
            print_switches(&rows);
        }
        print_targets(&rows);
        println!("\n{} samples per cell, {:.0} s in all", plan.samples, started.elapsed().as_secs_f64());
        println!("{}", machine());
        for line in free_cpus_report(free_before, free_after) {
            println!("{line}");
        }
    }
    ExitCode::SUCCESS
}

/// The machine the run measured, for the record: results depend on the CPU model (in
/// `docs/benchmarks.md` the same code meets a mutex bar on one x86-64 model and misses it on
/// another, "A second machine: Zen 5"). From `/proc/cpuinfo` on Linux; elsewhere the target only.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
        return format!("machine: {} {}, {cpus} CPUs", std::env::consts::OS, std::env::consts::ARCH);
    };
    // The first processor's fields (x86: `model name`, `cpu family`, `model`; other
    // architectures name theirs differently, and what is missing is left out).
    let field = |name: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    let mut parts = vec![field("model name").unwrap_or_else(|| std::env::consts::ARCH.to_string())];
    if let (Some(family), Some(model)) = (field("cpu family"), field("model")) {
        parts.push(format!("family {family} model {model}"));
    }
    parts.push(format!("{cpus} CPUs"));
    if let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        parts.push(format!("Linux {}", release.trim()));
    }
    format!("machine: {}", parts.join(", "))
}

/// How many CPUs this run could really use at once: `k` threads (one per CPU the process
/// may use, at most 8) each run the same fixed loop, and the result is `k` times one thread's
/// time alone over the `k` threads' time together. Another busy process, or a host that
/// time-slices this VM's vCPUs onto fewer physical CPUs, shows as a value well below `k`
/// (the guest kernel may not report the host's share as steal time). Returns (measured, k).
fn free_cpus() -> (f64, usize) {
    fn spin(n: u64) {
        let mut x = 1u64;
        for i in 0..n {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
        }
    }
    let k = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let n = 5_000_000;
    let mut best = 0.0f64;
    for _ in 0..3 {
        let start = Instant::now();
        spin(n);
        let alone = start.elapsed();
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..k {
                s.spawn(|| spin(n));
            }
        });
        let together = start.elapsed();
        best = best.max(k as f64 * alone.as_secs_f64() / together.as_secs_f64());
    }
    (best.min(k as f64), k)
}

/// What [`free_cpus`] measured before and after the run, and a warning when the
/// multi-threaded rows cannot be trusted (docs/benchmarks.md, "Which rows this VM's
/// scheduling limits").
fn free_cpus_report((before, k): (f64, usize), (after, _): (f64, usize)) -> Vec<String> {
    let mut lines = vec![format!("CPUs free to run at once: {before:.2} of {k} before the run, {after:.2} after")];
    if k > 1 && before.min(after) < 0.75 * k as f64 {
        lines.push(
            "warning: fewer CPUs than the process may use were free (another process, or the host \
             time-slicing this machine): the contended, queue, pool and broadcast rows measure \
             that time-slicing, not the libraries; rerun on an idle machine"
                .to_string(),
        );
    }
    lines
}

/// One implementation's workload: `run(n)` performs about `n` operations and returns the
/// time they took and how many it performed.
type Runner<'a> = (&'static str, Box<dyn FnMut(u64) -> (Duration, u64) + 'a>);

fn runner<'a>(imp: &'static str, run: impl FnMut(u64) -> (Duration, u64) + 'a) -> Runner<'a> {
    (imp, Box::new(run))
}

/// The three mutex + condvar implementations running one workload of `workloads`.
macro_rules! monitors {
    ($f:ident $(, $arg:expr)*) => {
        vec![
            runner("wchan", move |n| workloads::$f::<WchanM<_>>($($arg,)* n)),
            runner("std", move |n| workloads::$f::<StdM<_>>($($arg,)* n)),
            runner("parking_lot", move |n| workloads::$f::<PlM<_>>($($arg,)* n)),
        ]
    };
}

/// The three mutexes running one workload of `workloads`.
macro_rules! mutexes {
    ($f:ident $(, $arg:expr)*) => {
        vec![
            runner("wchan", move |n| workloads::$f::<wchan::Mutex<u64>>($($arg,)* n)),
            runner("std", move |n| workloads::$f::<std::sync::Mutex<u64>>($($arg,)* n)),
            runner("parking_lot", move |n| workloads::$f::<parking_lot::Mutex<u64>>($($arg,)* n)),
        ]
    };
}

fn run_all(plan: &Plan, only: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut case = |case: &'static str, unit: &'static str, mut runners: Vec<Runner<'_>>| {
        runners.retain(|(imp, _)| format!("{case}/{imp}").contains(only));
        if runners.is_empty() {
            return;
        }
        for (imp, median, switches) in measure(plan, runners) {
            eprintln!("  {case:<28} {imp:<17} {median:>10.1} {unit}");
            rows.push(Row { case, imp, median, unit, switches });
        }
    };
    case("mutex_uncontended", "ns", mutexes!(uncontended));
    case("mutex_contended_2", "ns", mutexes!(contended, 2, 1));
    case("mutex_contended_8", "ns", mutexes!(contended, 8, 1));
    case("mutex_many_locks_4", "ns", mutexes!(contended, 4, 64));
    case("condvar_notify_empty", "ns", monitors!(notify_empty));
    case("condvar_pingpong", "ns", monitors!(pingpong, Pin::SameCpu));
    case("condvar_notify_all_8", "ns", monitors!(notify_all, 8, false));
    case("condvar_notify_all_8_long", "ns", monitors!(notify_all, 8, true));
    case("queue_mpmc_4x4", "ns", monitors!(queue_mpmc, 4, 4));
    case("pool_jobs_8", "ns", monitors!(pool_jobs, 8));
    case("wakeup_empty", "ns", vec![runner("wchan", wakeup_empty_wchan), runner("parking_lot_core", wakeup_empty_plc)]);
    let roundtrips = |pin| {
        vec![
            runner("wchan", move |n| roundtrip::<WchanSleep>(pin, n)),
            runner("parking_lot_core", move |n| roundtrip::<PlcPark>(pin, n)),
        ]
    };
    case("sleep_wake_roundtrip", "ns", roundtrips(Pin::SameCpu));
    case("sleep_wake_roundtrip_2cpu", "ns", roundtrips(Pin::TwoCpus));
    // The same round trip over the face without the SpinLock: the turn is the abort flag.
    case(
        "sleep_wake_roundtrip_flag",
        "ns",
        vec![
            runner("wchan", |n| roundtrip::<WchanFlag>(Pin::SameCpu, n)),
            runner("parking_lot_core", |n| roundtrip::<PlcPark>(Pin::SameCpu, n)),
        ],
    );
    // The same round trip with the SpinLock on both sides: parking_lot_core releases it in
    // `before_sleep`, so the two libraries do the same work.
    case(
        "sleep_wake_roundtrip_locked",
        "ns",
        vec![
            runner("wchan", |n| roundtrip::<WchanSleep>(Pin::SameCpu, n)),
            runner("parking_lot_core", |n| roundtrip::<PlcLocked>(Pin::SameCpu, n)),
        ],
    );
    case("wake_latency_0", "ns", vec![runner("wchan", |n| roundtrip::<WchanSleep>(Pin::SameCpu, n))]);
    if "wake_latency_10000/wchan".contains(only) {
        let others = Sleepers::start(10_000, "wchan");
        case("wake_latency_10000", "ns", vec![runner("wchan", |n| roundtrip::<WchanSleep>(Pin::SameCpu, n))]);
        others.stop();
    }

    let mut sizes = |case: &'static str, values: [(&'static str, usize); 3]| {
        for (imp, bytes) in values {
            rows.push(Row { case, imp, median: bytes as f64, unit: "bytes", switches: 0.0 });
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
/// operation count grows until a run of at least 1,024 operations takes a tenth of a sample,
/// then is scaled to fill one.
/// Then the samples are taken in turns (one of each runner, then again, each round starting
/// with the next runner), so a burst of load from other processes on a shared machine, or a
/// scheduler state left by the previous sample, hits every implementation alike.
fn measure(plan: &Plan, mut runners: Vec<Runner<'_>>) -> Vec<(&'static str, f64, f64)> {
    let counts: Vec<u64> = runners
        .iter_mut()
        .map(|(_, run)| {
            let mut n = 1;
            loop {
                let (took, done) = run(n);
                // At least 1,024 operations: a run of a few, whose time is mostly its threads'
                // start-up on a loaded machine, would calibrate a multi-threaded case to a
                // handful of operations per sample and measure start-up instead.
                if (took >= plan.sample / 10 && n >= 1024) || n >= 1 << 32 {
                    let per_op = took.as_secs_f64() / done as f64;
                    break ((plan.sample.as_secs_f64() / per_op) as u64).max(1);
                }
                n *= 4;
            }
        })
        .collect();
    let k = runners.len();
    let mut per_op = vec![Vec::new(); k];
    let mut switches = vec![Vec::new(); k];
    for round in 0..plan.samples {
        for i in (0..k).map(|j| (round + j) % k) {
            let before = voluntary_switches();
            let (took, done) = (runners[i].1)(counts[i]);
            switches[i].push((voluntary_switches() - before) as f64 / done as f64);
            per_op[i].push(took.as_nanos() as f64 / done as f64);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    runners.iter().zip(per_op).zip(switches).map(|(((imp, _), t), s)| (*imp, median(t), median(s))).collect()
}

/// The voluntary context switches of this process so far (threads that have exited
/// included): each is a thread that blocked, in a futex wait, a sleep or I/O.
#[cfg(unix)]
fn voluntary_switches() -> i64 {
    // SAFETY: `getrusage` fills the zeroed struct it is given; RUSAGE_SELF is always valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; the pointer is to a live, writable `rusage`.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0;
    }
    usage.ru_nvcsw as i64
}

/// Not counted off Unix (no `getrusage`): `--switches` prints zeros there.
#[cfg(not(unix))]
fn voluntary_switches() -> i64 {
    0
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
    println!("{:<28} {:>12} {:>12} {:>12} {:>17} {:>11}", "case", IMPLS[0], IMPLS[1], IMPLS[2], IMPLS[3], "wchan/best");
    for case in cases {
        let unit = rows.iter().find(|r| r.case == case).map_or("", |r| r.unit);
        let cell = |imp| match value(rows, case, imp) {
            Some(v) if unit == "bytes" => format!("{v} B"),
            Some(v) => format!("{v:.1} ns"),
            None => "-".to_string(),
        };
        let ratio = ratio(rows, case).map_or("-".to_string(), |r| format!("{r:.2}x"));
        println!(
            "{case:<28} {:>12} {:>12} {:>12} {:>17} {:>11}",
            cell("wchan"),
            cell("std"),
            cell("parking_lot"),
            cell("parking_lot_core"),
            ratio
        );
    }
}

/// A switch rate for the table: three decimals, or two significant digits below 0.001,
/// where three decimals would print 0.000 for a lock whose lockers block once in a few
/// thousand acquisitions, each block costing microseconds.
fn switches_cell(v: f64) -> String {
    if v > 0.0 && v < 0.001 {
        format!("{v:.1e}")
    } else {
        format!("{v:.3}")
    }
}

/// `--switches`: the median voluntary context switches per operation of every cell, to tell a
/// row won by blocking less from one won by blocking faster.
fn print_switches(rows: &[Row]) {
    println!("\nvoluntary context switches per operation (median of the samples; whole process):");
    println!("{:<28} {:>12} {:>12} {:>12} {:>17}", "case", IMPLS[0], IMPLS[1], IMPLS[2], IMPLS[3]);
    let mut cases: Vec<&str> = Vec::new();
    for r in rows.iter().filter(|r| r.unit != "bytes") {
        if !cases.contains(&r.case) {
            cases.push(r.case);
        }
    }
    for case in cases {
        let cell = |imp| {
            rows.iter().find(|r| r.case == case && r.imp == imp).map_or("-".to_string(), |r| switches_cell(r.switches))
        };
        println!(
            "{case:<28} {:>12} {:>12} {:>12} {:>17}",
            cell("wchan"),
            cell("std"),
            cell("parking_lot"),
            cell("parking_lot_core")
        );
    }
}

/// The targets of issue 13, each with the ratio measured in this run. A target is met when
/// the median of the per-run ratios over several full runs meets the bar; one run only
/// shows where it stands.
fn print_targets(rows: &[Row]) {
    let get = |case, imp| value(rows, case, imp).unwrap_or(f64::NAN);
    let w = |case| get(case, "wchan");
    println!("\ntargets (issue 13; ratios from this run):");
    let check = |name: &str, ratio: f64, bar: f64| {
        if ratio.is_nan() {
            // `--only` left out a case the target needs: say so rather than "MISSED".
            println!("  {:<6} {name:<52} {:>7}  (bar: <= {bar})", "-", "not run");
            return;
        }
        let met = ratio <= bar;
        // Three decimals, or more when three would print the bar itself on the missed side
        // ("MISSED 1.000x" for a ratio of 1.0003, a 0.2 ns tie on `condvar_notify_empty`).
        let shown = if !met && format!("{ratio:.3}") == format!("{bar:.3}") {
            format!("{ratio:.5}")
        } else {
            format!("{ratio:.3}")
        };
        println!("  {:<6} {name:<52} {shown:>6}x  (bar: <= {bar})", if met { "met" } else { "MISSED" });
    };
    for case in [
        "mutex_uncontended",
        "mutex_many_locks_4",
        "condvar_notify_empty",
        "condvar_pingpong",
        "condvar_notify_all_8",
        "condvar_notify_all_8_long",
    ] {
        check(&format!("{case}: wchan / best of std, parking_lot"), ratio(rows, case).unwrap_or(f64::NAN), 1.0);
    }
    for case in ["mutex_contended_2", "mutex_contended_8", "queue_mpmc_4x4", "pool_jobs_8"] {
        check(&format!("{case}: wchan / best of std, parking_lot"), ratio(rows, case).unwrap_or(f64::NAN), 0.9);
    }
    let r = w("wakeup_empty") / get("wakeup_empty", "parking_lot_core");
    check("wakeup_empty: wchan / parking_lot_core", r, 0.5);
    let r = w("sleep_wake_roundtrip") / get("sleep_wake_roundtrip", "parking_lot_core");
    check("sleep_wake_roundtrip: wchan / parking_lot_core", r, 1.0);
    let r = w("wake_latency_10000") / w("wake_latency_0");
    check("wake latency: 10,000 sleepers / none", r, 1.5);
    let (m, c) = (w("size_mutex"), w("size_condvar")); // always recorded, `--only` or not
    println!(
        "  {:<6} {:<52} {m:>6} B  (bar: == 1)",
        if m == 1.0 { "met" } else { "MISSED" },
        "size_of wchan::Mutex<()>"
    );
    println!("  {:<6} {:<52} {c:>6} B  (bar: <= 8)", if c <= 8.0 { "met" } else { "MISSED" }, "size_of wchan::Condvar");
}

// ---------------------------------------------------------------------------------------
// Chart

/// Measures contended throughput of the three mutexes at 1, 2, 4 and 8 threads (one lock,
/// the same short critical section as `mutex_contended_*`) and draws it into `file`.
fn draw_chart(plan: &Plan, file: &str) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;

    let names = ["wchan", "std", "parking_lot"];
    let mut series: Vec<Vec<(f64, f64)>> = vec![Vec::new(); names.len()];
    for threads in [1, 2, 4, 8] {
        let medians = measure(plan, mutexes!(contended, threads, 1));
        for (i, (imp, ns, _)) in medians.into_iter().enumerate() {
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
