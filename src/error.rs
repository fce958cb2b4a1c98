//! Errors with the meanings `__thrsleep(2)` and `__thrwakeup(2)` give them.

use std::fmt;

/// Why a sleep or a wakeup did not succeed.
///
/// Each variant maps to the `errno` value OpenBSD's system calls return in the same case;
/// [`Error::errno`] gives this platform's number for it (on Windows, the C runtime's).
///
/// ```
/// use wchan::Error;
/// assert_eq!(Error::TimedOut.errno(), libc::EWOULDBLOCK);
/// let io: std::io::Error = Error::NoWaiters.into();
/// assert_eq!(io.raw_os_error(), Some(libc::ESRCH));
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// A null id, a nanosecond field outside `0..1_000_000_000`, or a clock id other than
    /// `CLOCK_REALTIME` and `CLOCK_MONOTONIC` (`EINVAL`). Nothing was queued and nothing was
    /// woken. OpenBSD's `thrsleep` accepts every clock its `clock_gettime` knows, and checks
    /// the id only when a timeout is given; wchan accepts the two clocks its parkers can keep
    /// an absolute deadline on, whether or not a deadline is used (see [`crate::Clock::from_raw`]).
    InvalidArgument,
    /// The deadline passed before a wakeup arrived (`EWOULDBLOCK`).
    TimedOut,
    /// The abort flag was set, [`crate::interrupt`] was called from a signal handler, or a
    /// signal handler ran while the thread was blocked in the kernel (`EINTR`).
    Interrupted,
    /// `wakeup` found no thread asleep on the id (`ESRCH`).
    NoWaiters,
}

impl Error {
    /// This platform's `errno` value for the error: `EINVAL`, `EWOULDBLOCK`, `EINTR` or
    /// `ESRCH`.
    pub fn errno(self) -> i32 {
        match self {
            Error::InvalidArgument => errno::EINVAL,
            Error::TimedOut => errno::EWOULDBLOCK,
            Error::Interrupted => errno::EINTR,
            Error::NoWaiters => errno::ESRCH,
        }
    }
}

/// The four `errno` values, from libc.
#[cfg(not(all(target_family = "wasm", not(any(target_os = "wasi", target_os = "emscripten")))))]
mod errno {
    pub(super) use libc::{EINTR, EINVAL, ESRCH, EWOULDBLOCK};
}

/// wasm without an operating system, which `src/lib.rs` refuses with a `compile_error!`:
/// libc defines no errno values there, and placeholders keep that refusal the only error
/// (`.ci/platforms.sh` checks it is).
#[cfg(all(target_family = "wasm", not(any(target_os = "wasi", target_os = "emscripten"))))]
mod errno {
    pub(super) const EINTR: i32 = 0;
    pub(super) const EINVAL: i32 = 0;
    pub(super) const ESRCH: i32 = 0;
    pub(super) const EWOULDBLOCK: i32 = 0;
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::InvalidArgument => "invalid argument: null id, bad nanoseconds or unknown clock",
            Error::TimedOut => "deadline passed before a wakeup",
            Error::Interrupted => "sleep interrupted by the abort flag or a signal",
            Error::NoWaiters => "no thread is asleep on this id",
        })
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    /// On Unix and WASI the `io::Error` carries [`Error::errno`] as its raw OS error. On
    /// Windows a raw OS error is a Win32 error code, not an errno, so the `io::Error` carries
    /// the matching `ErrorKind` and this error instead.
    fn from(e: Error) -> Self {
        #[cfg(not(windows))]
        return std::io::Error::from_raw_os_error(e.errno());
        #[cfg(windows)]
        {
            let kind = match e {
                Error::InvalidArgument => std::io::ErrorKind::InvalidInput,
                Error::TimedOut => std::io::ErrorKind::WouldBlock,
                Error::Interrupted => std::io::ErrorKind::Interrupted,
                Error::NoWaiters => std::io::ErrorKind::NotFound,
            };
            std::io::Error::new(kind, e)
        }
    }
}
