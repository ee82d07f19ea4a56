# A policy that spins: `spin` (a test policy) busy-loops for 3 s inside a
# step every 1000 decisions. The user scheduler's thread is on a CPU all
# along and decides nothing; only work done (decisions drained, tasks
# taken in) is progress, so the dispatcher must declare the user side
# stalled and schedule every task itself, then hand back to the policy
# once it answers again. (With a thread on a CPU counted as progress, as
# before, there was no stall: every task handed over during a spin waited
# the stall timeout in user space and was rescued one by one.)
# Passes when, under 20 s of stress-ng and hackbench, scx_relay is never
# ejected, the stall was declared (stalls and fallback go up during the
# load), the workloads complete, user dispatches went up, the stall ends
# (`stalled` reads 0 again within 10 s of the load), and
# scx_relay exits 0 on SIGINT.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
. /relay/lib/reliability.sh

N=$(nproc)
secs=${RELAY_SPIN_SECONDS:-20}
start_relay -- --allow-test-policies --policy spin --stats 1
workload_begins
stress-ng -t "${secs}s" -c "$N" --pipe 2 >/dev/null 2>&1 &
LOAD=$!
load_t0=$(cut -d. -f1 /proc/uptime)
rounds=0
while [ $(($(cut -d. -f1 /proc/uptime) - load_t0)) -lt "$secs" ]; do
	check "hackbench round $((rounds + 1)) under a spinning policy" hackbench -g 2 -l 50
	rounds=$((rounds + 1))
	[ "$(cat $SCX/state)" = enabled ] || fail_with_log "state is '$(cat $SCX/state)' under a spinning policy"
done
wait "$LOAD" || fail_with_log "stress-ng exited with status $? under a spinning policy"
fail_if_ejected "under a spinning policy"
workload_deltas "$secs s with a policy that spins ($rounds hackbench rounds)" queued dispatched_user fallback rescued stalls
[ "$DELTA_stalls" -gt 0 ] || fail_with_log "the spinning policy was never declared stalled (stalls +$DELTA_stalls)"
[ "$DELTA_fallback" -gt 0 ] || fail_with_log "no fallback dispatch while the policy spun (fallback +$DELTA_fallback)"
[ "$DELTA_dispatched_user" -gt 0 ] || fail_with_log "no user dispatches: the policy never answered"
# The stall ends: the scheduler's `stalled` state reads 0 within 10 s.
ok_t0=$(cut -d. -f1 /proc/uptime)
while :; do
	fresh_stats
	[ "$(counter "$FRESH_STATS" stalled)" = 0 ] && break
	[ $(($(cut -d. -f1 /proc/uptime) - ok_t0)) -lt 10 ] || fail_with_log "still stalled 10 s after the load: $FRESH_STATS"
	sleep 0.2
done
note "stall over within $(($(cut -d. -f1 /proc/uptime) - ok_t0)) s of the load's end"
stop_relay
pass
