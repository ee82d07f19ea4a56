# A broken policy: `chaos` answers with seeded garbage (no decision at all,
# CPUs the machine lacks, CPUs outside a pinned task's mask, duplicates,
# stale generations, unknown, invalid and replayed pids, absurd slices and
# vtimes).
# Under a 30 s stress run with pinned tasks the scheduler must stay loaded
# (never ejected, no stall message), every fault class the engine, backend
# or dispatcher can see must be counted (redirected, bounced, stale,
# invalid, rescued, vtime clamped > 0), the workloads must complete, and scx_relay must
# exit 0 on SIGINT.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
. /relay/lib/reliability.sh

N=$(nproc)
SECONDS_RUN=${RELAY_CHAOS_SECONDS:-30}
start_relay -- --allow-test-policies --policy chaos --stats 1 --stall-timeout-ms 250
stress-ng -t "$SECONDS_RUN" -c "$N" -f 2 --pipe 2 --affinity 1 >/dev/null 2>&1 &
LOAD=$!
# Pinned tasks: a decision naming another CPU is outside their mask.
for cpu in $(seq 0 $((N - 1))); do
	for k in 1 2; do
		counted pinned taskset -c "$cpu" sh /relay/lib/busy.sh "$SECONDS_RUN"
	done
done
elapsed=0
while [ "$elapsed" -lt "$SECONDS_RUN" ]; do
	sleep 5
	elapsed=$((elapsed + 5))
	[ "$(cat $SCX/state)" = enabled ] || fail_with_log "state is '$(cat $SCX/state)' after ${elapsed}s of chaos"
	kill -0 "$RELAY_PID" 2>/dev/null || fail_with_log "scx_relay died after ${elapsed}s of chaos"
	note "${elapsed}s: $(grep 'scx_relay stats:' "$RELAY_LOG" | tail -n 1)"
done
wait "$LOAD" || fail_with_log "stress-ng exited with status $? under chaos"
wait_done $((2 * N)) 60 pinned || fail_with_log "only $(done_count pinned) of $((2 * N)) pinned tasks completed"
check "hackbench under chaos" hackbench -g 2 -l 100
fail_if_ejected "under chaos"
# The session's totals, read while it runs (`ctl status`).
fresh_stats
for counter in redirected bounced stale invalid rescued vtime_clamped dispatched_user; do
	v=$(counter "$FRESH_STATS" "$counter")
	note "$counter: $v"
	[ "${v:-0}" -gt 0 ] || fail_with_log "counter $counter is '$v', expected > 0"
done
kill -INT "$RELAY_PID"
wait_relay
show_relay
[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "scx_relay exited with status $RELAY_STATUS"
took=$(wait_state disabled 60) || fail_with_log "state is '$(cat $SCX/state)' after scx_relay exited"
pass
