//! Errors with the meanings `__thrsleep(2)` and `__thrwakeup(2)` give them.

use std::fmt;

/// Why a sleep or a wakeup did not succeed.
///
/// Each variant maps to the `errno` value OpenBSD's system calls return in the same case;
/// [`Error::errno`] gives this platform's number for it.
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
    /// A null id, a nanosecond field outside `0..1_000_000_000`, or an unknown clock id
    /// (`EINVAL`). Nothing was queued and nothing was woken.
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
            Error::InvalidArgument => libc::EINVAL,
            Error::TimedOut => libc::EWOULDBLOCK,
            Error::Interrupted => libc::EINTR,
            Error::NoWaiters => libc::ESRCH,
        }
    }
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
    fn from(e: Error) -> Self {
        std::io::Error::from_raw_os_error(e.errno())
    }
}
