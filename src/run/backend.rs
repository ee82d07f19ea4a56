//! The BPF backend: scheduler-core's [`Backend`] over the dispatcher's ring
//! buffers and the per-CPU state it shares through .bss.
//!
//! Nothing here makes a system call per task: tasks come in batches from the
//! `queued` ring buffer (libbpf reads the mmapped ring, no epoll; only an
//! idle loop blocks in poll, see `wait_for_tasks`), decisions
//! go to the mmapped `decisions` user ring buffer, and per-CPU state and
//! counters are plain loads from the mmapped .bss. Every buffer is sized up
//! front; the loop allocates nothing per task.

use std::{
    cell::RefCell,
    os::fd::BorrowedFd,
    ptr::NonNull,
    rc::Rc,
    sync::atomic::{fence, AtomicU32, Ordering},
};

use anyhow::Context as _;

use libbpf_rs::{libbpf_sys, AsRawLibbpf, MapCore, RingBuffer, RingBufferBuilder, UserRingBuffer};
use nix::{
    errno::Errno,
    poll::{poll, PollFd, PollFlags, PollTimeout},
    sched::sched_yield,
    time::{clock_gettime, ClockId},
};
use scheduler_core::{
    shared::TASK_SLOTS,
    wire::{RawDecision, RawQueuedTask, DECISION_SIZE, MAX_CPUS},
    Backend, BackendError, CpuView, Decision, QueuedTask, SendStatus, TaskSharedSlot,
};

use super::{bpf::types, stats::BssCounters};

/// Tasks decoded by the ring-buffer callback, waiting for [`Backend::receive`].
struct Inbox {
    tasks: Vec<QueuedTask>,
    /// Records that failed validation (count); their tasks stay pending in the
    /// dispatcher, which dispatches them itself after the stall timeout.
    invalid: u64,
}

/// The dispatcher's `task_shared` map (the per-task context shared with
/// user space: scheduler-core's `shared` module), mapped into this process:
/// read and written in place, no system call.
struct SharedMapping {
    slots: NonNull<TaskSharedSlot>,
}

const SHARED_BYTES: usize = TASK_SLOTS * std::mem::size_of::<TaskSharedSlot>();

impl SharedMapping {
    fn new(map: &dyn MapCore) -> anyhow::Result<Self> {
        let (value_size, entries) = (map.value_size() as usize, map.max_entries() as usize);
        anyhow::ensure!(
            value_size == std::mem::size_of::<TaskSharedSlot>() && entries == TASK_SLOTS,
            "task_shared has {entries} values of {value_size} bytes, expected {TASK_SLOTS} of {}",
            std::mem::size_of::<TaskSharedSlot>()
        );
        let len = std::num::NonZeroUsize::new(SHARED_BYTES).context("empty task_shared")?;
        // SAFETY: a new shared mapping of the map's fd (an mmapable array:
        // its values, contiguous, page-aligned from offset 0), placed by the
        // kernel; nothing else is touched. It lives until `drop`.
        let ptr = unsafe {
            nix::sys::mman::mmap(
                None,
                len,
                nix::sys::mman::ProtFlags::PROT_READ | nix::sys::mman::ProtFlags::PROT_WRITE,
                nix::sys::mman::MapFlags::MAP_SHARED,
                map.as_fd(),
                0,
            )
        }
        .map_err(|e| anyhow::anyhow!("mmap of task_shared failed: {e}"))?;
        Ok(Self { slots: ptr.cast() })
    }

    fn slots(&self) -> &[TaskSharedSlot] {
        // SAFETY: the mapping holds TASK_SLOTS values laid out as
        // TaskSharedSlot (checked in `new` and, field by field, against
        // intf.h in bpf.rs), all atomics: any bytes are valid values, and
        // both sides access them only with single aligned loads and stores.
        unsafe { std::slice::from_raw_parts(self.slots.as_ptr(), TASK_SLOTS) }
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, of that length, no longer borrowed
        // (borrows of `slots()` end with `&self`).
        if let Err(e) = unsafe { nix::sys::mman::munmap(self.slots.cast(), SHARED_BYTES) } {
            log::warn!("munmap of task_shared failed: {e}");
        }
    }
}

/// The backend over a loaded and attached dispatcher.
pub struct BpfBackend {
    shared: SharedMapping,
    /// Whether the policy's grants are published (`--fast-path` sets it).
    fast_path: bool,
    queued: RingBuffer<'static>,
    /// The `queued` map's ring in `queued` (its only one), for its positions.
    queued_ring: NonNull<libbpf_sys::ring>,
    inbox: Rc<RefCell<Inbox>>,
    capacity: usize,
    decisions: UserRingBuffer,
    bss: NonNull<types::bss>,
    nr_cpus: u32,
    dropped_decisions: u64,
}

fn io_error(op: &'static str, errno: i32) -> BackendError {
    BackendError::Io { op, reason: std::io::Error::from_raw_os_error(errno.abs()).to_string() }
}

impl BpfBackend {
    /// Connects to the dispatcher's maps. `batch` is the most tasks one
    /// `receive` returns.
    ///
    /// # Safety
    ///
    /// `bss` is the mmapped .bss of the same object, and it must stay mapped
    /// (the skeleton alive) as long as the backend lives: every counter read
    /// and `.bss` write of the backend goes through it.
    pub unsafe fn new(
        queued: &dyn MapCore,
        decisions: &dyn MapCore,
        task_shared: &dyn MapCore,
        bss: NonNull<types::bss>,
        nr_cpus: u32,
        batch: usize,
    ) -> anyhow::Result<Self> {
        let capacity = batch.max(1);
        let inbox = Rc::new(RefCell::new(Inbox { tasks: Vec::with_capacity(capacity), invalid: 0 }));
        let sink = Rc::clone(&inbox);
        let mut builder = RingBufferBuilder::new();
        builder.add(queued, move |data: &[u8]| {
            let mut inbox = sink.borrow_mut();
            match RawQueuedTask::from_bytes(data).and_then(|raw| raw.validate(nr_cpus)) {
                // consume_raw_n() never hands over more than `capacity`
                // records per receive(), so this push never reallocates.
                Ok(task) if inbox.tasks.len() < inbox.tasks.capacity() => inbox.tasks.push(task),
                _ => inbox.invalid += 1,
            }
            0
        })?;
        let queued = builder.build()?;
        // SAFETY: the live ring_buffer `queued` built above; ring 0 is the
        // `queued` map's, the only one added, owned by it.
        let ring = unsafe { libbpf_sys::ring_buffer__ring(queued.as_libbpf_object().as_ptr(), 0) };
        let queued_ring = NonNull::new(ring).context("the queued ring buffer has no ring 0")?;
        let decisions = UserRingBuffer::new(decisions)?;
        let shared = SharedMapping::new(task_shared)?;
        Ok(Self {
            shared,
            fast_path: false,
            queued,
            queued_ring,
            inbox,
            capacity,
            decisions,
            bss,
            nr_cpus,
            dropped_decisions: 0,
        })
    }

    /// Blocks until the dispatcher hands over a task or `timeout` passed
    /// (with records already waiting, even one still being written, it
    /// yields once and returns). The dispatcher wakes the ring's poller only while
    /// `usersched_blocked` is set (`queue_to_user` in main.bpf.c: every
    /// other hand-off is submitted with no wake-up, which would cost an
    /// IRQ-work interrupt each). So the flag is set, then a full fence
    /// (an exchange alone is not one on every architecture), then the
    /// ring's producer position is read: a hand-off that reserved its
    /// record before that read is seen here, and one after it sees the
    /// flag (its compare-and-swap is a full barrier). Cleared after the
    /// poll: a running or parked loop takes what comes at its next step.
    /// Nothing is consumed here: [`Backend::receive`] does that. Returns
    /// whether the wait was late: it ran to its timeout although a
    /// hand-off had taken the flag, owing it a wake-up, or with records in
    /// the ring (a wake-up lost). A hand-off at the very edge of the
    /// timeout counts too.
    pub fn wait_for_tasks(&self, timeout: std::time::Duration) -> Result<bool, BackendError> {
        let blocked = self.blocked_flag();
        blocked.store(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.queued_bytes() > 0 {
            // A record the last step did not take: one another CPU's
            // hand-off reserved and had not committed then (or has
            // committed since). Not polled: its producer may have read the
            // flag before it was set, and submit with no wake-up. Yielded
            // once, so other runnable tasks on this CPU go first (with none,
            // the dispatcher keeps the loop on its CPU, and it steps again
            // at once: the producer runs in ops.enqueue, with preemption
            // off, and commits within microseconds).
            blocked.store(0, Ordering::SeqCst);
            let _ = sched_yield();
            return Ok(false);
        }
        // SAFETY: the epoll fd belongs to `self.queued` (libbpf's ring_buffer
        // opened it and closes it only when freed), which outlives this
        // borrow: `&self` is held until the function returns.
        let epoll_fd = unsafe { BorrowedFd::borrow_raw(self.queued.epoll_fd()) };
        let ms = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        let polled = poll(&mut [PollFd::new(epoll_fd, PollFlags::POLLIN)], ms);
        // 0: a hand-off took the flag, and forced a wake-up.
        let taken = blocked.swap(0, Ordering::SeqCst) == 0;
        match polled {
            Ok(ready) => Ok(ready == 0 && (taken || self.queued_bytes() > 0)),
            Err(Errno::EINTR) => Ok(false),
            Err(errno) => Err(io_error("poll", errno as i32)),
        }
    }

    /// The dispatcher's `usersched_blocked` (see [`Self::wait_for_tasks`]).
    fn blocked_flag(&self) -> &AtomicU32 {
        // SAFETY: `bss` is the mapped .bss of the loaded object (see `new`),
        // mapped while `self` lives; the field is an aligned u32 that the
        // dispatcher only reads and exchanges atomically.
        unsafe { AtomicU32::from_ptr(&raw mut (*self.bss.as_ptr()).usersched_blocked) }
    }

    /// Bytes between the `queued` ring's consumer and producer positions:
    /// records handed over and not consumed, those still being written
    /// included.
    fn queued_bytes(&self) -> u64 {
        // SAFETY: `queued_ring` is ring 0 of `self.queued` (`new`), which
        // owns it and lives as long as `self`.
        unsafe { libbpf_sys::ring__avail_data_size(self.queued_ring.as_ptr()) as u64 }
    }

    /// The dispatcher's counters, for reading from any thread.
    ///
    /// # Safety
    ///
    /// The value (and its copies) is not used after the skeleton whose
    /// `.bss` this backend was given is dropped.
    pub unsafe fn bss_counters(&self) -> BssCounters {
        // SAFETY: `bss` is the mapped .bss of the loaded object (see `new`),
        // mapped as long as the caller uses the value.
        unsafe { BssCounters::new(self.bss) }
    }

    /// Test only (`--test-eject-after-ms`): the dispatcher's next
    /// ops.dispatch ejects the scheduler with an error.
    pub fn request_test_eject(&mut self) {
        // SAFETY: `bss` is the mapped .bss of the loaded object (see `new`); an aligned u32 store of a field only this
        // thread writes.
        unsafe { (&raw mut (*self.bss.as_ptr()).test_eject).write_volatile(1) };
    }

    /// With `false`, the engine is given no shared task context: no task
    /// is granted the fast path (without `--fast-path`).
    pub fn with_fast_path(mut self, on: bool) -> Self {
        self.fast_path = on;
        self
    }

    /// Queued records and decisions the backend could not use (count).
    pub fn invalid(&self) -> u64 {
        self.inbox.borrow().invalid + self.dropped_decisions
    }
}

impl Backend for BpfBackend {
    fn receive(&mut self, out: &mut Vec<QueuedTask>, max: usize) -> Result<usize, BackendError> {
        let n = max.min(self.capacity);
        if n == 0 {
            return Ok(0);
        }
        let ret = self.queued.consume_raw_n(n);
        if ret < 0 {
            return Err(io_error("ring_buffer__consume_n", ret));
        }
        let mut inbox = self.inbox.borrow_mut();
        let got = inbox.tasks.len();
        out.append(&mut inbox.tasks);
        Ok(got)
    }

    fn send(&mut self, decision: &Decision) -> Result<SendStatus, BackendError> {
        let Ok(raw) = RawDecision::encode(decision, self.nr_cpus) else {
            // A decision the dispatcher could not use (bad pid or CPU): drop
            // it; the task stays pending and the stall fallback runs it.
            self.dropped_decisions += 1;
            return Ok(SendStatus::Sent);
        };
        let mut bytes = [0u8; DECISION_SIZE];
        raw.to_bytes(&mut bytes);
        let rb = self.decisions.as_libbpf_object().as_ptr();
        // SAFETY: `rb` is the live user ring buffer owned by `self`; we are
        // its only producer (single-threaded).
        let sample = unsafe { libbpf_sys::user_ring_buffer__reserve(rb, DECISION_SIZE as u32) };
        if sample.is_null() {
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            return match errno {
                libc::ENOSPC | libc::EAGAIN | libc::EBUSY => Ok(SendStatus::Full),
                e => Err(io_error("user_ring_buffer__reserve", e)),
            };
        }
        // SAFETY: libbpf reserved DECISION_SIZE writable bytes at `sample`;
        // submitting hands them to the kernel exactly once.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), sample.cast::<u8>(), DECISION_SIZE);
            libbpf_sys::user_ring_buffer__submit(rb, sample);
        }
        Ok(SendStatus::Sent)
    }

    fn refresh_cpus(&mut self, view: &mut CpuView) {
        let bss = self.bss.as_ptr();
        for cpu in 0..view.nr_cpus().min(MAX_CPUS) {
            // SAFETY: `bss` is the mapped .bss of the loaded object (see `new`); `cpu` < MAX_CPUS, the array's length.
            let st = unsafe { (&raw const (*bss).cpu_state[cpu as usize]).read_volatile() };
            view.set(cpu, st.idle != 0, st.queue_depth, st.current_pid);
        }
    }

    fn now_ns(&self) -> u64 {
        monotonic_ns()
    }

    fn step_done(&mut self, pending: usize) {
        let bss = self.bss.as_ptr();
        // SAFETY: `bss` is the mapped .bss of the loaded object (see `new`); aligned u64 loads and stores of fields that
        // only this thread writes and the BPF side reads.
        unsafe {
            (&raw mut (*bss).nr_user_pending).write_volatile(pending as u64);
            let steps = (&raw const (*bss).user_steps).read_volatile();
            (&raw mut (*bss).user_steps).write_volatile(steps.wrapping_add(1));
        }
    }

    fn task_shared(&self) -> Option<&[TaskSharedSlot]> {
        self.fast_path.then(|| self.shared.slots())
    }
}

/// Now, in ns of CLOCK_MONOTONIC: the clock of bpf_ktime_get_ns(), which the
/// dispatcher stamps tasks with. A vDSO call, no system call.
pub fn monotonic_ns() -> u64 {
    clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map_or(0, |ts| (ts.tv_sec() as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec() as u64))
}
