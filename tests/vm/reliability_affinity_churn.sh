# Affinity churn on a saturated machine, the load that got scx_relay ejected
# under upstream's stress recipe ("stress-ng-affin failed to run for 5.560s":
# a pinned task waited in its CPU's DSQ while the dispatcher's clocks, which
# restarted at every re-enqueue, said it had just arrived).
#
# For RELAY_CHURN_SECONDS (default 40), under RELAY_CHURN_POLICY (default
# deadline): twice as many CPU hogs as CPUs, which affinity_churn
# (guest-tools) pins all together to one CPU after another every 20 ms, so
# they are re-enqueued again and again while they wait; stress-ng's own
# affinity stressor (--affinity-pin) and a fork storm as in the recipe; and
# hackbench rounds, whose short sleepers keep the CPUs busy with low keys.
# Passes when scx_relay is never ejected (no stall message either), did the
# work (user dispatches during the load, fallback/rescued/stalls 0), voided
# hand-offs of re-pinned waiting tasks (voided > 0), every
# hackbench round completed, and scx_relay exits 0 on SIGINT.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
. /relay/lib/reliability.sh

N=$(nproc)
secs=${RELAY_CHURN_SECONDS:-40}
policy=${RELAY_CHURN_POLICY:-deadline}
start_relay -- $(policy_args "$policy") --stats 1
workload_begins
stress-ng -t "${secs}s" -c $((2 * N)) >/tmp/churn-hogs.log 2>&1 &
HOGS=$!
stress-ng -t "${secs}s" --aggressive -f "$N" --affinity "$N" --affinity-delay 1 --affinity-pin \
	>/tmp/churn-affinity.log 2>&1 &
AFFIN=$!
affinity_churn stress-ng-cpu "$secs" 20 >/tmp/churn.log 2>&1 &
CHURN=$!
t0=$(cut -d. -f1 /proc/uptime)
rounds=0
while [ $(($(cut -d. -f1 /proc/uptime) - t0)) -lt "$secs" ]; do
	counted hb hackbench -g 2 -l 50
	rounds=$((rounds + 1))
	sleep 2
	[ "$(cat $SCX/state)" = enabled ] || break
done
for pid in $HOGS $AFFIN $CHURN; do
	wait "$pid" || fail_with_log "a load process ended with status $? ($(cat /tmp/churn.log))"
done
wait_done "$rounds" 120 hb || fail_with_log "$(done_count hb) of $rounds hackbench rounds completed"
note "$(cat /tmp/churn.log); $rounds hackbench rounds completed"
fail_if_ejected "affinity churn"
workload_ended "affinity churn"
# Tasks re-pinned while they waited in user space: the kernel took those
# hand-offs back (ops.dequeue), and the dispatcher voided them.
[ "$DELTA_voided" -gt 0 ] || fail_with_log "no hand-off voided by the re-pinning (voided +$DELTA_voided)"
stop_relay
pass
