# Real-kernel test of the wakeup fast path (main.bpf.c "The wakeup fast
# path", scheduler-core's shared task context, policies::latency).
#
# 1. Frames under hogs, with and without the fast path: one stress-ng CPU
#    worker per CPU, and guest-tools frame_pacer (60 Hz, RELAY_FAST_WORK_MS
#    of CPU per frame, default 2) for RELAY_FAST_SECONDS (default 5), under
#    the default policy (deadline), first without --fast-path, then with
#    it. Each run notes the frame loop's missed vsyncs and frame
#    times. With the fast path, wakeups must be placed by it during the
#    frames (fast_placed up), some preempting a hog (fast_preempts up),
#    and no ops.dispatch may read as interrupt context (irq_context_doubts
#    +0: the preempt count's layout guessed right on this kernel; a wrong
#    guess would grant nothing, the policies granting only tasks woken
#    by interrupts);
#    without --fast-path, none (fast_placed +0).
# 2. A task that abuses its grant: guest-tools burst_shift, latency-critical
#    for 3 s (1 ms bursts every 10 ms: granted), then CPU-hungry for 5 s
#    (30 ms bursts), alongside one nice-0 hog per CPU (guest-tools
#    share_probe, 8 s). The dispatcher must revoke the grant in the bad
#    phase (fast_revoked up since the counters read between the phases,
#    while burst_shift holds at its mark file), unless the policy withdrew
#    it first (then at most 2 overruns in the bad phase, and at most 2
#    fast placements beyond the good wakeups and other tasks'), and no
#    hog may starve: each gets at least half of an even split of the CPUs
#    among the hogs and burst_shift.
# 3. The policy's preferred CPU: frames as in 1, twice, with every grant
#    naming CPU 0, then CPU N-1 (the test-only --test-fast-prefer-cpu).
#    In each run some fast placements must land on that CPU
#    (fast_preferred > 0; not a majority: a CI run saw 1 of 3 when the
#    preferred CPU was also the user scheduler's, which it skips). In run
#    1, where deadline's grants name none, fast_preferred +0. Needs 2 CPUs.
# The latency ratios are noted, not asserted (a TCG guest's timing is
# noisy); bench-vm measures them side by side.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

SECS=${RELAY_FAST_SECONDS:-5}
WORK_MS=${RELAY_FAST_WORK_MS:-2}
N=$(nproc)

# frames <what>: frame_pacer under one hog per CPU; notes its line, sets FRAMES.
frames() {
	stress-ng --cpu "$N" --cpu-method int64 -t "$((SECS + 2))s" >/tmp/fast-hogs.out 2>&1 &
	hogs=$!
	sleep 1
	workload_begins
	frame_pacer "$SECS" 60 "$WORK_MS" >/tmp/frames.out 2>&1 ||
		fail_with_log "$1: frame_pacer failed: $(tail -n 3 /tmp/frames.out | tr '\n' ' ')"
	workload_ended "$1"
	workload_deltas "$1" fast_grants fast_placed fast_preempts fast_preferred fast_revoked slots_full irq_context_doubts
	wait "$hogs" || fail_with_log "$1: stress-ng failed: $(tail -n 3 /tmp/fast-hogs.out | tr '\n' ' ')"
	FRAMES=$(grep '^frame_pacer: slots' /tmp/frames.out) || fail_with_log "$1: no frame_pacer line"
	note "$1: $FRAMES"
}

start_relay -- --stats 1
frames "deadline, frames under $N hogs"
[ "$DELTA_fast_placed" -eq 0 ] || fail_with_log "without --fast-path: $DELTA_fast_placed wakeups were fast-placed"
stop_relay

start_relay -- --stats 1 --fast-path
frames "deadline --fast-path, frames under $N hogs"
# First: a wrong layout guess would grant nothing (no wakeup an interrupt's).
[ "$DELTA_irq_context_doubts" -eq 0 ] ||
	fail_with_log "$DELTA_irq_context_doubts ops.dispatch calls read as interrupt context: the preempt count's layout guess is wrong on $(uname -r)"
[ "$DELTA_fast_placed" -gt 0 ] || fail_with_log "no wakeup was fast-placed during the frames"
[ "$DELTA_fast_preempts" -gt 0 ] || fail_with_log "no fast placement preempted a hog, although every CPU ran one"
[ "$DELTA_fast_preferred" -eq 0 ] || fail_with_log "$DELTA_fast_preferred placements on a preferred CPU, although deadline names none"

workload_begins
share_args=
for _ in $(seq 1 "$N"); do share_args="$share_args 0"; done
# shellcheck disable=SC2086 # one nice-0 hog per word
share_probe 8 $share_args >/tmp/fast-shares.out 2>&1 &
probe=$!
# Between its phases burst_shift holds (10 ms sleeps, no work) while the
# mark file exists: the counters read there split its overruns into the
# good phase's (TCG outliers: a 1 ms burst is timed with the interrupts
# served and the time the vCPU did not run) and the bad phase's.
mark=/tmp/burst.mark
rm -f "$mark"
burst_shift 3 5 "$mark" >/tmp/burst.out 2>&1 &
burst=$!
tries=0
until [ -e "$mark" ]; do
	tries=$((tries + 1))
	[ "$tries" -le 600 ] && alive "$burst" ||
		fail_with_log "burst_shift made no mark between its phases: $(tail -n 3 /tmp/burst.out | tr '\n' ' ')"
	sleep 0.05
done
fresh_stats
BETWEEN_PHASES=$FRESH_STATS
rm -f "$mark"
wait "$burst" || fail_with_log "burst_shift failed: $(tail -n 3 /tmp/burst.out | tr '\n' ' ')"
wait "$probe" || fail_with_log "share_probe failed: $(tail -n 3 /tmp/fast-shares.out | tr '\n' ' ')"
workload_ended "burst_shift beside $N hogs"
workload_deltas "burst_shift beside $N hogs" fast_grants fast_placed fast_overruns fast_revoked
for key in fast_overruns fast_revoked; do
	was=$(counter "$BETWEEN_PHASES" "$key") || fail_with_log "no metric $key between the phases"
	now=$(counter "$FRESH_STATS" "$key") || fail_with_log "no metric $key"
	eval "BAD_$key=$((now - was))"
done
note "burst_shift's bad phase: fast_overruns +$BAD_fast_overruns fast_revoked +$BAD_fast_revoked (the good phase: +$((DELTA_fast_overruns - BAD_fast_overruns)) and +$((DELTA_fast_revoked - BAD_fast_revoked)))"
note "$(cat /tmp/burst.out)"
sed "s/^share_probe: /relay-note: $RELAY_TEST_NAME: /" /tmp/fast-shares.out >&2
# The abuse must end: the dispatcher revokes the grant when fast-placed
# 30 ms bursts overrun its budget twice in a row (RELAY_FAST_OVERRUNS; one
# alone is forgiven). But the policy may see the task first, and stop
# granting (the burst is now a quarter of the period and more): after the
# first overrun (the burst went on through user space), when the first
# 30 ms burst was not fast-placed (no CPU for it at that moment), or when
# a fast-placed one was preempted under its budget. A withdrawn grant
# leaves nothing to revoke, and the task's overrun count stays: a second
# overrun, of a burst fast-placed before the withdrawal and run on through
# user space, finds no grant to revoke. So without a revoke in the bad
# phase: at most 2 overruns in it (the good phase's outliers do not count:
# a suite run at b11b4bf failed on 4 in all when 3 were allowed), and at most
# 2 fast-placed bad wakeups. Fast placements beyond the good wakeups (the
# hold's included) are bounded by 2 a second of other tasks' (the stats
# thread's) over the 8 s (plus the hold: burst_shift's hold_wakeups), and
# those 2.
good=$(sed -n 's/.*good_wakeups \([0-9]*\).*/\1/p' /tmp/burst.out)
# The good phase (1 ms bursts every 10 ms, and the hold) earns its grant
# and keeps it: its outliers (0 to 5 overruns in 256 to 274 good wakeups,
# session 47) may be at most a tenth of its wakeups, and it may lose the
# grant once (two outliers in a row revoke it; the policy grants again).
good_overruns=$((DELTA_fast_overruns - BAD_fast_overruns))
good_revoked=$((DELTA_fast_revoked - BAD_fast_revoked))
[ "$good_overruns" -le "$((good / 10))" ] && [ "$good_revoked" -le 1 ] ||
	fail_with_log "burst_shift's good phase lost its budget: fast_overruns +$good_overruns, fast_revoked +$good_revoked in $good good wakeups"
if [ "$BAD_fast_revoked" -gt 0 ]; then
	note "the dispatcher revoked the grant in the bad phase ($BAD_fast_overruns overruns in it)"
elif [ "$BAD_fast_overruns" -le 2 ] && [ "$DELTA_fast_placed" -le "$((good + 18))" ]; then
	note "no revoke: $BAD_fast_overruns overruns in the bad phase, the policy withdrew the grant first (fast_placed +$DELTA_fast_placed, good wakeups $good)"
else
	fail_with_log "burst_shift overran its budget, but no grant was revoked in the bad phase (fast_overruns +$BAD_fast_overruns in it, fast_placed +$DELTA_fast_placed, good wakeups $good)"
fi
# Each hog gets at least half an even split of the N CPUs among the N hogs
# and burst_shift (share_probe's share is a fraction of one CPU).
floor=$(awk -v n="$N" 'BEGIN { printf "%.4f", 0.5 * n / (n + 1) }')
starved=$(awk -v f="$floor" '$2 == "hog" { for (i = 1; i < NF; i++) if ($i == "share" && $(i + 1) + 0 < f) print $3 }' /tmp/fast-shares.out)
hogs=$(grep -c '^share_probe: hog ' /tmp/fast-shares.out)
[ "$hogs" -eq "$N" ] || fail_with_log "share_probe reported $hogs hogs, expected $N"
[ -z "$starved" ] || fail_with_log "hog(s) $starved got less than $floor of the CPUs beside burst_shift"
stop_relay

[ "$N" -ge 2 ] || fail_with_log "the preferred-CPU runs need 2 CPUs, the guest has $N"
for pref in 0 $((N - 1)); do
	start_relay -- --stats 1 --fast-path --test-fast-prefer-cpu "$pref"
	frames "deadline --fast-path, every grant preferring CPU $pref, frames under $N hogs"
	[ "$DELTA_fast_placed" -gt 0 ] || fail_with_log "preferring CPU $pref: no wakeup was fast-placed"
	[ "$DELTA_fast_preferred" -le "$DELTA_fast_placed" ] ||
		fail_with_log "fast_preferred +$DELTA_fast_preferred is more than fast_placed +$DELTA_fast_placed"
	[ "$DELTA_fast_preferred" -gt 0 ] ||
		fail_with_log "preferring CPU $pref: none of $DELTA_fast_placed fast placements went there"
	stop_relay
done
pass
