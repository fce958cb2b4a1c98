//! What a wake or a requeue decided and did: the values that pass between the park API and
//! the table. They live below both (`park.rs` re-exports them) so the table never imports
//! from the layer above it.

/// A value a waker hands to the thread it wakes (e.g. "the lock is yours now").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct UnparkToken(pub usize);

/// The token [`crate::park::unpark_n`], [`crate::park::unpark_all`] and a callback that has
/// nothing to say hand over.
pub const DEFAULT_UNPARK_TOKEN: UnparkToken = UnparkToken(0);

/// What an unpark or requeue did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnparkResult {
    /// Threads taken off the queue; each of their `park` calls returns `Unparked`.
    pub unparked: usize,
    /// Threads moved to the other key by a requeue (they stay asleep).
    pub requeued: usize,
    /// Whether threads remain queued on the key after this call.
    pub have_more: bool,
    /// Whether a fair lock should hand the woken thread the lock directly rather than let
    /// it compete: true at most about once a millisecond per bucket, at a random point of
    /// that millisecond (never under loom, which has no clock). See `docs/design.md`.
    pub be_fair: bool,
}

/// What [`crate::park::unpark_requeue`] should do, decided by its `validate` callback under
/// the locks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequeueOp {
    /// Do nothing; the `callback` does not run.
    Abort,
    /// Wake the oldest waiter of the source key and leave the rest.
    UnparkOne,
    /// Wake the oldest waiter and move every other one to the target key.
    UnparkOneRequeueRest,
    /// Move every waiter to the target key without waking any.
    RequeueAll,
    /// Move the oldest waiter to the target key without waking it.
    RequeueOne,
}
