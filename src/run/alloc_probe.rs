//! A probe of the scheduling loop's allocator calls, shown in `--stats` as
//! `loop allocs`: allocations, reallocations and frees made on the loop's
//! thread through Rust's global allocator while it schedules (`schedule` in
//! `scheduler.rs`; C code calling `malloc` itself, libbpf's, is not seen). The loop is
//! meant to make none once its buffers are sized: an allocator call can
//! take a lock another thread holds while it waits for a CPU that only this
//! loop hands out, or fault in fresh memory.
//!
//! It counts only where [`CountingAllocator`] is the process's global
//! allocator (the `scx_relay` binary declares it; a program built on
//! `run_with_policy` may, and `tests/no_alloc.rs` does, marking its engine
//! runs with [`OnLoop`]). Elsewhere the stats line says `loop allocs -`.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
};

/// The system allocator, counting the calls made on the scheduling loop.
#[derive(Debug)]
pub struct CountingAllocator;

thread_local! {
    /// Whether this thread is the scheduling loop, inside `schedule`
    /// (a const initializer: reading it allocates nothing).
    static ON_LOOP: Cell<bool> = const { Cell::new(false) };
}

/// Allocator calls on the loop since the process started.
static CALLS: AtomicU64 = AtomicU64::new(0);
/// Whether [`CountingAllocator`] is the global allocator.
static INSTALLED: AtomicBool = AtomicBool::new(false);

fn note() {
    if !INSTALLED.load(Ordering::Relaxed) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
    if ON_LOOP.try_with(Cell::get).unwrap_or(false) {
        CALLS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// bookkeeping neither allocates nor panics.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note();
        // SAFETY: `ptr` came from System with this layout (every allocation
        // went through here).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocator calls the loop made so far, if the probe is installed.
pub fn loop_alloc_calls() -> Option<u64> {
    INSTALLED.load(Ordering::Relaxed).then(|| CALLS.load(Ordering::Relaxed))
}

/// Marks the calling thread as the scheduling loop until dropped (on that
/// thread: not `Send`).
pub struct OnLoop(std::marker::PhantomData<*const ()>);

impl OnLoop {
    /// Starts counting this thread's allocator calls.
    pub fn enter() -> Self {
        ON_LOOP.with(|c| c.set(true));
        Self(std::marker::PhantomData)
    }
}

impl Drop for OnLoop {
    fn drop(&mut self) {
        ON_LOOP.with(|c| c.set(false));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only calls inside the marked span, on the marked thread, count (the
    /// tests' binary does not install the allocator: the counter is read
    /// directly).
    #[test]
    fn counts_only_on_the_loop() {
        let before = CALLS.load(Ordering::Relaxed);
        note();
        assert_eq!(CALLS.load(Ordering::Relaxed), before, "not on the loop");
        {
            let _on = OnLoop::enter();
            note();
            std::thread::spawn(note).join().unwrap_or(());
        }
        note();
        assert_eq!(CALLS.load(Ordering::Relaxed), before + 1, "one call on the loop, none elsewhere");
        assert!(INSTALLED.load(Ordering::Relaxed));
    }
}
