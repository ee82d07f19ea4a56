# Real-kernel test: 50 live policy switches under stress-ng load, through
# every shipped policy and a routing configuration (`scx_relay ctl policy` /
# `ctl config` over /run/scx_relay.sock). sched_ext stays enabled
# throughout, every switch is answered and logged with its hand-over count,
# a malformed configuration is refused (line and field) with the running
# policy kept, the hand-over counts the switches answered add up to the
# ones logged, user dispatches go up during the switches and no safety net
# fires (no stall, fallback or rescue), the loop made no allocator call
# (`loop allocs`), and scx_relay exits 0 on SIGINT.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

N=$(nproc)
SWITCHES=50
ROUTES=/tmp/live_switch_routes.toml
BAD=/tmp/live_switch_bad.toml
cat >"$ROUTES" <<'EOF'
[default]
policy = "deadline"

[[route]]
name = "stress"
policy = "local"
comm = "stress-ng*"
share = 100

[[route]]
name = "root-cgroup"
policy = "interactive"
cgroup = "/"
share = 200
EOF
printf '[[route]]\npolicy = "fifo"\ncomm = "x"\nshare = "lots"\n' >"$BAD"

start_relay -- --stats 1
[ -S /run/scx_relay.sock ] || fail_with_log "no control socket at /run/scx_relay.sock"
mode=$(stat -c %a /run/scx_relay.sock)
[ "$mode" = 600 ] || fail_with_log "control socket mode $mode, expected 600"

stress-ng -t 170 -c "$N" -f "$N" >/dev/null 2>&1 &
LOAD=$!
sleep 2

workload_begins
answered=0
t0=$(cut -d' ' -f1 /proc/uptime)
i=1
while [ "$i" -le "$SWITCHES" ]; do
	case $((i % 6)) in
	0) out=$(scx_relay ctl config "$ROUTES" 2>&1) ;;
	1) out=$(scx_relay ctl policy fifo 2>&1) ;;
	2) out=$(scx_relay ctl policy eevdf 2>&1) ;;
	3) out=$(scx_relay ctl policy interactive 2>&1) ;;
	4) out=$(scx_relay ctl policy local 2>&1) ;;
	5) out=$(scx_relay ctl policy deadline 2>&1) ;;
	esac
	rc=$?
	[ "$rc" -eq 0 ] || fail_with_log "switch $i: ctl exited $rc: $out"
	echo "$out" | grep -Eq '^scx_relay: policy [a-z]+ -> [a-z]+, [0-9]+ tasks handed over$' ||
		fail_with_log "switch $i: unexpected answer: $out"
	answered=$((answered + $(echo "$out" | awk '{ print $(NF - 3) }')))
	state=$(cat $SCX/state)
	[ "$state" = enabled ] || fail_with_log "switch $i: sched_ext state '$state'"
	kill -0 "$RELAY_PID" 2>/dev/null || fail_with_log "switch $i: scx_relay is gone"
	i=$((i + 1))
	sleep 0.2
done
t1=$(cut -d' ' -f1 /proc/uptime)
note "$SWITCHES switches in $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")s"
workload_ended "$SWITCHES live switches"
# The switches themselves allocate nothing on the loop (the control thread
# builds the policy and the hand-over list, and frees the old policy).
allocs=$(counter "$FRESH_STATS" loop_allocs)
note "loop allocator calls since start: $allocs"
[ "$allocs" = 0 ] || fail_with_log "the scheduling loop made $allocs allocator calls (expected 0)"

# A malformed configuration changes nothing (`ctl status`'s policy field).
fresh_stats
before=$(printf '%s\n' "$FRESH_STATS" | json_get policy) || fail_with_log "no policy in ctl status: $FRESH_STATS"
out=$(scx_relay ctl config "$BAD" 2>&1) && fail_with_log "a malformed configuration was accepted: $out"
echo "$out" | grep -q 'line 4, field share' || fail_with_log "malformed configuration: unexpected error: $out"
fresh_stats
after=$(printf '%s\n' "$FRESH_STATS" | json_get policy) || fail_with_log "no policy in ctl status: $FRESH_STATS"
[ -n "$before" ] && [ "$before" = "$after" ] || fail_with_log "the running policy changed: '$before' -> '$after'"
note "refused: $out; still $after"

kill "$LOAD" 2>/dev/null
wait "$LOAD" 2>/dev/null
state=$(cat $SCX/state)
[ "$state" = enabled ] || fail_with_log "after the load: sched_ext state '$state'"
kill -INT "$RELAY_PID"
wait_relay
show_relay
[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "scx_relay exited with status $RELAY_STATUS"
logged=$(grep -Ec 'scx_relay: policy [a-z]+ -> [a-z]+, [0-9]+ tasks handed over$' "$RELAY_LOG")
[ "$logged" -eq "$SWITCHES" ] || fail_with_log "$logged switches logged, expected $SWITCHES"
handed=$(grep -E 'tasks handed over$' "$RELAY_LOG" | awk '{ n += $(NF - 3) } END { print n + 0 }')
note "$logged switches logged, $handed tasks handed over in all ($answered in the answers)"
[ "$handed" -eq "$answered" ] || fail_with_log "the log hands over $handed tasks, the answers $answered"
grep -q 'ejected' "$RELAY_LOG" && fail_with_log "scx_relay was ejected"
[ -e /run/scx_relay.sock ] && fail_with_log "the control socket was left behind"
took=$(wait_state disabled 60) || fail_with_log "state is '$(cat $SCX/state)' after scx_relay exited"
pass
