//! A global allocator whose state is guarded by a `wchan::Mutex`.
//!
//! Every allocation of this test binary (the harness's, std's, the workload's) goes through
//! `ArenaAlloc`: power-of-two size classes carved from a static arena, with a free list per
//! class, all behind one `wchan::Mutex`. If locking, parking or waking that mutex allocated,
//! the allocator would re-enter itself while holding its own lock and the binary would
//! deadlock (the watchdog would fail the test) or recurse until the stack overflows.
//! Four threads hammer it so the mutex is contended and its park/unpark paths run.
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::watchdog;
use wchan::Mutex;

const ARENA_BYTES: usize = 64 << 20;
/// Size classes 16, 32, ..., 4096 bytes; larger requests go to `System`.
const MIN_SHIFT: u32 = 4;
const MAX_SHIFT: u32 = 12;
const CLASSES: usize = (MAX_SHIFT - MIN_SHIFT + 1) as usize;

#[repr(C, align(4096))]
struct Arena(UnsafeCell<[u8; ARENA_BYTES]>);

// SAFETY: the bytes are handed out in disjoint blocks under `STATE`'s lock; each block is
// used by one owner at a time, as `GlobalAlloc` requires of its callers.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([0; ARENA_BYTES]));

/// Bump offset into the arena plus one free list (of block addresses, 0 = empty) per class.
struct State {
    bump: usize,
    free: [usize; CLASSES],
}

static STATE: Mutex<State> = Mutex::new(State { bump: 0, free: [0; CLASSES] });

/// Blocks served from the arena (not from `System`).
static ARENA_ALLOCS: AtomicUsize = AtomicUsize::new(0);

struct ArenaAlloc;

fn class_of(layout: Layout) -> Option<usize> {
    let need = layout.size().max(layout.align()).max(1 << MIN_SHIFT).next_power_of_two();
    let shift = need.trailing_zeros();
    (shift <= MAX_SHIFT).then(|| (shift - MIN_SHIFT) as usize)
}

fn in_arena(p: *mut u8) -> bool {
    let start = ARENA.0.get() as usize;
    (start..start + ARENA_BYTES).contains(&(p as usize))
}

// SAFETY: blocks are disjoint (bump allocation, or reuse of a block its owner freed), each
// block of class c is 2^(c+4) bytes at an address aligned to its size (the arena is 4096-aligned
// and the bump offset is rounded up to the block size), which covers the layout's size and
// alignment; anything else is forwarded to `System` and freed there.
unsafe impl GlobalAlloc for ArenaAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class_of(layout) else {
            // SAFETY: forwarded from the caller.
            return unsafe { System.alloc(layout) };
        };
        let size = 1usize << (class as u32 + MIN_SHIFT);
        let mut st = STATE.lock();
        let head = st.free[class];
        if head != 0 {
            // SAFETY: a free block holds the address of the next free block in its first word.
            st.free[class] = unsafe { *(head as *const usize) };
            drop(st);
            ARENA_ALLOCS.fetch_add(1, Ordering::Relaxed);
            return head as *mut u8;
        }
        let offset = (st.bump + size - 1) & !(size - 1);
        if offset + size > ARENA_BYTES {
            drop(st);
            // SAFETY: forwarded from the caller.
            return unsafe { System.alloc(layout) };
        }
        st.bump = offset + size;
        drop(st);
        ARENA_ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: offset + size lies within the arena.
        unsafe { (ARENA.0.get() as *mut u8).add(offset) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !in_arena(ptr) {
            // SAFETY: not an arena block, so `System` allocated it with this layout.
            return unsafe { System.dealloc(ptr, layout) };
        }
        let class = class_of(layout).expect("arena blocks have a class");
        let mut st = STATE.lock();
        // SAFETY: the block is ours again and at least 16 bytes, aligned: store the link.
        unsafe { *(ptr as *mut usize) = st.free[class] };
        st.free[class] = ptr as usize;
    }
}

#[global_allocator]
static GLOBAL: ArenaAlloc = ArenaAlloc;

#[test]
fn allocator_guarded_by_wchan_mutex_survives_four_threads() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 20_000;
    let before = ARENA_ALLOCS.load(Ordering::Relaxed);
    let total = watchdog(Duration::from_secs(120), || {
        let sum = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let sum = sum.clone();
                std::thread::spawn(move || {
                    let mut keep: Vec<Vec<u64>> = Vec::new();
                    for i in 0..ROUNDS {
                        // Vectors of varied sizes grow by reallocation, then some are freed.
                        let mut v = Vec::new();
                        for j in 0..(i % 97) as u64 {
                            v.push(j);
                        }
                        let s: String = format!("{t}-{i}");
                        assert_eq!(s.split('-').nth(1).and_then(|n| n.parse().ok()), Some(i));
                        sum.fetch_add(v.len(), Ordering::Relaxed);
                        keep.push(v);
                        if keep.len() > 64 {
                            keep.swap_remove(i % 64);
                        }
                    }
                    keep.iter().map(Vec::len).sum::<usize>()
                })
            })
            .collect();
        let kept: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        (kept, sum.load(Ordering::Relaxed))
    });
    let per_thread: usize = (0..ROUNDS).map(|i| i % 97).sum();
    assert_eq!(total.1, THREADS * per_thread, "every push landed");
    assert!(total.0 > 0);
    let served = ARENA_ALLOCS.load(Ordering::Relaxed) - before;
    assert!(served > THREADS * ROUNDS, "the arena served the workload ({served} blocks)");
}
