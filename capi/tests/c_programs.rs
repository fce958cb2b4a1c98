//! Compiles the C programs in `tests/c/` against the library cargo just built
//! (`libwchan_capi.a`, one also against `libwchan_capi.so`) with the system C compiler and
//! runs them, each with its own `alarm()` watchdog, as separate processes with real pthreads.
//! A program passes when it exits 0; each prints what failed otherwise.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// The directory holding the library cargo built for this test run (`target/<profile>/deps`,
/// where the test executable lives, or its parent).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps dir").to_path_buf();
    for dir in [deps.clone(), deps.parent().expect("profile dir").to_path_buf()] {
        if dir.join("libwchan_capi.a").exists() {
            return dir;
        }
    }
    panic!("libwchan_capi.a not found next to {}", exe.display());
}

fn c_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c")
}

fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".into())
}

/// Compiles `tests/c/<name>.c` into an executable; `shared` links the .so instead of the .a.
fn build(name: &str, shared: bool) -> PathBuf {
    let tag = if shared { format!("{name}-shared") } else { name.to_string() };
    build_with(name, &tag, shared, &cc(), &["-std=c11"])
}

/// [`build`] with a chosen compiler and language flags; `tag` names the executable.
fn build_with(name: &str, tag: &str, shared: bool, compiler: &str, lang: &[&str]) -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-programs");
    std::fs::create_dir_all(&out_dir).unwrap();
    let exe = out_dir.join(tag);
    let lib = lib_dir();
    let mut cmd = Command::new(compiler);
    cmd.args(lang)
        .args(["-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pthread"])
        .arg("-I")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("include"))
        .arg("-I")
        .arg(c_dir())
        .arg(c_dir().join(format!("{name}.c")))
        .args(["-x", "none"]) // what follows is not source, whatever `lang` said
        .arg("-o")
        .arg(&exe);
    if shared {
        cmd.arg(format!("-L{}", lib.display())).arg("-lwchan_capi").arg(format!("-Wl,-rpath,{}", lib.display()));
    } else {
        // The static library's own dependencies, as `rustc --print native-static-libs` lists them.
        cmd.arg(lib.join("libwchan_capi.a")).args(["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl"]);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("running {compiler}: {e}"));
    assert!(out.status.success(), "compiling {name}.c ({lang:?}) failed:\n{}", String::from_utf8_lossy(&out.stderr));
    exe
}

fn run(exe: &Path) -> Output {
    let start = Instant::now();
    let out = Command::new(exe).output().expect("run C program");
    eprintln!("{}: {:?} in {:?}", exe.display(), out.status, start.elapsed());
    out
}

fn passes(name: &str) {
    let out = run(&build(name, false));
    assert!(
        out.status.success(),
        "{name} failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{name}: ok")));
}

#[test]
fn every_error_number_and_what_it_does_to_the_lock() {
    passes("errors");
}

#[test]
fn wake_one_of_three_wakes_exactly_one_and_wake_zero_the_other_two() {
    passes("counts");
}

#[test]
fn handoff_under_contention_loses_no_wakeup() {
    passes("handoff");
}

#[test]
fn abort_flag_is_read_after_release_and_never_missed_and_signals_interrupt() {
    passes("abort");
}

#[test]
fn deadlines_on_both_clocks_never_return_early() {
    passes("deadline");
}

#[test]
fn spinlock_waiter_gets_the_lock_thrsleep_releases_without_burning_a_core() {
    passes("spinpark");
}

#[test]
fn openbsd_style_mutex_and_condvar_survive_producers_and_consumers() {
    passes("mutex_cond");
}

#[test]
fn shared_library_exports_the_abi() {
    let out = run(&build("errors", true));
    assert!(out.status.success(), "errors (shared) failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_panic_never_unwinds_into_c_it_aborts_with_a_message() {
    use std::os::unix::process::ExitStatusExt;
    let out = run(&build("panic", false));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "stderr:\n{stderr}");
    assert!(stderr.contains("_spinlock: lock") && stderr.contains("is not aligned for int"), "stderr:\n{stderr}");
    assert!(stderr.contains("wchan-capi: panic in _spinlock; aborting"), "stderr:\n{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("unreachable"));
}

/// The header on its own: strict ISO C99 and C11 without feature macros (`-pedantic`), and
/// C++11; the program also checks the constants and that each function links and runs.
#[test]
fn header_compiles_as_strict_c99_c11_and_cpp() {
    for (tag, compiler, lang) in [
        ("header-c99", cc(), vec!["-std=c99", "-pedantic"]),
        ("header-c11", cc(), vec!["-std=c11", "-pedantic"]),
        (
            "header-cpp",
            std::env::var("CXX").unwrap_or_else(|_| "c++".into()),
            vec!["-x", "c++", "-std=c++11", "-pedantic"],
        ),
    ] {
        let out = run(&build_with("header", tag, false, &compiler, &lang));
        assert!(out.status.success(), "{tag}: {:?}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn wchan_interrupt_from_a_signal_handler_always_ends_the_sleep() {
    passes("interrupt");
}
