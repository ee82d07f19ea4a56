/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_relay: the BPF dispatcher.
 *
 * A thin sched_ext scheduler that hands the scheduling decisions to a Rust
 * process (the *user scheduler*) and keeps the machine safe on its own.
 *
 * The flow of one task
 * --------------------
 * ops.enqueue() writes a runnable task to the `queued` ring buffer and
 * remembers it in the `pending` map (generation -> pid). The user scheduler
 * drains the ring buffer, runs its policy and writes decisions (target CPU or
 * "any", slice, vtime) to the `decisions` user ring buffer. ops.dispatch()
 * drains decisions, as many as it has free dispatch slots, and inserts each
 * task into the chosen CPU's queue (a per-CPU DSQ) or the shared DSQ. Both
 * are ordered by the task's vtime (the policy's ordering key); a CPU takes
 * whichever of its own DSQ's and the shared DSQ's heads comes first.
 *
 * Decisions never target SCX_DSQ_LOCAL_ON: the kernel treats a local insert
 * for a CPU outside the task's affinity as a scheduler error, while moving
 * from a custom DSQ to a CPU simply skips tasks that cannot run there.
 *
 * Fast paths stay in the kernel: a wakeup onto an idle CPU whose queues are
 * empty goes straight to that CPU, and kernel threads never go through user
 * space (see relay_enqueue: kthread_in_kernel).
 *
 * The user scheduler itself
 * -------------------------
 * The user scheduler's loop thread (pid == usersched_pid, registered by
 * relay_register_usersched) is never decided by
 * itself: it is parked in its own DSQ and pulled first by ops.dispatch()
 * whenever work is pending, and by the CPU of its runqueue when that CPU
 * would otherwise go idle. It
 * polls, then yields; the yield puts it back in its DSQ unless nothing else
 * wants its CPU (then it keeps it; SCX_OPS_ENQ_LAST makes sure ops.enqueue()
 * sees a yield that the dispatcher does not keep). After a step with nothing
 * to do it blocks instead (the user loop): parked with nothing to do, it
 * would stay counted on an idle CPU's runqueue (see keep_ext_server()). A
 * BPF timer makes it run at least once a second while it is parked, so the
 * sched_ext watchdog never sees the parked task as stalled.
 *
 * Generations: stale and duplicate decisions
 * ------------------------------------------
 * Every hand-off to user space gives the task a new generation (task
 * storage), odd and unique among all tasks (handoff_seq), and the record
 * carries it. A decision is applied only if it claims that generation with
 * a compare-and-swap (generation -> generation + 1, even); so of the user's
 * decision and the stall fallback below exactly one wins, and a late or
 * duplicate decision, or one for a task that was taken back, re-enqueued or
 * exited meanwhile, or for an earlier task that had the same pid, is
 * discarded and counted (nr_stale); so is one naming a
 * CPU the task's mask lost after the hand-off (ops.set_cpumask counts mask
 * changes; the kernel puts the task back, a new hand-off follows). A
 * decision naming a CPU outside the mask it was given (or no CPU at all) is
 * bounced to an allowed one (nr_bounced). User-supplied data never reaches scx_bpf_error(): a bad
 * decision cannot get the scheduler ejected.
 *
 * Should a task change state between the claim and the kernel acting on the
 * insert, the kernel itself drops the insert: kernel/sched/ext.c
 * finish_dispatch() ignores a dispatch of a task that is no longer QUEUED, or
 * QUEUED under a different qseq (it went through a dequeue / re-enqueue since
 * the insert was recorded). That is why dispatching a task we no longer own
 * is harmless, and why the generation check is what prevents running a task
 * twice on behalf of one enqueue.
 *
 * Stall fallback
 * --------------
 * Tasks handed to user space stay reachable: the `pending` map names each
 * of them (a hand-off the kernel takes back, relay_dequeue, leaves it).
 * "Progress" of the user side is work done: a decision drained from
 * `decisions`, or the consumer position of `queued` moving (tasks taken
 * in). Its thread being on a CPU is not: a policy spinning in a loop, or
 * stuck in a slow step, is on a CPU all the time. When tasks are pending and there was
 * no progress for `stall_timeout_ns`, the dispatcher declares the user side
 * stalled: ops.dispatch() walks `pending` and inserts every task still at
 * the recorded generation into the shared DSQ (claiming the generation, so
 * the late decision is stale), new tasks go straight to kernel DSQs, and the
 * timer kicks idle CPUs so that this happens even on an idle machine. All of
 * it is counted in nr_fallback. The stall ends with the next progress, or,
 * once nothing is pending, with the next engine step the user side
 * completes (user_steps: it is responsive, it just had nothing to decide).
 * The user scheduler gets CPU time first whenever it is runnable during a
 * stall, and takes over as soon as it works again.
 *
 * A live user side can still leave one task behind (a policy bug: it never
 * decides the task, or only with garbage). So the timer also asks
 * ops.dispatch() to walk `pending` every period and dispatch, as above, each
 * task that has waited in user space for stall_timeout_ns or longer
 * (nr_rescued): however the policy misbehaves, no task waits past the
 * watchdog because of it.
 *
 * Aging
 * -----
 * A decided task can still starve: the DSQs are ordered by the policy's
 * vtime, and a task whose vtime keeps sorting behind newcomers (a policy
 * bug, garbage, a scale that drifted) never reaches the head; a task pinned
 * to one CPU waits in that CPU's DSQ however idle the others are. So the
 * timer walks every DSQ of ours each period, and for every task runnable for
 * AGE_AFTER_NS it asks a CPU that may run it to do so next (age_request[],
 * and a preempting kick); that CPU's ops.dispatch() moves such tasks to its
 * local DSQ before anything else, the user scheduler included (nr_aged).
 *
 * Every wait is measured on the kernel watchdog's own clock (task_ctx's
 * wait_since mirrors p->scx.runnable_at): it starts when the task wakes up
 * or is put back after running, and nothing else restarts it, so a task
 * that is re-enqueued again and again (an affinity change dequeues and
 * re-enqueues it, through user space) is still seen as waiting since it
 * last ran. A task enqueued when it has already waited AGE_AFTER_NS goes
 * no more through user space: the dispatcher runs it next itself
 * (nr_overdue), so a task in user space has waited less than that before
 * its hand-off, and the rescue bounds what it waits there.
 * docs/architecture.md lists every place a task can wait and what bounds
 * each wait.
 *
 * Shared per-CPU state
 * --------------------
 * `cpu_state[]` in .bss (mmapped by libbpf, read by the user scheduler with
 * plain loads) tells, per CPU: idle, queue depth, pid running.
 *
 * CPU hotplug is not handled here: without ops.cpu_online/offline the kernel
 * unloads the scheduler with SCX_ECODE_ACT_RESTART, and the binary restarts
 * it (every task falls back to the fair class meanwhile, so nothing stalls).
 */
#include <scx/common.bpf.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

/*
 * DSQ ids: one per CPU (id == CPU), then the shared one, the user
 * scheduler's, and the kernel threads' that any CPU they may use serves
 * first (see kthread_in_kernel()).
 */
#define SHARED_DSQ    RELAY_MAX_CPUS
#define USERSCHED_DSQ (RELAY_MAX_CPUS + 1)
#define KTHREAD_DSQ   (RELAY_MAX_CPUS + 2)

/* Ring-buffer sizes (bytes; power-of-two multiples of the page size). */
#define QUEUED_RB_BYTES	   (512 * 1024)
#define DECISIONS_RB_BYTES (256 * 1024)
/* The record ring buffer while not recording: its smallest size (one page);
   `scx_relay record` sizes it before loading. */
#define RECORD_RB_IDLE_BYTES 4096

/* Most tasks in user space at once; beyond that, tasks stay in the kernel. */
#define MAX_PENDING 16384

/* The user scheduler runs at least this often (ns). */
#define HEARTBEAT_NS (1000ULL * 1000 * 1000)

/*
 * A task runnable this long (on the watchdog's clock: see task_ctx.wait_since)
 * while waiting in one of our DSQs runs next, whatever its vtime (ns).
 */
#define AGE_AFTER_NS (RELAY_AGE_AFTER_MS * 1000ULL * 1000)

/*
 * Most tasks one look at a DSQ walks (count): more than a DSQ can hold, since
 * at most MAX_PENDING tasks are decided at once, plus the fallback's.
 */
#define AGE_SCAN_DEPTH (2 * MAX_PENDING)
/*
 * How deep hand_over_stranded() looks into one CPU's DSQ: each step takes
 * that DSQ's lock with interrupts off, on a CPU that found nothing to run.
 */
#define STRANDED_SCAN_DEPTH 512

/* Most overdue tasks one ops.dispatch() moves to its CPU (count). */
#define AGE_MOVES_PER_DISPATCH 4

/* Longest slice a decision may ask for (ns); longer ones are clamped. */
#define MAX_SLICE_NS ((u64)RELAY_MAX_SLICE_US * 1000)
#define VTIME_WINDOW (1ULL << RELAY_VTIME_WINDOW_SHIFT)

/* The enqueue flags a decision may pass to the kernel. */
#define USER_ENQ_FLAGS (SCX_ENQ_WAKEUP | SCX_ENQ_PREEMPT)

/*
 * The user scheduler's loop thread, by the id the kernel gives it (its pid
 * in the initial pid namespace: task_struct.pid). Set before attach by
 * relay_register_usersched, which that thread runs itself: inside a pid
 * namespace (a container, `unshare -p`) its getpid() is another number, and
 * the loop need not run on the process's main thread.
 */
volatile s32 usersched_pid;

/* Tunables, set by the binary before load. */
const volatile u64 slice_ns = 20000000;		  /* slice of kernel-side dispatches (ns) */
const volatile u64 slice_min_ns = 1000000;	  /* a task runs this long before it yields to waiting work (ns) */
const volatile u64 stall_timeout_ns = 1000000000; /* no progress this long = stalled (ns) */
const volatile u64 timer_interval_ns = 100000000; /* heartbeat / stall-check period (ns) */
const volatile bool partial_mode;		  /* --partial: SCX_OPS_SWITCH_PARTIAL (see keep_ext_server) */
const volatile bool record_enabled;		  /* scx_relay record: write record events (see record_event) */
const volatile bool tickless;			  /* --tickless: a task alone on its CPU runs an unbounded slice (see grant_unbounded_slice) */
const volatile bool preempt_hogs;		  /* the user hand-off preempts a CPU hog at once, unless --no-preempt-hogs (see cpu_preemptible) */
const volatile u8 nohz_full_cpu[RELAY_MAX_CPUS];  /* 1: booted nohz_full= (sysfs); the tickless check's timer stays off it */

/* Counters, read by the binary (monotonic, count). */
volatile u64 nr_queued;		   /* tasks handed to user space */
volatile u64 nr_user_dispatches;   /* runs that a decision of the user scheduler placed */
volatile u64 nr_kernel_dispatches; /* tasks dispatched by the fast paths */
volatile u64 nr_fallback;	   /* tasks dispatched while the user side stalled */
volatile u64 nr_bounced;	   /* decisions moved to an allowed CPU */
volatile u64 nr_stale;		   /* decisions discarded (stale, duplicate, exited, malformed) */
volatile u64 nr_vtime_clamped;	   /* decisions whose vtime was clamped to VTIME_WINDOW around vtime_now */
volatile u64 nr_congested;	   /* tasks kept in the kernel: ring buffer or pending map full */
volatile u64 nr_stalls;		   /* times the user side was declared stalled */
volatile u64 nr_rescued;	   /* tasks dispatched after waiting stall_timeout_ns in user space */
volatile u64 nr_aged;		   /* tasks run ahead of their vtime after AGE_AFTER_NS runnable in a DSQ */
volatile u64 nr_overdue;	   /* tasks enqueued already runnable AGE_AFTER_NS: kept in the kernel */
volatile u64 nr_keepalive;	   /* tasks run on a served CPU only to keep its ext server: taken back from user space (keep_ext_server) */
volatile u64 nr_voided;		   /* hand-offs taken back by a dequeue before a decision (relay_dequeue) */
volatile u64 nr_record_dropped;	   /* record events lost: the record ring buffer was full (count) */
volatile u64 nr_reenqueued;	   /* tasks (the user scheduler too) the kernel gave back from a local DSQ after a higher class took the CPU (relay_sched_switch) */

/* Profile counters, read by the binary (monotonic, count): where the time goes. */
volatile u64 nr_dispatch_calls;		/* ops.dispatch() invocations */
volatile u64 nr_drains;			/* user-ring-buffer drains that found decisions */
volatile u64 nr_drained;		/* decisions read by those drains */
volatile u64 nr_kicks;			/* scx_bpf_kick_cpu() calls */
volatile u64 nr_usersched_runs;		/* times the user scheduler was put on a CPU */
volatile u64 nr_usersched_kicks;	/* kicks meant to get the user scheduler a CPU (kick_usersched) */
volatile u64 nr_usersched_kicks_astray; /* dispatches after such kicks on a CPU the user scheduler may not run on (check_usersched_kick) */
volatile u64 nr_tickless_aims;		/* --tickless: times the tickless check moved usersched_cpu off a CPU that could not serve the waiting user scheduler (aim_waiting_usersched) */
volatile u64 nr_usersched_hog_preempts; /* preempting kicks for it aimed at a CPU hog whose run had not had slice_min_ns (the hog rule, cpu_preemptible) */
volatile u64 nr_served_empty;		/* ops.dispatch() calls on a served CPU that left it nothing of ours to run (keep_ext_server): if its ext server was picking, the server stops */
volatile u64 nr_stranded_moved;		/* tasks of a served or idling CPU's runqueue moved from another CPU's DSQ to that CPU's local DSQ (keep_ext_server) */
volatile u64 nr_unbounded_runs;		/* runs given an unbounded slice, SCX_SLICE_INF: no task was queued for their CPU (--tickless) */
volatile u64 nr_unbounded_kicks;	/* SCX_KICK_PREEMPT kicks of the tickless check to CPUs marked unbounded, work being queued for them (--tickless) */
volatile u64 nr_fast_placed;		/* wakeups the fast path placed itself, under a grant, without user space (fast_place) */
volatile u64 nr_fast_preferred;		/* of those, placements on the CPU the grant's placement word preferred (fast_place) */
volatile u64 nr_fast_local;		/* of those placed at once, into the local DSQ of the CPU whose runqueue the wakeup enqueues on, with no kick (fast_place) */
volatile u64 nr_fast_preempts;		/* of those, placements that preempted a running task at once (SCX_KICK_PREEMPT, or SCX_ENQ_PREEMPT for a local one; not the deferred ones) */
volatile u64 nr_fast_hog_preempts;	/* of those, preempting a CPU hog whose run had not had slice_min_ns (the hog rule, fast_cpu) */
volatile u64 nr_irq_context_doubts;	/* ops.dispatch calls (task context: the pick in __schedule) whose preempt count read as interrupt context: in_interrupt_context()'s layout guess is wrong on this kernel; after the first, no wakeup counts as an interrupt's (relay_runnable) */
volatile u64 nr_fast_deferred;		/* of those placed, light tasks and deferrable grants queued with no kick, no CPU being idle or preemptible at once: behind a task that had not run slice_min_ns, or (light tasks) on the user scheduler's CPU (fast_place) */
volatile u64 nr_fast_usersched_target;	/* deferrals for which fast_defer_cpu chose the user scheduler's CPU, it running there or waiting for it (its last target; the claim may still fail: nr_fast_slot_taken) */
volatile u64 nr_fast_timer_kicks;	/* kicks of the deferral's timer while a deferred task waited: its CPU's task had run slice_min_ns (preempted), or the CPU was idle (fast_kick_fn) */
volatile u64 nr_fast_moved;		/* deferred fast-placed tasks moved to a CPU whose own and shared DSQs were empty, from the CPU they waited for (take_fast_waiter) */
volatile u64 nr_fast_unplaced;		/* granted wakeups (weight allowed) it did not place: no CPU it may take, or another fast task took it first (fast_place) */
volatile u64 nr_fast_slot_taken;	/* of those, wakeups whose chosen CPU's fast_waiting slot another fast-placed task held when they tried to claim it (fast_place) */
volatile u64 nr_fast_left_usersched;	/* CPUs a granted wakeup's scan left out, finding none to take at once, as the user scheduler's (it runs, or waits for it); a light task may be deferred there after all (fast_defer_cpu) */
volatile u64 nr_fast_left_fast;		/* likewise, left out for a fast-placed task running or waiting there (fast_defer_cpu) */
volatile u64 nr_fast_left_busy;		/* likewise, running a task whose run had not had slice_min_ns, no hog rule applying (fast_defer_cpu) */
volatile u64 nr_usersched_ring_wakeups; /* hand-offs that found the user scheduler blocking in poll() and forced a wake-up (queue_to_user) */
volatile u64 nr_fast_overruns;		/* fast-placed wakeups whose burst reached the budget (RELAY_FAST_OVERRUNS in a row revoke; fast_accounting) */
volatile u64 nr_fast_resumes;		/* times a task a local fast placement preempted was put back in its CPU's DSQ with its key and the slice it had left, not handed to user space (resume_fast_preempted) */
volatile u64 nr_fast_revoked;		/* grants revoked: RELAY_FAST_OVERRUNS budget overruns of a task in a row, or over its share (fast_accounting) */
volatile u64 nr_slots_full;		/* tasks that joined and found no free slot in task_shared: never fast-placed (claim_slot) */

/* State shared with the binary. */
volatile u64 nr_user_pending;	/* written by user space: tasks it holds (count) */
volatile u64 user_steps;	/* written by user space: engine steps completed (count) */
volatile u64 nr_pending;	/* entries in `pending` (count) */
volatile u32 user_stalled;	/* 1 while the stall fallback is active (bool) */
volatile u32 test_eject;	/* written by user space (--test-eject-after-ms): eject at the next ops.dispatch (bool) */
volatile u32 usersched_blocked; /* set by user space before it blocks in poll() on `queued`, cleared by the hand-off that wakes it (queue_to_user) or by user space after the poll (bool) */
struct relay_cpu_state cpu_state[RELAY_MAX_CPUS];

/* Private state. */
static u32 nr_cpu_ids;
static u64 vtime_now;				 /* largest vtime of an unclamped decision seen running */
static u64 last_progress_ns;			 /* last user-side progress (ns) */
static u64 stalled_at_steps;			 /* user_steps when the stall was declared (count) */
static u64 handoff_seq;				 /* source of hand-off generations (see queue_to_user) */
static u64 last_cons_pos;			 /* `queued` consumer position at the last check */
static u64 usersched_last_run_ns;		 /* last time the user scheduler started (ns) */
static s32 usersched_cpu;			 /* CPU it last ran on, or where it should run next (wake_usersched, usersched_reenqueued, relay_set_cpumask, aim_waiting_usersched) */
static u32 usersched_needed;			 /* heartbeat request (bool) */
static u32 usersched_on_cpu;			 /* the user scheduler is running (bool) */
static u64 usersched_kick_ns;			 /* last kick to get it a CPU (ns) */
static u64 cpu_started_ns[RELAY_MAX_CPUS];	 /* when each CPU's current task started (ns; for a resumed run, the run it goes on with: resume_fast_preempted) */
static u64 hog_rule_after_ns[RELAY_MAX_CPUS];	 /* the fast path's hog rule rests on this CPU until then (fast_hog_rule) */
static u64 cpu_burst_start[RELAY_MAX_CPUS];	 /* its start less its CPU time since it last woke (ns; cpu_preemptible) */
static u64 cpu_running_key[RELAY_MAX_CPUS];	 /* the key (dsq_vtime) each CPU's current task started with; 0 for the user scheduler (see pinned_waiter_displaces) */
static u8 unbounded_on[RELAY_MAX_CPUS];		 /* the CPU's current task runs an unbounded slice (bool, --tickless) */
static u32 rescue_check;			 /* timer -> ops.dispatch: look for overdue tasks (bool) */
static u8 age_request[RELAY_MAX_CPUS];		 /* timer -> ops.dispatch: overdue tasks wait for this CPU (bool) */
static u8 aged_last[RELAY_MAX_CPUS];		 /* this CPU's last ops.dispatch ran overdue tasks (bool, relay_dispatch) */
static u8 higher_class_on[RELAY_MAX_CPUS];	 /* a realtime or deadline task runs on this CPU (bool, relay_sched_switch; not the stopper) */
static u8 kicked_for_usersched[RELAY_MAX_CPUS];	 /* wake_usersched -> ops.dispatch: this CPU was kicked for it (bool) */
static u8 fast_on[RELAY_MAX_CPUS];		 /* the CPU runs a fast-placed task (bool, see fast_place) */
static s32 fast_waiting[RELAY_MAX_CPUS];	 /* pid of a fast-placed task waiting in this CPU's DSQ, 0 = none (see fast_place) */
static s32 fast_preempting[RELAY_MAX_CPUS];	 /* pid of the task a local fast placement preempts on this CPU, until its ops.stopping(); 0 = none (resume_fast_preempted) */
static u8 fast_waiting_deferred[RELAY_MAX_CPUS]; /* the task fast_waiting names was deferred (bool: take_fast_waiter may move it) */
static bool relay_active;			 /* between ops.init and ops.exit: kfuncs that need the scheduler may run (bool) */
/*
 * The CPUs the user scheduler may run on: copied from its thread when the
 * scheduler starts (relay_init) and whenever its affinity changes
 * (relay_set_cpumask), so that wake_usersched kicks a CPU that can run it
 * without a task lookup per hand-off.
 */
private(USERSCHED) struct bpf_cpumask __kptr *usersched_mask;

UEI_DEFINE(uei);

/* kernel -> user: tasks to decide. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, QUEUED_RB_BYTES);
} queued SEC(".maps");

/* user -> kernel: decisions. */
struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, DECISIONS_RB_BYTES);
} decisions SEC(".maps");

/* kernel -> user: scheduling events, while recording (record_event). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RECORD_RB_IDLE_BYTES);
} record SEC(".maps");

/*
 * `scx_relay record`: one event for user space to write to its file, or
 * nothing at all when not recording (record_enabled is read-only data, so
 * the verifier drops these calls from the programs then). Submitted without
 * a wakeup: the recorder polls. A full buffer loses the event, counted.
 */
static __always_inline void record_event(u32 kind, struct task_struct *p, s32 cpu, u64 arg, s32 arg2, u32 flags)
{
	struct relay_record_event *e;

	if (!record_enabled)
		return;
	e = bpf_ringbuf_reserve(&record, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&nr_record_dropped, 1);
		return;
	}
	e->ts = bpf_ktime_get_ns();
	e->arg = arg;
	e->pid = p->pid;
	e->tgid = p->tgid;
	e->cpu = cpu;
	e->kind = kind;
	e->flags = flags;
	e->arg2 = arg2;
	/* All 16 bytes (the kernel pads comm with NULs; the helper zeroes them
	   on a failure): reserved memory is not cleared, and a string read
	   would leave an older event's bytes after the NUL. */
	bpf_probe_read_kernel(e->comm, sizeof(e->comm), p->comm);
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/*
 * Whether this program runs in interrupt context: a hard interrupt, an NMI,
 * or a softirq being served (not merely with softirqs disabled: a task
 * that wakes another with bottom halves off is still its waker). Read from
 * the preempt count (include/linux/preempt.h; x86 keeps it in the per-CPU
 * __preempt_count since 6.15, which both guest kernels are past). Its
 * softirq bits are where they always were (bit 8 serving), but its hard
 * interrupt and NMI bits moved: up to 7.2 at 0x00ff0000 (hardirq
 * 0x000f0000, NMI above); 7.3 put a count of disabled interrupts there
 * (HARDIRQ_DISABLE_BITS, which task context can hold) and moved them to
 * 0x0f000000 and 0x10000000 (seen in the guest: 0x1000003 in a timer's
 * wakeup on 7.3.4). The kernel's version picks the layout (6.19 and 7.3
 * are tested; 7.0 to 7.2 are taken for the old one). Where the count
 * cannot be read (another architecture, an older kernel), nothing counts.
 * With PREEMPT_RT a softirq runs in a thread and counts as task context.
 */
#define RELAY_SOFTIRQ_OFFSET	   0x00000100
#define RELAY_HARDIRQ_NMI_MASK_6X  0x00ff0000
#define RELAY_HARDIRQ_NMI_MASK_7_3 0x1f000000
#ifdef bpf_target_x86
extern const int __preempt_count __ksym __weak;
#endif

static __always_inline bool in_interrupt_context(void)
{
#ifdef bpf_target_x86
	u32 irq = LINUX_KERNEL_VERSION >= KERNEL_VERSION(7, 3, 0) ? RELAY_HARDIRQ_NMI_MASK_7_3 : RELAY_HARDIRQ_NMI_MASK_6X;

	if (bpf_ksym_exists(&__preempt_count))
		return *(u32 *)bpf_this_cpu_ptr(&__preempt_count) & (RELAY_SOFTIRQ_OFFSET | irq);
#endif
	return false;
}

/* One task handed to user space. */
struct pending_entry {
	s32 pid; /* the task (thread id) */
	u32 pad;
	u64 queued_ns; /* when it was handed over (ns) */
};

/*
 * Tasks handed to user space and not yet dispatched: generation -> entry.
 * Keyed by the hand-off's generation, unique among all tasks (see
 * queue_to_user()), so that forgetting one hand-off deletes exactly its
 * entry: keyed by pid, a lookup-compare-delete racing with the same task's
 * next hand-off on its own CPU (a dequeue and re-enqueue meanwhile) could
 * delete the new entry, and a task in our custody with no entry is one
 * neither the fallback nor the rescue can reach.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PENDING);
	__type(key, u64);
	__type(value, struct pending_entry);
} pending SEC(".maps");

/* What a walk of `pending` dispatches. */
enum pending_walk_kind {
	WALK_FALLBACK,	/* everything (the user side stalled): nr_fallback */
	WALK_RESCUE,	/* tasks pending for stall_timeout_ns: nr_rescued */
	WALK_KEEPALIVE, /* tasks on the walking CPU, to its local DSQ: nr_keepalive */
};

struct pending_walk {
	u64 now; /* time of the walk (ns) */
	enum pending_walk_kind kind;
	s32 cpu; /* the CPU walking */
};

/*
 * Per-task state.
 *
 * wait_since is the sched_ext watchdog's clock, kept on our side: the
 * kernel's p->scx.runnable_at (jiffies) is reset only when the task becomes
 * runnable after sleeping or is put back after running (set_task_runnable()
 * after set_next_task_scx() armed SCX_TASK_RESET_RUNNABLE_AT), never by an
 * affinity change, a migration or a re-enqueue, and scx_watchdog_workfn()
 * ejects the scheduler when it is older than the timeout. Every bound on a
 * wait in this file is measured from wait_since, so re-enqueues (which
 * restart nothing in the kernel) cannot restart it either.
 */
struct task_ctx {
	u64 generation;	      /* odd: handed off at this generation; even: not in user space (see queue_to_user) */
	u64 user_run_gen;     /* generation a user decision claimed, counted at its run (relay_running) */
	u64 start_ts;	      /* last start of a run (ns) */
	u64 stop_ts;	      /* last stop of a run (ns) */
	u64 exec_runtime;     /* CPU time since the last wakeup (ns) */
	u64 wait_since;	      /* runnable and not run since (ns; see above) */
	u64 mask_seq;	      /* bumped when the CPU mask changes (count) */
	u64 handoff_mask_seq; /* mask_seq at the last hand-off (count) */
	u64 cgid;	      /* cgroup its runnable weight is counted in (cgroup id) */
	u64 cg_counted;	      /* weight counted there, 0 = not counted (weight) */
	u64 cg_share;	      /* cg_share() at the last hand-off, 0 = none yet (fixed point) */
	u64 vtime_clamped;    /* its last decision's vtime was clamped: it does not move vtime_now (bool) */
	u64 last_wake_ns;     /* its last wakeup (ns; relay_runnable) */
	u64 fast_grant;	      /* the grant its current run was fast-placed under; 0 = not fast-placed (grant word) */
	u64 burst_grant;      /* the grant its current wakeup was fast-placed under, until the budget check (grant word) */
	u32 fast_wait_cpu;    /* the CPU whose fast_waiting it holds + 1; 0 = none */
	u64 fast_window_ns;   /* start of its fast-path share window (ns) */
	u64 fast_window_used; /* CPU its fast-placed runs used in that window (ns) */
	u64 fast_weight;      /* the effective weight its current run was fast-placed at (placement word; load weight) */
	u8 fast_hog;	      /* its current fast-placed run preempted a CPU hog by the hog rule (fast_hog_rule) */
	u8 fast_overruns;     /* its fast-placed wakeups in a row whose burst reached the budget (count; fast_accounting) */
	u8 revoke_unseen;     /* its grant was revoked, and no wakeup has found a valid grant since (bool; for `record`) */
	u8 fast_preempted;    /* its run just ended, preempted by a local fast placement (bool; relay_stopping -> resume_fast_preempted) */
	u8 resumed;	      /* its next run goes on with the run such a placement preempted (bool; resume_fast_preempted -> relay_running) */
	u8 run_shared;	      /* its current run was placed in SHARED_DSQ (any CPU), where a resume puts it back (bool; set where it is placed) */
	u64 fast_saved_key;   /* its key before a fast placement gave it the fast one, put back when that run ends (fast_key_restore) */
	u64 resumed_ran;      /* CPU time of the runs the current one goes on with (ns; see resume_fast_preempted) */
	u64 slice_end_ns;     /* when its current run's slice ends, 0 = taken back (ns; relay_running, relay_dispatch's keep, relay_tick; a slice a tick ended for the local DSQ alone is kept) */
	u32 slot;	      /* its slot in task_shared + 1; 0 = none (claim_slot) */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctx_stor SEC(".maps");

/* The heartbeat / stall-check timer. */
struct timer_slot {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct timer_slot);
} heartbeat SEC(".maps");

/*
 * The fast path's deferred placements: per CPU, the timer that kicks the CPU
 * when its task has run slice_min_ns (fast_kick_fn).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RELAY_MAX_CPUS);
	__type(key, u32);
	__type(value, struct timer_slot);
} fast_kick_timer SEC(".maps");

/* --tickless: the tick of the CPUs whose task runs an unbounded slice. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct timer_slot);
} tickless_check SEC(".maps");

static struct task_ctx *lookup_task_ctx(const struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctx_stor, (struct task_struct *)p, 0, 0);
}

/*
 * Per-task context shared with user space
 * ---------------------------------------
 * task_shared holds one struct relay_task_shared (intf.h) per task, in an
 * mmapable array both sides map: the dispatcher publishes statistics there
 * (runtime, wakeups, the average burst and wakeup period, the last waker),
 * which the policy reads in place, and user space writes one word back,
 * the fast-path grant (see fast_place). No copy, no system call.
 *
 * Why an array and not a BPF arena: the table is fixed-size slots of plain
 * scalars, which an mmapable array maps the same way (one shared mapping,
 * loads and stores, on 6.9 and older kernels too), with bounds-checked
 * lookups in the verifier instead of arena pointers and page allocation;
 * nothing here needs what an arena adds (pointers that both sides follow,
 * memory that grows).
 *
 * A task claims a slot when it joins (relay_init_task), the first free one
 * of RELAY_SLOT_PROBES from pid & (RELAY_TASK_SLOTS - 1), by a
 * compare-and-swap of the slot's pid from 0, and frees it when it leaves
 * (relay_exit_task). User space finds it by the same probe. A task whose
 * probes are all taken has no slot (nr_slots_full): its wakeups go through
 * user space as every other task's.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, RELAY_TASK_SLOTS);
	__type(key, u32);
	__type(value, struct relay_task_shared);
} task_shared SEC(".maps");

/* @p's slot, or NULL if it has none (or no longer owns it). */
static struct relay_task_shared *shared_slot(const struct task_struct *p, const struct task_ctx *tctx)
{
	struct relay_task_shared *sh;
	u32 idx;

	if (!tctx || !tctx->slot)
		return NULL;
	idx = tctx->slot - 1;
	sh = bpf_map_lookup_elem(&task_shared, &idx);
	if (!sh || READ_ONCE(sh->pid) != p->pid)
		return NULL;
	return sh;
}

/* At init_task: claim a free slot for @p (see above). */
static void claim_slot(const struct task_struct *p, struct task_ctx *tctx)
{
	struct relay_task_shared *sh;
	u32 i, idx;

	for (i = 0; i < RELAY_SLOT_PROBES; i++) {
		idx = ((u32)p->pid + i) & (RELAY_TASK_SLOTS - 1);
		sh = bpf_map_lookup_elem(&task_shared, &idx);
		if (!sh || __sync_val_compare_and_swap(&sh->pid, 0, p->pid) != 0)
			continue;
		WRITE_ONCE(sh->nr_wakeups, 0);
		WRITE_ONCE(sh->runtime_ns, 0);
		WRITE_ONCE(sh->avg_burst_ns, 0);
		WRITE_ONCE(sh->avg_wake_period_ns, 0);
		WRITE_ONCE(sh->last_waker_pid, 0);
		WRITE_ONCE(sh->nr_fast_runs, 0);
		WRITE_ONCE(sh->nr_irq_wakeups, 0);
		WRITE_ONCE(sh->irq_wake_share, 0);
		WRITE_ONCE(sh->revoked_grant, 0);
		WRITE_ONCE(sh->revoked_ns, 0);
		WRITE_ONCE(sh->grant, 0);
		WRITE_ONCE(sh->placement, 0);
		tctx->slot = idx + 1;
		return;
	}
	__sync_fetch_and_add(&nr_slots_full, 1);
}

/* At exit_task: free @p's slot. */
static void release_slot(const struct task_struct *p, struct task_ctx *tctx)
{
	struct relay_task_shared *sh = shared_slot(p, tctx);

	tctx->slot = 0;
	if (!sh)
		return;
	WRITE_ONCE(sh->grant, 0);
	WRITE_ONCE(sh->placement, 0);
	WRITE_ONCE(sh->pid, 0);
}

/* A moving average of weight 1/8; the first sample is taken whole. */
static void average_in(u64 *avg, u64 sample)
{
	u64 a = READ_ONCE(*avg);

	WRITE_ONCE(*avg, a ? a - a / 8 + sample / 8 : sample);
}

/*
 * Cgroup cpu.weight
 * -----------------
 * The kernel does not enforce cpu.weight for sched_ext tasks; the BPF
 * scheduler must (kernel/sched/ext.c scx_cgroup_init() and friends only
 * call ops.cgroup_*). We give each task one effective weight, the share the
 * fair class's group scheduling gives it, expressed as a weight at the root:
 *
 *   eff(p) = weight(p) * prod over its cgroups C below the root of
 *            cpu.weight(C) / load(C)
 *
 * where load(C) is the weight of what is runnable in C: the weights of its
 * runnable tasks plus the cpu.weight of each child cgroup that has runnable
 * work (an active child counts once, as one group entity of the fair
 * class). A task in the root cgroup keeps its own weight; a cgroup of
 * cpu.weight 1000 with one hog gives it ten times a nice-0 task's weight,
 * with ten hogs once each. Every policy sees eff(p) as the hand-off's
 * weight, so cgroups compose with nice and with routing's groups.
 *
 * load(C) follows ops.runnable / ops.quiescent, which bracket every time a
 * task is on a runqueue (both are skipped for migrations, which move no
 * load between cgroups; a cgroup move dequeues, calls ops.cgroup_move and
 * enqueues, so the count moves with it: kernel/sched/core.c
 * sched_move_task()). Each cgroup remembers what it contributes to its
 * parent (its weight while it has load, else 0) and changes it under its
 * lock, so a parent's load is always the sum of what its children last
 * contributed, whatever order activations and cpu.weight writes race in.
 *
 * Limits: the walk from a task's cgroup stops CG_MAX_LEVELS levels up (the
 * levels above count as the root) and at a cgroup the map could not hold
 * (nr_cgroups_untracked; its ancestors' shares are not applied either);
 * and a weight below 1 is sent as 1, so a cgroup with more runnable
 * nice-0 tasks than 10.24 × its cpu.weight (at the top level) gets more
 * than its share.
 */
#define CG_MAX_LEVELS 16
#define CG_MAX	      16384

/*
 * Weights are on the fair class's scale (the load weight of
 * kernel/sched/core.c sched_prio_to_weight[]: nice 0 = 1024, nice 19 = 15,
 * SCHED_IDLE = 3), not sched_ext's p->scx.weight, which is that weight
 * rounded to a scale of 100 (sched_weight_to_cgroup()): nice 15 becomes 4
 * where 36/1024 is 3.5 on that scale, 12 % too much, and SCHED_IDLE becomes
 * 1, 3.4 times too much. A cgroup's cpu.weight converts as the fair class
 * converts it to group shares (sched_weight_from_cgroup(): × 1024 / 100).
 */
#define WEIGHT_NICE_0	RELAY_WEIGHT_NICE_0
#define WEIGHT_IDLEPRIO RELAY_WEIGHT_IDLEPRIO
#define WEIGHT_MAX	RELAY_WEIGHT_MAX
#define MAX_RT_PRIO	100
#ifndef SCHED_IDLE
#define SCHED_IDLE 5 /* include/uapi/linux/sched.h */
#endif
#define NICE_LEVELS 40

/* kernel/sched/core.c sched_prio_to_weight[], nice -20..19 (ten a line, as there). */
/* clang-format off */
static const u32 prio_to_weight[NICE_LEVELS] = {
	88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916,
	9548, 7620, 6100, 4904, 3906, 3121, 2501, 1991, 1586, 1277,
	1024, 820, 655, 526, 423, 335, 272, 215, 172, 137,
	110, 87, 70, 56, 45, 36, 29, 23, 18, 15,
};
/* clang-format on */

/*
 * @p's own weight now, as the fair class computes it (set_load_weight():
 * SCHED_IDLE, else by static priority). ops.set_weight runs after
 * static_prio and policy change, so this is current there too.
 */
static u32 task_weight(const struct task_struct *p)
{
	s32 idx = p->static_prio - MAX_RT_PRIO;

	if (p->policy == SCHED_IDLE)
		return WEIGHT_IDLEPRIO;
	if (idx < 0 || idx >= NICE_LEVELS)
		return p->scx.weight ? p->scx.weight * WEIGHT_NICE_0 / 100 : 1;
	return prio_to_weight[idx];
}

struct cg_ctx {
	struct bpf_spin_lock lock; /* guards load, contrib, weight, idle */
	u32 weight;		   /* cpu.weight, 1..10000 (100 = default) */
	s64 load;		   /* runnable weight in the cgroup, see above (weight) */
	s64 contrib;		   /* what it adds to its parent's load (weight) */
	u64 parent_id;		   /* parent cgroup's id, 0 for the root */
	u32 idle;		   /* cpu.idle: the group counts as SCHED_IDLE (bool) */
	u32 level;		   /* depth, 0 = the root */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CG_MAX);
	__type(key, u64);
	__type(value, struct cg_ctx);
} cgroups SEC(".maps");

/* Cgroups ops.cgroup_init could not track (the map was full): weight 1:1. */
u64 nr_cgroups_untracked;

/* @c's weight as a group, on the task weights' scale (rounded as the kernel). */
static __always_inline u32 cg_weight(const struct cg_ctx *c)
{
	return c->idle ? WEIGHT_IDLEPRIO : (c->weight * WEIGHT_NICE_0 + 50) / 100;
}

/*
 * Under @c's lock: what @c contributes to its parent now (its weight while
 * it has load), and by how much that changed since it last said.
 */
static __always_inline s64 cg_recontribute(struct cg_ctx *c)
{
	s64 now = c->load > 0 ? (s64)cg_weight(c) : 0;
	s64 change = now - c->contrib;

	c->contrib = now;
	return change;
}

/*
 * Adds @delta to the load of cgroup @cgid; when that changes what the
 * cgroup contributes to its parent (it turned busy or idle), the change
 * goes to the parent, up the tree. The root's load is never needed.
 */
static void cg_load_add(u64 cgid, s64 delta)
{
	struct cg_ctx *c;
	u32 i;

	bpf_for(i, 0, CG_MAX_LEVELS) {
		if (!delta)
			return;
		c = bpf_map_lookup_elem(&cgroups, &cgid);
		if (!c || c->level == 0)
			return;
		bpf_spin_lock(&c->lock);
		c->load += delta;
		delta = cg_recontribute(c);
		bpf_spin_unlock(&c->lock);
		cgid = c->parent_id;
	}
}

/* @p became runnable: count its weight in its cgroup (once). */
static void cg_count(struct task_struct *p, struct task_ctx *tctx)
{
	struct cgroup *cgrp;

	if (tctx->cg_counted)
		return;
	cgrp = scx_bpf_task_cgroup(p);
	if (!cgrp)
		return;
	tctx->cgid = cgrp->kn->id;
	bpf_cgroup_release(cgrp);
	tctx->cg_counted = task_weight(p);
	cg_load_add(tctx->cgid, tctx->cg_counted);
}

/* @p left the runqueue (or its weight changes): take its weight back. */
static void cg_uncount(struct task_ctx *tctx)
{
	if (!tctx->cg_counted)
		return;
	cg_load_add(tctx->cgid, -(s64)tctx->cg_counted);
	tctx->cg_counted = 0;
}

/* Fraction bits of cg_share(): a 1:1000 share keeps 3 digits. */
#define CG_SHARE_SHIFT 10
#define CG_SHARE_ONE   (1ULL << CG_SHARE_SHIFT)

/*
 * The product of cpu.weight(C) / load(C) down from cgroup @cgid (the
 * comment above), in fixed point (CG_SHARE_ONE = 1); a task in the root
 * has CG_SHARE_ONE.
 */
static u64 cg_share(u64 cgid)
{
	u64 share = CG_SHARE_ONE;
	struct cg_ctx *c;
	s64 load;
	u32 i;

	bpf_for(i, 0, CG_MAX_LEVELS) {
		c = bpf_map_lookup_elem(&cgroups, &cgid);
		if (!c || c->level == 0)
			break;
		load = READ_ONCE(c->load);
		share = share * cg_weight(c) / (load > 0 ? load : 1);
		if (share > (u64)WEIGHT_MAX * CG_SHARE_ONE)
			share = (u64)WEIGHT_MAX * CG_SHARE_ONE;
		cgid = c->parent_id;
	}
	return share;
}

/* A task of weight @weight with cgroup share @share: eff(p), 1..WEIGHT_MAX. */
static u64 shared_weight(u64 weight, u64 share)
{
	u64 w = ((weight ? weight : 1) * share) >> CG_SHARE_SHIFT;

	return w < 1 ? 1 : (w > WEIGHT_MAX ? WEIGHT_MAX : w);
}

static bool is_usersched(const struct task_struct *p)
{
	return p->pid == usersched_pid;
}

/*
 * Run once (BPF_PROG_RUN) by the thread that will run the scheduling loop,
 * before attach: records the calling thread as the user scheduler, by the
 * kernel's thread id, and returns that id.
 */
SEC("syscall")
int relay_register_usersched(void *ctx)
{
	usersched_pid = (s32)(bpf_get_current_pid_tgid() & 0xffffffff);
	return usersched_pid;
}

static struct relay_cpu_state *cpu_state_of(s32 cpu)
{
	/* MEMBER_VPTR bounds-checks in a way the verifier can follow. */
	return MEMBER_VPTR(cpu_state, [cpu]);
}

/* Whether a realtime or deadline task runs on @cpu (relay_sched_switch; not the stopper). */
static bool held_by_higher_class(s32 cpu)
{
	u8 *held = MEMBER_VPTR(higher_class_on, [cpu]);

	return held && READ_ONCE(*held);
}

static bool is_kthread(const struct task_struct *p)
{
	return p->flags & PF_KTHREAD;
}

static u64 vtime_now_get(void)
{
	return READ_ONCE(vtime_now);
}

/*
 * Whether vtime @a sorts before @b, wrap-aware: the order of the kernel's
 * own DSQs (time_before64() in scx_dsq_priq_less(), kernel/sched/ext.c),
 * so that what we compare agrees with what the kernel queues.
 */
static __always_inline bool vtime_before(u64 a, u64 b)
{
	return (s64)(a - b) < 0;
}

/*
 * A decision's vtime, clamped to [vtime_now - window, vtime_now + window]
 * (the lower end saturating at 0). The task keeps its place in the order
 * (first or last), and apply_decision() marks it so that its run does not
 * move vtime_now: a policy's garbage (2^63, u64::MAX) would otherwise
 * become the clock, and every task the dispatcher places itself, and every
 * new task, would sort behind all of the policy's keys for as long as they
 * take to catch up (for ever, for a policy whose keys count decisions).
 * The same rule is scheduler_core::wire::clamp_vtime, which the simulator
 * applies.
 */
static u64 vtime_clamped(u64 vtime)
{
	u64 now = vtime_now_get();
	u64 lo = now > VTIME_WINDOW ? now - VTIME_WINDOW : 0;
	u64 hi = now + VTIME_WINDOW;

	if (vtime_before(vtime, lo)) {
		__sync_fetch_and_add(&nr_vtime_clamped, 1);
		return lo;
	}
	if (vtime_before(hi, vtime)) {
		__sync_fetch_and_add(&nr_vtime_clamped, 1);
		return hi;
	}
	return vtime;
}

/*
 * @vtime raised to the lower end of vtime_now's window (a key that only
 * lags keeps its place, first; see reenqueued()), so that every key in our
 * DSQs stays within the window the kernel's wrap-aware order needs.
 */
static u64 vtime_raised(u64 vtime)
{
	u64 now = vtime_now_get();
	u64 lo = now > VTIME_WINDOW ? now - VTIME_WINDOW : 0;

	return vtime_before(vtime, lo) ? lo : vtime;
}

/* scx_bpf_kick_cpu(), counted. */
static void kick(s32 cpu, u64 flags)
{
	scx_bpf_kick_cpu(cpu, flags);
	__sync_fetch_and_add(&nr_kicks, 1);
}

/* Wake an idle CPU that may run @p, so that it pulls from the shared DSQ. */
static void kick_for(const struct task_struct *p)
{
	s32 cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);

	if (cpu >= 0)
		kick(cpu, SCX_KICK_IDLE);
}

/* Whether @cpu runs a task that is not the user scheduler. */
static bool cpu_runs_task(s32 cpu)
{
	struct relay_cpu_state *st = cpu_state_of(cpu);

	return st && st->current_pid && st->current_pid != usersched_pid && cpu < RELAY_MAX_CPUS;
}

/*
 * Whether @cpu's task (not the user scheduler) ran slice_min_ns since it
 * started there: the fast path's guard (fast_cpu), and one of
 * cpu_preemptible()'s.
 */
static bool cpu_ran_slice_min(s32 cpu, u64 now)
{
	return cpu_runs_task(cpu) &&
	       now - READ_ONCE(cpu_started_ns[cpu & (RELAY_MAX_CPUS - 1)]) >= slice_min_ns;
}

/*
 * Whether @cpu runs a CPU hog and the hog rule is on (not
 * --no-preempt-hogs): a task (not the user scheduler) whose CPU time since
 * it last woke, this run's included, is a whole slice_ns at least
 * (cpu_burst_start). See cpu_preemptible() and fast_cpu().
 */
static bool cpu_runs_hog(s32 cpu, u64 now)
{
	return preempt_hogs && cpu_runs_task(cpu) &&
	       now - READ_ONCE(cpu_burst_start[cpu & (RELAY_MAX_CPUS - 1)]) >= slice_ns;
}

static bool unbounded_marked(s32 cpu);

/*
 * Whether a wakeup handed to the user scheduler may preempt @cpu's task
 * for it (wake_usersched): never one whose task runs an unbounded slice
 * (--tickless); else one that ran slice_min_ns since it started
 * there, or, unless --no-preempt-hogs, a CPU hog, one whose CPU time since it
 * last woke, this run's included, is a whole slice_ns at least
 * (cpu_burst_start). Without the second, a hog preempted at every wakeup
 * of a periodic sleeper is protected anew at each restart, and the
 * sleeper's next wakeup waits for a tick (cyclictest at 1 kHz beside hogs:
 * 2.6 ms a run against the fair class's 0.1 ms, with the vCPUs on parallel
 * host threads; docs/performance.md, "A hog's burst, not its run"). It was
 * off by default until the simulator's replay could reproduce a recording
 * made with it (it took a timer's wakeup for one by the task running on
 * that CPU: see in_interrupt_context()). Not every task past
 * slice_min_ns of burst, which was tried: a 60 Hz frame's 4 ms of work was
 * then preempted for the user scheduler at each of hackbench's wakeups,
 * and the frame loop's p99 went from 240 to 408 ms in the guest. The fast
 * path takes the hog rule too (fast_cpu), but not a burst rule: with
 * one, hackbench's granted readers preempted its writers at every wakeup
 * (it has no kick limit, as wake_usersched() has), and a hackbench took
 * 3.3 to 11.2 s against 1.7 to 2.6.
 */
static bool cpu_preemptible(s32 cpu, u64 now)
{
	/*
	 * --tickless: not a CPU marked as running an unbounded slice
	 * (unbounded_on). A hand-off then neither kicks it nor moves
	 * usersched_cpu onto it; the user scheduler waits for usersched_cpu,
	 * whose task yields at a tick, or at the tickless check if that CPU
	 * is marked, once it ran slice_min_ns (should_yield(),
	 * yields_to_waiting()). A CI run of scx_relay_tickless ticked 107 and
	 * 137 times a second on the hog's CPU in the seconds
	 * usersched_hog_preempts counted 4 and 8. If usersched_cpu cannot
	 * serve it (a higher class holds it, or it is not in the user
	 * scheduler's mask), the tickless check aims it elsewhere, at a
	 * marked CPU if every other it may use is marked or held
	 * (aim_waiting_usersched()).
	 */
	if (unbounded_marked(cpu))
		return false;
	if (cpu_ran_slice_min(cpu, now))
		return true;
	if (!cpu_runs_hog(cpu, now))
		return false;
	/* Its callers kick @cpu when it returns true. */
	__sync_fetch_and_add(&nr_usersched_hog_preempts, 1);
	return true;
}

static bool usersched_has_work(bool claim);

/*
 * Kick @cpu to run the user scheduler; its next ops.dispatch checks the
 * aim. With work waiting for the user scheduler, the kick is stamped at
 * @now (usersched_kick_ns: no other kick for it within slice_min_ns).
 * Without (usersched_reenqueued() may kick for a user scheduler that was
 * about to block), the kicked CPU runs something else, so no stamp holds
 * off the next hand-off's kick.
 */
static void kick_usersched(s32 cpu, u64 flags, u64 now)
{
	u8 *kicked = MEMBER_VPTR(kicked_for_usersched, [cpu]);

	kick(cpu, flags);
	__sync_fetch_and_add(&nr_usersched_kicks, 1);
	if (kicked)
		WRITE_ONCE(*kicked, 1);
	if (usersched_has_work(false))
		WRITE_ONCE(usersched_kick_ns, now);
}

/*
 * Get the user scheduler a CPU after @p was handed to it: kick an idle CPU
 * it may run on (whichever CPU dispatches next runs the user scheduler
 * first); with none idle, a waking @p preempts its previous CPU (or, if the
 * user scheduler may not run there, usersched_cpu), unless that CPU runs
 * an unbounded slice (--tickless), once that CPU's task
 * ran slice_min_ns, or at once if it is a CPU hog (unless --no-preempt-hogs)
 * (cpu_preemptible(); the
 * wakeup preemption the fair class does too), and records
 * it in usersched_cpu, where relay_select_cpu() wakes the user scheduler.
 * Nothing is done while the user scheduler runs or right after a kick for
 * it: one wake-up serves every task queued meanwhile.
 *
 * The CPUs are the user scheduler's (usersched_mask, kept current by
 * relay_set_cpumask), not @p's: with scx_relay confined (taskset), a CPU
 * of @p's mask may be one it cannot run on, and a kick there is wasted
 * (nr_usersched_kicks_astray counts such kicks, checked against its real
 * mask at the kicked CPU's next dispatch). Looking its task up per
 * hand-off instead was tried: a hash lookup and two atomics on one shared
 * task_struct per enqueue under load.
 */
static void wake_usersched(const struct task_struct *p, u64 enq_flags, u64 now)
{
	struct bpf_cpumask *mask;
	const struct cpumask *cpus;
	u64 flags = SCX_KICK_IDLE;
	s32 cpu;

	if (READ_ONCE(usersched_on_cpu) || now - READ_ONCE(usersched_kick_ns) < slice_min_ns)
		return;
	bpf_rcu_read_lock();
	mask = usersched_mask;
	cpus = mask ? cast_mask(mask) : p->cpus_ptr;
	cpu = scx_bpf_pick_idle_cpu(cpus, 0);
	if (cpu < 0) {
		cpu = scx_bpf_task_cpu(p);
		if (!bpf_cpumask_test_cpu(cpu, cpus))
			cpu = READ_ONCE(usersched_cpu);
		flags = SCX_KICK_PREEMPT;
	}
	bpf_rcu_read_unlock();
	if (flags == SCX_KICK_PREEMPT) {
		if (!(enq_flags & SCX_ENQ_WAKEUP) || !cpu_preemptible(cpu, now))
			return;
		/* Where it runs next: relay_select_cpu() wakes it there. */
		WRITE_ONCE(usersched_cpu, cpu);
	}
	kick_usersched(cpu, flags, now);
}

/*
 * At the dispatch that a kick for the user scheduler caused: count the
 * kick astray if the user scheduler may not run on this CPU, by its task's
 * current mask (not usersched_mask, which the kick was aimed with).
 */
static void check_usersched_kick(s32 cpu)
{
	u8 *kicked = MEMBER_VPTR(kicked_for_usersched, [cpu]);
	struct task_struct *p;

	if (!kicked || !READ_ONCE(*kicked))
		return;
	WRITE_ONCE(*kicked, 0);
	p = bpf_task_from_pid(READ_ONCE(usersched_pid));
	if (!p)
		return;
	if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
		__sync_fetch_and_add(&nr_usersched_kicks_astray, 1);
	bpf_task_release(p);
}

/* The user side did something: it is alive. */
static void note_progress(u64 now)
{
	WRITE_ONCE(last_progress_ns, now);
	if (READ_ONCE(user_stalled))
		WRITE_ONCE(user_stalled, 0);
}

/*
 * Whether the user side is stalled: tasks are pending and it showed no
 * progress (see the top) for stall_timeout_ns. Latches user_stalled until
 * the next progress, or until it completes an engine step while nothing is
 * pending: during a stall new tasks bypass it, so one with nothing left to
 * decide would otherwise never show progress again.
 */
static bool check_stalled(u64 now)
{
	u64 cons = bpf_ringbuf_query(&queued, BPF_RB_CONS_POS);

	if (cons != READ_ONCE(last_cons_pos)) {
		WRITE_ONCE(last_cons_pos, cons);
		note_progress(now);
		return false;
	}
	if (READ_ONCE(user_stalled)) {
		/* Only a step completed once nothing was pending ends it. */
		if (READ_ONCE(nr_pending)) {
			WRITE_ONCE(stalled_at_steps, READ_ONCE(user_steps));
			return true;
		}
		if (READ_ONCE(user_steps) == READ_ONCE(stalled_at_steps))
			return true;
		note_progress(now);
		return false;
	}
	if (!READ_ONCE(nr_pending)) {
		WRITE_ONCE(last_progress_ns, now);
		return false;
	}
	if ((s64)(now - READ_ONCE(last_progress_ns)) < (s64)stall_timeout_ns)
		return false;
	WRITE_ONCE(stalled_at_steps, READ_ONCE(user_steps));
	WRITE_ONCE(user_stalled, 1);
	__sync_fetch_and_add(&nr_stalls, 1);
	return true;
}

/*
 * Whether the user scheduler has something to do; @claim consumes a
 * heartbeat request (the caller is about to run it).
 */
static bool usersched_has_work(bool claim)
{
	if (READ_ONCE(usersched_needed)) {
		if (claim)
			WRITE_ONCE(usersched_needed, 0);
		return true;
	}
	return READ_ONCE(nr_pending) || READ_ONCE(nr_user_pending) ||
	       READ_ONCE(user_stalled);
}

/* Forget the pending entry of the hand-off at @generation, if still there. */
static void pending_forget(u64 generation)
{
	if (!bpf_map_delete_elem(&pending, &generation))
		__sync_fetch_and_sub(&nr_pending, 1);
}

/* Record @pid as handed to user space at @generation; false if the map is full. */
static bool pending_record(s32 pid, u64 generation)
{
	struct pending_entry e = { .pid = pid, .queued_ns = bpf_ktime_get_ns() };

	if (bpf_map_update_elem(&pending, &generation, &e, BPF_NOEXIST))
		return false;
	__sync_fetch_and_add(&nr_pending, 1);
	return true;
}

/*
 * Dispatch @p in the kernel, to the shared DSQ, at the current vtime. A new
 * generation (still even: nothing is open in user space), so that a user
 * decision claimed for an earlier enqueue does not count at this run
 * (user_run_gen).
 */
static void dispatch_in_kernel(struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = lookup_task_ctx(p);

	if (tctx) {
		__sync_fetch_and_add(&tctx->generation, 2);
		tctx->run_shared = 1;
	}
	scx_bpf_dsq_insert_vtime(p, SHARED_DSQ, slice_ns, vtime_now_get(), enq_flags);
	kick_for(p);
}

/*
 * The CPU a hand-off names: the task's current CPU, or, when its mask no
 * longer has that CPU (the kernel puts a task whose mask changed back on its
 * old CPU, then migrates it: kernel/sched/core.c affine_move_task()), one
 * the mask has. Policies send tasks back to this CPU; it must be one they
 * may use.
 */
static s32 handoff_cpu(const struct task_struct *p)
{
	s32 cpu = scx_bpf_task_cpu(p);
	u32 any;

	if (bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
		return cpu;
	any = bpf_cpumask_any_distribute(p->cpus_ptr);
	return any < nr_cpu_ids ? any : cpu;
}

/*
 * The id of @p's cgroup on the default (v2) hierarchy now, for routing's
 * cgroup matchers (relay_queued_task.cgid): cgroup_id(), its kernfs node id,
 * which on 64-bit kernels is the inode number of the cgroup's directory in
 * cgroupfs (the user side's resolver maps it to a path that way). Not
 * tctx->cgid: that is the cgroup of @p's task_group (scx_bpf_task_cgroup(),
 * the nearest ancestor with the cpu controller enabled, which may be above
 * @p's own cgroup), the one its weight is counted in, and it is read when
 * @p becomes runnable. p->cgroups is freed only after an RCU grace period,
 * and ops.enqueue runs under the rq lock with preemption disabled (an RCU
 * read-side section); the probe reads cannot fault either way. 0 if
 * unreadable.
 */
static u64 task_dfl_cgid(struct task_struct *p)
{
	return BPF_CORE_READ(p, cgroups, dfl_cgrp, kn, id);
}

/*
 * Hand @p to user space; false if there is no room (the caller keeps it).
 *
 * Its generation: odd, and unique among all tasks. Odd marks a hand-off
 * that is still open (a claim makes it even), so relay_dequeue() knows
 * without a map lookup whether there is one to take back. Unique, because
 * pids are reused: a thread's pid is freed in release_task() (exit_notify()
 * for a thread or an autoreaped child) before its last switch, where
 * kernel/sched/ext.c sched_ext_dead() calls ops.exit_task(), so a new task
 * can be handed off under that pid while the old one still exits; a
 * per-task count would let a decision or pending entry of the one match
 * the other.
 */
static bool queue_to_user(struct task_struct *p, u64 enq_flags)
{
	struct relay_queued_task *t;
	struct task_ctx *tctx;
	u64 gen;

	tctx = lookup_task_ctx(p);
	if (!tctx)
		return false;
	t = bpf_ringbuf_reserve(&queued, sizeof(*t), 0);
	if (!t)
		return false;
	gen = __sync_add_and_fetch(&handoff_seq, 2) - 1;
	WRITE_ONCE(tctx->generation, gen);
	tctx->handoff_mask_seq = READ_ONCE(tctx->mask_seq);
	if (!pending_record(p->pid, gen)) {
		/* No hand-off after all: close the generation (even). */
		WRITE_ONCE(tctx->generation, gen + 1);
		bpf_ringbuf_discard(t, BPF_RB_NO_WAKEUP);
		return false;
	}
	t->pid = p->pid;
	t->tgid = p->tgid;
	t->cpu = handoff_cpu(p);
	t->nr_cpus_allowed = p->nr_cpus_allowed;
	t->enq_flags = enq_flags;
	/* At least 1: 0 means "no hand-off yet" (should_yield, dump). */
	tctx->cg_share = cg_share(tctx->cgid) ?: 1;
	t->task_weight = task_weight(p);
	t->weight = shared_weight(t->task_weight, tctx->cg_share);
	t->vtime = p->scx.dsq_vtime;
	t->start_ts = tctx->start_ts;
	t->stop_ts = tctx->stop_ts;
	t->exec_runtime = tctx->exec_runtime;
	t->generation = gen;
	t->cgid = task_dfl_cgid(p);
	bpf_probe_read_kernel_str(t->comm, sizeof(t->comm), p->comm);
	/*
	 * Wake the ring's poller only when the user scheduler blocks in
	 * poll(). The default (adaptive) submit wakes whenever the consumer
	 * has caught up: it queues an irq_work (kernel/bpf/ringbuf.c
	 * bpf_ringbuf_commit(), irq_work_queue()), an IRQ-work self-IPI, even
	 * with no one waiting, as for a user scheduler parked runnable
	 * between steps. Under cyclictest beside hogs that was one IPI per
	 * hand-off, 496 per CPU per second against EEVDF's 0.3
	 * (docs/performance.md). No lost wakeup: user space sets the flag,
	 * then a full fence, then reads the ring's producer position
	 * (BpfBackend::wait_for_tasks), and the reserve above moved that
	 * position before the locked instructions here (the add to
	 * handoff_seq, this compare-and-swap), which read the flag: one side
	 * sees the other. The compare-and-swap clears it, so one hand-off
	 * wakes it.
	 */
	if (__sync_val_compare_and_swap(&usersched_blocked, 1, 0) == 1) {
		bpf_ringbuf_submit(t, BPF_RB_FORCE_WAKEUP);
		__sync_fetch_and_add(&nr_usersched_ring_wakeups, 1);
	} else {
		bpf_ringbuf_submit(t, BPF_RB_NO_WAKEUP);
	}
	__sync_fetch_and_add(&nr_queued, 1);
	return true;
}

/* decision_dsq(): the decision is stale, insert nothing. */
#define STALE_DSQ (~0ULL)

/*
 * The DSQ a decision sends @p to: its CPU if allowed, else a bounce. A
 * decision naming a CPU that the task's mask lost after the hand-off is
 * stale (STALE_DSQ): the kernel changes a queued task's mask between a
 * dequeue and an enqueue (kernel/sched/core.c __do_set_cpus_allowed(), the
 * sched_change guard; ops.set_cpumask from set_cpus_allowed_scx() in
 * kernel/sched/ext.c), so a new hand-off follows, and a decision read in
 * between, before that enqueue bumps the generation, saw the new mask with
 * the old generation. Bounces count only decisions wrong for the mask the
 * policy was given.
 */
static u64 decision_dsq(const struct task_struct *p, const struct task_ctx *tctx, s32 cpu)
{
	struct relay_cpu_state *st;
	s32 prev;

	if (cpu == RELAY_CPU_ANY) {
		/*
		 * A task that may run on one CPU only waits in that CPU's DSQ:
		 * only that CPU's tick can make room for it (should_yield), and
		 * at the head of the shared DSQ it would make the others yield
		 * for a task none of them can take. Also when a higher class
		 * holds that CPU, as for a decision naming it (below): it can
		 * run nowhere else.
		 */
		prev = scx_bpf_task_cpu(p);
		st = cpu_state_of(prev);
		if (p->nr_cpus_allowed == 1 && st && st->online && bpf_cpumask_test_cpu(prev, p->cpus_ptr))
			return prev;
		return SHARED_DSQ;
	}
	st = cpu_state_of(cpu);
	if (cpu < nr_cpu_ids && st && st->online && bpf_cpumask_test_cpu(cpu, p->cpus_ptr)) {
		/*
		 * Not behind a realtime task if it may run elsewhere: any CPU
		 * (see relay_sched_switch). Not a bounce: the policy could not
		 * know.
		 */
		if (held_by_higher_class(cpu) && p->nr_cpus_allowed > 1)
			return SHARED_DSQ;
		return cpu;
	}
	if (READ_ONCE(tctx->mask_seq) != tctx->handoff_mask_seq)
		return STALE_DSQ;
	__sync_fetch_and_add(&nr_bounced, 1);
	prev = scx_bpf_task_cpu(p);
	st = cpu_state_of(prev);
	if (st && st->online && bpf_cpumask_test_cpu(prev, p->cpus_ptr) &&
	    !(held_by_higher_class(prev) && p->nr_cpus_allowed > 1))
		return prev;
	return SHARED_DSQ;
}

/*
 * The CPU whose local DSQ takes a decision in partial mode (see
 * keep_ext_server()): the CPU chosen, unless the task is already on it, it
 * is not idle and it is not this CPU. An insert there from here moves
 * nothing (no enqueue, so no server start), and if that CPU's server
 * stopped meanwhile (its pick found nothing while the insert waited in this
 * CPU's dispatch buffer), the task would wait there until the higher-class
 * load ends. Then, and for "any CPU": an idle CPU the task may use, else
 * this CPU if allowed (it is dispatching: it runs what it inserts), else
 * the task's own.
 */
static s32 partial_cpu(const struct task_struct *p, u64 dsq)
{
	s32 here = bpf_get_smp_processor_id();
	struct relay_cpu_state *st;
	s32 cpu;

	if (dsq != SHARED_DSQ) {
		cpu = (s32)dsq;
		st = cpu_state_of(cpu);
		if (cpu == here || cpu != scx_bpf_task_cpu(p) || (st && READ_ONCE(st->idle)))
			return cpu;
	}
	cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
	if (cpu >= 0)
		return cpu;
	if (bpf_cpumask_test_cpu(here, p->cpus_ptr))
		return here;
	return handoff_cpu(p);
}

static bool migration_disabled(const struct task_struct *p);

/*
 * Whether @p's own CPU idles and @p may be moved to @cpu, another CPU, now
 * (see apply_decision()).
 */
static bool own_cpu_idles_elsewhere(const struct task_struct *p, s32 cpu)
{
	s32 own = scx_bpf_task_cpu(p);
	struct relay_cpu_state *st = cpu_state_of(own);

	return own != cpu && st && READ_ONCE(st->idle) && cpu >= 0 && cpu < RELAY_MAX_CPUS &&
	       bpf_cpumask_test_cpu(cpu, p->cpus_ptr) && !migration_disabled(p);
}

/* Apply one decision; never fails the scheduler, whatever it says. */
static void apply_decision(const struct relay_decision *d)
{
	struct relay_cpu_state *st;
	struct task_struct *p;
	struct task_ctx *tctx;
	u64 dsq, slice, vtime;
	s32 cpu;

	p = bpf_task_from_pid(d->pid);
	if (!p) {
		__sync_fetch_and_add(&nr_stale, 1);
		return;
	}
	tctx = lookup_task_ctx(p);
	/* Only an open hand-off (odd) can be claimed: an even echo is garbage. */
	if (!tctx || !(d->generation & 1) ||
	    __sync_val_compare_and_swap(&tctx->generation, d->generation, d->generation + 1) != d->generation) {
		__sync_fetch_and_add(&nr_stale, 1);
		goto out;
	}
	pending_forget(d->generation);

	dsq = decision_dsq(p, tctx, d->cpu);
	if (dsq == STALE_DSQ) {
		/*
		 * Claimed, so it must be inserted somewhere: with no pending
		 * entry left, nothing else would. (A mask change comes with a
		 * dequeue, which voids the hand-off before this claim, see
		 * relay_dequeue(); this is the guard.)
		 */
		__sync_fetch_and_add(&nr_stale, 1);
		__sync_fetch_and_add(&nr_kernel_dispatches, 1);
		dispatch_in_kernel(p, 0);
		goto out;
	}
	slice = d->slice_ns < MAX_SLICE_NS ? d->slice_ns : MAX_SLICE_NS;
	record_event(RELAY_REC_DECISION, p, bpf_get_smp_processor_id(), slice, d->cpu, 0);
	/*
	 * Counted when it runs (relay_running), if nothing came between: the
	 * kernel drops an insert of a task dequeued meanwhile
	 * (kernel/sched/ext.c finish_dispatch()), and every ops.enqueue
	 * changes the generation. (The kernel's bypass mode, while it
	 * unloads or loads a scheduler, enqueues without calling us: a run
	 * then can still be counted.)
	 */
	WRITE_ONCE(tctx->user_run_gen, d->generation + 1);
	if (partial_mode) {
		/* Straight to a local DSQ, in decision order: see keep_ext_server(). */
		cpu = partial_cpu(p, dsq);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, slice, d->flags & USER_ENQ_FLAGS);
		st = cpu_state_of(cpu);
		if (st)
			st->queue_depth++;
		kick(cpu, SCX_KICK_IDLE);
		goto out;
	}
	vtime = vtime_clamped(d->vtime);
	tctx->vtime_clamped = vtime != d->vtime;
	/*
	 * Named another CPU while the task's own one idles: straight to that
	 * CPU's local DSQ (decision order), which takes it off the idle
	 * CPU's runqueue at once. Counted there while it waited in our DSQ,
	 * it could keep the idle CPU's stopped ext server from starting
	 * again (keep_ext_server()).
	 */
	if (dsq != SHARED_DSQ && own_cpu_idles_elsewhere(p, (s32)dsq)) {
		tctx->run_shared = 0;
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | dsq, slice, d->flags & USER_ENQ_FLAGS);
		kick(dsq, SCX_KICK_IDLE);
		goto out;
	}
	tctx->run_shared = dsq == SHARED_DSQ;
	scx_bpf_dsq_insert_vtime(p, dsq, slice, vtime, d->flags & USER_ENQ_FLAGS);
	if (dsq == SHARED_DSQ) {
		kick_for(p);
	} else {
		st = cpu_state_of(dsq);
		if (st)
			st->queue_depth++;
		kick(dsq, SCX_KICK_IDLE);
	}
out:
	bpf_task_release(p);
}

/* bpf_user_ringbuf_drain() callback: 0 = continue while dispatch slots remain. */
static long handle_decision(struct bpf_dynptr *dynptr, void *ctx)
{
	struct relay_decision d;

	if (bpf_dynptr_read(&d, sizeof(d), dynptr, 0, 0))
		__sync_fetch_and_add(&nr_stale, 1);
	else
		apply_decision(&d);
	return scx_bpf_dispatch_nr_slots() ? 0 : 1;
}

/*
 * bpf_for_each_map_elem() callback: dispatch one pending task in the kernel
 * (see enum pending_walk_kind for which ones, where, and what counts them).
 */
static long fallback_one(struct bpf_map *map, u64 *generation, struct pending_entry *e,
			 struct pending_walk *walk)
{
	struct task_struct *p;
	struct task_ctx *tctx;
	s32 key = e->pid;
	u64 g = *generation;

	if (!scx_bpf_dispatch_nr_slots())
		return 1;
	if (walk->kind == WALK_RESCUE && (s64)(walk->now - e->queued_ns) < (s64)stall_timeout_ns)
		return 0;
	p = bpf_task_from_pid(key);
	if (!p)
		goto forget;
	if (walk->kind == WALK_KEEPALIVE &&
	    (scx_bpf_task_cpu(p) != walk->cpu || !bpf_cpumask_test_cpu(walk->cpu, p->cpus_ptr))) {
		bpf_task_release(p);
		return 0;
	}
	tctx = lookup_task_ctx(p);
	if (tctx && __sync_val_compare_and_swap(&tctx->generation, g, g + 1) == g) {
		if (walk->kind == WALK_KEEPALIVE) {
			/* One task keeps the server: the rest stay with user space. */
			tctx->run_shared = 0;
			scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
			__sync_fetch_and_add(&nr_keepalive, 1);
			bpf_task_release(p);
			pending_forget(g);
			return 1;
		}
		dispatch_in_kernel(p, 0);
		__sync_fetch_and_add(walk->kind == WALK_RESCUE ? &nr_rescued : &nr_fallback, 1);
	}
	bpf_task_release(p);
forget:
	/* Dispatched, exited or superseded: no longer pending at @g. */
	pending_forget(g);
	return 0;
}

/* Whether the task of @tctx has been runnable for AGE_AFTER_NS at @now (the watchdog's clock). */
static __always_inline bool ctx_overdue(const struct task_ctx *tctx, u64 now)
{
	return (s64)(now - tctx->wait_since) >= (s64)AGE_AFTER_NS;
}

/* Whether @p has been runnable for AGE_AFTER_NS at @now. */
static bool overdue(const struct task_struct *p, u64 now)
{
	struct task_ctx *tctx = lookup_task_ctx(p);

	return tctx && ctx_overdue(tctx, now);
}

/*
 * Overdue tasks within this much of the longest-waiting one are aged first
 * (ns): see run_overdue_from().
 */
#define AGE_WINDOW_NS (AGE_AFTER_NS / 4)

/*
 * The longest-waiting overdue task of @dsq that may run on @cpu: its
 * wait_since, in *oldest; false if there is none.
 */
/* Global (verified once, not per call site): it holds a loop. */
__noinline int oldest_overdue(u64 dsq, s32 cpu, u64 now, u64 *oldest)
{
	struct bpf_iter_scx_dsq it;
	struct task_struct *p;
	struct task_ctx *tctx;
	int found = 0;
	u32 i;

	if (!oldest)
		return 0;
	if (bpf_iter_scx_dsq_new(&it, dsq, 0))
		goto out;
	bpf_for(i, 0, AGE_SCAN_DEPTH) {
		p = bpf_iter_scx_dsq_next(&it);
		if (!p)
			break;
		tctx = lookup_task_ctx(p);
		if (!tctx || !ctx_overdue(tctx, now) ||
		    !bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		if (!found || (s64)(tctx->wait_since - *oldest) < 0)
			*oldest = tctx->wait_since;
		found = 1;
	}
out:
	bpf_iter_scx_dsq_destroy(&it);
	return found;
}

/*
 * Aging (see the top): move to this CPU's local DSQ up to @budget tasks of
 * @dsq that may run here and are overdue, the longest-waiting first: those
 * within AGE_WINDOW_NS of the longest wait, in @dsq's order. Returns how
 * many. In @dsq's order alone, tasks that become overdue again and again
 * with lower keys (each a second after its last run) kept one with a
 * higher key from ever being aged once the backlog outgrew what the CPUs
 * age (guest case reliability_aging_backlog: ejected, "starved[474] failed
 * to run for 5.064s", in the shared DSQ).
 */
/* Global (verified once, not per call site): it holds a loop. */
__noinline u32 run_overdue_from(u64 dsq, s32 cpu, u64 now, u32 budget)
{
	struct bpf_iter_scx_dsq it;
	struct task_struct *p;
	struct task_ctx *tctx;
	u64 oldest = 0;
	u32 i, moved = 0;

	if (!oldest_overdue(dsq, cpu, now, &oldest))
		return 0;
	if (bpf_iter_scx_dsq_new(&it, dsq, 0))
		goto out;
	/*
	 * A numbers iterator bounds the walk: the verifier treats its value as
	 * unknown, so the loop is verified once, not once per step.
	 */
	bpf_for(i, 0, AGE_SCAN_DEPTH) {
		p = bpf_iter_scx_dsq_next(&it);
		if (!p || moved >= budget)
			break;
		tctx = lookup_task_ctx(p);
		if (!tctx || !ctx_overdue(tctx, now) ||
		    (s64)(tctx->wait_since - (oldest + AGE_WINDOW_NS)) > 0 ||
		    !bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		if (scx_bpf_dsq_move(&it, p, SCX_DSQ_LOCAL, 0)) {
			__sync_fetch_and_add(&nr_aged, 1);
			moved++;
		}
	}
out:
	bpf_iter_scx_dsq_destroy(&it);
	return moved;
}

/*
 * Aging's look at the DSQs of CPUs that a higher class holds (their
 * overdue tasks that may run on @cpu): up to @budget moves. Returns how many.
 */
/* Global (verified once, not per call site): it holds a loop. */
__noinline u32 run_overdue_from_held(s32 cpu, u64 now, u32 budget)
{
	u32 moved = 0;
	s32 i;

	bpf_for(i, 0, nr_cpu_ids) {
		if (moved >= budget)
			break;
		if (i != cpu && held_by_higher_class(i))
			moved += run_overdue_from(i, cpu, now, budget - moved);
	}
	return moved;
}

/*
 * When the timer found overdue tasks for this CPU: run them first (up to
 * AGE_MOVES_PER_DISPATCH per call), from this CPU's DSQ, then the shared
 * one, then those of CPUs a higher class holds. The request stays until a
 * call finds none.
 */
static bool run_overdue(s32 cpu, u64 now)
{
	u8 *req = MEMBER_VPTR(age_request, [cpu]);
	u32 moved;

	if (!req || !READ_ONCE(*req))
		return false;
	moved = run_overdue_from(cpu, cpu, now, AGE_MOVES_PER_DISPATCH);
	if (moved < AGE_MOVES_PER_DISPATCH)
		moved += run_overdue_from(SHARED_DSQ, cpu, now, AGE_MOVES_PER_DISPATCH - moved);
	if (moved < AGE_MOVES_PER_DISPATCH)
		moved += run_overdue_from_held(cpu, now, AGE_MOVES_PER_DISPATCH - moved);
	/* Fewer than the budget may lie in the window of the longest wait. */
	if (!moved)
		WRITE_ONCE(*req, 0);
	return moved > 0;
}

/* Ask @cpu to run its overdue tasks next, now: flag it and preempt it. */
static void request_aging(s32 cpu)
{
	u8 *req = MEMBER_VPTR(age_request, [cpu]);

	if (!req || READ_ONCE(*req))
		return;
	WRITE_ONCE(*req, 1);
	kick(cpu, SCX_KICK_PREEMPT);
}

/*
 * Ask a CPU that may run @p to run its overdue tasks next: one of its
 * allowed CPUs, spread (bpf_cpumask_any_distribute: successive calls
 * return successive CPUs of the mask), and none a higher class holds if
 * it has another. Not @p's own CPU: overdue tasks that last ran on one
 * CPU (forked there, or aged there before) would all wait for that CPU,
 * one per tick, where spread they take a tick of each CPU they may use.
 */
static void request_aging_for(const struct task_struct *p)
{
	s32 cpu = bpf_cpumask_any_distribute(p->cpus_ptr);
	u32 i;

	/* Another CPU of its mask while a higher class holds this one (a few tries). */
	for (i = 0; i < 4 && held_by_higher_class(cpu) && p->nr_cpus_allowed > 1; i++)
		cpu = bpf_cpumask_any_distribute(p->cpus_ptr);
	if (cpu >= 0 && cpu < nr_cpu_ids)
		request_aging(cpu);
}

/*
 * The timer's look at @dsq: for each overdue task, ask a CPU that may run
 * it to do so (a per-CPU DSQ's own CPU; for the shared DSQ, the task's CPU
 * if allowed, else the first allowed one). Every task of the DSQ is looked
 * at (AGE_SCAN_DEPTH exceeds what a DSQ can hold), so no overdue task is
 * missed, however long the queue.
 */
/*
 * Global (verified once, not per call site): it holds a loop. Its caller
 * is the timer callback that relay_init, a sleepable program, sets up; the
 * 6.19 verifier checked it as sleepable code, where a KF_RCU_PROTECTED
 * kfunc such as bpf_iter_scx_dsq_new needs an explicit RCU read section
 * (check_kfunc_call and in_rcu_cs in kernel/bpf/verifier.c: "kernel func
 * bpf_iter_scx_dsq_new requires RCU critical section protection"), and
 * refused the whole dispatcher; 7.3's accepted it without. The section
 * costs nothing in the timer's softirq, where RCU is held anyway.
 */
__noinline int find_overdue(u64 dsq, u64 now)
{
	struct bpf_iter_scx_dsq it;
	struct task_struct *p;
	u32 i;

	bpf_rcu_read_lock();
	if (bpf_iter_scx_dsq_new(&it, dsq, 0))
		goto out;
	bpf_for(i, 0, AGE_SCAN_DEPTH) {
		p = bpf_iter_scx_dsq_next(&it);
		if (!p)
			break;
		if (!overdue(p, now))
			continue;
		/* A CPU's own DSQ: that CPU, unless a higher class holds it. */
		if (dsq != SHARED_DSQ && !held_by_higher_class((s32)dsq)) {
			request_aging((s32)dsq);
			break;
		}
		request_aging_for(p);
	}
out:
	bpf_iter_scx_dsq_destroy(&it);
	bpf_rcu_read_unlock();
	return 0;
}

/*
 * Move the task with the lowest vtime at the head of this CPU's DSQ or the
 * shared one to this CPU. Both queues are ordered by the same vtime, so this
 * serves them in one order: neither can starve the other (a task pinned to
 * this CPU waiting in the shared DSQ gets its turn even while this CPU's own
 * DSQ never empties).
 */
static bool consume_in_vtime_order(s32 cpu)
{
	struct task_struct *mine = __COMPAT_scx_bpf_dsq_peek(cpu);
	struct task_struct *shared = __COMPAT_scx_bpf_dsq_peek(SHARED_DSQ);

	if (mine && shared && vtime_before(shared->scx.dsq_vtime, mine->scx.dsq_vtime) &&
	    scx_bpf_dsq_move_to_local(SHARED_DSQ, 0))
		return true;
	return scx_bpf_dsq_move_to_local(cpu, 0) || scx_bpf_dsq_move_to_local(SHARED_DSQ, 0);
}

/*
 * Nothing in this CPU's DSQ or the shared one: take a task that may run
 * here from the DSQ of a CPU a higher class holds (the kernel's move takes
 * the first task that may run here: ext.c consume_dispatch_q()).
 */
/* Global (verified once, not per call site): it holds a loop. */
__noinline int consume_from_held(s32 cpu)
{
	s32 i;

	bpf_for(i, 0, nr_cpu_ids) {
		if (i != cpu && held_by_higher_class(i) && scx_bpf_dsq_nr_queued(i) > 0 &&
		    scx_bpf_dsq_move_to_local(i, 0))
			return 1;
	}
	return 0;
}

/*
 * A deferred fast-placed task waiting for CPU @from (fast_place()), moved to
 * this CPU, @cpu, if it heads @from's DSQ and may run here: exactly that
 * task, by the iterator (a move by DSQ could take the next one if @from took
 * the waiter meanwhile). A local move of a task that may not run here is a
 * scheduler error (ext.c task_can_run_on_remote_rq()), hence the checks.
 * Whether it moved.
 */
/* Global (verified once, not per call site). */
__noinline int take_fast_waiter_from(s32 from, s32 cpu)
{
	s32 *w = MEMBER_VPTR(fast_waiting, [from]);
	u8 *deferred = MEMBER_VPTR(fast_waiting_deferred, [from]);
	struct bpf_iter_scx_dsq it;
	struct task_struct *p;
	s32 pid;
	int moved = 0;

	if (!w || !deferred || !READ_ONCE(*deferred))
		return 0;
	pid = READ_ONCE(*w);
	if (!pid)
		return 0;
	if (!bpf_iter_scx_dsq_new(&it, from, 0)) {
		p = bpf_iter_scx_dsq_next(&it);
		if (p && p->pid == pid && bpf_cpumask_test_cpu(cpu, p->cpus_ptr) && !migration_disabled(p))
			moved = scx_bpf_dsq_move(&it, p, SCX_DSQ_LOCAL, 0);
	}
	bpf_iter_scx_dsq_destroy(&it);
	return moved;
}

/*
 * Nothing in this CPU's DSQ or the shared one: take a deferred fast-placed
 * task that waits for another CPU (that CPU's task had not run
 * slice_min_ns, fast_place()), rather than keep the task that ran or go
 * idle while it waits. Its fast_waiting slot is released when it runs
 * (fast_waiting_done()), so that CPU's timer (fast_kick_fn()) then finds no
 * waiter. Only deferred ones: a waiter kicked at once runs there next, and
 * its CPU's task, preempted for it, would have been preempted for nothing.
 */
/* Global (verified once, not per call site): it holds a loop. */
__noinline int take_fast_waiter(s32 cpu)
{
	s32 i;

	bpf_for(i, 0, nr_cpu_ids) {
		if (i != cpu && take_fast_waiter_from(i, cpu)) {
			__sync_fetch_and_add(&nr_fast_moved, 1);
			return 1;
		}
	}
	return 0;
}

/*
 * Whether @p may not leave its CPU now. scx's is_migration_disabled()
 * without its Kconfig read (libbpf needs the kernel's config file for that,
 * which the guest lacks): a count of 1 may be the BPF prolog's own
 * migrate_disable() when @p is current, which the probe scx_lib_init_probe
 * (common.bpf.h, attached with the dispatcher) records.
 */
static bool migration_disabled(const struct task_struct *p)
{
	if (p->migration_disabled != 1)
		return p->migration_disabled;
	return __scx_prolog_disables_migration ? bpf_get_current_task_btf() != p : true;
}

/*
 * Tasks of @cpu's runqueue waiting in the DSQ of CPU @owner (a decision
 * named @owner): moved to @owner's local DSQ, which takes them off @cpu's
 * runqueue (ext.c move_remote_task_to_local_dsq(): deactivate on the task's
 * rq, activate on @owner's). They run where their decision put them, never
 * here: a routing configuration's CPUs hold (see keep_ext_server()).
 * Returns how many.
 */
/* Global (verified once, not per call site): it holds a loop. */
__noinline u32 hand_over_stranded(s32 owner, s32 cpu)
{
	struct relay_cpu_state *st = cpu_state_of(owner);
	struct bpf_iter_scx_dsq it;
	struct task_struct *p;
	u32 i, moved = 0;

	/*
	 * An offline owner: the kernel would put the task in the global DSQ
	 * of this runqueue instead (ext.c move_task_between_dsqs()).
	 */
	if (owner < 0 || owner >= nr_cpu_ids || !st || !st->online)
		return 0;
	if (bpf_iter_scx_dsq_new(&it, owner, 0))
		goto out;
	bpf_for(i, 0, STRANDED_SCAN_DEPTH) {
		p = bpf_iter_scx_dsq_next(&it);
		if (!p)
			break;
		/*
		 * A local move to a CPU the task may not use, or of a task
		 * with migration disabled, is a scheduler error
		 * (ext.c task_can_run_on_remote_rq()): such a task stays.
		 */
		if (scx_bpf_task_cpu(p) != cpu || !bpf_cpumask_test_cpu(owner, p->cpus_ptr) ||
		    migration_disabled(p))
			continue;
		if (scx_bpf_dsq_move(&it, p, SCX_DSQ_LOCAL_ON | owner, 0))
			moved++;
	}
out:
	bpf_iter_scx_dsq_destroy(&it);
	return moved;
}

/*
 * hand_over_stranded() from every other CPU's DSQ, kicking each CPU that
 * received tasks. Returns how many moved. (The kick is here, not after the
 * loop above: a branch on that loop's count, a constant in each pass of the
 * verifier, makes the count precise, and the loop's passes never converge:
 * "The sequence of 8193 jumps is too complex".)
 */
/* Global (verified once, not per call site): it holds a loop. */
__noinline u32 hand_over_all_stranded(s32 cpu)
{
	struct rq *rq = scx_bpf_locked_rq();
	u32 moved = 0, n;
	s32 i;

	bpf_for(i, 0, nr_cpu_ids) {
		/* Nothing of ours left counted here: nothing to look for. */
		if (!rq || !rq->scx.nr_running)
			break;
		if (i == cpu || !scx_bpf_dsq_nr_queued(i))
			continue;
		n = hand_over_stranded(i, cpu);
		if (n) {
			kick(i, SCX_KICK_IDLE);
			moved += n;
		}
	}
	return moved;
}

/*
 * The tickless check's timer (arm_tickless_check()): not armed yet, armed
 * unpinned where the heartbeat ran (its fallback), or pinned to a CPU
 * whose tick the kernel keeps.
 */
enum tickless_check_state {
	TICKLESS_CHECK_OFF,
	TICKLESS_CHECK_ANYWHERE,
	TICKLESS_CHECK_PINNED,
};
static u32 tickless_check_state;
static void arm_tickless_check(bool anywhere);

/* The timer: heartbeat of the user scheduler, and the stall check. */
static int heartbeat_fn(void *map, u32 *key, struct bpf_timer *timer)
{
	u64 now = bpf_ktime_get_ns();
	s32 cpu;

	if (now - READ_ONCE(usersched_last_run_ns) >= HEARTBEAT_NS) {
		WRITE_ONCE(usersched_needed, 1);
		kick(READ_ONCE(usersched_cpu), SCX_KICK_IDLE);
	}
	/* While stalled, make idle CPUs run ops.dispatch(): it does the fallback. */
	if (check_stalled(now) && READ_ONCE(nr_pending)) {
		bpf_for(cpu, 0, nr_cpu_ids)
			kick(cpu, SCX_KICK_IDLE);
	} else if (READ_ONCE(nr_pending)) {
		/* Alive, but a task may be left behind: one CPU looks. */
		WRITE_ONCE(rescue_check, 1);
		kick(READ_ONCE(usersched_cpu), SCX_KICK_IDLE);
	}
	bpf_for(cpu, 0, nr_cpu_ids)
		find_overdue(cpu, now);
	find_overdue(SHARED_DSQ, now);
	arm_tickless_check(true);
	bpf_timer_start(timer, timer_interval_ns, 0);
	return 0;
}

/*
 * Wakeup fast path: if the default idle selection finds an idle CPU and no
 * queue holds work that should run first, the task goes straight to that
 * CPU's local DSQ; everything else is left to ops.enqueue().
 */
s32 BPF_STRUCT_OPS(relay_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	/*
	 * The user scheduler waking from its idle block: its last CPU if idle,
	 * else an idle one it may use (relay_enqueue() kicks it). With none
	 * idle, usersched_cpu if it may run there: the CPU wake_usersched()
	 * preempted for it, or else its last CPU. Waking on its last CPU when
	 * another was preempted cost that CPU an IPI, and the preempted one,
	 * by timing, a move across runqueues or a dispatch that found nothing.
	 */
	if (is_usersched(p)) {
		struct relay_cpu_state *st = cpu_state_of(prev_cpu);

		if (st && READ_ONCE(st->idle) && !held_by_higher_class(prev_cpu))
			return prev_cpu;
		cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
		if (cpu >= 0)
			return cpu;
		cpu = READ_ONCE(usersched_cpu);
		if (cpu >= 0 && cpu < RELAY_MAX_CPUS && bpf_cpumask_test_cpu(cpu, p->cpus_ptr) &&
		    !held_by_higher_class(cpu))
			return cpu;
		return prev_cpu;
	}
	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle && !scx_bpf_dsq_nr_queued(SHARED_DSQ) && !scx_bpf_dsq_nr_queued(KTHREAD_DSQ) &&
	    (cpu < 0 || cpu >= RELAY_MAX_CPUS || !scx_bpf_dsq_nr_queued(cpu))) {
		struct task_ctx *tctx = lookup_task_ctx(p);

		if (tctx)
			tctx->run_shared = 0;
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
		__sync_fetch_and_add(&nr_kernel_dispatches, 1);
	}
	return cpu;
}

/*
 * Whether the locked runqueue (this CPU's, in ops.dispatch() and
 * ops.running()) holds tasks of ours and runnable tasks of a higher class:
 * then the ext class runs here only through the kernel's ext server (see
 * keep_ext_server()). Without such tasks, coming out of ops.dispatch()
 * empty-handed lets the CPU go idle, and an insert for it wakes it.
 */
static bool served_by_ext_server(void)
{
	struct rq *rq = scx_bpf_locked_rq();

	return rq && rq->scx.nr_running && rq->nr_running > rq->scx.nr_running;
}

/*
 * Kernel threads never wait for user space, whatever the policy: the user
 * scheduler itself may wait for them (a page fault it takes may need kswapd),
 * and one of them runs the sched_ext watchdog's own check-in
 * (kernel/sched/ext.c scx_watchdog_workfn, on the unbound system_dfl_wq).
 * That work stamps the time when it starts and re-arms itself for
 * timeout / 2 when it ends; scx_tick() ejects the scheduler when the stamp
 * is a timeout old. So its wait for a CPU after the wake-up and its waits
 * inside the run (it may be preempted at the cond_resched() between CPUs)
 * add up against timeout / 2 (2.5 s), where any one task's wait is measured
 * against the whole timeout.
 *
 * So a kthread that has not used a whole slice since it woke (woken now,
 * new, or preempted early) is served first, by the next ops.dispatch() of
 * a CPU it may run on, and the running task there yields to it at the
 * next tick once it ran slice_min_ns (should_yield):
 * - pinned to one CPU, it goes to that CPU's local DSQ (in partial mode
 *   any kthread does, unless a higher class holds the CPU);
 * - free to move, to KTHREAD_DSQ (FIFO), which every CPU's ops.dispatch()
 *   serves first, and an idle CPU it may use is kicked. Never the local
 *   DSQ of the CPU it is enqueued on: no other CPU can take a task from
 *   there, and that CPU may not schedule for seconds (a task spinning on a
 *   kernel lock with preemption off: a fresh-clone CI run under the stress
 *   recipe had the RCU grace-period kthread and the kworker that runs the
 *   watchdog's check-in, both free to run anywhere, wait 5 and 21 s in the
 *   local DSQ of such a CPU while the other CPUs ran hogs, and the kernel
 *   ejected scx_relay: "watchdog failed to check in").
 * A kthread that used a slice, or a pinned one enqueued while aging waits
 * for its CPU, queues in our DSQs at the current vtime instead (its CPU's
 * DSQ if pinned, else the shared one), where aging bounds its wait:
 * kthreads coming back first again and again would keep every other
 * queue, and its aging, waiting. The slice bounds that, and for pinned
 * ones the aging request (an unbound one in KTHREAD_DSQ is served after
 * aging's turn on whichever CPU takes it).
 */
static void kthread_in_kernel(struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	s32 cpu = scx_bpf_task_cpu(p);
	u8 *req = MEMBER_VPTR(age_request, [cpu]);
	bool allowed = cpu >= 0 && cpu < nr_cpu_ids && bpf_cpumask_test_cpu(cpu, p->cpus_ptr);
	bool short_run = !tctx || !tctx->start_ts || tctx->exec_runtime < slice_ns;
	bool pinned = p->nr_cpus_allowed == 1;

	__sync_fetch_and_add(&nr_kernel_dispatches, 1);
	/*
	 * Not behind aging's request for this CPU in KTHREAD_DSQ either: the
	 * CPUs that serve it check their own request first (relay_dispatch).
	 */
	if (short_run && !pinned && !partial_mode) {
		scx_bpf_dsq_insert(p, KTHREAD_DSQ, slice_ns, enq_flags);
		kick_for(p);
		return;
	}
	/*
	 * In partial mode, where decisions too go to local DSQs (see
	 * keep_ext_server()), the local DSQ unless a higher class holds this
	 * CPU.
	 */
	if (short_run && !(req && READ_ONCE(*req)) && allowed &&
	    (pinned || (partial_mode && !served_by_ext_server()))) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, enq_flags);
		return;
	}
	if (allowed && pinned) {
		scx_bpf_dsq_insert_vtime(p, cpu, slice_ns, vtime_now_get(), enq_flags);
		kick(cpu, SCX_KICK_IDLE);
		return;
	}
	dispatch_in_kernel(p, enq_flags);
}

/*
 * Whether the running task of @cpu gives way to the kernel thread at the
 * head of KTHREAD_DSQ (should_yield): if it may run on @cpu, and @cpu is
 * the CPU it was enqueued on, or that CPU has not switched tasks for a
 * whole slice (it may be spinning with preemption off). Not every CPU at
 * once: ticks come together, and every busy CPU would give way to one
 * kthread. Only the head is looked at: a kthread behind one that may not
 * run here waits for this CPU's next dispatch (its running task's slice).
 */
static bool kthread_waits_for(s32 cpu)
{
	struct task_struct *head;
	s32 home;

	if (!scx_bpf_dsq_nr_queued(KTHREAD_DSQ))
		return false;
	head = __COMPAT_scx_bpf_dsq_peek(KTHREAD_DSQ);
	if (!head || !bpf_cpumask_test_cpu(cpu, head->cpus_ptr))
		return false;
	home = scx_bpf_task_cpu(head);
	if (home == cpu || home < 0 || home >= RELAY_MAX_CPUS)
		return true;
	return bpf_ktime_get_ns() - READ_ONCE(cpu_started_ns[home & (RELAY_MAX_CPUS - 1)]) > slice_ns;
}

/*
 * A task the kernel gave back from this CPU's local DSQ (SCX_ENQ_REENQ,
 * asked for by relay_sched_switch when a higher class took the CPU; tasks
 * the kernel would otherwise keep local, exiting or migration-disabled,
 * come here too: SCX_OPS_ENQ_EXITING, SCX_OPS_ENQ_MIGRATION_DISABLED). The
 * dispatcher places it as a kernel-side dispatch (a new generation): the
 * shared DSQ if it may run elsewhere, else its CPU's own DSQ, served when
 * the ext class runs there again. Never a local DSQ: the kernel counts the
 * re-enqueues of a task that has not run since and ejects the scheduler
 * past SCX_REENQ_MAX_REPEAT (ext.c), and a task put back in a local DSQ
 * would be given back again at every switch to a higher class there.
 *
 * It keeps its key, the place its policy gave it: raising a key behind
 * vtime_now to vtime_now (as before) charged the task that happened to be
 * running when a higher class took the CPU (then also the soft-lockup
 * watchdog's cpu_stop, every few seconds per CPU, which no longer counts:
 * is_stop_class()), most often the heaviest task there, and with per-CPU
 * queues (`local`) keys can lag the global vtime_now by much. (It was a suspect for `local`'s nice-10 hogs getting
 * 8-12 % over their share on the weights case's `spread` layout; the
 * change did not remove that.) A key a fast path left stale (a task
 * that slept, or one that only ever takes the fast paths and keeps the key
 * relay_enable gave it) sorts first; what it gains at each re-enqueue is
 * bounded by the slice below. The key is raised only to the lower end of
 * the window around vtime_now (vtime_clamped's), so that every key in our
 * DSQs stays within it, as the kernel's wrap-aware order needs. It keeps
 * what is left of its slice (at most slice_ns, as every
 * kernel-side dispatch), not a fresh default one, so
 * that a low-weight task with a short slice that a realtime task
 * preempts does not come back with a whole default slice. The CPU time it
 * had used of that slice is not charged to its key here (its start is taken again
 * when it next runs): a re-enqueue gains it at most one slice.
 */
static void reenqueued(struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	s32 cpu = scx_bpf_task_cpu(p);
	u64 vtime = vtime_raised(p->scx.dsq_vtime);
	u64 slice = p->scx.slice && p->scx.slice < slice_ns ? p->scx.slice : slice_ns;
	u64 dsq = SHARED_DSQ;

	__sync_fetch_and_add(&nr_reenqueued, 1);
	__sync_fetch_and_add(&nr_kernel_dispatches, 1);
	if (tctx)
		__sync_fetch_and_add(&tctx->generation, 2);
	if ((p->nr_cpus_allowed == 1 || migration_disabled(p)) && cpu >= 0 && cpu < nr_cpu_ids)
		dsq = cpu;
	if (tctx)
		tctx->run_shared = dsq == SHARED_DSQ;
	scx_bpf_dsq_insert_vtime(p, dsq, slice, vtime, enq_flags);
	if (dsq == SHARED_DSQ)
		kick_for(p);
}

/*
 * The user scheduler given back from a local DSQ (see reenqueued()): it
 * waits in its own DSQ as always, and the CPU that gives way to it
 * (should_yield: usersched_cpu) becomes one it may use where no higher
 * class runs, idle if one is (kicked then): else it would wait for the CPU
 * the realtime task holds.
 */
static void usersched_reenqueued(struct task_struct *p)
{
	s32 cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);

	__sync_fetch_and_add(&nr_reenqueued, 1);
	if (cpu >= 0) {
		WRITE_ONCE(usersched_cpu, cpu);
		kick_usersched(cpu, SCX_KICK_IDLE, bpf_ktime_get_ns());
		return;
	}
	cpu = bpf_cpumask_any_distribute(p->cpus_ptr);
	if (cpu >= 0 && cpu < nr_cpu_ids && !held_by_higher_class(cpu))
		WRITE_ONCE(usersched_cpu, cpu);
}

/*
 * Who decides: the user scheduler is parked; kthreads stay in the kernel;
 * while the user side is stalled new tasks go to the shared DSQ; everything
 * else is handed to user space, or kept in the kernel when there is no room
 * (congestion).
 */
/*
 * The wakeup fast path
 * --------------------
 * A task the policy granted the fast path (its slot's grant, written by
 * user space: Policy::fast_path in scheduler-core) is placed here when it
 * wakes, without the round trip through user space: on an idle CPU it may
 * use (the policy's preferred CPU first, if its placement word names one
 * the task may use; then its own), else on the CPU whose running task it
 * preempts: the preferred one or else its own, else the one that has run longest, of those it may use whose task ran slice_min_ns
 * at least since it started there (cpu_ran_slice_min(): a
 * task pinned with fast tasks still runs) or, for a light task, is a CPU
 * hog (fast_hog_rule(): a hog preempted for a periodic sleeper is
 * otherwise protected anew at each restart, and the sleeper's next wakeup
 * would wait for its slice_min_ns; counted in
 * nr_fast_hog_preempts) and is neither fast-placed nor
 * the user scheduler, that are not held by a higher class, and that the
 * user scheduler is not waiting for. It is queued in that CPU's DSQ at a
 * key FAST_KEY_LEAD below everything that CPU serves (so it runs next there:
 * consume_in_vtime_order, which ops.dispatch() tries before the user
 * scheduler while fast_waiting names a task; one such task per CPU, taken
 * by a compare-and-swap, released when it runs, is enqueued again or
 * exits), and the CPU is kicked, with
 * SCX_KICK_PREEMPT if it runs a task: that task's slice ends at once
 * (ext.c kick_one_cpu() zeroes the current slice), and it is enqueued again
 * the ordinary way. If no CPU is idle or preemptible now, but one is left
 * out only because its task has not run slice_min_ns yet, a light task (or
 * one whose grant is deferrable) is queued on the one whose task started
 * first, and a timer kicks that CPU when its task has run slice_min_ns (a
 * deferred placement, nr_fast_deferred; with no such CPU, for a light task,
 * the user scheduler's, served first
 * when the user scheduler leaves it, nr_fast_usersched_target; a CPU
 * that runs out of work first takes the task:
 * take_fast_waiter(), nr_fast_moved). Nothing is held in user space, so the task's
 * generation moves on as for dispatch_in_kernel().
 *
 * User space stays the only author of policy: which tasks, with what
 * budget, where first and at what weight. The dispatcher enforces the budget (fast_accounting): a
 * fast-placed run's slice is the budget (at most slice_ns). A fast-placed
 * wakeup whose CPU time reaches the budget by any stop of its burst (a
 * kept slice or a later, ordinary placement of the same burst included)
 * for the RELAY_FAST_OVERRUNS-th of the task's fast-placed wakeups in a
 * row, or fast-placed runs that use more than the share of a CPU due to the
 * task's effective weight (the placement word's, at most the task's own
 * weight at the placement; fast_share_limit_ns())
 * within a RELAY_FAST_WINDOW_MS window, revoke the grant (revoked_grant =
 * grant): no fast path until the policy grants again (a new epoch). So a
 * task that lies about being latency-critical gets its budget per wakeup
 * (a slice ends at a tick: plus up to one tick; one budget more before
 * the revoke; the count is the task's, so a grant written anew in between
 * does not restart it) and about half a CPU at
 * nice 0's weight, and
 * then goes through the policy like any other. And the dispatcher checks
 * one rule of the policy's itself at every placement, the weight: a task
 * niced down (or made SCHED_IDLE) after its grant is not fast-placed.
 *
 * Not in partial mode (decisions go to local DSQs there, see partial_cpu()).
 */
static bool lowest_waiting_key(s32 cpu, u64 *key);

/*
 * How far below the lowest key a CPU serves a fast-placed task is queued
 * (ns of vtime, 2^40: 18 minutes): below any key a policy sends later too
 * (honest keys stay within a few slices of the policy's clock), and far
 * inside the window the kernel's wrap-aware order needs (2^63).
 */
#define FAST_KEY_LEAD (1ULL << 40)

/* @cpu's fast_waiting slot (see fast_place), or NULL. */
static s32 *fast_waiting_of(s32 cpu)
{
	return MEMBER_VPTR(fast_waiting, [cpu]);
}

/* Whether a fast-placed task waits for @cpu. */
static bool fast_waits_for(s32 cpu)
{
	s32 *w = fast_waiting_of(cpu);

	return w && READ_ONCE(*w);
}

/* The valid grant of @p (for its pid, with a budget, not revoked), or 0. */
static u64 valid_grant(const struct task_struct *p, struct relay_task_shared *sh)
{
	u64 grant = READ_ONCE(sh->grant);

	if (!grant || (s32)(grant >> RELAY_GRANT_PID_SHIFT) != p->pid ||
	    !((grant >> RELAY_GRANT_BUDGET_SHIFT) & RELAY_GRANT_BUDGET_MASK) || grant == READ_ONCE(sh->revoked_grant))
		return 0;
	return grant;
}

/* A grant's burst budget (ns), at most RELAY_FAST_MAX_BUDGET_US and slice_ns. */
static u64 grant_budget_ns(u64 grant)
{
	u64 budget = ((grant >> RELAY_GRANT_BUDGET_SHIFT) & RELAY_GRANT_BUDGET_MASK) * 1000;

	if (budget > RELAY_FAST_MAX_BUDGET_US * 1000ULL)
		budget = RELAY_FAST_MAX_BUDGET_US * 1000ULL;
	return budget < slice_ns ? budget : slice_ns;
}

/*
 * Whether a fast-placed wakeup of a task may preempt @cpu's task at once
 * as a CPU hog, whatever its run there (the hog rule of cpu_preemptible(),
 * for the fast path; unless --no-preempt-hogs): @light, the task's average
 * burst (its slot's avg_burst_ns) is under a quarter of slice_min_ns;
 * @cpu runs a hog (cpu_runs_hog()); and the rule does not rest on @cpu:
 * after a fast-placed run that preempted a hog there by the rule, it rests
 * for as long as that run took (fast_accounting(), hog_rule_after_ns), so
 * the rule's preemptions on a CPU are spaced at least their runs' length
 * apart (a bound on how often it fires, not on the hogs' share: the hog
 * it preempted may restart after the rest). Without the rule a hog
 * preempted for cyclictest at 1 kHz was protected anew at each restart and
 * the next wakeup found no CPU: on 2 parallel vCPUs its p50 was 2115 us
 * against 309.5 with it (docs/performance.md, "The fast path's hog
 * rule"). Without the two limits, in the simulator, granted tasks
 * running 45 % of a CPU each, twice as many as the CPUs, left pinned hogs
 * 16 % of a CPU, under half an even split.
 */
static bool fast_hog_rule(s32 cpu, bool light, u64 now)
{
	return light && cpu_runs_hog(cpu, now) && now >= READ_ONCE(hog_rule_after_ns[cpu & (RELAY_MAX_CPUS - 1)]);
}

/* Most CPUs fast_cpu() looks at, from the task's own on. */
#define FAST_SCAN_CPUS 64

/*
 * The placement word of @p's slot @sh (intf.h), if it is @p's; else 0.
 */
static u64 own_placement(const struct task_struct *p, struct relay_task_shared *sh)
{
	u64 place = READ_ONCE(sh->placement);

	return (s32)(place >> RELAY_PLACE_PID_SHIFT) == p->pid ? place : 0;
}

/* A placement word's preferred CPU, or -1 for none. */
static s32 placement_cpu(u64 place)
{
	return (s32)((place >> RELAY_PLACE_CPU_SHIFT) & RELAY_PLACE_CPU_MASK) - 1;
}

/*
 * A placement word's effective weight, nice 0's if it has none, at most
 * RELAY_WEIGHT_MAX.
 */
static u64 placement_weight(u64 place)
{
	u64 w = place & RELAY_PLACE_WEIGHT_MASK;

	if (!w)
		return RELAY_WEIGHT_NICE_0;
	return w < RELAY_WEIGHT_MAX ? w : RELAY_WEIGHT_MAX;
}

/*
 * The CPU time a task's fast-placed runs may use per RELAY_FAST_WINDOW_MS
 * window at effective weight @w (ns): the share a task of that weight gets
 * of a CPU it shares with one nice-0 task, w / (w + nice 0's weight), which
 * is RELAY_FAST_SHARE_PCT % at nice 0. A heavier task may bypass the
 * policy's order for more of a CPU, a lighter one for less.
 */
static u64 fast_share_limit_ns(u64 w)
{
	return RELAY_FAST_WINDOW_MS * 1000000ULL * RELAY_FAST_SHARE_PCT / 50 * w / (w + RELAY_WEIGHT_NICE_0);
}

/*
 * Once fast_cpu()'s scan found no CPU to take at once: why, counted per CPU
 * it left out (nr_fast_left_*: of the CPUs it scans from @home that the
 * task of @pid may use, online and not held by a higher class: the user
 * scheduler's while it runs or waits, one where a fast-placed task runs or
 * waits, or one whose task may not be preempted yet); and for a @light
 * task, or one whose grant is @deferrable (RELAY_GRANT_DEFERRABLE: the
 * policy's), the deferral: of the last kind, the CPU whose task started
 * first; or, with none, for a @light task only, the user scheduler's CPU
 * (below: a longer burst there would hold the user scheduler back for as
 * long); or -1. A function of its own, verified once: as two more variables of
 * fast_cpu()'s scan the deferral multiplied the scan's verifier states
 * (relay_enqueue's verification went from 23499 to 200543 instructions on
 * 7.3.4, and its load beside 4 hogs on 6.19 from 16 s to over 60 s:
 * fresh-clone CI at 3cd93c4).
 */
/* Global (verified once, not per call site): it holds a loop. */
__noinline s32 fast_defer_cpu(s32 pid, s32 home, bool light, bool deferrable)
{
	struct task_struct *p = bpf_task_from_pid(pid);
	bool usersched_waits = !READ_ONCE(usersched_on_cpu) && usersched_has_work(false);
	struct relay_cpu_state *st;
	s32 best = -1, cpu;
	u64 oldest = 0, started;
	u32 i, n = nr_cpu_ids;

	if (!p)
		return -1;
	if (n > FAST_SCAN_CPUS)
		n = FAST_SCAN_CPUS;
	bpf_for(i, 0, n) {
		cpu = (s32)(((u32)home + i) % nr_cpu_ids);
		if (cpu < 0 || cpu >= RELAY_MAX_CPUS || !bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		st = cpu_state_of(cpu);
		if (!st || !st->online || !fast_waiting_of(cpu) || held_by_higher_class(cpu))
			continue;
		if (READ_ONCE(usersched_cpu) == cpu && (READ_ONCE(usersched_on_cpu) || usersched_waits)) {
			__sync_fetch_and_add(&nr_fast_left_usersched, 1);
			continue;
		}
		if (fast_on[cpu & (RELAY_MAX_CPUS - 1)] || fast_waits_for(cpu)) {
			__sync_fetch_and_add(&nr_fast_left_fast, 1);
			continue;
		}
		/* Gone idle, or between tasks, since the scan: not counted. */
		if (READ_ONCE(st->idle) || !cpu_runs_task(cpu))
			continue;
		__sync_fetch_and_add(&nr_fast_left_busy, 1);
		if (!light && !deferrable)
			continue;
		started = READ_ONCE(cpu_started_ns[cpu & (RELAY_MAX_CPUS - 1)]);
		if (best < 0 || started < oldest) {
			best = cpu;
			oldest = started;
		}
	}
	/*
	 * None of those: the user scheduler's CPU, last, while it runs there
	 * or waits for it. The task is queued with no kick, and that CPU's
	 * next dispatch runs it before the user scheduler (relay_dispatch):
	 * when the user scheduler blocks or yields, or, while it waits, when
	 * the CPU's task is preempted for it. Through user space the task
	 * would wait for the same user scheduler to decide, and for a CPU
	 * after that: a task pinned to a CPU the user scheduler ran on, as
	 * cyclictest's measuring threads are, went that way (most granted
	 * wakeups the fast path could not place, nr_fast_left_usersched:
	 * docs/performance.md).
	 */
	cpu = READ_ONCE(usersched_cpu);
	if (light && best < 0 && cpu >= 0 && cpu < RELAY_MAX_CPUS && (u32)cpu < nr_cpu_ids &&
	    bpf_cpumask_test_cpu(cpu, p->cpus_ptr) && (READ_ONCE(usersched_on_cpu) || usersched_waits)) {
		st = cpu_state_of(cpu);
		if (st && st->online && fast_waiting_of(cpu) && !held_by_higher_class(cpu) &&
		    !fast_on[cpu & (RELAY_MAX_CPUS - 1)] && !fast_waits_for(cpu)) {
			best = cpu;
			__sync_fetch_and_add(&nr_fast_usersched_target, 1);
		}
	}
	bpf_task_release(p);
	return best;
}

/*
 * The CPU a fast-placed @p goes to (see above), or -1; *@running says
 * whether a task runs there (to be preempted), *@hog whether that task
 * is preempted only as a CPU hog (its run had not had slice_min_ns; @light:
 * see fast_hog_rule()), *@defer_ns, if not 0, that it may be preempted
 * only in that many ns (a deferred placement, for a @light task or a
 * @deferrable grant only: no CPU is idle or preemptible now, and of those
 * that are left out only because their task has not run slice_min_ns yet,
 * this one's started first; or, with none and @light, it is the user
 * scheduler's, and the timer looks
 * when it may; see fast_defer_cpu() and fast_place()). @pref is the policy's
 * preferred CPU (-1 = none). If @p may use it, it is taken first when idle
 * and not the CPU the waiting user scheduler runs on next; past that, an
 * idle CPU still comes before a preemption (its own, then any), and the
 * preferred CPU stands for its own in the search for a task to preempt
 * (preempted first, the scan's start).
 */
static s32 fast_cpu(struct task_struct *p, s32 pref, bool light, bool deferrable, bool *running, bool *hog,
		    u64 *defer_ns)
{
	s32 prev = scx_bpf_task_cpu(p), home = prev, best = -1, cpu;
	u64 oldest = 0, started, now = bpf_ktime_get_ns(), *start_ns;
	struct relay_cpu_state *st = cpu_state_of(prev);
	bool usersched_waits = !READ_ONCE(usersched_on_cpu) && usersched_has_work(false);
	bool own_idle = st && READ_ONCE(st->idle) && prev >= 0 && prev < RELAY_MAX_CPUS && fast_waiting_of(prev) &&
			!fast_waits_for(prev) && bpf_cpumask_test_cpu(prev, p->cpus_ptr);
	struct relay_cpu_state *pst;
	u32 i, n = nr_cpu_ids;
	bool ran, best_hog = false;

	if (pref >= 0 && pref < RELAY_MAX_CPUS && pref != prev && bpf_cpumask_test_cpu(pref, p->cpus_ptr)) {
		home = pref;
		pst = cpu_state_of(pref);
		/*
		 * The preferred CPU, idle: its idle bit claimed here, as
		 * select_cpu_dfl() claims the task's own CPU's for a wakeup.
		 * That one, if idle, is kicked: its bit may be the one
		 * select_cpu_dfl() claimed, and an idle CPU whose bit is
		 * clear is one the kernel's idle searches no longer find
		 * until it goes idle again.
		 */
		if (pst && pst->online && fast_waiting_of(pref) && !fast_waits_for(pref) &&
		    !(READ_ONCE(usersched_cpu) == pref && (READ_ONCE(usersched_on_cpu) || usersched_waits)) &&
		    scx_bpf_test_and_clear_cpu_idle(pref)) {
			if (own_idle)
				kick(prev, SCX_KICK_IDLE);
			*running = false;
			return pref;
		}
	}
	/* Its own CPU, idle (select_cpu_dfl() may have claimed it for this wakeup). */
	if (own_idle) {
		*running = false;
		return prev;
	}
	cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
	if (cpu >= 0) {
		*running = false;
		return cpu;
	}
	if (n > FAST_SCAN_CPUS)
		n = FAST_SCAN_CPUS;
	bpf_for(i, 0, n) {
		cpu = (s32)(((u32)home + i) % nr_cpu_ids);
		if (cpu < 0 || cpu >= RELAY_MAX_CPUS || !bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		st = cpu_state_of(cpu);
		if (!st || !st->online || held_by_higher_class(cpu) || fast_on[cpu & (RELAY_MAX_CPUS - 1)] ||
		    !fast_waiting_of(cpu) || fast_waits_for(cpu))
			continue;
		if (READ_ONCE(usersched_cpu) == cpu && (READ_ONCE(usersched_on_cpu) || usersched_waits))
			continue;
		/* Idle, its bit taken by select_cpu_dfl(): best. */
		if (READ_ONCE(st->idle) || !READ_ONCE(st->current_pid)) {
			*running = false;
			return cpu;
		}
		ran = cpu_ran_slice_min(cpu, now);
		if (!ran && !fast_hog_rule(cpu, light, now))
			continue;
		/*
		 * Its own CPU, where the timer that wakes a sleeper fires:
		 * preempted there, no IPI (EEVDF's wakeup preemption is local
		 * too), and its cache is warm; or the policy's preferred one.
		 */
		if (cpu == home) {
			best = cpu;
			best_hog = !ran;
			break;
		}
		started = READ_ONCE(cpu_started_ns[cpu & (RELAY_MAX_CPUS - 1)]);
		if (best < 0 || started < oldest) {
			best = cpu;
			oldest = started;
			best_hog = !ran;
		}
	}
	*running = true;
	*hog = best_hog;
	if (best >= 0)
		return best;
	best = fast_defer_cpu(p->pid, home, light, deferrable);
	/* Bounds the verifier keeps (a mask after a range check is compiled away). */
	start_ns = MEMBER_VPTR(cpu_started_ns, [best]);
	if (!start_ns)
		return -1;
	started = READ_ONCE(*start_ns);
	*defer_ns = started + slice_min_ns > now ? started + slice_min_ns - now : 1;
	return best;
}

/*
 * A deferred placement's timer (fast_place()), on @cpu, fired when @cpu's
 * task had run slice_min_ns, or should have. Nothing if no fast-placed task
 * waits for @cpu any more (it ran, here or moved: take_fast_waiter()). Else:
 * @cpu's task (not the user scheduler) is preempted as fast_place()
 * preempts (SCX_KICK_PREEMPT) if it ran slice_min_ns since it started
 * (cpu_ran_slice_min()'s test; the time is needed to wait on), or the timer
 * waits for that if a task started since; an idle @cpu is kicked (the task
 * may have been queued after @cpu's last dispatch found nothing); and while
 * @cpu runs the user scheduler, is between tasks or is held by a higher
 * class, the timer looks again in slice_min_ns (its dispatch, or another
 * CPU's: take_fast_waiter(), consume_from_held(), serves the task first).
 */
static int fast_kick_fn(void *map, u32 *key, struct bpf_timer *timer)
{
	u32 cpu = *key;
	u64 now = bpf_ktime_get_ns(), started;
	struct relay_cpu_state *st;

	if (cpu >= RELAY_MAX_CPUS || !fast_waits_for(cpu))
		return 0;
	st = cpu_state_of(cpu);
	if (st && READ_ONCE(st->idle)) {
		kick(cpu, SCX_KICK_IDLE);
		__sync_fetch_and_add(&nr_fast_timer_kicks, 1);
		return 0;
	}
	if (!cpu_runs_task(cpu)) {
		bpf_timer_start(timer, slice_min_ns, 0);
		return 0;
	}
	started = READ_ONCE(cpu_started_ns[cpu & (RELAY_MAX_CPUS - 1)]);
	if (now - started < slice_min_ns) {
		bpf_timer_start(timer, started + slice_min_ns - now, 0);
		return 0;
	}
	kick(cpu, SCX_KICK_PREEMPT);
	__sync_fetch_and_add(&nr_fast_timer_kicks, 1);
	return 0;
}

/*
 * A fast-placed run ends (it stops, or it is enqueued again before it
 * ran): its key goes back to what it was before the placement gave it the
 * fast one (fast_place). Policies know a task by the key they gave it
 * (policies::vclock), and the fast key would reach them at its next
 * hand-off (queue_to_user) and make it a new task, its run not charged;
 * a later run placed with no key (an idle CPU's, a local decision's) would
 * keep it too.
 */
static void fast_key_restore(struct task_struct *p, struct task_ctx *tctx)
{
	if (tctx->fast_grant)
		scx_bpf_task_set_dsq_vtime(p, tctx->fast_saved_key);
}

/*
 * A local fast placement preempts what runs on @cpu (see
 * resume_fast_preempted()). The enqueue holds @cpu's runqueue lock, so the
 * task relay_running() last named there is the one whose ops.stopping()
 * comes next there (it may stop for another reason too: a tick that made it
 * yield, say, which resume_fast_preempted() sees in slice_end_ns).
 */
static void mark_fast_preempting(s32 cpu)
{
	struct relay_cpu_state *st = cpu_state_of(cpu);

	if (st && cpu >= 0 && cpu < RELAY_MAX_CPUS)
		WRITE_ONCE(fast_preempting[cpu & (RELAY_MAX_CPUS - 1)], READ_ONCE(st->current_pid));
}

/*
 * Arm @cpu's deferred-placement timer to fire in @ns (fast_kick_fn). If it
 * cannot be armed, the task still runs: relay_tick() yields @cpu's task to
 * it at the first tick after slice_min_ns (should_yield(): its key is the
 * lowest there), or another CPU takes it (take_fast_waiter()).
 */
static void arm_fast_kick(s32 cpu, u64 ns)
{
	u32 key = (u32)cpu;
	struct timer_slot *slot = bpf_map_lookup_elem(&fast_kick_timer, &key);

	if (slot)
		bpf_timer_start(&slot->timer, ns, 0);
}

/*
 * Place a woken @p under its grant, if it has one (see above). Where no CPU
 * is idle or preemptible now, but one is left out only because its task has
 * not run slice_min_ns (fast_cpu()'s deferral), a light @p (the hog rule's
 * test), or one whose grant is deferrable, is queued there all the same,
 * and the CPU is kicked when its task has run slice_min_ns
 * (fast_kick_timer); with none, a light @p on the user scheduler's CPU,
 * whose dispatch serves it first (fast_defer_cpu()): no
 * round trip through user space,
 * whose wait was the fast path's p99 (1640 us at the median for
 * cyclictest's user-placed wakeups on 2 parallel vCPUs,
 * docs/performance.md), and the task still gets slice_min_ns; and a CPU
 * that runs out of work first takes it (take_fast_waiter()). Not every
 * granted wakeup: in the simulator, deferring every one had hackbench's
 * granted tasks preempt every task at slice_min_ns and cut its work by two
 * thirds, and left pinned hogs beside granted tasks 553 ms of 2 s where
 * they got 793 ms with no grants. Light tasks, and those the policy marks
 * deferrable: `deadline` and `interactive` grant only the tasks mostly
 * woken from interrupts (a frame loop's timer; none of hackbench's, woken
 * by its writers: the slot's irq_wake_share, policies/src/latency.rs
 * rule 5), and mark every grant deferrable. The
 * user scheduler's CPU is a light task's target only.
 */
/*
 * @miss and @miss_grant, for `record` (RELAY_REC_FAST_MISS): why a wakeup
 * under a grant of its own, or since its revoke with no valid grant seen
 * since, was not placed (enum relay_fast_miss; 0: neither, or it was
 * placed), and the grant word (the revoked one).
 */
static bool fast_place(struct task_struct *p, u64 enq_flags, u32 *miss, u64 *miss_grant)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	struct relay_task_shared *sh;
	u64 grant, key, now_key, place, defer_ns = 0;
	bool running = false, hog = false, light, local;
	s32 cpu, *waiting;

	if (partial_mode || !(enq_flags & SCX_ENQ_WAKEUP) || !tctx)
		return false;
	sh = shared_slot(p, tctx);
	if (!sh)
		return false;
	grant = valid_grant(p, sh);
	if (!grant) {
		/*
		 * For `record`: no grant since its revoke, the revoked one
		 * still there or withdrawn (a policy does not grant again at
		 * once: policies::latency's REGRANT_AFTER_NS).
		 */
		if (tctx->revoke_unseen) {
			*miss = RELAY_FAST_MISS_REVOKED;
			*miss_grant = READ_ONCE(sh->revoked_grant);
		}
		return false;
	}
	tctx->revoke_unseen = 0;
	*miss_grant = grant;
	/* The policy's weight rule, checked now: a renice since the grant counts. */
	if (task_weight(p) < WEIGHT_NICE_0) {
		*miss = RELAY_FAST_MISS_NICED;
		return false;
	}
	place = own_placement(p, sh);
	light = READ_ONCE(sh->avg_burst_ns) < slice_min_ns / 4;
	cpu = fast_cpu(p, placement_cpu(place), light, grant & RELAY_GRANT_DEFERRABLE, &running, &hog, &defer_ns);
	waiting = fast_waiting_of(cpu);
	if (!waiting || __sync_val_compare_and_swap(waiting, 0, p->pid) != 0) {
		__sync_fetch_and_add(&nr_fast_unplaced, 1);
		*miss = RELAY_FAST_MISS_NO_CPU;
		if (waiting) {
			__sync_fetch_and_add(&nr_fast_slot_taken, 1);
			*miss = RELAY_FAST_MISS_SLOT_TAKEN;
		}
		return false;
	}
	/*
	 * Before the insert: once inserted, the task may run, and its
	 * fast_waiting_done() clear the flag, before a later write here
	 * would leave it set for the next waiter (which another CPU could
	 * then take: take_fast_waiter()).
	 */
	WRITE_ONCE(fast_waiting_deferred[cpu & (RELAY_MAX_CPUS - 1)], defer_ns ? 1 : 0);
	tctx->fast_wait_cpu = cpu + 1;
	now_key = vtime_now_get();
	if (!lowest_waiting_key(cpu, &key) || vtime_before(now_key, key))
		key = now_key;
	/* Below the key of what it preempts too (per-CPU keys may lag vtime_now). */
	if (running) {
		u64 running_key = READ_ONCE(cpu_running_key[cpu & (RELAY_MAX_CPUS - 1)]);

		if (running_key && vtime_before(running_key, key))
			key = running_key;
	}
	tctx->fast_saved_key = p->scx.dsq_vtime;
	tctx->fast_grant = grant;
	tctx->run_shared = 0;
	/* The policy's weight, never above the task's own now (a renice since counts). */
	tctx->fast_weight = placement_weight(place) < task_weight(p) ? placement_weight(place) : task_weight(p);
	tctx->burst_grant = grant;
	tctx->fast_hog = running && hog;
	__sync_fetch_and_add(&tctx->generation, 2);
	WRITE_ONCE(sh->nr_fast_runs, sh->nr_fast_runs + 1);
	__sync_fetch_and_add(&nr_fast_placed, 1);
	if (cpu == placement_cpu(place))
		__sync_fetch_and_add(&nr_fast_preferred, 1);
	local = !defer_ns && cpu == scx_bpf_task_cpu(p);
	if (local) {
		/*
		 * The CPU whose runqueue the wakeup enqueues on (its own, the
		 * timer's, as a rule): straight into its local DSQ, with
		 * SCX_ENQ_PREEMPT if a task runs there. The kernel zeroes that
		 * task's slice and calls resched_curr() (ext.c
		 * local_dsq_post_enq(); for an idle CPU too): on this CPU a
		 * flag seen on the way out of the interrupt. A kick goes
		 * through an irq_work (scx_bpf_kick_cpu(), then
		 * kick_cpus_irq_workfn()), an interrupt of its own: under
		 * cyclictest about one per wakeup, 917 IPIs per CPU per second
		 * against EEVDF's 7 (docs/performance.md). The local DSQ runs
		 * before ops.dispatch() is asked, so the task is next as from
		 * its own DSQ; a CPU a higher class holds was left out.
		 */
		if (running)
			mark_fast_preempting(cpu);
		/*
		 * Its key, as a non-local placement's: the tick compares it
		 * with what waits (yields_to_waiting()), and a key left from
		 * its last run could make it give way to the task it just
		 * preempted (resume_fast_preempted()).
		 */
		scx_bpf_task_set_dsq_vtime(p, key - FAST_KEY_LEAD);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, grant_budget_ns(grant),
				   enq_flags | (running ? SCX_ENQ_PREEMPT : 0));
		__sync_fetch_and_add(&nr_fast_local, 1);
	} else {
		scx_bpf_dsq_insert_vtime(p, cpu, grant_budget_ns(grant), key - FAST_KEY_LEAD, enq_flags);
	}
	if (defer_ns) {
		arm_fast_kick(cpu, defer_ns);
		__sync_fetch_and_add(&nr_fast_deferred, 1);
		return true;
	}
	if (!local)
		kick(cpu, running ? SCX_KICK_PREEMPT : SCX_KICK_IDLE);
	if (running)
		__sync_fetch_and_add(&nr_fast_preempts, 1);
	if (running && hog)
		__sync_fetch_and_add(&nr_fast_hog_preempts, 1);
	return true;
}

/* @p no longer waits where it was fast-placed (it runs, is enqueued again or exits). */
static void fast_waiting_done(const struct task_struct *p, struct task_ctx *tctx)
{
	s32 *waiting;
	u32 cpu = tctx->fast_wait_cpu;

	if (!cpu)
		return;
	tctx->fast_wait_cpu = 0;
	waiting = fast_waiting_of((s32)cpu - 1);
	if (!waiting || READ_ONCE(*waiting) != p->pid)
		return;
	/* Before the slot is free: a deferral that takes it next sets its own. */
	WRITE_ONCE(fast_waiting_deferred[(cpu - 1) & (RELAY_MAX_CPUS - 1)], 0);
	__sync_val_compare_and_swap(waiting, p->pid, 0);
}

/*
 * At every ops.stopping() of @p, after a run of @ran ns: a fast-placed
 * run's fast status ends (a re-enqueue is an ordinary one; if it preempted
 * a hog by the hog rule, the rule rests on its CPU for @ran ns: see
 * fast_hog_rule()) and its CPU time counts in the window; and the grant is
 * revoked if the window's share is used up, or if the burst of a
 * fast-placed wakeup (its CPU time since the wakeup, whoever placed its
 * later runs) reached the budget for the RELAY_FAST_OVERRUNS-th of its
 * fast-placed wakeups in a row (@runnable false: the burst ended here; one
 * that ended within its budget starts the count again).
 */
static void fast_accounting(struct task_struct *p, struct task_ctx *tctx, u64 ran, u64 now, bool runnable)
{
	struct relay_task_shared *sh;
	bool overrun = false, budget_over = false, hog_run = tctx->fast_hog;
	s32 cpu = scx_bpf_task_cpu(p);
	u64 grant, budget = 0;

	tctx->fast_hog = 0;
	if (tctx->fast_grant) {
		tctx->fast_grant = 0;
		if (hog_run && cpu >= 0 && cpu < RELAY_MAX_CPUS)
			WRITE_ONCE(hog_rule_after_ns[cpu & (RELAY_MAX_CPUS - 1)], now + ran);
		if (now - tctx->fast_window_ns > RELAY_FAST_WINDOW_MS * 1000000ULL) {
			tctx->fast_window_ns = now;
			tctx->fast_window_used = 0;
		}
		tctx->fast_window_used += ran;
		overrun = tctx->fast_window_used > fast_share_limit_ns(tctx->fast_weight);
	}
	if (tctx->burst_grant) {
		budget = grant_budget_ns(tctx->burst_grant);
		if (tctx->exec_runtime >= budget) {
			/*
			 * An overrun; the burst is checked no more. One alone
			 * does not revoke: a periodic task's burst is timed
			 * between ops.running() and ops.stopping(), which holds
			 * the interrupts served in between and, in a guest, the
			 * time its vCPU was not running. cyclictest's measuring
			 * thread, bursts of tens of us, had a 2.5-5.6 ms one
			 * every few seconds on 2 parallel vCPUs, and each
			 * revoke sent about 1000 of its wakeups through user
			 * space (`record`'s revoke events, docs/performance.md).
			 * A task that runs on at every wakeup still loses the
			 * grant at its second, having had one more budget.
			 */
			tctx->burst_grant = 0;
			__sync_fetch_and_add(&nr_fast_overruns, 1);
			if (tctx->fast_overruns < RELAY_FAST_OVERRUNS)
				tctx->fast_overruns++;
			budget_over = tctx->fast_overruns >= RELAY_FAST_OVERRUNS;
		} else if (!runnable) {
			/* The fast-placed burst ended within its budget. */
			tctx->fast_overruns = 0;
		}
	}
	if (!overrun && !budget_over)
		return;
	tctx->burst_grant = 0;
	tctx->fast_overruns = 0;
	sh = shared_slot(p, tctx);
	if (!sh)
		return;
	/*
	 * The grant the slot holds now, whether or not the run was placed
	 * under it: a policy that saw the task in the middle of the burst
	 * (preempted under its budget, it went through user space) and
	 * changed the grant had not seen the overrun. Revoking only the
	 * run's own grant let such a change cancel the revoke: the CI run at
	 * 0d35307 saw burst_shift's 30 ms bursts end its fast placements with
	 * no revoke. A withdrawn grant (0) or another task's leaves nothing
	 * to revoke.
	 */
	grant = READ_ONCE(sh->grant);
	if (!grant || (s32)(grant >> RELAY_GRANT_PID_SHIFT) != p->pid)
		return;
	WRITE_ONCE(sh->revoked_grant, grant);
	WRITE_ONCE(sh->revoked_ns, now);
	tctx->revoke_unseen = 1;
	__sync_fetch_and_add(&nr_fast_revoked, 1);
	/* For `record`: the bound that went over, the burst's first. */
	if (!budget_over)
		budget = fast_share_limit_ns(tctx->fast_weight);
	record_event(RELAY_REC_REVOKE, p, cpu, budget_over ? tctx->exec_runtime : tctx->fast_window_used,
		     (s32)(budget / 1000), budget_over ? RELAY_REVOKE_BUDGET : RELAY_REVOKE_SHARE);
}

static bool yields_to_waiting(struct task_struct *p, s32 cpu, u64 ran);

/*
 * A task that a local fast placement preempted (@tctx->fast_preempted,
 * taken by relay_enqueue()). SCX_ENQ_PREEMPT zeroes the slice of what runs
 * (ext.c local_dsq_post_enq()), and put_prev_task_scx() then gives a task
 * with no slice left to ops.enqueue() as if its slice had run out. Handed
 * to user space, that cost a hand-off, a decision and a user scheduler run
 * per fast-placed wakeup (under cyclictest about one per wakeup:
 * docs/performance.md). Its decision still holds, so it goes back into its
 * CPU's own DSQ (SHARED_DSQ if that is where its run was placed:
 * run_shared, and it may run elsewhere; another CPU that idles takes it
 * then) with its key as it was and the slice it had left, where dispatch
 * finds it after the fast-placed run, in key order, as it found it before.
 * Not into the local DSQ: a task waiting there makes the fast-placed one
 * yield at its first tick after slice_min_ns (should_yield()), and runs
 * before whatever ops.dispatch() would serve (the user scheduler, kernel
 * threads, aging). The key is raised to the lower end of vtime_now's
 * window, as reenqueued() does. It is handed to user space as before when
 * it would yield at a tick now (yields_to_waiting(): the user scheduler or
 * aging waits for this CPU, a kernel thread or a lower key waits, a pinned
 * waiter would be displaced; a tick that made it yield took the slice
 * back: slice_end_ns), when its CPU left its mask, or with less than
 * slice_min_ns / 4 left. Its resumed run goes on with the runs before it:
 * the tick's rules and the preemption rules see their CPU time too
 * (resumed_ran, cpu_started_ns), else a task preempted every millisecond
 * would never be seen to have run long enough to give way to a lower key.
 * A non-local placement preempts with a kick from a CPU that does not hold
 * the target's runqueue lock, so what it preempts is not known for sure:
 * that task goes to user space.
 */
static bool resume_fast_preempted(struct task_struct *p, struct task_ctx *tctx, u64 enq_flags)
{
	s32 cpu = scx_bpf_task_cpu(p);
	struct relay_cpu_state *st;
	u64 now, ran, vtime;

	now = bpf_ktime_get_ns();
	if (!tctx->slice_end_ns || tctx->slice_end_ns < now + slice_min_ns / 4)
		return false;
	ran = tctx->stop_ts - tctx->start_ts + tctx->resumed_ran;
	if (cpu < 0 || cpu >= nr_cpu_ids || cpu >= RELAY_MAX_CPUS || !bpf_cpumask_test_cpu(cpu, p->cpus_ptr) ||
	    yields_to_waiting(p, cpu, ran))
		return false;
	tctx->resumed = 1;
	tctx->resumed_ran = ran;
	__sync_fetch_and_add(&tctx->generation, 2);
	vtime = vtime_raised(p->scx.dsq_vtime);
	__sync_fetch_and_add(&nr_fast_resumes, 1);
	if (tctx->run_shared && p->nr_cpus_allowed > 1) {
		scx_bpf_dsq_insert_vtime(p, SHARED_DSQ, tctx->slice_end_ns - now, vtime, enq_flags);
		kick_for(p);
		return true;
	}
	scx_bpf_dsq_insert_vtime(p, cpu, tctx->slice_end_ns - now, vtime, enq_flags);
	st = cpu_state_of(cpu);
	if (st)
		st->queue_depth++;
	return true;
}

void BPF_STRUCT_OPS(relay_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx;
	bool fast_preempted = false;
	u64 miss_grant = 0;
	u32 miss = 0;

	if (is_usersched(p)) {
		scx_bpf_dsq_insert(p, USERSCHED_DSQ, slice_ns, enq_flags);
		if (enq_flags & SCX_ENQ_REENQ)
			usersched_reenqueued(p);
		/*
		 * After a yield its own CPU dispatches next anyway: kick on
		 * wakeups only (from its idle block, see the user loop) the
		 * CPU relay_select_cpu() chose: the kick that handed it work
		 * may have come while it was still asleep, and with none it
		 * must not wait parked on an idle CPU either
		 * (keep_ext_server()). A busy CPU is preempted if it has work
		 * and that CPU's task may be preempted (cpu_preemptible(), as
		 * wake_usersched()).
		 */
		else if (enq_flags & SCX_ENQ_WAKEUP) {
			s32 cpu = scx_bpf_task_cpu(p);
			struct relay_cpu_state *st = cpu_state_of(cpu);
			u64 flags = SCX_KICK_IDLE;

			if (st && !READ_ONCE(st->idle) && usersched_has_work(false) &&
			    cpu_preemptible(cpu, bpf_ktime_get_ns()))
				flags = SCX_KICK_PREEMPT;
			kick(cpu, flags);
		}
		return;
	}
	/*
	 * Every enqueue places the task anew: a fast placement that never ran
	 * (dequeued by an affinity change, say) does not make its next run,
	 * placed otherwise, a fast-placed one (fast_place sets it again).
	 */
	tctx = lookup_task_ctx(p);
	if (tctx) {
		fast_key_restore(p, tctx);
		tctx->fast_grant = 0;
		tctx->resumed = 0;
		/* Only the enqueue right after its stop (put_prev_task_scx()). */
		fast_preempted = tctx->fast_preempted;
		tctx->fast_preempted = 0;
		fast_waiting_done(p, tctx);
	}
	if (enq_flags & SCX_ENQ_REENQ) {
		reenqueued(p, enq_flags);
		return;
	}
	/*
	 * Where the kernel would put them without SCX_OPS_ENQ_EXITING and
	 * SCX_OPS_ENQ_MIGRATION_DISABLED (set so that a re-enqueue of them
	 * comes to reenqueued() instead of back to the local DSQ): this
	 * CPU's local DSQ.
	 */
	if ((p->flags & PF_EXITING) || migration_disabled(p)) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, enq_flags);
		__sync_fetch_and_add(&nr_kernel_dispatches, 1);
		return;
	}
	if (is_kthread(p)) {
		kthread_in_kernel(p, enq_flags);
		return;
	}
	if (check_stalled(bpf_ktime_get_ns())) {
		dispatch_in_kernel(p, enq_flags);
		__sync_fetch_and_add(&nr_fallback, 1);
		return;
	}
	/*
	 * Re-enqueued without having run for AGE_AFTER_NS (an affinity change
	 * dequeues and re-enqueues a waiting task): no trip through user space,
	 * it runs next on a CPU it may use (aging). So a task handed to user
	 * space has always waited less than AGE_AFTER_NS, and the rescue's
	 * stall_timeout_ns in user space adds to that at most.
	 */
	if (overdue(p, bpf_ktime_get_ns())) {
		dispatch_in_kernel(p, enq_flags);
		request_aging_for(p);
		__sync_fetch_and_add(&nr_overdue, 1);
		__sync_fetch_and_add(&nr_kernel_dispatches, 1);
		return;
	}
	if (fast_preempted && tctx && resume_fast_preempted(p, tctx, enq_flags))
		return;
	if (fast_place(p, enq_flags, &miss, &miss_grant))
		return;
	/* Before the hand-off, whose failure dispatches it in the kernel. */
	if (miss)
		record_event(RELAY_REC_FAST_MISS, p, scx_bpf_task_cpu(p), miss_grant, 0, miss);
	if (queue_to_user(p, enq_flags)) {
		wake_usersched(p, enq_flags, bpf_ktime_get_ns());
		return;
	}
	dispatch_in_kernel(p, enq_flags);
	__sync_fetch_and_add(&nr_congested, 1);
	__sync_fetch_and_add(&nr_kernel_dispatches, 1);
}

/*
 * The ext deadline server. Higher classes run before sched_ext: realtime
 * tasks always, and in partial mode fair-class tasks too. On a CPU where
 * they keep running, our tasks (the user scheduler among them) run only
 * when the kernel's ext server (rq->ext_server: 50 ms per second, deferred
 * until the ext class was starved that long) picks the ext class. Its pick
 * calls ops.dispatch(); if that leaves this CPU nothing to run, the server
 * stops (kernel/sched/deadline.c __pick_task_dl() -> dl_server_stop()) and
 * only an enqueue that takes the runqueue's count of our tasks from 0 to 1
 * starts it again (kernel/sched/ext.c enqueue_task_scx()). A task still
 * queued on this runqueue would then wait until the higher-class load ends,
 * and the kernel's watchdog ejects scx_relay after 5 s.
 *
 * So a CPU served by its ext server (served_by_ext_server()) never leaves
 * ops.dispatch() empty-handed while something of ours can run: the task
 * that was running keeps the CPU (a yielding user scheduler too: the
 * kernel puts it back in USERSCHED_DSQ only after this call), else the
 * user scheduler if it is parked on this runqueue (it decides what waits), else one of this
 * runqueue's tasks still waiting in user space, taken back and run here
 * (nr_keepalive). A task of this runqueue may also wait in the DSQ of a CPU
 * no higher class holds (a decision named that CPU), which this CPU's
 * consumers do not look at; counted on this runqueue, it would keep an
 * enqueue that comes meanwhile (a pinned kthread's wakeup, put in the local
 * DSQ) from starting the stopped server again. (The fresh-clone CI run at
 * 14be683 was ejected with kworker/1:3 and ksoftirqd/1 waiting 6.2 s in the
 * local DSQ of a CPU held by SCHED_FIFO, reliability_rt_pressure: what this
 * hole would leave.) Such tasks are moved to the local DSQ of the CPU their
 * decision named (hand_over_stranded(), nr_stranded_moved), which takes
 * them off this runqueue: once nothing of ours is counted here, the next
 * enqueue starts the server. They are not run here: an earlier version
 * took any task of another CPU's DSQ, and a fresh-clone CI run saw a
 * routed hog run on the other route's CPU (scx_relay_routing_cgroups).
 * A call that leaves this CPU nothing to run is counted (nr_served_empty).
 * And relay_running() gives what runs there at most slice_min_ns, so that
 * the server's 50 ms serve many tasks, not two or three.
 *
 * A server also stops on a CPU no higher class holds, with tasks of ours
 * still counted on its runqueue, two ways (kernel/sched/deadline.c): a
 * server that ran (starved once, it no longer defers: dl_defer_running)
 * is picked first, in the deadline class, at every schedule, and its empty
 * pick stops it; a deferred server whose CPU idles uses its runtime up on
 * idle time (dl_server_update_idle(), dl_defer_idle) and stops when its
 * timer fires (dl_server_timer()). Nothing restarts it while the count
 * stays above 0, so a higher class that takes the CPU later strands what
 * is enqueued there then. (reliability_rt_pressure with --fast-path was
 * ejected so in 2 of 5 runs: kworker/2:1 5.8 s in the local DSQ of a CPU
 * that SCHED_FIFO held, no server pick in that time, served_empty 0.) So a
 * CPU that is not served does not go idle with a task of its runqueue
 * counted here either: a user scheduler parked on this runqueue runs
 * rather than the CPU go idle (it blocks when it has nothing to do, see
 * the user loop, so this cannot spin; a yielding one keeps the CPU, see
 * relay_dispatch()), and the tasks of this runqueue that wait in another
 * CPU's DSQ are handed over to that CPU (nr_stranded_moved). A task of
 * this runqueue still in user space is decided later: a decision that
 * names another CPU while this one idles goes to that CPU's local DSQ
 * (apply_decision()).
 *
 * In partial mode decisions are inserted straight into a local DSQ
 * (partial_cpu()): the move to another runqueue is an enqueue there, which
 * starts that CPU's server; a task in one of our DSQs would wait for the
 * server of a CPU that may have none.
 */
static void keep_ext_server(struct pending_walk *walk, bool served)
{
	struct task_struct *us = __COMPAT_scx_bpf_dsq_peek(USERSCHED_DSQ);
	u32 slots, moved;

	/*
	 * Only a user scheduler of this runqueue: pulled from another, on a
	 * served CPU it would wait for the server's share while its own CPU
	 * may be free, and on one going idle it is no hazard where it is (its
	 * own CPU runs; when that CPU goes idle, it takes it). Pulling it to
	 * every CPU that went idle cost an empty step and a poll() each time.
	 */
	if (us && scx_bpf_task_cpu(us) == walk->cpu && scx_bpf_dsq_move_to_local(USERSCHED_DSQ, 0))
		return;
	/*
	 * In partial mode decisions go straight to this CPU's local DSQ (the
	 * moves above flushed them there): nothing to keep then.
	 */
	if (scx_bpf_dsq_nr_queued(SCX_DSQ_LOCAL) > 0)
		return;
	/*
	 * Not served: this CPU goes idle. Its server may still stop now (a
	 * server that ran, in the deadline class, picks before any other
	 * class), or after a period of idle time (see above): nothing of
	 * this runqueue may stay counted here.
	 */
	if (!served) {
		moved = hand_over_all_stranded(walk->cpu);
		if (moved)
			__sync_fetch_and_add(&nr_stranded_moved, moved);
		return;
	}
	/*
	 * Whether the walk inserted a task: it took a slot of this CPU's
	 * dispatch buffer (a count of this call alone, which a counter shared
	 * with other CPUs is not).
	 */
	slots = scx_bpf_dispatch_nr_slots();
	if (READ_ONCE(nr_pending))
		bpf_for_each_map_elem(&pending, fallback_one, walk, 0);
	if (scx_bpf_dispatch_nr_slots() != slots)
		return;
	moved = hand_over_all_stranded(walk->cpu);
	if (moved)
		__sync_fetch_and_add(&nr_stranded_moved, moved);
	__sync_fetch_and_add(&nr_served_empty, 1);
}

/* --tickless, defined after should_yield(), whose test they extend. */
static void grant_unbounded_slice(struct task_struct *p, s32 cpu);
static u64 kept_slice(s32 cpu);

/* When @p's slice, as set now, ends (an unbounded one counts as slice_ns: see resume_fast_preempted()). */
static void note_slice_end(const struct task_struct *p, struct task_ctx *tctx, u64 now)
{
	tctx->slice_end_ns = now + (p->scx.slice == SCX_SLICE_INF ? slice_ns : p->scx.slice);
}

/*
 * What this CPU runs next: decisions are applied first (up to the free
 * slots), then, if the user side stalled, pending tasks are dispatched here
 * (or, when the timer asked, those pending for the stall timeout: rescued);
 * then, if the timer found some, overdue tasks of this CPU's DSQ or the
 * shared DSQ (before the user scheduler: it may have work all the time under
 * load, and must not keep a waiting task from the CPU it is pinned to);
 * then the user scheduler if it has work, then a kernel thread of
 * KTHREAD_DSQ that may run here (kthread_in_kernel), then the lower-vtime head of this
 * CPU's DSQ and the shared DSQ; and if nothing is left, the previous task
 * keeps the CPU for another slice, failing that see keep_ext_server().
 */
void BPF_STRUCT_OPS(relay_dispatch, s32 cpu, struct task_struct *prev)
{
	struct relay_cpu_state *st = cpu_state_of(cpu);
	u64 now = bpf_ktime_get_ns();
	struct pending_walk walk = { .now = now, .kind = WALK_FALLBACK, .cpu = cpu };
	long drained = 0;
	bool served, age_first;
	u8 *aged;

	__sync_fetch_and_add(&nr_dispatch_calls, 1);
	/*
	 * in_interrupt_context() guesses the preempt count's layout from the
	 * kernel's version. ops.dispatch runs in task context, with interrupts
	 * off (the pick in __schedule(), ext.c balance_one()), never in an
	 * interrupt: if it reads as one, the guess is wrong on this kernel (a
	 * count of disabled interrupts read as a hard interrupt, say), and
	 * from then on no wakeup counts as an interrupt's (relay_runnable):
	 * `deadline` and `interactive` then grant nothing. Not ops.runnable without
	 * SCX_ENQ_WAKEUP: an RCU-boosted task's deboost (rt_mutex_setprio())
	 * can run from RCU's softirq or the tick, and puts it back with
	 * ENQUEUE_RESTORE there.
	 */
	if (in_interrupt_context())
		__sync_fetch_and_add(&nr_irq_context_doubts, 1);
	if (READ_ONCE(test_eject)) {
		/* A test's ejection: the kernel unloads us and dumps its state. */
		scx_bpf_error("test: ejection requested by --test-eject-after-ms");
		return;
	}
	check_usersched_kick(cpu);
	if (scx_bpf_dispatch_nr_slots())
		drained = bpf_user_ringbuf_drain(&decisions, handle_decision, NULL, BPF_RB_NO_WAKEUP);
	if (drained > 0) {
		__sync_fetch_and_add(&nr_drains, 1);
		__sync_fetch_and_add(&nr_drained, drained);
		note_progress(now);
	}

	if (check_stalled(now) && READ_ONCE(nr_pending)) {
		bpf_for_each_map_elem(&pending, fallback_one, &walk, 0);
	} else if (READ_ONCE(rescue_check) &&
		   __sync_val_compare_and_swap(&rescue_check, 1, 0) == 1) {
		walk.kind = WALK_RESCUE;
		bpf_for_each_map_elem(&pending, fallback_one, &walk, 0);
	}

	/*
	 * Overdue tasks first, but not twice in a row while anything else
	 * waits: a backlog of overdue tasks flags every CPU, and aging at
	 * every call would keep everything else off them until it is overdue
	 * too, the user scheduler (then declared stalled) and the watchdog's
	 * own kworker (whose check-in must come within half the timeout)
	 * included. So a call after one that aged serves the user scheduler
	 * and the queues first, and ages only if they hold nothing.
	 */
	aged = MEMBER_VPTR(aged_last, [cpu]);
	age_first = !aged || !READ_ONCE(*aged);
	if (aged)
		WRITE_ONCE(*aged, 0);
	if (age_first && run_overdue(cpu, now))
		goto aged_out;
	/* A fast-placed task queued for this CPU runs before the user scheduler (fast_place). */
	if (fast_waits_for(cpu) && consume_in_vtime_order(cpu))
		goto out;
	if (usersched_has_work(true) && scx_bpf_dsq_move_to_local(USERSCHED_DSQ, 0))
		goto out;
	/* Kernel threads that had no whole slice yet (kthread_in_kernel). */
	if (!partial_mode && scx_bpf_dsq_move_to_local(KTHREAD_DSQ, 0))
		goto out;
	if (consume_in_vtime_order(cpu) || consume_from_held(cpu) || take_fast_waiter(cpu))
		goto out;
	if (!age_first && run_overdue(cpu, now))
		goto aged_out;
	/*
	 * Nothing else to run: the task that ran keeps the CPU, the user
	 * scheduler too (it yields only with work left; idle, it blocks: see
	 * the user loop). Else, before the CPU goes idle, keep_ext_server().
	 */
	served = served_by_ext_server();
	if (prev && (prev->scx.flags & SCX_TASK_QUEUED)) {
		struct task_ctx *ptctx = lookup_task_ctx(prev);

		scx_bpf_task_set_slice(prev, served ? slice_min_ns : kept_slice(cpu));
		if (ptctx)
			note_slice_end(prev, ptctx, now);
		/* Kept: no fast placement preempts it (mark_fast_preempting()). */
		if (cpu >= 0 && cpu < RELAY_MAX_CPUS)
			WRITE_ONCE(fast_preempting[cpu & (RELAY_MAX_CPUS - 1)], 0);
		goto out;
	}
	walk.kind = WALK_KEEPALIVE;
	keep_ext_server(&walk, served);
	goto out;
aged_out:
	if (aged)
		WRITE_ONCE(*aged, 1);
out:
	if (st)
		st->queue_depth = scx_bpf_dsq_nr_queued(partial_mode ? SCX_DSQ_LOCAL_ON | cpu : cpu);
}

/*
 * A wakeup starts a new "runtime since sleep" period and a new wait. Other
 * calls (an affinity or class change puts a queued task back with
 * ENQUEUE_RESTORE) restart neither: the kernel's runnable_at does not
 * restart there either.
 */
void BPF_STRUCT_OPS(relay_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	struct relay_task_shared *sh;
	struct task_struct *waker;
	bool in_irq = in_interrupt_context();
	u32 share;
	u64 now;

	/* The layout guess found wrong here (relay_dispatch): none counts. */
	if (READ_ONCE(nr_irq_context_doubts))
		in_irq = false;

	/*
	 * The CPU the wakeup runs on (the waker's, or the interrupt's), not the
	 * task's: a replay (scheduler_sim::replay) takes the task running
	 * there for the one that woke it, unless the call runs in interrupt
	 * context (a timer's expiry, say, which interrupts whatever runs).
	 */
	if (record_enabled)
		record_event(RELAY_REC_RUNNABLE, p, bpf_get_smp_processor_id(), task_weight(p),
			     p->nr_cpus_allowed,
			     (u32)enq_flags | (in_irq ? RELAY_REC_IN_INTERRUPT : 0));
	if (!tctx)
		return;
	cg_count(p, tctx);
	if (!(enq_flags & SCX_ENQ_WAKEUP))
		return;
	now = bpf_ktime_get_ns();
	tctx->exec_runtime = 0;
	tctx->burst_grant = 0;
	tctx->wait_since = now;
	sh = shared_slot(p, tctx);
	if (!sh)
		return;
	WRITE_ONCE(sh->nr_wakeups, sh->nr_wakeups + 1);
	/*
	 * Woken from an interrupt (a timer's expiry: a frame loop's vsync,
	 * an audio period; a device), or by a task (a pipe's writer, as
	 * hackbench's are): what `deadline` and `interactive` grant by
	 * (policies/src/latency.rs rule 5; every such grant deferrable). ops.runnable runs in the waker's context: with no
	 * SCX_OPS_ALLOW_QUEUED_WAKEUP, ext.c's scx_allow_ttwu_queue() keeps
	 * a remote wakeup from being queued to the target CPU's IPI.
	 */
	if (in_irq)
		WRITE_ONCE(sh->nr_irq_wakeups, sh->nr_irq_wakeups + 1);
	share = READ_ONCE(sh->irq_wake_share);
	if (sh->nr_wakeups == 1)
		share = in_irq ? RELAY_IRQ_SHARE_ONE : 0;
	else
		share = share - share / 8 + (in_irq ? RELAY_IRQ_SHARE_ONE / 8 : 0);
	WRITE_ONCE(sh->irq_wake_share, share);
	if (tctx->last_wake_ns && now > tctx->last_wake_ns)
		average_in(&sh->avg_wake_period_ns, now - tctx->last_wake_ns);
	tctx->last_wake_ns = now;
	/* What runs here: the waker, or the task an interrupt came in on. */
	waker = bpf_get_current_task_btf();
	WRITE_ONCE(sh->last_waker_pid, waker ? waker->pid : 0);
}

/* @p leaves the runqueue: its weight stops counting in its cgroup. */
void BPF_STRUCT_OPS(relay_quiescent, struct task_struct *p, u64 deq_flags)
{
	struct task_ctx *tctx = lookup_task_ctx(p);

	record_event(RELAY_REC_QUIESCENT, p, scx_bpf_task_cpu(p), 0, 0, (u32)deq_flags);
	if (tctx)
		cg_uncount(tctx);
}

/* nice or sched_setattr changed @p's weight: recount it if it is runnable. */
void BPF_STRUCT_OPS(relay_set_weight, struct task_struct *p, u32 weight)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	u32 now = task_weight(p); /* @weight is on sched_ext's coarser scale */
	s64 delta;

	if (!tctx || !tctx->cg_counted)
		return;
	delta = (s64)now - (s64)tctx->cg_counted;
	tctx->cg_counted = now;
	cg_load_add(tctx->cgid, delta);
}

/*
 * Record who runs where and when it started, and count a run that a user
 * decision placed. The user scheduler starting to run is not progress (see
 * the top): only the work it does is.
 */
void BPF_STRUCT_OPS(relay_running, struct task_struct *p)
{
	struct relay_cpu_state *st = cpu_state_of(scx_bpf_task_cpu(p));
	u64 now = bpf_ktime_get_ns();
	struct task_ctx *tctx;
	s32 cpu;

	if (st) {
		st->current_pid = p->pid;
		st->idle = 0;
	}
	cpu = scx_bpf_task_cpu(p);
	record_event(RELAY_REC_RUNNING, p, cpu, p->scx.dsq_vtime, 0, is_usersched(p));
	arm_tickless_check(false);
	if (cpu >= 0 && cpu < RELAY_MAX_CPUS) {
		/* What a fast placement preempted here has stopped (relay_stopping). */
		WRITE_ONCE(fast_preempting[cpu & (RELAY_MAX_CPUS - 1)], 0);
		WRITE_ONCE(cpu_started_ns[cpu & (RELAY_MAX_CPUS - 1)], now);
		WRITE_ONCE(cpu_burst_start[cpu & (RELAY_MAX_CPUS - 1)], now);
		WRITE_ONCE(cpu_running_key[cpu & (RELAY_MAX_CPUS - 1)], is_usersched(p) ? 0 : p->scx.dsq_vtime);
	}
	/* On a CPU served by its ext server: short runs (see keep_ext_server()). */
	if (p->scx.slice > slice_min_ns && served_by_ext_server())
		scx_bpf_task_set_slice(p, slice_min_ns);
	if (is_usersched(p)) {
		WRITE_ONCE(usersched_on_cpu, 1);
		__sync_fetch_and_add(&nr_usersched_runs, 1);
		WRITE_ONCE(usersched_last_run_ns, now);
		WRITE_ONCE(usersched_cpu, scx_bpf_task_cpu(p));
		return;
	}
	tctx = lookup_task_ctx(p);
	if (tctx)
		fast_waiting_done(p, tctx);
	if (tctx && tctx->fast_grant && cpu >= 0 && cpu < RELAY_MAX_CPUS)
		WRITE_ONCE(fast_on[cpu & (RELAY_MAX_CPUS - 1)], 1);
	if (tctx && cpu >= 0 && cpu < RELAY_MAX_CPUS)
		WRITE_ONCE(cpu_burst_start[cpu & (RELAY_MAX_CPUS - 1)], now - tctx->exec_runtime);
	/* A resumed run goes on with the runs before it (resume_fast_preempted). */
	if (tctx) {
		if (!tctx->resumed)
			tctx->resumed_ran = 0;
		tctx->resumed = 0;
		if (tctx->resumed_ran && cpu >= 0 && cpu < RELAY_MAX_CPUS)
			WRITE_ONCE(cpu_started_ns[cpu & (RELAY_MAX_CPUS - 1)], now - tctx->resumed_ran);
	}
	/* A run that a user decision placed, nothing having come between. */
	if (tctx && tctx->user_run_gen) {
		if (tctx->user_run_gen == READ_ONCE(tctx->generation))
			__sync_fetch_and_add(&nr_user_dispatches, 1);
		tctx->user_run_gen = 0;
	}
	/* The clock follows what runs, but not a vtime that had to be clamped. */
	if ((!tctx || !tctx->vtime_clamped) && vtime_before(vtime_now_get(), p->scx.dsq_vtime))
		WRITE_ONCE(vtime_now, p->scx.dsq_vtime);
	if (tctx)
		tctx->start_ts = now;
	/* A fast-placed run keeps its budget for a slice (fast_place). */
	if (tickless && !(tctx && tctx->fast_grant))
		grant_unbounded_slice(p, cpu);
	if (tctx) {
		tctx->fast_preempted = 0;
		note_slice_end(p, tctx, now);
	}
}

/* Account the CPU time of the run that ends. */
void BPF_STRUCT_OPS(relay_stopping, struct task_struct *p, bool runnable)
{
	struct relay_cpu_state *st = cpu_state_of(scx_bpf_task_cpu(p));
	u64 now = bpf_ktime_get_ns(), ran = 0;
	struct relay_task_shared *sh;
	struct task_ctx *tctx;
	s32 cpu = scx_bpf_task_cpu(p);
	bool fast_preempted = false;

	if (st)
		st->current_pid = 0;
	if (cpu >= 0 && cpu < RELAY_MAX_CPUS) {
		WRITE_ONCE(fast_on[cpu & (RELAY_MAX_CPUS - 1)], 0);
		if (READ_ONCE(fast_preempting[cpu & (RELAY_MAX_CPUS - 1)]) == p->pid) {
			WRITE_ONCE(fast_preempting[cpu & (RELAY_MAX_CPUS - 1)], 0);
			fast_preempted = true;
		}
	}
	if (tickless) {
		u8 *unbounded = MEMBER_VPTR(unbounded_on, [scx_bpf_task_cpu(p)]);

		if (unbounded)
			WRITE_ONCE(*unbounded, 0);
	}
	record_event(RELAY_REC_STOPPING, p, scx_bpf_task_cpu(p), 0, 0, runnable);
	if (is_usersched(p))
		WRITE_ONCE(usersched_on_cpu, 0);
	tctx = lookup_task_ctx(p);
	if (!tctx)
		return;
	tctx->fast_preempted = fast_preempted && runnable && !is_usersched(p);
	tctx->stop_ts = now;
	if (tctx->start_ts && now > tctx->start_ts)
		ran = now - tctx->start_ts;
	tctx->exec_runtime += ran;
	sh = shared_slot(p, tctx);
	if (sh) {
		WRITE_ONCE(sh->runtime_ns, sh->runtime_ns + ran);
		if (!runnable)
			average_in(&sh->avg_burst_ns, tctx->exec_runtime);
	}
	fast_key_restore(p, tctx);
	fast_accounting(p, tctx, ran, now, runnable);
	/* Put back after running: a new wait starts (the kernel's too). */
	if (runnable)
		tctx->wait_since = now;
}

/*
 * The lowest key (vtime) waiting in a queue @cpu serves: its own DSQ's head
 * or the shared DSQ's; false when both are empty.
 */
static bool lowest_waiting_key(s32 cpu, u64 *key)
{
	struct task_struct *mine = __COMPAT_scx_bpf_dsq_peek(cpu);
	struct task_struct *shared = __COMPAT_scx_bpf_dsq_peek(SHARED_DSQ);
	u64 lowest = 0;
	bool found = false;

	/* One test per pointer: the verifier refuses arithmetic on two of them. */
	if (mine) {
		lowest = mine->scx.dsq_vtime;
		found = true;
	}
	if (shared) {
		if (!found || vtime_before(shared->scx.dsq_vtime, lowest))
			lowest = shared->scx.dsq_vtime;
		found = true;
	}
	*key = lowest;
	return found;
}

/* Most CPUs pinned_waiter_displaces() looks at: CPU ids 0 to 63. */
#define PINNED_SCAN_CPUS 64

/*
 * Whether the task at the head of @cpu's own DSQ may run on @cpu only and
 * would run somewhere if @p (running on @cpu, and allowed elsewhere) made
 * room for it: another CPU @p may use is idle, or runs a task whose key is
 * above the waiter's. Then the running tasks are not the lowest keys the
 * masks allow, and moving @p is what fixes that: it goes back through user
 * space with its key and takes the idle CPU, or the higher key's at that
 * CPU's tick. Without this, a pinned task (cyclictest's measuring thread,
 * an audio thread) waits behind whatever its CPU runs with a lower key,
 * however many CPUs run later ones: for as long as that task's key takes
 * to pass its own (up to a whole slice). The keys compared are those the
 * tasks started with (cpu_running_key: p->scx.dsq_vtime at ops.running,
 * which for a task inserted without a key, a kthread or a local insert, is
 * the key it last had); the user scheduler's and fast-placed runs are
 * never displaced here. Only CPU ids below PINNED_SCAN_CPUS are looked at.
 */
static bool pinned_waiter_displaces(struct task_struct *p, s32 cpu)
{
	struct task_struct *head;
	struct relay_cpu_state *st;
	u64 key;
	u32 i, n = nr_cpu_ids;
	s32 c;

	/*
	 * Not in partial mode: a CPU that runs a fair-class task there has no
	 * current_pid of ours and would pass for idle, and only pinned
	 * kthreads wait in our per-CPU DSQs (decisions go to local DSQs).
	 */
	if (partial_mode || p->nr_cpus_allowed <= 1)
		return false;
	head = __COMPAT_scx_bpf_dsq_peek(cpu);
	if (!head || head->nr_cpus_allowed != 1)
		return false;
	key = head->scx.dsq_vtime;
	if (n > PINNED_SCAN_CPUS)
		n = PINNED_SCAN_CPUS;
	bpf_for(i, 0, n) {
		c = (s32)i;
		if (c == cpu || c >= RELAY_MAX_CPUS || !bpf_cpumask_test_cpu(c, p->cpus_ptr))
			continue;
		st = cpu_state_of(c);
		if (!st || !st->online || held_by_higher_class(c))
			continue;
		if (READ_ONCE(st->idle) || !READ_ONCE(st->current_pid))
			return true;
		if (fast_on[c & (RELAY_MAX_CPUS - 1)])
			continue;
		if (vtime_before(key, READ_ONCE(cpu_running_key[c & (RELAY_MAX_CPUS - 1)])))
			return true;
	}
	return false;
}

/*
 * Whether @p, running on @cpu for @ran ns, yields to what waits (see
 * relay_tick): the user scheduler waits for this CPU, overdue or local
 * work waits, a queued key is below @p's key advanced by its run so far,
 * weighted, or a task pinned here would run in place of a later key
 * elsewhere (pinned_waiter_displaces).
 */
static bool should_yield(struct task_struct *p, s32 cpu, u64 ran)
{
	return scx_bpf_dsq_nr_queued(SCX_DSQ_LOCAL_ON | cpu) || yields_to_waiting(p, cpu, ran);
}

/* should_yield() without its local-DSQ test (also asked by resume_fast_preempted()). */
static bool yields_to_waiting(struct task_struct *p, s32 cpu, u64 ran)
{
	u8 *req = MEMBER_VPTR(age_request, [cpu]);
	struct task_ctx *tctx = lookup_task_ctx(p);
	/* Its weight now, at its cgroups' share as of its last hand-off. */
	u64 weight = shared_weight(task_weight(p), tctx && tctx->cg_share ? tctx->cg_share : CG_SHARE_ONE);
	u64 head;

	if ((req && READ_ONCE(*req)) || kthread_waits_for(cpu))
		return true;
	/*
	 * The user scheduler needs one CPU, not all: usersched_cpu (its last
	 * CPU, or the one aimed at for it: see its declaration) gives way (wakeups kick one more,
	 * see wake_usersched). Every CPU giving way
	 * at every tick would send every hog through user space each tick,
	 * and the keys would never get to order them.
	 */
	if (cpu == READ_ONCE(usersched_cpu) && !READ_ONCE(usersched_on_cpu) && usersched_has_work(false))
		return true;
	if (lowest_waiting_key(cpu, &head) && vtime_before(head, p->scx.dsq_vtime + ran * WEIGHT_NICE_0 / weight))
		return true;
	return pinned_waiter_displaces(p, cpu);
}

/*
 * --tickless (after upstream scx_tickless)
 * ----------------------------------------
 * A task that starts running on a CPU for which no task is queued in the
 * kernel gets an unbounded slice, SCX_SLICE_INF, and its CPU is marked
 * (unbounded_on). ext.c set_next_task_scx() checks the slice right after
 * ops.running(), where it is granted, and sets SCX_RQ_CAN_STOP_TICK;
 * scx_can_stop_tick() then lets a nohz_full CPU stop its periodic tick: no
 * timer interrupt while the task computes. A task that starts with an
 * unbounded slice left from an earlier run but gets no grant is given
 * slice_ns instead (a nice or affinity change re-enqueues a running task
 * with its slice as it was). A task kept after its slice ran out
 * (relay_dispatch) gets an unbounded slice again only on a marked CPU;
 * set_next_task_scx() is not called for a kept task, so its CPU's tick
 * state stays as it was, and the mark stays until ops.stopping().
 *
 * Where the tick stopped, relay_tick() runs only at the kernel's 1 Hz
 * remote tick (sched_tick_remote()). A timer does the tick's work for the
 * marked CPUs every tickless_period_ns (tickless_check_fn): once the task
 * ran slice_min_ns, its CPU is kicked with SCX_KICK_PREEMPT if
 * should_yield() holds, or if it ran a whole slice_ns and a task that may
 * run there is queued for it: the bound a finite slice gave. So a task
 * queued for such a CPU waits at most what it would wait for a ticking
 * one, plus one period. It runs while the scheduler is loaded, marked
 * CPUs or not, pinned to a CPU whose tick the kernel keeps (not
 * nohz_full): see arm_tickless_check().
 */

/* Period of the tickless check (ns): slice_min_ns, at least RELAY_TICKLESS_MIN_PERIOD_US. */
static u64 tickless_period_ns(void)
{
	u64 floor = RELAY_TICKLESS_MIN_PERIOD_US * 1000ULL;

	return slice_min_ns > floor ? slice_min_ns : floor;
}

/* Whether @p, queued at the head of a DSQ @cpu serves, may run on @cpu. */
static bool head_may_run_on(const struct task_struct *p, s32 cpu)
{
	return p && bpf_cpumask_test_cpu(cpu, p->cpus_ptr);
}

/*
 * Whether a task is queued in the kernel for @cpu: overdue or local work, a
 * kernel thread, the user scheduler (on usersched_cpu), or, at the head of
 * @cpu's DSQ or the shared DSQ, a task that may run on @cpu. Tasks that
 * user space still holds are not: once decided, they are queued here.
 */
static bool work_waits_for(s32 cpu)
{
	u8 *req = MEMBER_VPTR(age_request, [cpu]);

	if ((req && READ_ONCE(*req)) || scx_bpf_dsq_nr_queued(SCX_DSQ_LOCAL_ON | cpu) || kthread_waits_for(cpu))
		return true;
	if (cpu == READ_ONCE(usersched_cpu) && !READ_ONCE(usersched_on_cpu) && usersched_has_work(false))
		return true;
	return head_may_run_on(__COMPAT_scx_bpf_dsq_peek(cpu), cpu) ||
	       head_may_run_on(__COMPAT_scx_bpf_dsq_peek(SHARED_DSQ), cpu);
}

/* Whether @cpu is marked as running an unbounded slice (--tickless). */
static bool unbounded_marked(s32 cpu)
{
	u8 *unbounded = MEMBER_VPTR(unbounded_on, [cpu]);

	return unbounded && READ_ONCE(*unbounded);
}

/* Whether the task of marked @cpu, having run @ran ns, ran out its bound. */
static bool unbounded_run_over(s32 cpu, u64 ran)
{
	return unbounded_marked(cpu) && ran >= slice_ns && work_waits_for(cpu);
}

/* At ops.running(): an unbounded slice for @p if nothing waits for @cpu. */
static void grant_unbounded_slice(struct task_struct *p, s32 cpu)
{
	u8 *unbounded = MEMBER_VPTR(unbounded_on, [cpu]);

	if (!unbounded || is_usersched(p) || served_by_ext_server() || work_waits_for(cpu) ||
	    READ_ONCE(tickless_check_state) == TICKLESS_CHECK_OFF) {
		/* An unbounded slice left from an earlier run is not a grant. */
		if (p->scx.slice == SCX_SLICE_INF)
			scx_bpf_task_set_slice(p, slice_ns);
		return;
	}
	scx_bpf_task_set_slice(p, SCX_SLICE_INF);
	WRITE_ONCE(*unbounded, 1);
	__sync_fetch_and_add(&nr_unbounded_runs, 1);
}

/*
 * The slice of a task that ops.dispatch() keeps on @cpu after its slice ran
 * out, nothing else being there to run: unbounded again on a marked CPU
 * where nothing waits, else slice_ns (the timer still watches a marked CPU).
 */
static u64 kept_slice(s32 cpu)
{
	if (tickless && unbounded_marked(cpu) && !work_waits_for(cpu))
		return SCX_SLICE_INF;
	return slice_ns;
}

/*
 * Whether the tickless check preempts marked @cpu now. Global (verified
 * once): its caller is the timer callback that relay_init, a sleepable
 * program, sets up, so the DSQ peeks are in an explicit RCU read section
 * (see find_overdue).
 */
__noinline bool tickless_check_cpu(s32 cpu, u64 now)
{
	struct relay_cpu_state *st = cpu_state_of(cpu);
	struct task_struct *p;
	u64 started, ran;
	bool yield = false;

	if (cpu < 0 || cpu >= RELAY_MAX_CPUS || !st || !unbounded_marked(cpu))
		return false;
	started = READ_ONCE(cpu_started_ns[cpu & (RELAY_MAX_CPUS - 1)]);
	ran = now - started;
	if (ran < slice_min_ns)
		return false;
	p = bpf_task_from_pid(READ_ONCE(st->current_pid));
	if (!p)
		return false;
	bpf_rcu_read_lock();
	/* The CPU may have switched tasks since the reads above. */
	if (scx_bpf_task_cpu(p) == cpu && !is_usersched(p) &&
	    READ_ONCE(cpu_started_ns[cpu & (RELAY_MAX_CPUS - 1)]) == started)
		yield = should_yield(p, cpu, ran) || unbounded_run_over(cpu, ran);
	bpf_rcu_read_unlock();
	bpf_task_release(p);
	return yield;
}

/* Whether the kernel keeps @cpu's periodic tick (it was not booted nohz_full). */
static bool tick_kept_on(s32 cpu)
{
	return cpu < 0 || cpu >= RELAY_MAX_CPUS || !nohz_full_cpu[cpu & (RELAY_MAX_CPUS - 1)];
}

/*
 * Arms the tickless check's timer, pinned to this CPU, if the kernel keeps
 * this CPU's tick; else, @anywhere (the heartbeat's fallback, should no
 * such CPU run a program of ours first), unpinned where it is, until a
 * CPU that keeps its tick pins it. relay_init calls it, then
 * relay_running and heartbeat_fn until it is pinned; the callback hands
 * it back if it finds itself pinned on a nohz_full CPU (a start from
 * another CPU does not move a timer whose callback runs:
 * switch_hrtimer_base()). A start that fails leaves it to the next call.
 * Until it is armed, no run is given an unbounded slice.
 *
 * Pinned, because an unpinned hrtimer does not reliably leave a nohz_full
 * CPU: hrtimer_start() takes get_nohz_timer_target()'s housekeeping CPU
 * only if that CPU's next event comes first (switch_hrtimer_base(),
 * hrtimer_suitable_target()); a 1 ms timer usually expires earlier and
 * stays where it was armed. Since the kernel enables a scheduler from its
 * scx_enable_helper kthread (scx_enable()), relay_init may run on any
 * CPU; a check armed there on a nohz_full CPU interrupted it every period
 * (fresh-clone CI at 9891d27: 945 local timer interrupts/s on the tickless
 * CPU, 245 without --tickless). Re-armed from its callback, a timer stays
 * on its CPU (switch_hrtimer_base(): callback running).
 */
static void arm_tickless_check(bool anywhere)
{
	struct timer_slot *slot;
	u32 key = 0, was, want;
	u64 flags;

	if (!tickless)
		return;
	was = READ_ONCE(tickless_check_state);
	if (was == TICKLESS_CHECK_PINNED)
		return;
	if (tick_kept_on(bpf_get_smp_processor_id())) {
		want = TICKLESS_CHECK_PINNED;
		flags = BPF_F_TIMER_CPU_PIN;
	} else if (anywhere && was == TICKLESS_CHECK_OFF) {
		want = TICKLESS_CHECK_ANYWHERE;
		flags = 0;
	} else {
		return;
	}
	if (__sync_val_compare_and_swap(&tickless_check_state, was, want) != was)
		return;
	slot = bpf_map_lookup_elem(&tickless_check, &key);
	if (!slot || bpf_timer_start(&slot->timer, tickless_period_ns(), flags))
		WRITE_ONCE(tickless_check_state, was);
}

static u8 usersched_unserved_seen; /* the tickless check's last look found the user scheduler waiting for a usersched_cpu that cannot serve it (bool) */

/*
 * --tickless: re-aim usersched_cpu when the user scheduler waits and
 * usersched_cpu cannot serve it (a higher class holds it, or the user
 * scheduler may not run there), at two checks in a row (a brief realtime
 * or deadline task there does not move it) and with no kick for it in
 * flight. Its new CPU, among those of its mask that no higher class holds:
 * an idle one, kicked; else one that is not marked, whose task yields at
 * its tick once it ran slice_min_ns (yields_to_waiting(): usersched_cpu);
 * else a marked one, which the check kicks once its task ran
 * slice_min_ns. A hand-off neither kicks a
 * marked CPU nor aims usersched_cpu at one (cpu_preemptible()): without
 * this, were every other CPU it may use marked, only a dispatch on one of
 * them, the ext server or the stall fallback got it a CPU. A compare and
 * swap, so that a start of the user scheduler meanwhile (relay_running()
 * sets usersched_cpu) wins.
 */
static void aim_waiting_usersched(u64 now)
{
	s32 old = READ_ONCE(usersched_cpu), cpu, idle = -1, ticking = -1, marked = -1, to;
	struct bpf_cpumask *mask;
	bool unserved;

	bpf_rcu_read_lock();
	mask = usersched_mask;
	unserved = mask && !READ_ONCE(usersched_on_cpu) && usersched_has_work(false) &&
		   (old < 0 || old >= nr_cpu_ids || held_by_higher_class(old) ||
		    !bpf_cpumask_test_cpu(old, cast_mask(mask)));
	if (!unserved || !READ_ONCE(usersched_unserved_seen) || now - READ_ONCE(usersched_kick_ns) < slice_min_ns) {
		WRITE_ONCE(usersched_unserved_seen, unserved);
		bpf_rcu_read_unlock();
		return;
	}
	bpf_for(cpu, 0, nr_cpu_ids) {
		struct relay_cpu_state *st = cpu_state_of(cpu);

		if (!st || !st->online || held_by_higher_class(cpu) || !bpf_cpumask_test_cpu(cpu, cast_mask(mask)))
			continue;
		if (READ_ONCE(st->idle)) {
			idle = cpu;
			break;
		}
		if (!unbounded_marked(cpu)) {
			if (ticking < 0)
				ticking = cpu;
		} else if (marked < 0) {
			marked = cpu;
		}
	}
	bpf_rcu_read_unlock();
	if (idle >= 0)
		to = idle;
	else if (ticking >= 0)
		to = ticking;
	else
		to = marked;
	/* None to move to: look again at the next check. */
	if (to < 0)
		return;
	/* Its CPU serves it again, or moved meanwhile: two looks again. */
	WRITE_ONCE(usersched_unserved_seen, 0);
	if (to == old || __sync_val_compare_and_swap(&usersched_cpu, old, to) != old)
		return;
	__sync_fetch_and_add(&nr_tickless_aims, 1);
	if (idle >= 0)
		kick_usersched(idle, SCX_KICK_IDLE, now);
}

/* The tick of the CPUs running an unbounded slice (see above). */
static int tickless_check_fn(void *map, u32 *key, struct bpf_timer *timer)
{
	u64 now = bpf_ktime_get_ns();
	s32 cpu;

	aim_waiting_usersched(now);
	bpf_for(cpu, 0, nr_cpu_ids) {
		if (tickless_check_cpu(cpu, now)) {
			kick(cpu, SCX_KICK_PREEMPT);
			__sync_fetch_and_add(&nr_unbounded_kicks, 1);
		}
	}
	/* Pinned where the tick stops (see arm_tickless_check()): to be moved. */
	if (READ_ONCE(tickless_check_state) == TICKLESS_CHECK_PINNED && !tick_kept_on(bpf_get_smp_processor_id()))
		__sync_val_compare_and_swap(&tickless_check_state, TICKLESS_CHECK_PINNED, TICKLESS_CHECK_ANYWHERE);
	bpf_timer_start(timer, tickless_period_ns(),
			READ_ONCE(tickless_check_state) == TICKLESS_CHECK_PINNED ? BPF_F_TIMER_CPU_PIN : 0);
	return 0;
}

/*
 * A running task keeps its whole slice while nothing waits (no round trip,
 * no context switch). Once it ran slice_min_ns it yields at a tick if the
 * user scheduler waits for this CPU, overdue or local work waits here, or a queued
 * task's key is below its own key advanced by its run so far at its weight
 * (key + ran * WEIGHT_NICE_0 / weight, in the units of a decision's
 * vtime: ns of nice-0 virtual time, the rate policies charge runs at). So among hogs sharing a CPU, one of weight w
 * runs until its virtual time passes the next one's: CPU time in
 * proportion to weight, as the fair class gives; and a waking task whose
 * policy keyed it ahead preempts within a tick after slice_min_ns.
 */
void BPF_STRUCT_OPS(relay_tick, struct task_struct *p)
{
	struct task_ctx *tctx;
	s32 cpu = scx_bpf_task_cpu(p);
	u64 ran;

	if (is_usersched(p) || cpu < 0 || cpu >= RELAY_MAX_CPUS)
		return;
	tctx = lookup_task_ctx(p);
	if (!tctx)
		return;
	ran = bpf_ktime_get_ns() - tctx->start_ts + tctx->resumed_ran;
	if (ran < slice_min_ns)
		return;
	/*
	 * A task queued in the local DSQ alone does not take the slice back
	 * for good: it may be the fast-placed task that just preempted this
	 * one (the timer's interrupt and the tick's come together), which
	 * resumes then (resume_fast_preempted(), which checks the rest again).
	 */
	if (yields_to_waiting(p, cpu, ran) || unbounded_run_over(cpu, ran)) {
		scx_bpf_task_set_slice(p, 0);
		tctx->slice_end_ns = 0;
	} else if (scx_bpf_dsq_nr_queued(SCX_DSQ_LOCAL_ON | cpu)) {
		scx_bpf_task_set_slice(p, 0);
	}
}

/* The task's CPU mask changed: a decision made before is stale (decision_dsq). */
void BPF_STRUCT_OPS(relay_set_cpumask, struct task_struct *p, const struct cpumask *cpumask)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	struct bpf_cpumask *mask;

	if (tctx)
		__sync_fetch_and_add(&tctx->mask_seq, 1);
	/*
	 * The user scheduler's CPUs, as wake_usersched aims its kicks; and
	 * usersched_cpu one of them, since a CPU gives way to it there
	 * (should_yield) and wake_usersched falls back to kicking it: left
	 * on a CPU it may no longer use, the user scheduler waited for a
	 * hand-off to preempt a CPU of its new mask, and with --tickless and
	 * every such CPU marked, none would (cpu_preemptible()). Any CPU of
	 * the mask, even one a higher class holds (the next hand-off, or the
	 * tickless check, moves it on from there: aim_waiting_usersched()).
	 */
	if (is_usersched(p)) {
		s32 cpu = READ_ONCE(usersched_cpu);

		bpf_rcu_read_lock();
		mask = usersched_mask;
		if (mask)
			bpf_cpumask_copy(mask, cpumask);
		bpf_rcu_read_unlock();
		if (cpu < 0 || cpu >= nr_cpu_ids || !bpf_cpumask_test_cpu(cpu, cpumask)) {
			cpu = bpf_cpumask_any_distribute(cpumask);
			if (cpu >= 0 && cpu < nr_cpu_ids)
				WRITE_ONCE(usersched_cpu, cpu);
		}
	}
}

/*
 * Whether @p is this CPU's stopper (migration/N, the stop class): the
 * runqueue's own pointer to it (rq->stop; `runqueues` is a per-CPU
 * variable in the kernel's BTF, declared by scx/common.bpf.h). It holds
 * the CPU briefly: to move a running task whose affinity changed
 * (kernel/sched/core.c affine_move_task()), for the softlockup watchdog's
 * check every 4 s on every CPU (kernel/watchdog.c watchdog_timer_fn() ->
 * stop_one_cpu_nowait()), and for stop_machine(), which holds every CPU
 * at once. So it changes nothing in relay_sched_switch: the tasks in this
 * CPU's local DSQ wait where they are until it is done. Given back for it
 * (reenqueued()), they went to the shared DSQ, from which any CPU takes
 * them, off the CPU set of their route too.
 */
static bool is_stop_class(const struct task_struct *p)
{
	struct rq *rq = bpf_this_cpu_ptr(&runqueues);

	return rq->stop == p;
}

/*
 * A higher class takes a CPU: give back what waits in its local DSQ.
 *
 * A task of ours that a realtime (or deadline) task preempts is
 * put back at the head of that CPU's local DSQ without ops.enqueue, and a
 * task inserted there before the switch waits there too (ext.c
 * put_prev_task_scx(): "Leave it at the head of the local DSQ"); the CPU
 * runs them only when the higher class leaves it, or when the kernel's ext
 * server picks the ext class there (7.x: 50 ms a second, after a
 * deferral; never with its runtime 0). So at the switch from a task that
 * is not of a higher class to one that is, the local DSQ is re-enqueued
 * (ops.enqueue with SCX_ENQ_REENQ: reenqueued()), and until the CPU runs
 * something else again, decisions and aging send tasks that may run
 * elsewhere to other CPUs (decision_dsq, request_aging_for), and CPUs
 * with nothing else to run take them from its DSQ (consume_from_held).
 *
 * A sched_switch tracepoint, not ops.cpu_release: 7.x deprecates
 * cpu_acquire/cpu_release (ext.c scx_validate_ops(): "use sched_switch TP
 * instead"), and scx_bpf_dsq_reenq() (7.1) / scx_bpf_reenqueue_local___v2()
 * (6.19) may be called from here; it re-enqueues asynchronously, after the
 * switch (ext.c schedule_dsq_reenq()). On an older kernel the wrapper does
 * nothing, and the ext server bounds the wait. Not under --partial, where a
 * fair-class task is a higher class too and the ext server is the design
 * (see keep_ext_server()). The stop class is not a higher class here
 * (is_stop_class()).
 */
SEC("tp_btf/sched_switch")
int BPF_PROG(relay_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	s32 cpu = bpf_get_smp_processor_id();
	u8 *held = MEMBER_VPTR(higher_class_on, [cpu]);
	bool higher = next->prio < MAX_RT_PRIO;

	if (!held || partial_mode || (higher && is_stop_class(next)))
		return 0;
	if (higher && !READ_ONCE(*held) && READ_ONCE(relay_active) &&
	    scx_bpf_dsq_nr_queued(SCX_DSQ_LOCAL_ON | cpu) > 0)
		scx_bpf_reenqueue_local_from_anywhere();
	WRITE_ONCE(*held, higher);
	return 0;
}

/* Mirror the kernel's idle tracking into the shared per-CPU state. */
void BPF_STRUCT_OPS(relay_update_idle, s32 cpu, bool idle)
{
	struct relay_cpu_state *st = cpu_state_of(cpu);

	if (st)
		st->idle = idle;
}

/* A task joining sched_ext starts at the current vtime with a full slice. */
void BPF_STRUCT_OPS(relay_enable, struct task_struct *p)
{
	scx_bpf_task_set_dsq_vtime(p, vtime_now_get());
	scx_bpf_task_set_slice(p, slice_ns);
}

/*
 * Every task gets its storage up front: no allocation on the hot paths. Its
 * wait starts now (the kernel arms runnable_at at init too; a new task
 * becomes runnable right after, without SCX_ENQ_WAKEUP).
 */
s32 BPF_STRUCT_OPS(relay_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	struct task_ctx *tctx;

	tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!tctx)
		return -ENOMEM;
	tctx->wait_since = bpf_ktime_get_ns();
	claim_slot(p, tctx);
	return 0;
}

/*
 * A task handed to user space and taken back by the kernel before a
 * decision placed it: kernel/sched/ext.c ops_dequeue() calls this for a
 * task still QUEUED with the BPF scheduler, which for us means handed off
 * (every other path inserts it). An affinity, class or weight change, a
 * migration, core scheduling, the kernel's bypass at unload: the hand-off
 * is void. (Kernels that also call it for a task leaving a DSQ of ours:
 * such a task's generation is even, nothing happens.) Claim it (a late
 * decision is stale) and forget its pending entry, so that neither a
 * decision nor the fallback inserts a task the kernel took back (it would
 * drop the insert: finish_dispatch()), and a re-enqueue that does not go
 * through user space (stall, overdue, congestion) leaves no pending entry
 * behind to be "rescued" later, or to hold a stall open.
 */
void BPF_STRUCT_OPS(relay_dequeue, struct task_struct *p, u64 deq_flags)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	u64 g;

	if (!tctx)
		return;
	g = READ_ONCE(tctx->generation);
	if ((g & 1) && __sync_val_compare_and_swap(&tctx->generation, g, g + 1) == g) {
		pending_forget(g);
		__sync_fetch_and_add(&nr_voided, 1);
	}
}

/*
 * An exiting task is no longer pending: forget its entry, but only its own
 * (its pid may already name a new task, see queue_to_user()). After
 * relay_dequeue() there is none left; this is the guard.
 */
void BPF_STRUCT_OPS(relay_exit_task, struct task_struct *p, struct scx_exit_task_args *args)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	u64 g;

	if (!tctx)
		return;
	release_slot(p, tctx);
	fast_waiting_done(p, tctx);
	g = READ_ONCE(tctx->generation);
	if (g & 1)
		pending_forget(g);
}

/* Create the DSQs, mark the online CPUs, start the heartbeat. */
s32 BPF_STRUCT_OPS_SLEEPABLE(relay_init)
{
	const struct cpumask *online;
	struct bpf_cpumask *mask;
	struct task_struct *p;
	struct timer_slot *slot;
	u32 key = 0;
	s32 cpu, err;

	/* User space reads enq_flags with intf.h's value of the wakeup flag;
	 * the kernel's is known only at load (scx_utils' enum import). */
	if (SCX_ENQ_WAKEUP != RELAY_ENQ_WAKEUP) {
		scx_bpf_error("SCX_ENQ_WAKEUP is %llu, intf.h says %d", SCX_ENQ_WAKEUP, RELAY_ENQ_WAKEUP);
		return -EINVAL;
	}

	nr_cpu_ids = scx_bpf_nr_cpu_ids();
	if (nr_cpu_ids > RELAY_MAX_CPUS) {
		scx_bpf_error("%u CPUs, at most %d supported", nr_cpu_ids, RELAY_MAX_CPUS);
		return -E2BIG;
	}

	online = scx_bpf_get_online_cpumask();
	bpf_for(cpu, 0, nr_cpu_ids) {
		struct relay_cpu_state *st = cpu_state_of(cpu);

		if (st && bpf_cpumask_test_cpu(cpu, online))
			st->online = 1;
	}
	scx_bpf_put_cpumask(online);

	bpf_for(cpu, 0, nr_cpu_ids) {
		err = scx_bpf_create_dsq(cpu, -1);
		if (err)
			return err;
	}
	err = scx_bpf_create_dsq(SHARED_DSQ, -1);
	if (err)
		return err;
	err = scx_bpf_create_dsq(USERSCHED_DSQ, -1);
	if (err)
		return err;
	err = scx_bpf_create_dsq(KTHREAD_DSQ, -1);
	if (err)
		return err;

	last_progress_ns = bpf_ktime_get_ns();
	usersched_last_run_ns = last_progress_ns;

	/* The user scheduler's CPUs, for wake_usersched (then relay_set_cpumask). */
	mask = bpf_cpumask_create();
	if (!mask)
		return -ENOMEM;
	p = bpf_task_from_pid(usersched_pid);
	if (p) {
		/* A sleepable program: p->cpus_ptr is trusted only under RCU. */
		bpf_rcu_read_lock();
		bpf_cpumask_copy(mask, p->cpus_ptr);
		bpf_rcu_read_unlock();
		bpf_task_release(p);
	} else {
		bpf_cpumask_setall(mask);
	}
	mask = bpf_kptr_xchg(&usersched_mask, mask);
	if (mask)
		bpf_cpumask_release(mask);
	WRITE_ONCE(relay_active, true);

	/* The tickless check first: the heartbeat may arm it (its fallback). */
	if (tickless) {
		slot = bpf_map_lookup_elem(&tickless_check, &key);
		if (!slot)
			return -ENOENT;
		err = bpf_timer_init(&slot->timer, &tickless_check, CLOCK_MONOTONIC);
		if (!err)
			err = bpf_timer_set_callback(&slot->timer, tickless_check_fn);
		if (err)
			return err;
	}
	/* The deferred placements' timers (fast_kick_fn). */
	bpf_for(cpu, 0, nr_cpu_ids) {
		key = (u32)cpu;
		slot = bpf_map_lookup_elem(&fast_kick_timer, &key);
		if (!slot)
			return -ENOENT;
		err = bpf_timer_init(&slot->timer, &fast_kick_timer, CLOCK_MONOTONIC);
		if (!err)
			err = bpf_timer_set_callback(&slot->timer, fast_kick_fn);
		if (err)
			return err;
	}
	key = 0;
	slot = bpf_map_lookup_elem(&heartbeat, &key);
	if (!slot)
		return -ENOENT;
	bpf_timer_init(&slot->timer, &heartbeat, CLOCK_MONOTONIC);
	bpf_timer_set_callback(&slot->timer, heartbeat_fn);
	err = bpf_timer_start(&slot->timer, timer_interval_ns, 0);
	if (!err)
		arm_tickless_check(false);
	return err;
}

/*
 * Our side of the kernel's dump (taken when the scheduler is ejected, in
 * the binary's exit report): the counters, then what waits for whom: tasks
 * handed to user space (pending), the stall state, the user scheduler's
 * state and the depth of the shared and user-scheduler DSQs; per CPU
 * (relay_dump_cpu) its DSQ's depth; per task (relay_dump_task) its custody.
 */
void BPF_STRUCT_OPS(relay_dump, struct scx_dump_ctx *dctx)
{
	u64 now = bpf_ktime_get_ns();

	scx_bpf_dump("scx_relay: queued %llu user %llu kernel %llu fallback %llu rescued %llu aged %llu stalls %llu voided %llu\n",
		     nr_queued, nr_user_dispatches, nr_kernel_dispatches, nr_fallback, nr_rescued, nr_aged,
		     nr_stalls, nr_voided);
	scx_bpf_dump("scx_relay: pending %llu user_pending %llu stalled %u usersched pid %d on_cpu %u cpu %d last run %lldms ago steps %llu shared_dsq %d usersched_dsq %d kthread_dsq %d\n",
		     nr_pending, nr_user_pending, user_stalled, usersched_pid, usersched_on_cpu, usersched_cpu,
		     (s64)(now - usersched_last_run_ns) / 1000000, user_steps, scx_bpf_dsq_nr_queued(SHARED_DSQ),
		     scx_bpf_dsq_nr_queued(USERSCHED_DSQ), scx_bpf_dsq_nr_queued(KTHREAD_DSQ));
}

/* Per CPU: its DSQ's depth and whether overdue tasks wait for it. */
void BPF_STRUCT_OPS(relay_dump_cpu, struct scx_dump_ctx *dctx, s32 cpu, bool idle)
{
	u8 *req = MEMBER_VPTR(age_request, [cpu]);

	scx_bpf_dump("scx_relay: cpu %d dsq %d age_request %u higher_class %d\n", cpu,
		     scx_bpf_dsq_nr_queued(cpu), req ? *req : 0, held_by_higher_class(cpu));
}

/*
 * Per task: its generation, its custody (where it is, from our side: handed
 * to user space and not decided yet, in one of our DSQs, or with the kernel:
 * running, in a local DSQ, on its way), how long it has waited on our clock,
 * and its share. One line, assembled over several calls.
 */
void BPF_STRUCT_OPS(relay_dump_task, struct scx_dump_ctx *dctx, struct task_struct *p)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	struct scx_dispatch_q *dsq;
	u64 g, dsq_id = SCX_DSQ_INVALID;

	if (!tctx)
		return;
	g = tctx->generation;
	dsq = p->scx.dsq;
	if (dsq)
		dsq_id = dsq->id;
	scx_bpf_dump("scx_relay: generation %llu custody ", g);
	if ((g & 1) && bpf_map_lookup_elem(&pending, &g))
		scx_bpf_dump("user");
	else if (dsq_id < nr_cpu_ids)
		scx_bpf_dump("cpu %llu dsq", dsq_id);
	else if (dsq_id == SHARED_DSQ)
		scx_bpf_dump("shared dsq");
	else if (dsq_id == USERSCHED_DSQ)
		scx_bpf_dump("usersched dsq");
	else if (dsq_id == KTHREAD_DSQ)
		scx_bpf_dump("kthread dsq");
	else
		scx_bpf_dump("kernel");
	scx_bpf_dump(" waiting %lldms exec_runtime %llums cgroup %llu weight %llu\n",
		     (s64)(bpf_ktime_get_ns() - tctx->wait_since) / 1000000, tctx->exec_runtime / 1000000,
		     tctx->cgid, shared_weight(task_weight(p), tctx->cg_share ? tctx->cg_share : CG_SHARE_ONE));
}

/*
 * A cgroup appears (at load, for every online cgroup, and at creation): track
 * its cpu.weight and its parent. May sleep.
 */
s32 BPF_STRUCT_OPS_SLEEPABLE(relay_cgroup_init, struct cgroup *cgrp, struct scx_cgroup_init_args *args)
{
	struct cg_ctx c = { .weight = args->weight, .level = cgrp->level };
	struct cgroup *parent;
	u64 id = cgrp->kn->id;

	if (bpf_core_field_exists(args->sched_idle))
		c.idle = args->sched_idle;
	if (c.level > 0) {
		parent = bpf_cgroup_ancestor(cgrp, c.level - 1);
		if (parent) {
			c.parent_id = parent->kn->id;
			bpf_cgroup_release(parent);
		}
	}
	/* A cgroup we cannot track gets no weight of its own, but exists. */
	if (bpf_map_update_elem(&cgroups, &id, &c, BPF_ANY))
		__sync_fetch_and_add(&nr_cgroups_untracked, 1);
	return 0;
}

/* A cgroup goes away (it has no tasks left). */
void BPF_STRUCT_OPS(relay_cgroup_exit, struct cgroup *cgrp)
{
	u64 id = cgrp->kn->id;

	bpf_map_delete_elem(&cgroups, &id);
}

/* cg_set(): which setting of a cgroup changes. */
enum cg_setting {
	CG_SET_WEIGHT, /* cpu.weight */
	CG_SET_IDLE,   /* cpu.idle (an idle group counts as SCHED_IDLE) */
};

/* A cgroup's setting changed: what it contributes to its parent follows. */
static void cg_set(struct cgroup *cgrp, enum cg_setting setting, u32 value)
{
	u64 id = cgrp->kn->id;
	struct cg_ctx *c = bpf_map_lookup_elem(&cgroups, &id);
	s64 change;

	if (!c)
		return;
	bpf_spin_lock(&c->lock);
	if (setting == CG_SET_WEIGHT)
		c->weight = value;
	else
		c->idle = value;
	change = cg_recontribute(c);
	bpf_spin_unlock(&c->lock);
	cg_load_add(c->parent_id, change);
}

void BPF_STRUCT_OPS(relay_cgroup_set_weight, struct cgroup *cgrp, u32 weight)
{
	cg_set(cgrp, CG_SET_WEIGHT, weight);
}

void BPF_STRUCT_OPS(relay_cgroup_set_idle, struct cgroup *cgrp, bool idle)
{
	cg_set(cgrp, CG_SET_IDLE, idle);
}

/* Record why we were unloaded, for the binary to report. */
void BPF_STRUCT_OPS(relay_exit, struct scx_exit_info *ei)
{
	WRITE_ONCE(relay_active, false);
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(relay_ops,
	       .select_cpu = (void *)relay_select_cpu,
	       .enqueue = (void *)relay_enqueue,
	       .dequeue = (void *)relay_dequeue,
	       .dispatch = (void *)relay_dispatch,
	       .runnable = (void *)relay_runnable,
	       .running = (void *)relay_running,
	       .stopping = (void *)relay_stopping,
	       .quiescent = (void *)relay_quiescent,
	       .set_weight = (void *)relay_set_weight,
	       .tick = (void *)relay_tick,
	       .set_cpumask = (void *)relay_set_cpumask,
	       .update_idle = (void *)relay_update_idle,
	       .enable = (void *)relay_enable,
	       .init_task = (void *)relay_init_task,
	       .exit_task = (void *)relay_exit_task,
	       .init = (void *)relay_init,
	       .exit = (void *)relay_exit,
	       .dump = (void *)relay_dump,
	       .dump_cpu = (void *)relay_dump_cpu,
	       .dump_task = (void *)relay_dump_task,
	       .cgroup_init = (void *)relay_cgroup_init,
	       .cgroup_exit = (void *)relay_cgroup_exit,
	       .cgroup_set_weight = (void *)relay_cgroup_set_weight,
	       .cgroup_set_idle = (void *)relay_cgroup_set_idle,
	       .flags = SCX_OPS_ENQ_LAST | SCX_OPS_KEEP_BUILTIN_IDLE |
			SCX_OPS_ENQ_EXITING | SCX_OPS_ENQ_MIGRATION_DISABLED,
	       .dispatch_max_batch = RELAY_DISPATCH_BATCH,
	       .timeout_ms = RELAY_WATCHDOG_MS,
	       .name = "scx_relay");
