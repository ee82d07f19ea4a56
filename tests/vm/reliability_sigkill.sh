# SIGKILL and restart in a loop, RELAY_KILL_ROUNDS times (default 5; `--set
# kill_rounds=N` for more: loading scx_relay under the 4 hogs takes 8-28 s
# of the emulated guest, and the rounds must fit the case's 300 s limit; 8
# rounds took 202-253 s in CI, 12 once took 305 s), under
# a steady load: each round starts scx_relay (state enabled, itself the
# root scheduler), starts a workload, kills scx_relay with SIGKILL while the
# workload runs, and waits until the kernel is back on the fair class
# (state disabled, within 60 s). Never ejected while alive (no ejection or
# stall message), always disabled after death, and every workload started
# across a kill completes (counted).
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
. /relay/lib/reliability.sh

N=$(nproc)
rounds=${RELAY_KILL_ROUNDS:-5}
stress-ng -t $((rounds * 30)) -c "$N" --pipe 1 >/dev/null 2>&1 &
LOAD=$!
max_disable=0
r=1
while [ "$r" -le "$rounds" ]; do
	start_relay -- --stats 1
	counted kill hackbench -g 2 -l 50
	sleep 1
	kill -0 "$RELAY_PID" 2>/dev/null || fail_with_log "round $r: scx_relay died before the kill"
	[ "$(cat $SCX/state)" = enabled ] || fail_with_log "round $r: state is '$(cat $SCX/state)' before the kill"
	kill -KILL "$RELAY_PID"
	wait "$RELAY_PID" 2>/dev/null
	took=$(wait_state disabled 60) || fail_with_log "round $r: state is '$(cat $SCX/state)' 60 s after SIGKILL"
	max_disable=$(awk "BEGIN { print ($took > $max_disable) ? $took : $max_disable }")
	note "round $r: disabled ${took}s after SIGKILL"
	r=$((r + 1))
done
wait_done "$rounds" 120 kill || fail_with_log "only $(done_count kill) of $rounds workloads started across a kill completed"
kill "$LOAD" 2>/dev/null
wait "$LOAD" 2>/dev/null
fail_if_ejected "SIGKILL loop"
note "$rounds kills: state disabled after each (longest ${max_disable}s), $(done_count kill) of $rounds workloads completed"
dmesg_since | grep 'sched_ext:' | sed 's/^\[[^]]*\] //' | sort | uniq -c
check "hackbench after the last kill" hackbench -g 2 -l 100
pass
