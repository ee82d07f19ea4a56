# Affinity churn on a saturated machine, the load that got scx_relay ejected
# under upstream's stress recipe ("stress-ng-affin failed to run for 5.560s":
# a task re-pinned again and again waited in a CPU's DSQ while every clock of
# ours restarted at each re-enqueue, and the kernel's did not).
#
# Twice as many CPU hogs as CPUs, a fork storm, stress-ng's affinity
# stressor pinning its workers to one CPU after another (--affinity-pin),
# and a shell loop that re-pins CPU-bound victims to one CPU after another
# while they wait, for RELAY_CHURN_SECONDS (default 40). Passes when
# scx_relay is never ejected (no stall message either), did the work
# (user dispatches during the load, fallback/rescued/stalls 0), and exits 0
# on SIGINT.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
. /relay/lib/reliability.sh

N=$(nproc)
secs=${RELAY_CHURN_SECONDS:-40}
policy=${RELAY_CHURN_POLICY:-deadline}
start_relay -- --policy "$policy" --stats 1
workload_begins
stress-ng -t "${secs}s" --aggressive -c $((2 * N)) -f "$N" --affinity $((2 * N)) --affinity-delay 1 --affinity-pin \
	>/tmp/churn-stress.log 2>&1 &
LOAD=$!
# Victims: CPU-bound shell loops that never sleep (busybox timeout execs
# the loop itself, so $! is the task to re-pin).
victims=
for v in $(seq 1 "$N"); do
	timeout "$secs" sh -c 'while :; do :; done' &
	victims="$victims $!"
done
t0=$(cut -d. -f1 /proc/uptime)
repins=0
while [ $(($(cut -d. -f1 /proc/uptime) - t0)) -lt "$secs" ]; do
	for cpu in $(seq 0 $((N - 1))); do
		for pid in $victims; do
			taskset -p -c "$cpu" "$pid" >/dev/null 2>&1 && repins=$((repins + 1))
		done
	done
	[ "$(cat $SCX/state)" = enabled ] || break
done
wait "$LOAD" || {
	tail -n 20 /tmp/churn-stress.log
	fail_with_log "stress-ng exited with status $?"
}
for pid in $victims; do
	wait "$pid"
	rc=$?
	[ "$rc" -eq 143 ] || fail_with_log "victim $pid ended with status $rc, expected 143 (its timeout's SIGTERM)"
done
note "$repins re-pins of $N victims in ${secs}s; every victim ran until its timeout"
fail_if_ejected "affinity churn"
workload_ended "affinity churn"
kill -INT "$RELAY_PID"
wait_relay
show_relay
[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "scx_relay exited with status $RELAY_STATUS"
took=$(wait_state disabled 60) || fail_with_log "state is '$(cat $SCX/state)' after scx_relay exited"
pass
