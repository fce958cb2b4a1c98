//! How many CPUs this process may run on: how many waiters `Condvar::notify_all` wakes at
//! once (more could not run at once anyway; the rest are moved onto the mutex), and whether
//! the mutex's spin before parking can help at all (not on one CPU).
//!
//! Read once, without allocating (std's `available_parallelism` reads cgroup files into
//! heap strings on Linux), and cached; a change of the process's CPU affinity afterwards is
//! not seen, which only changes how many waiters a broadcast wakes directly and whether a
//! locker pauses or yields while it spins.
//!
//! Linux keeps an affinity mask per thread, not per process. The count is that of the union
//! of two masks: the asking thread's and the main thread's (whose thread id is the process
//! id). So a thread pinned to one CPU that happens to ask first does not make the whole
//! process count as one CPU (`tests/cpus_first_asker.rs`); only a process whose main thread
//! and first asker are both confined to one CPU counts as one.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The cap: beyond it, a `notify_all` that wakes them one system call each would hold its
/// caller up for longer than moving them costs.
const MAX: usize = 64;

/// 0 until first read.
static CACHED: AtomicUsize = AtomicUsize::new(0);

/// The CPUs this process may run on, at least 1 and at most [`MAX`]. 1 under loom, so the
/// models keep exercising the requeue of every waiter but the first.
pub(crate) fn runnable() -> usize {
    if crate::loom::LOOM {
        return 1;
    }
    // Relaxed: a cached fact; two threads that both miss it compute the same value.
    match CACHED.load(Ordering::Relaxed) {
        0 => {
            let n = query().clamp(1, MAX);
            CACHED.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// The CPUs in the union of this thread's affinity mask and the main thread's (which
/// `taskset` and cpusets restrict). Either read may fail (the main thread may have exited);
/// the other then counts alone, and if both fail, the CPUs online.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn query() -> usize {
    // SAFETY: `getpid` has no preconditions.
    let main_thread = unsafe { libc::getpid() };
    match (mask_of(0), mask_of(main_thread)) {
        (Some(mut own), Some(main)) => {
            for cpu in 0..libc::CPU_SETSIZE as usize {
                #[allow(unused_unsafe)] // safe fns in some libc versions
                // SAFETY: `cpu` is below `CPU_SETSIZE`, and both sets are initialised.
                unsafe {
                    if libc::CPU_ISSET(cpu, &main) {
                        libc::CPU_SET(cpu, &mut own);
                    }
                }
            }
            count(&own)
        }
        (Some(one), None) | (None, Some(one)) => count(&one),
        (None, None) => online(),
    }
}

/// The affinity mask of thread `tid` (0: the calling thread), or None if it cannot be read.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn mask_of(tid: libc::pid_t) -> Option<libc::cpu_set_t> {
    // SAFETY: an all-zero `cpu_set_t` is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a live, writable `cpu_set_t` of the size passed.
    let rc = unsafe { libc::sched_getaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    (rc == 0).then_some(set)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn count(set: &libc::cpu_set_t) -> usize {
    #[allow(unused_unsafe)] // `CPU_COUNT` is a safe fn in some libc versions
    // SAFETY: `set` is an initialised `cpu_set_t`.
    let n = unsafe { libc::CPU_COUNT(set) };
    usize::try_from(n).unwrap_or(1)
}

/// The CPUs online, where no affinity mask is read.
#[cfg(unix)]
fn online() -> usize {
    // SAFETY: `sysconf` has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1)
}

#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
fn query() -> usize {
    online()
}

#[cfg(windows)]
fn query() -> usize {
    use windows_sys::Win32::System::SystemInformation::{GetSystemInfo, SYSTEM_INFO};
    // SAFETY: an all-zero SYSTEM_INFO is a valid value for GetSystemInfo to overwrite.
    let mut info: SYSTEM_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a live, writable SYSTEM_INFO.
    unsafe { GetSystemInfo(&mut info) };
    info.dwNumberOfProcessors as usize
}

/// wasm and other targets without threads or without a CPU count: one.
#[cfg(not(any(unix, windows)))]
fn query() -> usize {
    1
}
