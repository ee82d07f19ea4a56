# Real-kernel test: the custom policy of docs/policies.md (examples/shortest_first.rs,
# loaded through scx_relay::run_with_policy) is the root scheduler (root/ops
# names scx_relay), schedules a hackbench + stress load (user dispatches go
# up during it, no safety net fires), is switched live to a shipped policy
# and back, and exits 0 on SIGINT.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

[ -x /bin/shortest_first ] ||
	fail "/bin/shortest_first is not in the guest (cargo build --release -p scx_relay --bins --examples)"
N=$(nproc)
shortest_first real --stats 1 >"$RELAY_LOG" 2>&1 &
RELAY_PID=$!
took=$(wait_state enabled 60 "$RELAY_PID") || fail_with_log "sched_ext state is '$(cat $SCX/state)', expected enabled"
ops=$(cat $SCX/root/ops 2>/dev/null)
case "$ops" in
scx_relay*) ;;
*) fail_with_log "root/ops is '$ops', expected scx_relay" ;;
esac
# The start-up line follows attachment by a moment.
for _ in 1 2 3 4 5 6 7 8 9 10; do
	grep -q 'with policy' "$RELAY_LOG" && break
	sleep 0.5
done
grep -q 'with policy shortest_first' "$RELAY_LOG" || fail_with_log "it did not start with its own policy"
note "enabled after ${took}s"
workload_begins
stress-ng -t 20 -c "$N" >/dev/null 2>&1 &
LOAD=$!
check "hackbench" hackbench -g 2 -l 200
workload_ended "hackbench under shortest_first"
out=$(scx_relay ctl policy deadline 2>&1) || fail_with_log "switch to deadline: $out"
note "$out"
check "hackbench" hackbench -g 2 -l 200
out=$(scx_relay ctl policy shortest_first 2>&1) || fail_with_log "switch back: $out"
note "$out"
check "hackbench" hackbench -g 2 -l 200
kill "$LOAD" 2>/dev/null
wait "$LOAD" 2>/dev/null
[ "$(cat $SCX/state)" = enabled ] || fail_with_log "state '$(cat $SCX/state)' under load"
kill -INT "$RELAY_PID"
wait_relay
show_relay
[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "exited with status $RELAY_STATUS"
grep -q 'policy deadline -> shortest_first' "$RELAY_LOG" || fail_with_log "the switch back is not logged"
took=$(wait_state disabled 60) || fail_with_log "state is '$(cat $SCX/state)' after it exited"
pass
