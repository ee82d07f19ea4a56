/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The records shared by the BPF dispatcher (main.bpf.c) and the Rust user
 * scheduler. scheduler-core/src/wire.rs holds the same layout in plain Rust;
 * the binary asserts at compile time that bindgen's view of this file has
 * the same sizes and offsets, so the two can never drift apart silently.
 *
 * Every field says its unit. Times are ns of CLOCK_MONOTONIC (the clock of
 * bpf_ktime_get_ns() and scx_bpf_now(), and of the Rust side's now_ns()).
 */
#ifndef __RELAY_INTF_H
#define __RELAY_INTF_H

#ifndef __VMLINUX_H__
typedef signed int s32;
typedef unsigned int u32;
typedef unsigned long long u64;
#endif

enum relay_consts {
	/* Largest CPU count the dispatcher supports (CPU ids 0..MAX_CPUS-1). */
	RELAY_MAX_CPUS = 1024,
	/* relay_decision.cpu value meaning "any CPU": the shared queue. */
	RELAY_CPU_ANY = -1,
	/* Length of a command name, as the kernel's TASK_COMM_LEN (bytes). */
	RELAY_COMM_LEN = 16,
	/* The kernel's sched_ext watchdog timeout we ask for (ops.timeout_ms, ms). */
	RELAY_WATCHDOG_MS = 5000,
	/* A task runnable this long in one of our DSQs runs next: aging (ms). */
	RELAY_AGE_AFTER_MS = 1000,
	/* Range of the heartbeat timer's period (ms): a quarter of the stall timeout, clamped. */
	RELAY_TIMER_MIN_MS = 10,
	RELAY_TIMER_MAX_MS = 250,
	/* --tickless: shortest period of the tickless check (us); else it is slice_min. */
	RELAY_TICKLESS_MIN_PERIOD_US = 1000,
	/* Longest slice a decision (clamped) or --slice-us may ask for (us). */
	RELAY_MAX_SLICE_US = 100000,
	/*
	 * A decision's vtime is clamped to within 2^this of the dispatcher's
	 * clock (vtime_now, the largest vtime of an unclamped decision seen
	 * running). Keys queued together then stay less than 2^63 apart, which
	 * the kernel's wrap-aware order needs to be transitive (window on either
	 * side, plus at most one window the clock moves meanwhile); and no key
	 * of an honest policy is touched, whatever its scale (ns of virtual
	 * time, a counter, timestamps: 2^61 ns is 73 years).
	 */
	RELAY_VTIME_WINDOW_SHIFT = 61,
	/* Decisions one ops.dispatch() may move (ops.dispatch_max_batch), and the
	   most tasks and decisions one step of the user scheduler handles (count). */
	RELAY_DISPATCH_BATCH = 512,
	/* The kernel's SCX_ENQ_WAKEUP, as user space reads it in
	   relay_queued_task.enq_flags (relay_init checks the two agree; bit). */
	RELAY_ENQ_WAKEUP = 1,
	/*
	 * Weights (relay_queued_task.weight, task_weight) are the fair class's
	 * load weights: a nice-0 task weighs 1024, a SCHED_IDLE one 3, and a
	 * hand-off carries at most cpu.weight's largest value (10000 of 100)
	 * on that scale.
	 */
	RELAY_WEIGHT_NICE_0 = 1024,
	RELAY_WEIGHT_IDLEPRIO = 3,
	RELAY_WEIGHT_MAX = 102400,
	/*
	 * The per-task context shared by the dispatcher and user space
	 * (relay_task_shared, main.bpf.c "Per-task context shared with user
	 * space"): slots in the task_shared map (a power of two, count), and
	 * how many slots from pid & (RELAY_TASK_SLOTS - 1) on a task may take
	 * (count): both sides find a pid's slot by the same probe.
	 */
	RELAY_TASK_SLOTS = 16384,
	RELAY_SLOT_PROBES = 4,
	/*
	 * The fast path's bounds: a grant's burst budget is at most this
	 * (us; relay_grant's 24 budget bits hold more), and a task's fast-path
	 * runs may use at most a share of a CPU over each RELAY_FAST_WINDOW_MS
	 * window before its grant is revoked: RELAY_FAST_SHARE_PCT % at nice
	 * 0's weight, scaled by 2w / (w + RELAY_WEIGHT_NICE_0) at an effective
	 * weight w (the placement word's; at 50 %, the share a task of weight
	 * w gets beside one nice-0 task; main.bpf.c fast_share_limit_ns()).
	 * A fast-placed wakeup whose burst reaches its budget is an overrun;
	 * RELAY_FAST_OVERRUNS of its fast-placed wakeups in a row revoke the
	 * grant (count; main.bpf.c fast_accounting()).
	 */
	RELAY_FAST_MAX_BUDGET_US = 20000,
	/*
	 * A slot's irq_wake_share when every wakeup it has seen ran in
	 * interrupt context (the share's unit: 1/RELAY_IRQ_SHARE_ONE).
	 */
	RELAY_IRQ_SHARE_ONE = 1024,
	RELAY_FAST_WINDOW_MS = 100,
	RELAY_FAST_SHARE_PCT = 50,
	RELAY_FAST_OVERRUNS = 2,
};

/*
 * A grant of the wakeup fast path, one u64 that user space writes (and the
 * dispatcher reads) in one store, never torn:
 *
 *   bits 63..32  pid the grant is for (a slot's next owner cannot use it)
 *   bit  31      deferrable: when no CPU can take a wakeup at once, it may
 *                wait on a CPU whose task has not run slice_min yet, as a
 *                light task's wakeup does (main.bpf.c fast_defer_cpu())
 *   bits 30..8   burst budget (us, 1..RELAY_FAST_MAX_BUDGET_US): CPU one
 *                fast-placed wakeup may use (RELAY_FAST_OVERRUNS
 *                overruns in a row revoke the grant)
 *   bits  7..0   epoch: user space bumps it to grant again after a revoke
 *
 * 0 = no grant.
 */
#define RELAY_GRANT_PID_SHIFT	 32
#define RELAY_GRANT_DEFERRABLE	 0x80000000ULL
#define RELAY_GRANT_BUDGET_SHIFT 8
#define RELAY_GRANT_BUDGET_MASK	 0x7fffffULL
#define RELAY_GRANT_EPOCH_MASK	 0xffULL

/*
 * Where and at what weight the policy places a granted task, one u64 that
 * user space writes beside the grant (and the dispatcher reads at a fast
 * placement), never torn:
 *
 *   bits 63..32  pid it is for (another pid's word is ignored)
 *   bits 31..20  preferred CPU + 1 (0 = none: the task's own CPU)
 *   bits 19..0   effective weight (RELAY_WEIGHT_NICE_0 = nice 0, at most
 *                RELAY_WEIGHT_MAX; 0 = none: nice 0's); the dispatcher
 *                uses at most the task's own weight at the placement
 *
 * 0 = none. A hint: it takes effect only with a valid grant.
 */
#define RELAY_PLACE_PID_SHIFT	32
#define RELAY_PLACE_CPU_SHIFT	20
#define RELAY_PLACE_CPU_MASK	0xfffULL
#define RELAY_PLACE_WEIGHT_MASK 0xfffffULL

/*
 * One task's context, shared by the dispatcher and user space in the
 * mmapable array map task_shared (RELAY_TASK_SLOTS slots; both sides map
 * it, and read and write it in place, no system call). The dispatcher
 * claims a slot for a task when the task joins sched_ext and frees it when
 * it leaves; a task whose RELAY_SLOT_PROBES slots are all taken has none
 * (nr_slots_full) and is never fast-placed. Each field is written by one
 * side only, one store each: the other side reads hints, never a
 * consistent snapshot. 80 bytes.
 */
struct relay_task_shared {
	/* written by the dispatcher */
	s32 pid;		/* owner (thread id); 0 = free slot */
	u32 nr_wakeups;		/* wakeups since it joined (count) */
	u64 runtime_ns;		/* CPU time since it joined (ns) */
	u64 avg_burst_ns;	/* moving average of the CPU time of one wakeup's run, weight 1/8 (ns) */
	u64 avg_wake_period_ns; /* moving average of the time between wakeups, weight 1/8 (ns) */
	s32 last_waker_pid;	/* the task running where its last wakeup ran (a hint: an interrupt's victim too); 0 = none */
	u32 nr_fast_runs;	/* wakeups the fast path placed (count) */
	u32 nr_irq_wakeups;	/* of its wakeups, those in interrupt context: a timer's expiry, a device (count) */
	u32 irq_wake_share;	/* moving share of its wakeups in interrupt context, weight 1/8, the first
				   whole (1/RELAY_IRQ_SHARE_ONE) */
	u64 revoked_grant;	/* the grant last revoked for an overrun; equal to `grant` = no fast path (grant word) */
	u64 revoked_ns;		/* when it was revoked (ns) */
	/* written by user space */
	u64 grant;     /* the fast-path grant (grant word, see above); 0 = none */
	u64 placement; /* preferred CPU and effective weight (placement word, see above); 0 = none */
};

/*
 * A runnable task handed to user space for a decision (kernel -> user, one
 * `queued` ring-buffer sample each). 96 bytes.
 */
struct relay_queued_task {
	s32 pid;	     /* thread id */
	s32 tgid;	     /* thread-group (process) id */
	s32 cpu;	     /* CPU the task was on or was selected for (CPU id) */
	u32 nr_cpus_allowed; /* CPUs in the task's affinity mask (count) */
	u64 enq_flags;	     /* SCX_ENQ_* flags of this enqueue (bit set) */
	u32 weight;	     /* share weight: task_weight times its cgroups' shares
				(main.bpf.c, "Cgroup cpu.weight"), 1..RELAY_WEIGHT_MAX */
	u32 task_weight;     /* the task's own load weight (nice), RELAY_WEIGHT_NICE_0 = nice 0 */
	u64 vtime;	     /* virtual time as last set by user space (ns) */
	u64 start_ts;	     /* last time the task started running (ns) */
	u64 stop_ts;	     /* last time the task stopped running (ns) */
	u64 exec_runtime;    /* CPU time used since it last woke up (ns) */
	u64 generation;	     /* enqueue generation, echoed by the decision (count) */
	u64 cgid;	     /* the task's cgroup on the default (v2) hierarchy at this
				hand-off: cgroup_id(), the inode number of its cgroupfs
				directory; 0 = unknown (cgroup id) */
	char comm[16];	     /* command name, NUL padded (bytes) */
};

/*
 * A user-space decision for one queued task (user -> kernel, one
 * `decisions` user-ring-buffer sample each). 40 bytes.
 */
struct relay_decision {
	s32 pid;	/* thread id, echoed from the queued task */
	s32 cpu;	/* target CPU id, or RELAY_CPU_ANY (-1) */
	u64 slice_ns;	/* time slice (ns), 0 = keep the current slice */
	u64 vtime;	/* ordering key in the target queue (ns of vtime) */
	u64 flags;	/* SCX_ENQ_* flags (bit set; only safe ones are used) */
	u64 generation; /* echo of relay_queued_task.generation (count) */
};

/* What a relay_record_event records (its `kind`). */
enum relay_record_kind {
	/* ops.runnable: the task joined the runqueue (a wakeup, a fork, a
	   class or affinity change). arg = its load weight (RELAY_WEIGHT_NICE_0
	   = nice 0), arg2 = CPUs in its affinity mask, flags = the low 32 bits
	   of enq_flags (RELAY_ENQ_WAKEUP: a wakeup), and
	   RELAY_REC_IN_INTERRUPT when the call ran in interrupt context.
	   `cpu` is the CPU the call runs on (the waker's, or an
	   interrupt's), not the task's. */
	RELAY_REC_RUNNABLE = 1,
	/* ops.running: the task starts running on `cpu`. arg = its
	   p->scx.dsq_vtime then (a user decision's key, as the tick's
	   should_yield compares it), flags = 1 for the user scheduler. */
	RELAY_REC_RUNNING = 2,
	/* ops.stopping: the task stops running on `cpu`. flags = 1 if it stays
	   runnable (preempted, slice over, yielded), 0 if it blocks. */
	RELAY_REC_STOPPING = 3,
	/* ops.quiescent: the task left the runqueue (slept, blocked, exited, or
	   a class or affinity change). flags = the low 32 bits of deq_flags. */
	RELAY_REC_QUIESCENT = 4,
	/* A user-space decision for the task was applied (claimed and
	   inserted) on `cpu`. arg = its slice (ns, clamped to the longest
	   slice), arg2 = the CPU it named (RELAY_CPU_ANY: any). */
	RELAY_REC_DECISION = 5,
	/* ops.enqueue of a wakeup the fast path did not place although the
	   policy had granted the task (a grant word for its pid), or its
	   grant was revoked and none found valid since: flags = why (enum
	   relay_fast_miss), arg = the grant word (the revoked one). It goes
	   to user space, or, if the hand-off fails, is dispatched in the
	   kernel. A wakeup of a task not granted records none. */
	RELAY_REC_FAST_MISS = 6,
	/* The dispatcher revoked the task's grant (ops.stopping): flags =
	   why (enum relay_revoke_why), arg = the CPU time that went over
	   (ns: the burst's, or the fast-placed runs' in the window), arg2 =
	   the bound it went over (us: the budget, or the share). */
	RELAY_REC_REVOKE = 7,
};

/* Why a granted wakeup was not fast-placed (RELAY_REC_FAST_MISS). */
enum relay_fast_miss {
	RELAY_FAST_MISS_REVOKED = 1,	/* its grant was revoked; no valid grant found since (revoked one kept, or none) */
	RELAY_FAST_MISS_NICED = 2,	/* its weight is below nice 0's now */
	RELAY_FAST_MISS_NO_CPU = 3,	/* no CPU it may take at once or be deferred on */
	RELAY_FAST_MISS_SLOT_TAKEN = 4, /* another fast task waits for the CPU chosen */
};

/* Why a grant was revoked (RELAY_REC_REVOKE). */
enum relay_revoke_why {
	RELAY_REVOKE_BUDGET = 1, /* a fast-placed wakeup's burst reached its budget */
	RELAY_REVOKE_SHARE = 2,	 /* fast-placed runs went over the share of a CPU in the window */
};

enum relay_record_flags {
	/* A RELAY_REC_RUNNABLE's flag: ops.runnable ran in interrupt context
	   (hard interrupt, NMI, or a softirq being served: a timer's expiry,
	   a device's completion), so the task running on `cpu` is not the
	   waker. Above every SCX_ENQ_* flag in the low 32 bits. */
	RELAY_REC_IN_INTERRUPT = 1 << 30,
};

/*
 * One scheduling event for `scx_relay record` (kernel -> user, one `record`
 * ring-buffer sample each, written only while recording). 56 bytes.
 */
struct relay_record_event {
	u64 ts;	       /* when (ns) */
	u64 arg;       /* the kind's first argument (see relay_record_kind) */
	s32 pid;       /* thread id */
	s32 tgid;      /* thread-group (process) id */
	s32 cpu;       /* the CPU the event happened on (CPU id) */
	u32 kind;      /* enum relay_record_kind */
	u32 flags;     /* the kind's flags (see relay_record_kind) */
	s32 arg2;      /* the kind's second argument (see relay_record_kind) */
	char comm[16]; /* command name, NUL padded (bytes) */
};

/*
 * One CPU's state as the dispatcher last saw it, in a .bss array that both
 * sides map: the user scheduler reads it with plain loads, no system call.
 * Written racily by the dispatcher (one store per field), so each field is a
 * hint, never a guarantee. 16 bytes.
 */
struct relay_cpu_state {
	u32 idle;	 /* 1 = the CPU is idle (bool) */
	u32 queue_depth; /* tasks waiting in this CPU's queue (--partial: its local DSQ) (count) */
	s32 current_pid; /* pid of the task running on it, 0 = none */
	u32 online;	 /* 1 = the CPU exists and was online at load (bool) */
};

#endif /* __RELAY_INTF_H */
