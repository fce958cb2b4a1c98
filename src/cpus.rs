//! How many CPUs this process may run on: how many waiters `Condvar::notify_all` wakes at
//! once (more could not run at once anyway; the rest are moved onto the mutex), and whether
//! the mutex's spin before parking can help at all (not on one CPU).
//!
//! Read without allocating (std's `available_parallelism` reads cgroup files into heap
//! strings on Linux) and cached per thread: each thread reads the masks again after
//! [`REFRESH`] answers from its cache, so a change of affinity (a thread pinned, or unpinned,
//! after its first ask) is seen within that many asks. The asks are a contended lock's spin
//! (once per spin, not per step), a condvar wait that may spin (one with a budget, or due to
//! probe: `parker/adaptive.rs`) and a `notify_all` that finds waiters. A read is two system calls and a union, about 1.1 µs here: about a nanosecond
//! an ask.
//!
//! Linux keeps an affinity mask per thread, not per process. The count is that of the union
//! of two masks: the asking thread's and the main thread's (whose thread id is the process
//! id). So a thread pinned to one CPU that happens to ask first does not make the whole
//! process count as one CPU (`tests/cpus_pinned_asker.rs`); a thread counts one CPU only while
//! it and the main thread are both confined to the same one, and counts again once it or the
//! main thread is let out (`tests/cpus_refresh.rs`).

use std::cell::Cell;

/// The cap: beyond it, a `notify_all` that wakes them one system call each would hold its
/// caller up for longer than moving them costs.
const MAX: usize = 64;

/// Answers a thread takes from its cache before it reads the masks again.
pub(crate) const REFRESH: u32 = 1024;

thread_local! {
    /// This thread's last answer and how many more asks it answers; `(0, 0)` before the
    /// first. Const-initialized, no destructor: a plain TLS access, and nothing allocated.
    static CACHE: Cell<(u32, u32)> = const { Cell::new((0, 0)) };
}

/// The CPUs this process may run on, at least 1 and at most [`MAX`]. 1 under loom, so the
/// models keep exercising the requeue of every waiter but the first.
pub(crate) fn runnable() -> usize {
    if crate::loom::LOOM {
        return 1;
    }
    // `try_with`: a const thread-local without a destructor is never gone, so this does not
    // fail today; if it ever did (an ask from a thread-local destructor), read every time.
    CACHE.try_with(|cache| next(cache, fresh) as usize).unwrap_or_else(|_| fresh() as usize)
}

/// One ask against `cache`: its answer, or `read()`'s when the cache is empty or spent.
fn next(cache: &Cell<(u32, u32)>, read: impl FnOnce() -> u32) -> u32 {
    match cache.get() {
        (n, left) if left > 0 => {
            cache.set((n, left - 1));
            n
        }
        _ => {
            let n = read();
            cache.set((n, REFRESH - 1));
            n
        }
    }
}

/// A read of the masks, clamped to `1..=MAX`.
fn fresh() -> u32 {
    query().clamp(1, MAX) as u32
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
            const BYTES: usize = std::mem::size_of::<libc::cpu_set_t>();
            // SAFETY: `cpu_set_t` is a plain bit array: every byte pattern is a valid set, and
            // the two references cover the two distinct local sets, each of exactly BYTES.
            let (own_bytes, main_bytes) = unsafe {
                (
                    &mut *(&mut own as *mut libc::cpu_set_t).cast::<[u8; BYTES]>(),
                    &*(&main as *const libc::cpu_set_t).cast::<[u8; BYTES]>(),
                )
            };
            // A byte at a time: a whole read takes 1.1 µs here, against 1.8-1.95 µs with 1,024
            // `CPU_ISSET`/`CPU_SET` calls.
            for (o, m) in own_bytes.iter_mut().zip(main_bytes) {
                *o |= m;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_reads_at_its_first_ask_then_once_every_refresh_asks() {
        let cache = Cell::new((0, 0));
        let reads = Cell::new(0u32);
        // Each read sees a different count, as after an affinity change.
        let read = || {
            reads.set(reads.get() + 1);
            reads.get() + 1
        };
        assert_eq!(next(&cache, read), 2);
        for _ in 1..REFRESH {
            assert_eq!(next(&cache, read), 2, "answered from the cache");
        }
        assert_eq!(reads.get(), 1);
        assert_eq!(next(&cache, read), 3, "the next ask reads again");
        assert_eq!(reads.get(), 2);
    }

    #[test]
    fn the_count_is_between_one_and_the_cap() {
        let n = runnable();
        assert!((1..=MAX).contains(&n), "{n}");
        assert_eq!(runnable(), n, "two asks in a row agree");
    }
}
