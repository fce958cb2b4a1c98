//! macOS (and the other Apple OSes) backend: `os_sync_wait_on_address_with_deadline` /
//! `os_sync_wake_by_address_any` on the state word (`os_sync_wait_on_address` for a sleep
//! without a deadline), where the OS has them, else the portable parker.
//!
//! The functions appeared in macOS 14.4 (iOS 17.4); an executable that linked them
//! directly would not load on an older release. So they are looked up once at run time with
//! `dlsym(RTLD_DEFAULT, ...)`; when any is missing every parker of the process uses the
//! portable backend (`fallback.rs`, std's park/unpark, with its documented limits: signals
//! do not end a blocked sleep). Under Miri, whose `dlsym` knows only a few names, they are
//! called directly (Miri implements both).
//!
//! The only clock these functions take is `OS_CLOCK_MACH_ABSOLUTE_TIME` (ticks of
//! `mach_absolute_time`, which stops while the machine sleeps), so the deadline given to the
//! kernel is "now plus the time left on the deadline's own clock", recomputed before every
//! wait, and a timeout counts only once the deadline has passed on its own clock: never
//! early; a clock change or a system sleep while blocked is caught up at the next return.
//! Waits are split at one day. A signal ends the wait with `EINTR`. References: Apple's
//! `os/os_sync_wait_on_address.h` (macOS 14.4 SDK) and the libc crate's declarations.

use std::ffi::c_void;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use super::{fallback, Blocked};
use crate::loom::{AtomicU32, Ordering};
use crate::time::Deadline;

type WaitUntimedFn = unsafe extern "C" fn(*mut c_void, u64, libc::size_t, u32) -> libc::c_int;
type WaitFn = unsafe extern "C" fn(*mut c_void, u64, libc::size_t, u32, libc::os_clockid_t, u64) -> libc::c_int;
type WakeFn = unsafe extern "C" fn(*mut c_void, libc::size_t, u32) -> libc::c_int;

const LONGEST_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// The os_sync functions, when this OS has them: `os_sync_wait_on_address` (no timeout),
/// `os_sync_wait_on_address_with_deadline` and `os_sync_wake_by_address_any`.
#[derive(Clone, Copy)]
struct OsSync {
    wait_untimed: WaitUntimedFn,
    wait: WaitFn,
    wake: WakeFn,
}

#[cfg(miri)]
fn os_sync() -> Option<OsSync> {
    Some(OsSync {
        wait_untimed: libc::os_sync_wait_on_address,
        wait: libc::os_sync_wait_on_address_with_deadline,
        wake: libc::os_sync_wake_by_address_any,
    })
}

#[cfg(not(miri))]
fn os_sync() -> Option<OsSync> {
    // Each: 0 not looked up yet, 1 missing, otherwise the function's address. Relaxed: each
    // value is a fact about the loaded system library, the same whichever thread computes
    // it; a thread that misses the cache looks it up again.
    static FNS: [AtomicUsize; 3] = [AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)];
    const NAMES: [&std::ffi::CStr; 3] =
        [c"os_sync_wait_on_address", c"os_sync_wait_on_address_with_deadline", c"os_sync_wake_by_address_any"];
    let mut addrs = [0usize; 3];
    for ((slot, name), addr) in FNS.iter().zip(NAMES).zip(&mut addrs) {
        *addr = slot.load(Ordering::Relaxed);
        if *addr == 0 {
            // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name has no other precondition.
            let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) } as usize;
            *addr = if found == 0 { 1 } else { found };
            slot.store(*addr, Ordering::Relaxed);
        }
    }
    if addrs.contains(&1) {
        return None;
    }
    // SAFETY: the addresses are those of the three system functions, whose C signatures are
    // the ones declared above (Apple's header; the libc crate declares the same).
    unsafe {
        Some(OsSync {
            wait_untimed: std::mem::transmute::<usize, WaitUntimedFn>(addrs[0]),
            wait: std::mem::transmute::<usize, WaitFn>(addrs[1]),
            wake: std::mem::transmute::<usize, WakeFn>(addrs[2]),
        })
    }
}

/// `None` when the os_sync functions are used (nothing beyond the word's address is needed),
/// the portable backend's handle otherwise.
#[derive(Clone)]
pub(crate) struct Handle(Option<fallback::Handle>);

impl Handle {
    pub(crate) fn current() -> Handle {
        match os_sync() {
            Some(_) => Handle(None),
            None => Handle(Some(fallback::Handle::current())),
        }
    }
}

/// `mach_absolute_time` ticks for `d`, rounded up.
#[allow(deprecated)] // libc points at the mach2 crate; these two calls are all we need
fn ticks(d: Duration) -> u64 {
    let mut tb = libc::mach_timebase_info { numer: 0, denom: 0 };
    // SAFETY: `tb` is a valid, writable mach_timebase_info.
    unsafe { libc::mach_timebase_info(&mut tb) };
    let (numer, denom) = (u128::from(tb.numer.max(1)), u128::from(tb.denom.max(1)));
    u64::try_from((d.as_nanos() * denom).div_ceil(numer)).unwrap_or(u64::MAX)
}

pub(crate) fn block(word: &AtomicU32, expected: u32, deadline: Option<&Deadline>, handle: &Handle) -> Blocked {
    let os = match (&handle.0, os_sync()) {
        (Some(portable), _) => return fallback::block(word, expected, deadline, portable),
        (None, Some(os)) => os,
        (None, None) => unreachable!("a handle without a portable part implies os_sync"),
    };
    let addr = word.as_ptr().cast::<c_void>();
    let none = libc::OS_SYNC_WAIT_ON_ADDRESS_NONE;
    let rc = match deadline {
        None => {
            // SAFETY: `addr` is a live, aligned u32 for the whole call; size 4 matches it.
            unsafe { (os.wait_untimed)(addr, u64::from(expected), 4, none) }
        }
        Some(d) => {
            let left = d.remaining().min(LONGEST_WAIT);
            if left.is_zero() {
                return Blocked::TimedOut;
            }
            #[allow(deprecated)] // as in `ticks`
            // SAFETY: mach_absolute_time has no preconditions.
            let at = unsafe { libc::mach_absolute_time() }.saturating_add(ticks(left));
            // SAFETY: as above; `at` is a nonzero absolute deadline on the mach clock.
            unsafe { (os.wait)(addr, u64::from(expected), 4, none, libc::OS_CLOCK_MACH_ABSOLUTE_TIME, at) }
        }
    };
    if rc >= 0 {
        return Blocked::Returned;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ETIMEDOUT) => match deadline {
            Some(d) if d.has_passed() => Blocked::TimedOut,
            _ => Blocked::Returned,
        },
        Some(libc::EINTR) => Blocked::Signalled,
        // The kernel could not allocate its wait structure: back off briefly rather than spin.
        Some(libc::ENOMEM) => {
            std::thread::sleep(Duration::from_millis(1));
            Blocked::Returned
        }
        e => super::unexpected_error("os_sync_wait_on_address", e),
    }
}

pub(crate) fn wake(word: *const AtomicU32, was: u32, handle: &Handle) {
    match (&handle.0, os_sync()) {
        (Some(portable), _) => fallback::wake(word, was, portable),
        (None, Some(os)) => {
            // Under Miri only: its `os_sync_wake_by_address_any` returns ENOENT (nobody waiting)
            // before the SeqCst fence that its `os_sync_wait_on_address` pairs with (rust-lang/miri
            // src/shims/unix/macos/sync.rs, `os_sync_wake_by_address`; its Linux FUTEX_WAKE,
            // FreeBSD _umtx_op and Windows WakeByAddress* fence first). Without a fence, a sleeper
            // that announced SLEEPING and reaches its wait just after this wake may compare
            // against its own stale SLEEPING instead of our WOKEN, block, and never be woken
            // (`tests/sleep_wakeup.rs`, `wakeup_racing_the_sleepers_block_is_never_lost`). On
            // macOS the kernel orders the two calls itself: a wake that finds nobody and the
            // wait that reads the word both take the ulock bucket lock (xnu bsd/kern/sys_ulock.c,
            // `ull_get`), so native builds have no fence here.
            #[cfg(miri)]
            std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
            // SAFETY: the function uses the address only as a key; the memory may be gone (a
            // stray wake there is a spurious wake). ENOENT (nobody waiting) is fine.
            unsafe { (os.wake)(word.cast_mut().cast(), 4, libc::OS_SYNC_WAKE_BY_ADDRESS_NONE) };
        }
        (None, None) => unreachable!("a handle without a portable part implies os_sync"),
    }
}
