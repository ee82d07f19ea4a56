# Real-kernel test of the hog rule (main.bpf.c cpu_preemptible and
# fast_hog_rule; on by default, off with --no-preempt-hogs): a wakeup
# handed to the user scheduler, with no CPU idle, preempts a CPU hog (a
# task with a whole slice of CPU since it last woke) for it at once, not
# only once the hog's current run had slice_min; and so does a light
# task's fast-placed wakeup.
#
# One stress-ng CPU worker per CPU and cyclictest (1 kHz, a thread per CPU)
# under the default policy (deadline), RELAY_HOGS_SECONDS (default 8, at least 3)
# each: first with --no-preempt-hogs --fast-path, then with the defaults,
# then with --fast-path. With the option no kick and no fast placement
# may count as a hog preemption (usersched_hog_preempts and
# fast_hog_preempts +0); by default some kicks must (usersched_hog_preempts
# > 0: cyclictest's wakeups come every 1 ms, and the hog its last run
# restarted may not have had slice_min by the next one; with one thread
# runs counted 11 in 5 s and 6 in 8 s, with a thread per CPU 76 in 8 s);
# with --fast-path some fast placements must (fast_hog_preempts > 0:
# cyclictest's threads are granted the fast path and their bursts are
# light). In the first run some fast placements must also be deferred
# (fast_deferred > 0, main.bpf.c fast_place: with no hog rule, a hog
# restarted after a fast-placed run is protected until it has run
# slice_min, so a wakeup that finds every CPU so is queued behind the hog
# that started first; before the deferral those wakeups went through user
# space), and the deferral's timer must have kicked (fast_timer_kicks > 0:
# the hogs never stop on their own, so a deferred task that no other CPU
# took runs when the timer preempts the hog). Some placements at once must
# have gone straight into the local DSQ of the wakeup's own CPU, with no
# kick (fast_local > 0: cyclictest's threads are pinned, and the timer that
# wakes one fires on its CPU). With --fast-path some tasks such a local
# placement preempted must have gone back into their CPU's DSQ with their
# key and the slice they had left, not through user space (fast_resumes >
# 0, main.bpf.c resume_fast_preempted). fast_moved (a deferred task another CPU took
# over), fast_usersched_target (deferrals onto the user scheduler's CPU),
# and the unplaced wakeups with why scans left CPUs out are noted, not
# asserted. Each run
# notes cyclictest's
# average and its measuring thread's wait for a CPU per run (schedstat, the
# thread with the most runs); they are not asserted (a TCG guest's timing
# is noisy; bench-vm and docs/performance.md compare them).
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

SECS=${RELAY_HOGS_SECONDS:-8}
[ "$SECS" -ge 3 ] || fail_with_log "RELAY_HOGS_SECONDS must be at least 3, is $SECS"
N=$(nproc)

# hogs_and_cyclictest <what>: the workload; sets the DELTA_ counters.
hogs_and_cyclictest() {
	stress-ng --cpu "$N" --cpu-method int64 -t "$((SECS + 2))s" >/tmp/hogs.out 2>&1 &
	hogs=$!
	sleep 1
	workload_begins
	cyclictest -q -D "$SECS" -i 1000 -t "$N" -h 50000 --policy=other >/tmp/ct.out 2>&1 &
	ct=$!
	sleep 1
	# The measuring thread: the one with the most runs.
	measuring=$(for t in /proc/$ct/task/*; do echo "$(awk '{ print $3 }' "$t/schedstat") $t"; done | sort -n | tail -n 1 | cut -d' ' -f2)
	cat "$measuring/schedstat" >/tmp/ss0
	sleep $((SECS - 2))
	cat "$measuring/schedstat" >/tmp/ss1
	wait "$ct" || fail_with_log "$1: cyclictest failed: $(tail -n 3 /tmp/ct.out | tr '\n' ' ')"
	workload_ended "$1"
	workload_deltas "$1" queued usersched_kicked usersched_hog_preempts fast_placed fast_local fast_hog_preempts fast_resumes fast_deferred fast_usersched_target fast_timer_kicks fast_moved fast_unplaced fast_slot_taken fast_left_usersched fast_left_fast fast_left_busy
	wait "$hogs" || fail_with_log "$1: stress-ng failed: $(tail -n 3 /tmp/hogs.out | tr '\n' ' ')"
	# The mean of its threads' averages.
	avg=$(awk '/^# Avg Latencies:/ { for (i = 4; i <= NF; i++) { s += $i; n++ } } END { if (n) printf "%d", s / n }' /tmp/ct.out)
	wait_us=$(cat /tmp/ss0 /tmp/ss1 | awk '{ if (NR == 1) { w = $2; n = $3 } else if ($3 > n) printf "%.0f", ($2 - w) / ($3 - n) / 1000 }')
	note "$1: cyclictest average ${avg} us; its measuring thread's wait for a CPU ${wait_us} us per run"
}

start_relay -- --stats 1 --no-preempt-hogs --fast-path
hogs_and_cyclictest "deadline --no-preempt-hogs --fast-path, cyclictest beside $N hogs"
[ "$DELTA_usersched_hog_preempts" -eq 0 ] ||
	fail_with_log "with --no-preempt-hogs: $DELTA_usersched_hog_preempts kicks counted as hog preemptions"
[ "$DELTA_fast_placed" -gt 0 ] || fail_with_log "with --fast-path: no wakeup was fast-placed"
[ "$DELTA_fast_hog_preempts" -eq 0 ] ||
	fail_with_log "with --no-preempt-hogs: $DELTA_fast_hog_preempts fast placements counted as hog preemptions"
[ "$DELTA_fast_deferred" -gt 0 ] ||
	fail_with_log "with --no-preempt-hogs --fast-path: no fast placement was deferred ($DELTA_fast_placed placed)"
[ "$DELTA_fast_timer_kicks" -gt 0 ] ||
	fail_with_log "with --no-preempt-hogs --fast-path: $DELTA_fast_deferred placements deferred, but the deferral's timer never kicked"
[ "$DELTA_fast_local" -gt 0 ] ||
	fail_with_log "with --no-preempt-hogs --fast-path: no fast placement went into its own CPU's local DSQ ($DELTA_fast_placed placed)"
stop_relay

start_relay -- --stats 1
hogs_and_cyclictest "deadline, cyclictest beside $N hogs"
[ "$DELTA_usersched_hog_preempts" -gt 0 ] ||
	fail_with_log "by default: no kick preempted a hog for the user scheduler, although every CPU ran one"
stop_relay

start_relay -- --stats 1 --fast-path
hogs_and_cyclictest "deadline --fast-path, cyclictest beside $N hogs"
[ "$DELTA_fast_hog_preempts" -gt 0 ] ||
	fail_with_log "with --fast-path: no fast placement preempted a hog by the hog rule ($DELTA_fast_placed placed)"
[ "$DELTA_fast_resumes" -gt 0 ] ||
	fail_with_log "with --fast-path: no task a local fast placement preempted went back with its slice left ($DELTA_fast_local local placements, $DELTA_queued hand-offs)"
note "with --fast-path: $DELTA_fast_resumes times a preempted task went back with its slice left, $DELTA_queued hand-offs to user space, $DELTA_fast_local local placements"
stop_relay
pass
