//! The global hashed table of wait queues.
//!
//! A fixed array of cache-padded buckets; a key (an address) hashes to one bucket. Each
//! bucket holds a lock, a count of the waiters queued in it, and a list of *key queues*: one
//! FIFO of waiter nodes per distinct key in the bucket. The first node of each key's FIFO is
//! its head; heads are chained through `next_key`, and a head also records its FIFO's
//! `tail`. So a wake or requeue walks the distinct keys of one bucket, not every sleeper in
//! it, and sleepers on other keys that share the bucket are never touched. A FIFO is linked
//! both ways (`next`, `prev`), so a sleeper that times out or is aborted unlinks itself
//! without walking the sleepers queued before it.
//!
//! ```text
//! bucket.first -> head(key A) --next_key--> head(key B) --next_key--> null
//!                    | next (prev back)         | next
//!                  A2 -> A3 -> null            null            (head.tail = last of its FIFO)
//! ```
//!
//! Waiter nodes live on their sleeping thread's stack (no heap allocation). This module is the
//! only one that dereferences pointers to them, under one invariant:
//!
//! **A node is reachable from a queue only while its owner is inside `park` and cannot
//! return.** The owner returns only after it saw `WOKEN` (stored by the waker after the last
//! access to the node) or after it removed itself under the bucket lock. Every pointer in a
//! queue, and every pointer in a chain of nodes dequeued but not yet woken, is therefore live.
//!
//! Field discipline: `next_key`, `next`, `prev`, `tail`, `queued`, `generation` are read and
//! written only under the lock of the bucket that holds the node, with two exceptions that
//! need no lock: a waker reads `next` of nodes it has dequeued (nobody else touches them
//! then), and the owner reads `token` after seeing `WOKEN` (the waker wrote it before its
//! Release store). `key` is an atomic because the owner reads it without a lock to find its
//! bucket; it changes only under the locks of both buckets involved in a requeue.

use std::ptr;

use crate::loom::{fence, AtomicUsize, Mutex, MutexGuard, Ordering, UnsafeCell};
use crate::outcome::{RequeueOp as Requeue, UnparkResult as Found};
use crate::parker::Parker;
use crate::time::{Clock, Timespec};

/// log2 of the number of buckets. 1024 buckets keep the key list of a bucket short even with
/// ten thousand distinct keys asleep (measured in `docs/design.md`; `--cfg wchan_buckets_64`
/// builds OpenBSD's 64 for comparison); under loom two buckets make collisions common so
/// models explore them.
#[cfg(not(any(loom, wchan_buckets_64)))]
const BUCKET_BITS: u32 = 10;
#[cfg(all(not(loom), wchan_buckets_64))]
const BUCKET_BITS: u32 = 6;
#[cfg(loom)]
const BUCKET_BITS: u32 = 1;

/// The number of buckets in the table.
pub(crate) const BUCKETS: usize = 1 << BUCKET_BITS;

/// The longest gap between two `be_fair` answers of one bucket that has wakes to answer:
/// each next one falls at a random point within this many nanoseconds (parking_lot_core's
/// "fair timeout" scheme: `core/src/parking_lot.rs`, `FairTimeout`).
const FAIR_WITHIN_NANOS: u32 = 1_000_000;

/// The bucket a key lives in: Fibonacci hashing, so keys that differ only in low (alignment)
/// bits or only in high bits still spread over all buckets.
#[cfg(not(loom))]
#[inline]
pub(crate) fn bucket_index(key: usize) -> usize {
    ((key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - BUCKET_BITS)) as usize
}

/// Under loom, addresses differ between executions, so the bucket is the order in which this
/// execution first saw the key (see `crate::loom`): deterministic, and collisions stay common.
#[cfg(loom)]
pub(crate) fn bucket_index(key: usize) -> usize {
    crate::loom::bucket_index(key, BUCKETS)
}

/// Which API a key belongs to. Keys of different spaces never share a queue, even when their
/// addresses are equal: a wake in one space cannot reach a sleeper of another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Space {
    /// [`crate::Sleep`] / [`crate::wakeup`] channels: reachable from safe code, no tokens.
    Chan,
    /// The `unsafe` [`crate::park`] API, for users' own primitives.
    Park,
    /// wchan's own `RawMutex`, `Condvar` and `thread::sleep`: no public function names it.
    Internal,
}

/// A table key: an address in one [`Space`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) addr: usize,
    pub(crate) space: Space,
}

impl Key {
    pub(crate) const fn new(addr: usize, space: Space) -> Key {
        Key { addr, space }
    }
}

/// One sleeping thread's entry in a queue, on that thread's stack.
pub(crate) struct Waiter {
    /// The key's address; changes only when a requeue moves the node (within its space).
    key: AtomicUsize,
    space: Space,
    queued: UnsafeCell<bool>,
    /// The table's [`generation`] when the node was queued: a node queued before a forked
    /// child emptied its table is in none of the child's queues.
    generation: UnsafeCell<usize>,
    next_key: UnsafeCell<*const Waiter>,
    next: UnsafeCell<*const Waiter>,
    /// The node before this one in its FIFO; null for a head. Kept only while queued.
    prev: UnsafeCell<*const Waiter>,
    tail: UnsafeCell<*const Waiter>,
    token: UnsafeCell<usize>,
    pub(crate) parker: Parker,
}

impl Waiter {
    pub(crate) fn new(key: Key) -> Waiter {
        Waiter {
            key: AtomicUsize::new(key.addr),
            space: key.space,
            queued: UnsafeCell::new(false),
            generation: UnsafeCell::new(0),
            next_key: UnsafeCell::new(ptr::null()),
            next: UnsafeCell::new(ptr::null()),
            prev: UnsafeCell::new(ptr::null()),
            tail: UnsafeCell::new(ptr::null()),
            token: UnsafeCell::new(0),
            parker: Parker::new(),
        }
    }

    /// The token its waker left. Call only after the parker reported `WOKEN`.
    #[inline]
    pub(crate) fn token(&self) -> usize {
        get(&self.token)
    }

    #[inline]
    fn addr(&self) -> usize {
        // Relaxed: changes only under bucket locks, which order it for every reader that
        // relies on it (see `lock_bucket_of`).
        self.key.load(Ordering::Relaxed)
    }

    #[inline]
    fn key(&self) -> Key {
        Key::new(self.addr(), self.space)
    }
}

fn get<T: Copy>(cell: &UnsafeCell<T>) -> T {
    // SAFETY: by the field discipline above, no write to this cell can run concurrently.
    cell.with(|p| unsafe { *p })
}

fn set<T>(cell: &UnsafeCell<T>, value: T) {
    // SAFETY: by the field discipline above, no other access to this cell runs concurrently.
    cell.with_mut(|p| unsafe { *p = value })
}

/// # Safety
/// `p` is non-null and points at a node that is queued, or dequeued and not yet woken.
unsafe fn node<'a>(p: *const Waiter) -> &'a Waiter {
    // SAFETY: the caller names the table invariant, which keeps such nodes alive.
    unsafe { &*p }
}

/// The list of key queues in one bucket. Only reachable through the bucket lock.
struct Queue {
    first: *const Waiter,
    fair: FairTimer,
}

/// When a bucket next answers `be_fair`: a lock that barges (any thread may take it on
/// unlock) hands it over directly at least that often, so a waiter that keeps losing the race
/// to a thread that relocks at once is served within about a millisecond of wakes. Counted
/// per bucket, not per waiter: a waiter that re-parks after losing keeps no stamp to age.
struct FairTimer {
    next: Timespec,
    seed: u32,
}

impl FairTimer {
    const fn new() -> FairTimer {
        FairTimer { next: Timespec::new(0, 0), seed: 0 }
    }

    /// Whether this wake should be fair; if so, the next fair point is drawn. One clock read
    /// (vDSO), on a path that is about to make a wake syscall anyway.
    fn due(&mut self) -> bool {
        // No clock under loom: never fair, so models stay deterministic, unless the model
        // asked for every wake to be fair (`wchan::loom::fair_wakes`).
        if crate::loom::LOOM {
            return crate::loom::fair_wakes_on();
        }
        let now = Clock::Monotonic.now();
        if now < self.next {
            return false;
        }
        // xorshift32: cheap, and a random phase keeps lockers from falling into step with it.
        if self.seed == 0 {
            self.seed = (self as *const FairTimer as usize as u32) | 1; // differs per bucket
        }
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 17;
        self.seed ^= self.seed << 5;
        self.next = now.saturating_add(std::time::Duration::from_nanos(u64::from(self.seed % FAIR_WITHIN_NANOS)));
        true
    }
}

// SAFETY: the raw pointers are only followed under the bucket lock, by the table invariant.
unsafe impl Send for Queue {}

impl Queue {
    const fn new() -> Queue {
        Queue { first: ptr::null(), fair: FairTimer::new() }
    }

    /// The head of `key`'s FIFO and the head before it in the key list (None: `first`).
    #[inline]
    fn find<'a>(&self, key: Key) -> (Option<&'a Waiter>, Option<&'a Waiter>) {
        let (mut prev, mut p) = (None, self.first);
        while !p.is_null() {
            // SAFETY: p is in this queue (table invariant).
            let head = unsafe { node(p) };
            if head.key() == key {
                return (prev, Some(head));
            }
            prev = Some(head);
            p = get(&head.next_key);
        }
        (prev, None)
    }

    #[inline]
    fn set_link(&mut self, prev: Option<&Waiter>, to: *const Waiter) {
        match prev {
            None => self.first = to,
            Some(head) => set(&head.next_key, to),
        }
    }

    /// Appends the chain `first..=last` (linked by `next`, last.next null) to `key`'s FIFO.
    #[inline]
    fn append(&mut self, key: Key, first: &Waiter, last: &Waiter) {
        match self.find(key).1 {
            Some(head) => {
                let tail = get(&head.tail);
                // SAFETY: a head's tail is in the same FIFO.
                set(&unsafe { node(tail) }.next, first as *const Waiter);
                set(&first.prev, tail);
                set(&head.tail, last as *const Waiter);
            }
            None => {
                set(&first.prev, ptr::null());
                set(&first.tail, last as *const Waiter);
                set(&first.next_key, self.first);
                self.first = first;
            }
        }
    }

    /// Cuts the first `n` (>= 1) nodes off `key`'s FIFO, whose head is `head` with `prev`
    /// before it; returns the cut chain's first node (linked by `next`, last.next null) and
    /// the FIFO's new head (null if nothing is left), which takes `head`'s place in the key
    /// list, so `prev` stays valid.
    #[inline]
    fn cut_front(&mut self, prev: Option<&Waiter>, head: &Waiter, n: usize) -> (*const Waiter, *const Waiter) {
        let mut last = head;
        for _ in 1..n {
            // SAFETY: the caller counted at least n nodes in this FIFO.
            last = unsafe { node(get(&last.next)) };
        }
        let rest = get(&last.next);
        set(&last.next, ptr::null());
        if rest.is_null() {
            self.set_link(prev, get(&head.next_key));
        } else {
            // SAFETY: rest is the next node of this FIFO; it becomes the head.
            let new_head = unsafe { node(rest) };
            set(&new_head.prev, ptr::null());
            set(&new_head.tail, get(&head.tail));
            set(&new_head.next_key, get(&head.next_key));
            self.set_link(prev, rest);
        }
        (head, rest)
    }

    /// Removes a queued node from the front, middle or end of its FIFO. It unlinks through
    /// `prev` and `next`; only the head is looked up (its key list entry or its `tail` may
    /// change), so the cost does not depend on the node's place in the FIFO.
    fn remove(&mut self, w: &Waiter) {
        let prev = get(&w.prev);
        let next = get(&w.next);
        if prev.is_null() {
            let (before, head) = self.find(w.key());
            debug_assert!(head.is_some_and(|h| ptr::eq(h, w)), "a node with no prev heads its FIFO");
            self.cut_front(before, w, 1);
            return;
        }
        // SAFETY: `prev` is the node before `w` in its FIFO, queued under the lock we hold.
        set(&unsafe { node(prev) }.next, next);
        if next.is_null() {
            // `w` was the tail: its head records the new one.
            let head = self.find(w.key()).1;
            debug_assert!(head.is_some(), "a queued node's key has a head");
            if let Some(head) = head {
                set(&head.tail, prev);
            }
        } else {
            // SAFETY: `next` is the node after `w` in its FIFO.
            set(&unsafe { node(next) }.prev, prev);
        }
    }
}

/// Counts the FIFO starting at `head`, stopping at `limit`; also reports whether nodes remain
/// past the limit.
#[inline]
fn count_fifo(head: &Waiter, limit: usize) -> (usize, bool) {
    let (mut n, mut p) = (0, head as *const Waiter);
    while !p.is_null() && n < limit {
        n += 1;
        // SAFETY: p is in a queue whose lock the caller holds.
        p = get(&unsafe { node(p) }.next);
    }
    (n, !p.is_null())
}

pub(crate) struct Bucket {
    /// Waiters queued in this bucket. Written under the lock; read without it by
    /// `has_sleepers`, the fast path of a wake that finds nobody.
    sleepers: SleeperCount,
    queue: QueueLock,
}

/// A bucket's sleeper count. Every change is made under the bucket's lock, so a load and a
/// store make an exact increment: no read-modify-write, which on x86 is one more locked
/// instruction on every sleep and every wake. Read without the lock by [`has_sleepers`].
struct SleeperCount(AtomicUsize);

impl SleeperCount {
    #[cfg(not(loom))]
    const fn new() -> SleeperCount {
        SleeperCount(AtomicUsize::new(0))
    }

    #[cfg(loom)]
    fn new() -> SleeperCount {
        SleeperCount(AtomicUsize::new(0))
    }

    /// Caller holds the bucket lock. Relaxed: the lock orders the writers; the lock-free
    /// reader pairs through the SeqCst fences of `Pending::raise` and `has_sleepers`.
    #[inline]
    fn add(&self, n: usize) {
        self.0.store(self.0.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }

    /// Caller holds the bucket lock; as [`SleeperCount::add`].
    #[inline]
    fn sub(&self, n: usize) {
        self.0.store(self.0.load(Ordering::Relaxed) - n, Ordering::Relaxed);
    }

    #[inline]
    fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// The bucket lock and its queue. Outside loom it sits in an `UnsafeCell` for one reason: a
/// forked child replaces it wholesale, since a parent thread that did not survive the fork
/// may hold it (`crate::fork`). Nothing else writes the cell.
#[cfg(all(unix, not(loom), not(miri)))]
struct QueueLock(std::cell::UnsafeCell<Mutex<Queue>>);
#[cfg(not(all(unix, not(loom), not(miri))))]
struct QueueLock(Mutex<Queue>);

// SAFETY: the cell is written only by `reset_in_forked_child`, when the process has a single
// thread; otherwise it is only read, and `Mutex<Queue>` is `Sync` (Queue is `Send`).
#[cfg(all(unix, not(loom), not(miri)))]
unsafe impl Sync for QueueLock {}

impl QueueLock {
    #[cfg(not(loom))]
    const fn new() -> QueueLock {
        #[cfg(all(unix, not(miri)))]
        return QueueLock(std::cell::UnsafeCell::new(Mutex::new(Queue::new())));
        #[cfg(not(all(unix, not(miri))))]
        return QueueLock(Mutex::new(Queue::new()));
    }

    #[cfg(loom)]
    fn new() -> QueueLock {
        QueueLock(Mutex::new(Queue::new()))
    }

    #[inline]
    fn get(&self) -> &Mutex<Queue> {
        #[cfg(all(unix, not(loom), not(miri)))]
        {
            crate::fork::ensure_handler();
            // SAFETY: see the `Sync` impl: the only write happens with no other thread alive.
            unsafe { &*self.0.get() }
        }
        #[cfg(not(all(unix, not(loom), not(miri))))]
        &self.0
    }
}

/// How many times a forked child emptied this process's table (each child counts on from its
/// parent's value). Written only by [`reset_in_forked_child`], with one thread alive.
#[cfg(all(unix, not(loom), not(miri)))]
static GENERATION: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The table's generation: a node queued in an earlier one is in none of today's queues.
#[inline]
fn generation() -> usize {
    // Relaxed: it changes only in a forked child's handler, before the child has threads.
    #[cfg(all(unix, not(loom), not(miri)))]
    return GENERATION.load(std::sync::atomic::Ordering::Relaxed);
    #[cfg(not(all(unix, not(loom), not(miri))))]
    0
}

/// Empties the table in a forked child: every bucket unlocked, no sleeper, counts zero, and
/// a new generation, so nodes queued before the fork are known to be in no queue.
///
/// # Safety
/// Only from the `pthread_atfork` child handler: the process has one thread, and that thread
/// holds no reference into the table.
#[cfg(all(unix, not(loom), not(miri)))]
pub(crate) unsafe fn reset_in_forked_child() {
    // Relaxed: a single thread; nothing to order against.
    GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    for b in TABLE.iter() {
        // Relaxed: a single thread; nothing to order against.
        b.sleepers.0.store(0, Ordering::Relaxed);
        // SAFETY: per this function's contract nobody else can observe the write; the old
        // lock is overwritten without being dropped (a futex word, or at worst a leaked
        // lazily boxed pthread mutex on platforms that use one).
        unsafe { std::ptr::write(b.queue.0.get(), Mutex::new(Queue::new())) };
    }
}

impl Bucket {
    #[cfg(not(loom))]
    const fn new() -> Bucket {
        Bucket { sleepers: SleeperCount::new(), queue: QueueLock::new() }
    }

    #[cfg(loom)]
    fn new() -> Bucket {
        Bucket { sleepers: SleeperCount::new(), queue: QueueLock::new() }
    }

    /// A panic in a callback run under the lock poisons it; the queue is consistent at every
    /// callback (they run before or after a mutation, never inside one), so poison is ignored.
    #[inline]
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.get().lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(not(loom))]
static TABLE: [crossbeam_utils::CachePadded<Bucket>; BUCKETS] =
    [const { crossbeam_utils::CachePadded::new(Bucket::new()) }; BUCKETS];

#[cfg(not(loom))]
#[inline]
fn bucket(key: usize) -> &'static Bucket {
    &TABLE[bucket_index(key)]
}

#[cfg(loom)]
loom::lazy_static! {
    // Built afresh for every model execution, so no state leaks between executions.
    static ref TABLE: Vec<Bucket> = (0..BUCKETS).map(|_| Bucket::new()).collect();
}

#[cfg(loom)]
#[inline]
fn bucket(key: usize) -> &'static Bucket {
    &TABLE[bucket_index(key)]
}

/// Builds this execution's table now, from the calling thread (`crate::loom::init`).
#[cfg(loom)]
pub(crate) fn init() {
    let _ = TABLE.len();
}

/// Locks the bucket that holds `w`, following requeues: after locking, the key is re-read;
/// a requeue that moved `w` needed this lock too, so a key that matches under it is final.
#[inline]
fn lock_bucket_of(w: &Waiter) -> (&'static Bucket, MutexGuard<'static, Queue>) {
    loop {
        let addr = w.addr();
        let b = bucket(addr);
        let q = b.lock();
        if w.addr() == addr {
            return (b, q);
        }
    }
}

/// Locks the buckets of two keys in index order (once if they share one). The second guard
/// is `None` when they share a bucket.
#[inline]
fn lock_two(a: usize, b: usize) -> (MutexGuard<'static, Queue>, Option<MutexGuard<'static, Queue>>) {
    let (ia, ib) = (bucket_index(a), bucket_index(b));
    if ia == ib {
        (bucket(a).lock(), None)
    } else if ia < ib {
        let ga = bucket(a).lock();
        (ga, Some(bucket(b).lock()))
    } else {
        let gb = bucket(b).lock();
        (bucket(a).lock(), Some(gb))
    }
}

/// Raises a bucket's sleeper count by one and lowers it again on drop, unless told how many
/// sleepers really arrived ([`Pending::settle`]). Held across a `validate`, it keeps the
/// count above zero while a sleeper may be on its way in (invariant 8, counts before checks).
/// Made and dropped under the bucket's lock, like every change of the count.
struct Pending<'a>(&'a SleeperCount);

impl<'a> Pending<'a> {
    #[inline]
    fn raise(count: &'a SleeperCount) -> Pending<'a> {
        count.add(1);
        // SeqCst fence: pairs with the fence in `has_sleepers` (Dekker): a waker that acts on
        // what the coming `validate` publishes and then checks the count sees it raised.
        fence(Ordering::SeqCst);
        Pending(count)
    }

    /// `arrived` sleepers came in: the count keeps them and drops the placeholder, in one
    /// step, so it never reads zero while they are queued.
    #[inline]
    fn settle(self, arrived: usize) {
        match arrived {
            0 => return, // dropping self takes the placeholder back
            1 => {}
            n => self.0.add(n - 1),
        }
        std::mem::forget(self);
    }
}

impl Drop for Pending<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.sub(1);
    }
}

/// Queues `w` on its key if `validate(others_waiting)` (run under the bucket lock) agrees;
/// `others_waiting` tells whether another thread is queued on the same key.
///
/// The bucket's count is raised *before* `validate` runs and a SeqCst fence separates them.
/// A waker that first changes what `validate` reads and then calls [`has_sleepers`] (which
/// fences too) either makes `validate` fail or sees the count and takes the lock, which it
/// can only get after `w` is queued. That Dekker pair is what lets a wake on an empty bucket
/// skip the lock.
pub(crate) fn enqueue_if(w: &Waiter, validate: impl FnOnce(bool) -> bool) -> bool {
    let b = bucket(w.addr());
    let mut q = b.lock();
    let pending = Pending::raise(&b.sleepers); // taken back if validate fails or panics
    if !validate(q.find(w.key()).1.is_some()) {
        return false;
    }
    pending.settle(1);
    set(&w.next, ptr::null());
    set(&w.queued, true);
    set(&w.generation, generation());
    q.append(w.key(), w, w);
    true
}

/// Takes `w` off its queue if it is still queued, calling `removed(addr, was_last)` under the
/// lock afterwards. Returns false when a waker dequeued it first (it will be woken).
pub(crate) fn cancel(w: &Waiter, removed: impl FnOnce(usize, bool)) -> bool {
    let (b, mut q) = lock_bucket_of(w);
    if !get(&w.queued) {
        return false;
    }
    if get(&w.generation) != generation() {
        // A forked child's own sleep, queued in the table the child emptied: in none of its
        // queues. Its parker was set to WOKEN by the child handler, so the caller's wait for
        // the wake returns at once.
        return false;
    }
    q.remove(w);
    set(&w.queued, false);
    b.sleepers.sub(1);
    let key = w.key();
    let was_last = q.find(key).1.is_none();
    removed(key.addr, was_last);
    true
}

/// Whether the bucket of `addr` may hold sleepers (of any key); false means no sleeper that
/// was queued before a write this thread made (before the call) can be missed. See
/// [`enqueue_if`] and [`requeue`].
#[inline]
pub(crate) fn has_sleepers(addr: usize) -> bool {
    // SeqCst fence: pairs with the fence in `Pending::raise` (Dekker).
    #[cfg(not(wchan_bug = "weak_dekker_fence"))]
    fence(Ordering::SeqCst);
    #[cfg(wchan_bug = "weak_dekker_fence")] // deliberate bug for loom-tests: AcqRel orders no store before a load
    fence(Ordering::AcqRel);
    bucket(addr).sleepers.get() != 0
}

/// Marks a dequeued chain's nodes with `token` and unqueued, while the lock is held.
#[inline]
fn seal_chain(mut p: *const Waiter, token: usize) {
    while !p.is_null() {
        // SAFETY: p was just cut from a queue under the lock the caller holds.
        let w = unsafe { node(p) };
        set(&w.token, token);
        set(&w.queued, false);
        p = get(&w.next);
    }
}

/// Wakes a sealed chain, after the bucket lock is released.
#[inline]
fn wake_chain(mut p: *const Waiter) {
    while !p.is_null() {
        // SAFETY: dequeued and not yet woken, so the owner is still waiting (table invariant).
        let w = unsafe { node(p) };
        p = get(&w.next); // read before waking: the node may vanish right after
        let unparker = w.parker.unparker();
        // SAFETY: the node is alive until this call's store of WOKEN.
        unsafe { unparker.unpark() };
    }
}

/// Dequeues up to `n` (>= 1) waiters of `key`, oldest first. `callback` runs under the lock
/// with what was found, before anything changes, and returns the token the woken get, or
/// `None` to leave the queue as it is and wake nobody (the result then says `unparked: 0`).
/// `want_fair`: the caller reads `be_fair` (only a single wake with a callback does), so the
/// bucket's fair timer is consulted (one clock read); otherwise `be_fair` is false and no
/// clock is read: a channel `wakeup` or `unpark_n` never pays for a decision it ignores.
pub(crate) fn unpark(key: Key, n: usize, want_fair: bool, callback: impl FnOnce(Found) -> Option<usize>) -> Found {
    let b = bucket(key.addr);
    let mut q = b.lock();
    let (prev, head) = q.find(key);
    let mut found = Found::default();
    if let Some(head) = head {
        let (count, more) = count_fifo(head, n);
        found = Found { unparked: count, requeued: 0, have_more: more, be_fair: want_fair && n == 1 && q.fair.due() };
    }
    let Some(token) = callback(found) else {
        return Found { unparked: 0, ..found };
    };
    let chain = match head {
        Some(head) => q.cut_front(prev, head, found.unparked).0,
        None => ptr::null(),
    };
    if found.unparked > 0 {
        b.sleepers.sub(found.unparked);
    }
    seal_chain(chain, token);
    drop(q);
    wake_chain(chain);
    found
}

/// Wakes and/or moves the waiters of `from` to `to` (same space), under both buckets' locks.
/// `validate(from_has_waiters)` chooses the operation. `wake` (>= 1) is how many of the
/// oldest waiters `UnparkOneRequeueRest` wakes before it moves the rest: 1 for the public
/// API; wchan's `Condvar::notify_all` wakes as many as there are CPUs to run them.
/// `want_fair`: as for [`unpark`]; `be_fair` is false (and no clock is read) without it.
///
/// Counts before checks (invariant 8): when the keys live in different buckets, the target's
/// count is raised and fenced *before* `validate` runs, exactly as [`enqueue_if`] does, and
/// settled to the number actually moved afterwards. A thread that acts on state `validate`
/// publishes (say, "the lock now has waiters") and then wakes `to` lock-free therefore sees
/// the count raised, takes the lock, and finds the moved sleepers.
pub(crate) fn requeue(
    from: Key,
    to: Key,
    wake: usize,
    want_fair: bool,
    validate: impl FnOnce(bool) -> Requeue,
    callback: impl FnOnce(Requeue, Found) -> usize,
) -> Found {
    debug_assert_eq!(from.space, to.space, "a requeue stays within one key space");
    let (mut qa, mut qb) = lock_two(from.addr, to.addr);
    let (from_b, to_b) = (bucket(from.addr), bucket(to.addr));
    // Only a move between buckets changes the target's count; within one bucket it is
    // already at least the number of sleepers that may move.
    #[cfg(not(wchan_bug = "requeue_counts_after_check"))]
    let pending = qb.is_some().then(|| Pending::raise(&to_b.sleepers));
    #[cfg(wchan_bug = "requeue_counts_after_check")] // deliberate bug for loom-tests: the old order
    let pending: Option<Pending<'_>> = None;
    let (prev, head) = qa.find(from);
    let op = validate(head.is_some());
    if op == Requeue::Abort {
        return Found::default();
    }
    let mut found = Found::default();
    if let Some(head) = head {
        // Count only as far as the operation reaches: a single wake or move needs to know
        // whether a second waiter exists, not how many there are. Counting the whole FIFO
        // made a `notify_one` cost one node visit per waiter, under the bucket lock
        // (`tests/condvar_long_queue.rs`).
        let reach = match op {
            Requeue::UnparkOne | Requeue::RequeueOne => 1,
            _ => usize::MAX,
        };
        let (total, more) = count_fifo(head, reach);
        let unpark = match op {
            Requeue::UnparkOne => 1,
            Requeue::UnparkOneRequeueRest => wake.clamp(1, total),
            _ => 0,
        };
        found.unparked = unpark;
        found.requeued = match op {
            Requeue::UnparkOne => 0,
            Requeue::RequeueOne => 1,
            _ => total - unpark,
        };
        found.have_more = more || total > found.unparked + found.requeued;
        found.be_fair = want_fair && unpark == 1 && qa.fair.due();
    }
    let token = callback(op, found);
    let Some(head) = head else { return found };

    let mut chain = ptr::null();
    let mut rest: *const Waiter = head;
    if found.unparked > 0 {
        (chain, rest) = qa.cut_front(prev, head, found.unparked);
    }
    if found.requeued > 0 {
        // SAFETY: rest is the head of `from`'s FIFO, holding `requeued` nodes.
        let rest_head = unsafe { node(rest) };
        let (moved, _) = qa.cut_front(prev, rest_head, found.requeued);
        // SAFETY: `moved` starts the cut chain of `requeued` nodes.
        let (first, mut last) = unsafe { (node(moved), node(moved)) };
        loop {
            last.key.store(to.addr, Ordering::Relaxed); // both locks held
            let next = get(&last.next);
            if next.is_null() {
                break;
            }
            // SAFETY: still within the cut chain.
            last = unsafe { node(next) };
        }
        match qb.as_mut() {
            Some(qb) => {
                qb.append(to, first, last);
                from_b.sleepers.sub(found.requeued);
                #[cfg(wchan_bug = "requeue_counts_after_check")]
                to_b.sleepers.add(found.requeued);
            }
            None => qa.append(to, first, last),
        }
    }
    if let Some(pending) = pending {
        pending.settle(found.requeued);
    }
    from_b.sleepers.sub(found.unparked);
    seal_chain(chain, token);
    drop(qb);
    drop(qa);
    wake_chain(chain);
    found
}
